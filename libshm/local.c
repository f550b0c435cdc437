/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Process-local records, under urcu-bp.  The bulletproof flavour is the one
 * meant for libraries: threads of the host that we never see are
 * registered lazily, and it supports fork through explicit hooks, which we
 * install once with pthread_atfork.  We use no call_rcu or defer_rcu, so
 * liburcu starts no thread of its own in the host.  The only file that
 * includes <urcu/...>.
 *
 * Lookup by segment record index is an array of RCU pointers: O(1) for the
 * agent, and a fresh calloc'd array touches pages only as records are used.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-bp.h>
#include <urcu/pointer.h>

#include "internal.h"
#include "layout.h"
#include "local.h"

struct entry {
	struct local_rec r;
	struct entry *next, *prev; /* writers' list, under mu, newest first */
};

struct local {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* inflight reached zero */
	struct entry *head;
	/* Taken entries, reused or freed by the next add.  A take may come from
	 * a close() in a signal handler that interrupted malloc() (the preload
	 * shim's): close is async-signal-safe, free is not. */
	struct entry *grave;
	uint32_t cap;
	struct entry **by_rec; /* RCU-published */
};

static void free_entries(struct entry *e)
{
	for (struct entry *n; e; e = n) {
		n = e->next;
		free(e->r.id);
		free(e);
	}
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void install_fork_hooks(void)
{
	pthread_atfork(urcu_bp_before_fork, urcu_bp_after_fork_parent, urcu_bp_after_fork_child);
}

int yank__local_new(uint32_t cap_rec, struct local **out)
{
	pthread_once(&fork_once, install_fork_hooks);
	struct local *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->by_rec = calloc(cap_rec, sizeof(*l->by_rec));
	if (!l->by_rec) {
		free(l);
		return -ENOMEM;
	}
	l->cap = cap_rec;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&l->mu, NULL);
	*out = l;
	return 0;
}

void yank__local_free(struct local *l)
{
	if (!l)
		return;
	free_entries(l->head);
	free_entries(l->grave);
	free(l->by_rec);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void yank__local_forget(struct local *l)
{
	/* The child is single-threaded here; nothing of the parent's may run. */
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	free_entries(l->head);
	free_entries(l->grave);
	l->head = NULL;
	l->grave = NULL;
	memset(l->by_rec, 0, (size_t)l->cap * sizeof(*l->by_rec));
}

int yank__local_add(struct local *l, const struct local_rec *r)
{
	if (r->rec >= l->cap) {
		free(r->id);
		return -EINVAL;
	}
	pthread_mutex_lock(&l->mu);
	struct entry *e = l->grave, *rest = NULL;
	if (e) {
		rest = e->next;
		l->grave = NULL;
	}
	pthread_mutex_unlock(&l->mu);
	free_entries(rest);
	if (!e && !(e = malloc(sizeof(*e)))) {
		free(r->id);
		return -ENOMEM;
	}
	*e = (struct entry){ .r = *r };
	e->r.inflight = 0;
	pthread_mutex_lock(&l->mu);
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	rcu_assign_pointer(l->by_rec[r->rec], e);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

static int matches(const struct entry *e, uint32_t inst, uint64_t inst_gen, uint32_t kind, int fd,
		   yank_fn *fn, void *opaque)
{
	const struct local_rec *r = &e->r;
	if (r->inst != inst || r->inst_gen != inst_gen || r->kind != kind)
		return 0;
	return kind == REC_FD ? r->fd == fd : (r->fn == fn && r->opaque == opaque);
}

static void unlink_entry(struct local *l, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	rcu_assign_pointer(l->by_rec[e->r.rec], NULL);
}

/* After the grace period no reader holds @e; wait for hand-offs to finish. */
static int drain(struct local *l, struct entry *e, uint32_t wait_ms)
{
	struct timespec ts = yank__deadline_ts(wait_ms);
	int r = 0;
	pthread_mutex_lock(&l->mu);
	while (__atomic_load_n(&e->r.inflight, __ATOMIC_ACQUIRE) > 0 && r == 0)
		r = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	pthread_mutex_unlock(&l->mu);
	return r ? -ETIMEDOUT : 0;
}

int yank__local_take(struct local *l, uint32_t inst, uint64_t inst_gen, uint32_t kind, int fd,
		     yank_fn *fn, void *opaque, uint32_t wait_ms, struct local_rec *out)
{
	pthread_mutex_lock(&l->mu);
	struct entry *e = l->head;
	while (e && !matches(e, inst, inst_gen, kind, fd, fn, opaque))
		e = e->next;
	if (!e) {
		pthread_mutex_unlock(&l->mu);
		return -ENOENT;
	}
	unlink_entry(l, e);
	pthread_mutex_unlock(&l->mu);
	/* Outside every read-side section and without mu, which readers need. */
	urcu_bp_synchronize_rcu();
	int r = drain(l, e, wait_ms);
	*out = e->r;
	/* A yanker that timed out may still report done: leak rather than free
	 * memory it could touch.  Bounded by the number of such timeouts. */
	if (r == 0) {
		e->r.id = NULL; /* *out has it now */
		pthread_mutex_lock(&l->mu);
		e->next = l->grave;
		l->grave = e;
		pthread_mutex_unlock(&l->mu);
	}
	return r;
}

int yank__local_take_all(struct local *l, uint32_t wait_ms)
{
	pthread_mutex_lock(&l->mu);
	struct entry *all = l->head;
	for (struct entry *e = all; e; e = e->next)
		rcu_assign_pointer(l->by_rec[e->r.rec], NULL);
	l->head = NULL;
	pthread_mutex_unlock(&l->mu);
	urcu_bp_synchronize_rcu();
	int n = 0, r = 0;
	for (struct entry *e = all, *next; e; e = next) {
		next = e->next;
		if (drain(l, e, wait_ms) < 0) {
			r = -ETIMEDOUT;
			wait_ms = 0;
			continue;
		}
		free(e->r.id);
		free(e);
		n++;
	}
	return r < 0 ? r : n;
}

void yank__local_read_lock(void)
{
	urcu_bp_read_lock();
}

void yank__local_read_unlock(void)
{
	urcu_bp_read_unlock();
}

struct local_rec *yank__local_get(struct local *l, uint32_t rec, uint64_t gen)
{
	if (rec >= l->cap)
		return NULL;
	struct entry *e = rcu_dereference(l->by_rec[rec]);
	if (!e || e->r.rec_gen != gen)
		return NULL;
	return &e->r;
}

void yank__local_hold(struct local_rec *r)
{
	__atomic_add_fetch(&r->inflight, 1, __ATOMIC_ACQ_REL);
}

void yank__local_release(struct local *l, struct local_rec *r)
{
	if (__atomic_sub_fetch(&r->inflight, 1, __ATOMIC_ACQ_REL) == 0) {
		pthread_mutex_lock(&l->mu);
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
	}
}
