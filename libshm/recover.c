/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Recovery.  The slot arrays are the truth; the repair derives everything
 * else from them again, so it needs no undo log: each claim stores LIVE
 * last, each release is one store, and a slot left mid-update by a dead
 * writer is kept exactly when its LIVE store had happened.  Reaping frees
 * what dead processes owned.  Neither ever runs a callback.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "internal.h"
#include "owner.h"
#include "recover.h"
#include "registry.h"
#include "segment.h"

#define REAP_INTERVAL_NS 1000000000ull

/* The coarse clock: a vDSO read without the TSC, a few ns; ms resolution is plenty. */
static uint64_t coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void even_seq(struct slot_head *h)
{
	if (h->seq & 1)
		__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
}

static void set_free(struct slot_head *h)
{
	if (h->state == SLOT_FREE)
		return;
	slot_begin(h);
	h->state = SLOT_FREE;
	slot_end(h);
}

/*
 * A live slot is always below its table's high-water mark: a slot past it
 * is taken by the next claim whatever it holds, so nothing may refer to it.
 */
static int proc_ok(const struct seg *s, uint32_t i, uint64_t gen)
{
	if (i >= seg_hwm(&s->hdr->proc_hwm, s->cap_proc))
		return 0;
	const struct proc_slot *p = &s->procs[i];
	return p->h.state == SLOT_LIVE && p->h.gen == gen;
}

static int inst_live(const struct seg *s, uint32_t i, uint64_t gen)
{
	if (i >= seg_hwm(&s->hdr->inst_hwm, s->cap_inst))
		return 0;
	const struct inst_slot *in = &s->insts[i];
	return in->h.state == SLOT_LIVE && in->h.gen == gen;
}

static int inst_ok(const struct seg *s, const struct inst_slot *in)
{
	/* Exactly what readers accept, and an owner that is still there. */
	return yank__inst_valid(s, in) && proc_ok(s, in->proc, in->proc_gen);
}

static int rec_ok(const struct seg *s, const struct rec_slot *r)
{
	/* Keep exactly what readers accept (yank__read_rec), or the repair
	 * would leave slots that every reader then calls corrupt. */
	if (r->kind < REC_FD || r->kind > REC_PX || r->inst >= s->cap_inst ||
	    r->proc >= s->cap_proc || (r->kind == REC_FD && r->fd < 0))
		return 0;
	return inst_live(s, r->inst, r->inst_gen) && r->proc == s->insts[r->inst].proc;
}

/* Free list in ascending order of the FREE slots below the high-water mark. */
static void rebuild_free(struct table *t)
{
	*t->free = 0;
	*t->count = 0;
	for (uint32_t i = seg_hwm(t->hwm, t->cap); i-- > 0;) {
		if (table_slot(t, i)->state == SLOT_FREE) {
			*table_next(t, i) = *t->free;
			*t->free = i + 1;
		} else {
			(*t->count)++;
		}
	}
}

static void clamp_hwm(struct table *t)
{
	if (*t->hwm > t->cap)
		*t->hwm = t->cap;
}

int yank__repair(struct seg *s)
{
	struct table tp, ti, tr;
	yank__table(s, T_PROC, &tp);
	yank__table(s, T_INST, &ti);
	yank__table(s, T_REC, &tr);
	clamp_hwm(&tp);
	clamp_hwm(&ti);
	clamp_hwm(&tr);

	/* Bounds are read once: a hostile writer may change the header under us. */
	uint32_t np = seg_hwm(tp.hwm, tp.cap), ni = seg_hwm(ti.hwm, ti.cap);
	uint32_t nr = seg_hwm(tr.hwm, tr.cap);
	for (uint32_t i = 0; i < np; i++) {
		struct proc_slot *p = &s->procs[i];
		even_seq(&p->h);
		if (p->h.state != SLOT_FREE && (p->h.state != SLOT_LIVE || p->pid <= 0 ||
						p->agent_len > AGENT_ADDR_MAX))
			set_free(&p->h);
	}
	memset(s->buckets, 0, (size_t)s->nbuckets * sizeof(uint32_t));
	for (uint32_t i = 0; i < ni; i++) {
		struct inst_slot *in = &s->insts[i];
		even_seq(&in->h);
		if (in->h.state == SLOT_FREE)
			continue;
		if (in->h.state != SLOT_LIVE || !inst_ok(s, in)) {
			set_free(&in->h);
			continue;
		}
		uint32_t dup;
		struct inst_key k = inst_slot_key(in);
		if (yank__inst_find_key(s, &k, &dup) != -ENOENT) {
			set_free(&in->h);
			continue;
		}
		slot_begin(&in->h);
		in->hash = k.hash;
		in->n_fds = 0;
		in->n_cbs = 0;
		in->n_pxs = 0;
		slot_end(&in->h);
		yank__inst_link(s, i);
	}
	for (uint32_t i = 0; i < nr; i++) {
		struct rec_slot *r = &s->recs[i];
		even_seq(&r->h);
		if (r->h.state == SLOT_FREE)
			continue;
		if (r->h.state != SLOT_LIVE || !rec_ok(s, r)) {
			set_free(&r->h);
			continue;
		}
		struct inst_slot *in = &s->insts[r->inst];
		slot_begin(&in->h);
		if (r->kind == REC_FD)
			in->n_fds++;
		else if (r->kind == REC_CB)
			in->n_cbs++;
		else
			in->n_pxs++;
		slot_end(&in->h);
	}
	rebuild_free(&tp);
	rebuild_free(&ti);
	rebuild_free(&tr);
	yank__reap(s);
	return 0;
}

