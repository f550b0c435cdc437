/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Small things every libshm file may use.  Nothing here knows about the
 * segment; module interfaces live in their own headers.
 */
#ifndef YANK_INTERNAL_H
#define YANK_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define YANK_PUBLIC __attribute__((visibility("default")))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline uint64_t yank__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The CLOCK_MONOTONIC instant @ms from now, as pthread timed waits want it. */
static inline struct timespec yank__deadline_ts(uint32_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/*
 * No public call may be cancelled half-way: a thread cancelled while it
 * waits inside one (a drain, a lock, a yanker's answer) would die holding
 * our local mutex or with a record half-unpublished, and wedge the
 * registry for every process.  So, as glibc does inside its own calls,
 * each one runs between these two with cancellation disabled; a pending
 * cancel then acts at the caller's next cancellation point.
 */
static inline int yank__cancel_off(void)
{
	int old;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

static inline void yank__cancel_restore(int old)
{
	pthread_setcancelstate(old, NULL);
}

/* Sleep @us microseconds; used only in bounded retry loops. */
void yank__nap(unsigned int us);

/*
 * The user or group name of an id, for diagnostics: 0, or -ENOENT when
 * the database does not know it.  names.c asks NSS; a static program may
 * define both itself (see there).
 */
int yank__user_name(uid_t uid, char *out, size_t len);
int yank__group_name(gid_t gid, char *out, size_t len);

/*
 * Fault-injection points, compiled in only for the test build (libyank-test.a).
 * With YANK_FAULT=<point>[:kill|stop|exit] in the environment the process
 * kills, stops or _exits itself when it reaches <point>.
 */
#ifdef YANK_TESTING
void yank__fault(const char *point);
#define FAULT(p) yank__fault(p)
#else
#define FAULT(p) ((void)0)
#endif

#endif
