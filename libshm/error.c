/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yank_strerror: a static table, so it is thread-safe and needs no buffer.
 * Where SPEC or QEMU give the wording, it is theirs.
 *
 * yank_error_detail: why the last open failed, in one thread-local buffer.
 * An errno cannot say which trust rule refused a segment or which header
 * field is wrong; this can, without changing any return value.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yank.h>

#include "internal.h"
#include "segment.h"

/* Thread-local, so a failure in one thread never reads as another's. */
static __thread char detail[256];

void yank__detail_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}

void yank__detail_clear(void)
{
	detail[0] = '\0';
}

YANK_PUBLIC const char *yank_error_detail(void)
{
	return detail;
}

static const struct {
	int err;
	const char *msg;
} messages[] = {
	{ EEXIST, "duplicate yank instance" },
	{ ENOENT, "Instance not found" },
	{ EBUSY, "yank instance still has functions registered" },
	{ EINVAL, "invalid argument" },
	{ ENAMETOOLONG, "instance name longer than 255 bytes" },
	{ ENOSPC, "yank registry full" },
	{ ETIMEDOUT, "timed out (registry lock not obtained, or an agent did not answer, in time)" },
	{ EACCES, "permission denied" },
	{ EPROTO, "registry segment corrupt or of an unknown layout version" },
	{ EIO, "some yank functions could not be run" },
	{ ESTALE, "fd no longer refers to the registered socket" },
	{ EDEADLK, "called from inside a yank callback" },
	{ ENOTSOCK, "not a socket" },
	{ EPROTONOSUPPORT, "unknown protocol version" },
};

YANK_PUBLIC const char *yank_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < ARRAY_SIZE(messages); i++)
		if (messages[i].err == err)
			return messages[i].msg;
	const char *d = strerrordesc_np(err);
	return d ? d : "unknown error";
}