/*
 * An owner is a process image.  Its pid and start time survive execve(),
 * so a live pid is also asked whether the agent it recorded still listens:
 * the listener is close-on-exec, so after an exec nobody does.  A slot
 * from another pid namespace cannot be judged from here: keep it.
 */
/* @probe: also ask a live pid's agent whether its image still runs. */
static int gone(const struct proc_slot *p, int probe)
{
	const struct owner_id *me = yank__self();
	if (p->pidns_ino && me->pidns_ino && p->pidns_ino != me->pidns_ino)
		return 0;
	if (!yank__owner_alive(p->pid, p->start_time))
		return 1;
	char path[AGENT_ADDR_MAX];
	uint32_t len = __atomic_load_n(&p->agent_len, __ATOMIC_RELAXED);
	if (!probe || len == 0 || len > sizeof(path))
		return 0;
	memcpy(path, p->agent, len);
	return !yank__agent_probe(path, len, p->pid, p->uid);
}

int yank__proc_gone(const struct proc_slot *p)
{
	return gone(p, 1);
}

static size_t reap(struct seg *s, int probe)
{
	size_t reaped = 0;
	uint32_t n = seg_hwm(&s->hdr->proc_hwm, s->cap_proc);
	for (uint32_t i = 0; i < n; i++) {
		struct proc_slot *p = &s->procs[i];
		if (p->h.state == SLOT_LIVE && gone(p, probe)) {
			FAULT("reap.before_release");
			reaped += yank__proc_release(s, i);
		}
	}
	s->hdr->last_reap_ns = coarse_ns();
	return reaped;
}

size_t yank__reap(struct seg *s)
{
	return reap(s, 1);
}

int yank__inst_find_mend(struct seg *s, const struct inst_key *k, uint32_t *idx)
{
	int r = yank__inst_find_key(s, k, idx);
	if (r == -EPROTO) {
		yank__repair(s);
		r = yank__inst_find_key(s, k, idx);
	}
	return r;
}

int yank__name_free(struct seg *s, const struct inst_key *k)
{
	uint32_t idx;
	int r = yank__inst_find_mend(s, k, &idx);
	if (r == 0) {
		/* Held by a process (image) that is gone?  Then it is not held. */
		uint32_t pi = s->insts[idx].proc;
		if (pi >= s->cap_proc || yank__proc_gone(&s->procs[pi])) {
			yank__reap(s);
			r = yank__inst_find_mend(s, k, &idx);
		}
	}
	if (r == 0)
		return -EEXIST;
	return r == -ENOENT ? 0 : r;
}

void yank__reap_maybe(struct seg *s)
{
	uint64_t now = coarse_ns();
	uint64_t last = s->hdr->last_reap_ns;
	if (last <= now && now - last < REAP_INTERVAL_NS)
		return;
	/* Only the dead: probing every live owner's agent for an exec'd image
	 * would hold the lock for a connect per owner, every second.  Such an
	 * image is reaped where it matters: a name it holds, a full table,
	 * gc. */
	reap(s, 0);
}

