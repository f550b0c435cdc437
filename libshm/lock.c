/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The registry lock.  The only file that calls pthread_mutex_*.  Every wait
 * is bounded (CLOCK_MONOTONIC, so a clock step cannot stretch it), and every
 * EOWNERDEAD goes through owner_died(), which repairs before it makes the
 * mutex consistent: unlocking an inconsistent robust mutex would brick it
 * for every process.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal.h"
#include "lock.h"
#include "owner.h"
#include "recover.h"
#include "segment.h"

static void set_holder(struct seg_hdr *h)
{
	const struct owner_id *me = yank__self();
	__atomic_store_n(&h->holder_pid, me->pid, __ATOMIC_RELAXED);
	__atomic_store_n(&h->holder_start, me->start_time, __ATOMIC_RELAXED);
}

static int owner_died(struct seg *s)
{
	/* Whatever the repair finds, the mutex must become consistent: a
	 * registry we could not fully trust is still better than a dead lock. */
	int r = yank__repair(s);
	pthread_mutex_consistent(&s->hdr->lock);
	return r;
}

int yank__lock(struct seg *s, uint32_t timeout_ms)
{
	/* Uncontended, the usual case, needs no deadline and so no clock read,
	 * which costs more than the lock itself.  EOWNERDEAD from the trylock
	 * is handled below exactly as from the timed lock. */
	int r = pthread_mutex_trylock(&s->hdr->lock);
	if (r == EBUSY) {
		struct timespec ts = yank__deadline_ts(timeout_ms);
		r = pthread_mutex_clocklock(&s->hdr->lock, CLOCK_MONOTONIC, &ts);
	}
	if (r == EOWNERDEAD) {
		set_holder(s->hdr);
		r = owner_died(s);
		if (r < 0) {
			yank__unlock(s);
			return r;
		}
		return 0;
	}
	if (r == ETIMEDOUT)
		return -ETIMEDOUT;
	if (r)
		return r == ENOTRECOVERABLE ? -EPROTO : -r;
	set_holder(s->hdr);
	return 0;
}

void yank__unlock(struct seg *s)
{
	__atomic_store_n(&s->hdr->holder_pid, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->hdr->lock);
}
