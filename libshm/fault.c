/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Test-build fault points and the bounded nap used by retry loops.  In the
 * production build FAULT() is empty and this file only holds yank__nap().
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Naps happen inside calls, some with the registry lock held: nanosleep
 * is a cancellation point, so it must not be one here. */
void yank__nap(unsigned int us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };
	int c = yank__cancel_off();
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	yank__cancel_restore(c);
}

#ifdef YANK_TESTING
void yank__fault(const char *point)
{
	const char *spec = getenv("YANK_FAULT");
	if (!spec)
		return;
	size_t n = strlen(point);
	if (strncmp(spec, point, n) != 0 || (spec[n] != '\0' && spec[n] != ':'))
		return;
	const char *action = spec[n] == ':' ? spec + n + 1 : "kill";
	if (strcmp(action, "stop") == 0)
		raise(SIGSTOP);
	else if (strcmp(action, "exit") == 0)
		_exit(99);
	else
		raise(SIGKILL);
}
#endif