__attribute__((format(printf, 2, 3))) static void fail(struct check_result *c, const char *fmt, ...)
{
	if (!c->ok)
		return;
	c->ok = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

/* Walk a free list; every entry must be a FREE slot and the list must end. */
static uint32_t check_free(const struct table *t, struct check_result *c, const char *what)
{
	uint32_t n = 0;
	for (uint32_t link = *t->free; link; n++) {
		uint32_t i = link - 1;
		if (i >= t->cap || n > t->cap || table_slot(t, i)->state != SLOT_FREE) {
			fail(c, "%s free list broken at slot %u (entry %u)", what, i, n);
			return n;
		}
		link = *table_next(t, i);
	}
	return n;
}

static void check_derived(const struct seg *s, struct check_result *c)
{
	struct table tp, ti, tr;
	yank__table((struct seg *)s, T_PROC, &tp);
	yank__table((struct seg *)s, T_INST, &ti);
	yank__table((struct seg *)s, T_REC, &tr);
	uint32_t fp = check_free(&tp, c, "process");
	uint32_t fi = check_free(&ti, c, "instance");
	uint32_t fr = check_free(&tr, c, "record");
	if (fp + c->used_proc != *tp.hwm)
		fail(c, "process table: %u free + live slots, high-water mark %u", fp + c->used_proc,
		     *tp.hwm);
	if (fi + c->used_inst != *ti.hwm)
		fail(c, "instance table: %u free + live slots, high-water mark %u",
		     fi + c->used_inst, *ti.hwm);
	if (fr + c->used_rec != *tr.hwm)
		fail(c, "record table: %u free + live slots, high-water mark %u", fr + c->used_rec,
		     *tr.hwm);
	if (*tp.count != c->used_proc || *ti.count != c->used_inst || *tr.count != c->used_rec)
		fail(c, "header counts disagree with the slots");

	/* Every live instance must be found through its hash chain. */
	uint32_t ni = seg_hwm(ti.hwm, ti.cap), nr = seg_hwm(tr.hwm, tr.cap);
	for (uint32_t i = 0; i < ni; i++) {
		const struct inst_slot *in = &s->insts[i];
		if (in->h.state != SLOT_LIVE)
			continue;
		uint32_t found;
		struct inst_key k = inst_slot_key(in);
		if (in->hash != k.hash)
			fail(c, "instance %u has a wrong hash", i);
		else if (yank__inst_find_key(s, &k, &found) < 0 || found != i)
			fail(c, "instance %u not reachable through its hash chain", i);
	}

	/* The per-instance counts must match the records. */
	uint32_t *cnt = calloc((size_t)s->cap_inst * 3, sizeof(uint32_t));
	if (!cnt)
		return;
	for (uint32_t i = 0; i < nr; i++) {
		const struct rec_slot *r = &s->recs[i];
		if (r->h.state == SLOT_LIVE && r->inst < s->cap_inst && r->kind >= REC_FD &&
		    r->kind <= REC_PX)
			cnt[r->inst * 3 + r->kind - REC_FD]++;
	}
	for (uint32_t i = 0; i < ni; i++) {
		const struct inst_slot *in = &s->insts[i];
		if (in->h.state == SLOT_LIVE &&
		    (in->n_fds != cnt[i * 3] || in->n_cbs != cnt[i * 3 + 1] ||
		     in->n_pxs != cnt[i * 3 + 2]))
			fail(c, "instance %u: its record counts do not match its records", i);
	}
	free(cnt);
}

void yank__check(const struct seg *s, int locked, struct check_result *c)
{
	memset(c, 0, sizeof(*c));
	c->ok = 1;
	const struct seg_hdr *h = s->hdr;
	uint32_t np = __atomic_load_n(&h->proc_hwm, __ATOMIC_ACQUIRE);
	uint32_t ni = __atomic_load_n(&h->inst_hwm, __ATOMIC_ACQUIRE);
	uint32_t nr = __atomic_load_n(&h->rec_hwm, __ATOMIC_ACQUIRE);
	if (np > s->cap_proc || ni > s->cap_inst || nr > s->cap_rec) {
		fail(c, "a high-water mark exceeds its capacity (%u, %u)", np, ni);
		return;
	}
	for (uint32_t i = 0; i < np; i++) {
		struct proc_view v;
		int r = yank__read_proc(s, i, &v);
		if (r == -EAGAIN)
			c->torn++;
		else if (r == -EPROTO)
			fail(c, "process slot %u is corrupt", i);
		if (r != 0)
			continue;
		c->used_proc++;
		if (yank__proc_gone(&s->procs[i]))
			c->dead_procs++;
		else
			c->live_procs++;
	}
	for (uint32_t i = 0; i < ni; i++) {
		struct inst_view v;
		int r = yank__read_inst(s, i, &v);
		if (r == -EAGAIN)
			c->torn++;
		else if (r == -EPROTO)
			fail(c, "instance slot %u is corrupt", i);
		if (r != 0)
			continue;
		c->used_inst++;
		if (!proc_ok(s, v.proc, v.proc_gen))
			fail(c, "instance %u refers to process slot %u, which is not its owner", i,
			     v.proc);
	}
	for (uint32_t i = 0; i < nr; i++) {
		struct rec_view v;
		int r = yank__read_rec(s, i, &v);
		if (r == -EAGAIN)
			c->torn++;
		else if (r == -EPROTO)
			fail(c, "record slot %u is corrupt", i);
		if (r != 0)
			continue;
		c->used_rec++;
		if (!inst_live(s, v.inst, v.inst_gen))
			fail(c, "record %u refers to instance %u, which is gone", i, v.inst);
	}
	if (locked && c->ok && !c->torn)
		check_derived(s, c);
}
