/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The registry tables.  Writers (lock held) claim a slot by filling it and
 * storing LIVE last, all inside the slot's seqlock; they release it with
 * one state store.  Readers copy a slot between two reads of its sequence
 * counter and retry a bounded number of times: a writer stopped in the
 * middle of a slot leaves that one slot unreadable ("torn"), never more,
 * and never blocks the reader.  Nothing here calls user code or blocks.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "owner.h"
#include "registry.h"
#include "segment.h"

/* Bounded: about 1 ms of polling before a slot is reported torn. */
#define READ_TRIES 64
#define READ_SPIN 8

void yank__table(struct seg *s, enum table_id id, struct table *t)
{
	struct seg_hdr *h = s->hdr;
	switch (id) {
	case T_PROC:
		*t = (struct table){ (char *)s->procs, sizeof(struct proc_slot),
				     offsetof(struct proc_slot, next), s->cap_proc, &h->proc_hwm,
				     &h->proc_free, &h->n_proc };
		break;
	case T_INST:
		*t = (struct table){ (char *)s->insts, sizeof(struct inst_slot),
				     offsetof(struct inst_slot, next), s->cap_inst, &h->inst_hwm,
				     &h->inst_free, &h->n_inst };
		break;
	case T_REC:
		*t = (struct table){ (char *)s->recs, sizeof(struct rec_slot),
				     offsetof(struct rec_slot, next), s->cap_rec, &h->rec_hwm,
				     &h->rec_free, &h->n_rec };
		break;
	}
}

/*
 * Word-at-a-time multiply-xorshift: the byte-wise FNV it replaced was a
 * sixth of a registration.  The value is stored in the segment, so it is
 * part of the layout (SEG_LAYOUT_VERSION).
 */
uint32_t yank__name_hash(uint32_t type, const char *name, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)type << 56) ^ len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, name, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		name += 8;
		len -= 8;
	}
	if (len) {
		/* Shifts, not a short memcpy into a word: that stalls on store forwarding. */
		uint64_t w = 0;
		for (size_t i = 0; i < len; i++)
			w |= (uint64_t)(unsigned char)name[i] << (8 * i);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

/*
 * Copy @len bytes of a slot consistently.  Plain memcpy between the two
 * counter reads is the usual seqlock compromise: the copy may be torn, and
 * then the counters differ and the copy is thrown away.
 */
static int snapshot(const struct slot_head *h, void *out, size_t len)
{
	for (int i = 0; i < READ_TRIES; i++) {
		uint32_t s0 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
		if (!(s0 & 1)) {
			memcpy(out, h, len);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == s0)
				return 0;
		}
		if (i >= READ_SPIN)
			yank__nap(20);
		else
			sched_yield();
	}
	return -EAGAIN;
}

int yank__read_proc(const struct seg *s, uint32_t idx, struct proc_view *out)
{
	if (idx >= s->cap_proc)
		return -EPROTO;
	struct proc_slot c;
	int r = snapshot(&s->procs[idx].h, &c, sizeof(c));
	if (r < 0)
		return r;
	if (c.h.state == SLOT_FREE)
		return -ENOENT;
	if (c.h.state != SLOT_LIVE || c.pid <= 0 || c.agent_len > AGENT_ADDR_MAX)
		return -EPROTO;
	out->idx = idx;
	out->gen = c.h.gen;
	out->pid = c.pid;
	out->uid = c.uid;
	out->start_time = c.start_time;
	out->pidns_ino = c.pidns_ino;
	out->agent_len = c.agent_len;
	memcpy(out->agent, c.agent, sizeof(out->agent));
	out->flags = c.flags;
	return 0;
}

int yank__inst_valid(const struct seg *s, const struct inst_slot *c)
{
	if (c->type < 1 || c->type > 3 || c->proc >= s->cap_proc || c->name_len > 255)
		return 0;
	if (c->name[c->name_len] != '\0' || memchr(c->name, '\0', c->name_len))
		return 0;
	if (c->ns_len > NS_MAX ||
	    (c->ns_len && (c->ns[c->ns_len] != '\0' || memchr(c->ns, '\0', c->ns_len))))
		return 0;
	return (c->type == 3) == (c->name_len == 0);
}

int yank__read_inst(const struct seg *s, uint32_t idx, struct inst_view *out)
{
	if (idx >= s->cap_inst)
		return -EPROTO;
	const struct inst_slot *slot = &s->insts[idx];
	struct inst_slot c;
	/* Copy only as much of the name as is used (queries read every slot),
	 * and the namespace, past it, only when there is one. */
	uint32_t nl = __atomic_load_n(&slot->name_len, __ATOMIC_RELAXED);
	uint32_t nsl = __atomic_load_n(&slot->ns_len, __ATOMIC_RELAXED);
	size_t len = nsl ? sizeof(c) : offsetof(struct inst_slot, name) + (nl > 255 ? 256 : nl + 1);
	int r = snapshot(&slot->h, &c, len);
	if (r < 0)
		return r;
	if (c.h.state == SLOT_FREE)
		return -ENOENT;
	/* Either length changed between its read and the copy: copy it all. */
	if (len != sizeof(c) && (c.name_len != nl || c.ns_len != 0)) {
		r = snapshot(&slot->h, &c, sizeof(c));
		if (r < 0)
			return r;
		if (c.h.state == SLOT_FREE)
			return -ENOENT;
	}
	if (c.h.state != SLOT_LIVE || !yank__inst_valid(s, &c))
		return -EPROTO;
	out->idx = idx;
	out->gen = c.h.gen;
	out->type = c.type;
	out->proc = c.proc;
	out->proc_gen = c.proc_gen;
	out->order = c.order;
	out->n_fds = c.n_fds;
	out->n_cbs = c.n_cbs;
	out->n_pxs = c.n_pxs;
	out->flags = c.flags;
	out->ns_len = c.ns_len;
	memcpy(out->ns, c.ns, c.ns_len);
	out->ns[c.ns_len] = '\0';
	out->name_len = c.name_len;
	memcpy(out->name, c.name, c.name_len + 1);
	return 0;
}

int yank__read_rec(const struct seg *s, uint32_t idx, struct rec_view *out)
{
	if (idx >= s->cap_rec)
		return -EPROTO;
	struct rec_slot c;
	int r = snapshot(&s->recs[idx].h, &c, sizeof(c));
	if (r < 0)
		return r;
	if (c.h.state == SLOT_FREE)
		return -ENOENT;
	if (c.h.state != SLOT_LIVE || c.kind < REC_FD || c.kind > REC_PX ||
	    c.inst >= s->cap_inst || c.proc >= s->cap_proc || (c.kind == REC_FD && c.fd < 0))
		return -EPROTO;
	*out = (struct rec_view){ idx, c.h.gen, c.kind, c.inst, c.proc, c.inst_gen,
				  c.fd, c.dev, c.ino, c.order };
	return 0;
}

/*
 * Find the @n instances of @keys with one scan of the slots (no lock, no
 * chains: a writer may be relinking those): a small hash table of the
 * wanted keys, a cheap state and hash filter per slot, and a seqlocked copy
 * only for candidates.  0 when every key was found, -ENOENT otherwise.
 * *torn counts slots that stayed mid-update and were skipped.
 */
int yank__lookup_all(const struct seg *s, const struct inst_key *keys, size_t n,
		     struct inst_view *out, uint32_t *torn)
{
	size_t size = 2;
	while (size < 2 * n)
		size <<= 1;
	int32_t *head = malloc(size * sizeof(*head));
	int32_t *next = malloc((n ? n : 1) * sizeof(*next));
	char *got = calloc(n ? n : 1, 1);
	if (!head || !next || !got) {
		free(head);
		free(next);
		free(got);
		return -ENOMEM;
	}
	memset(head, 0xff, size * sizeof(*head));
	for (size_t j = 0; j < n; j++) {
		size_t b = keys[j].hash & (size - 1);
		next[j] = head[b];
		head[b] = (int32_t)j;
	}
	size_t found = 0;
	uint32_t hwm = seg_hwm(&s->hdr->inst_hwm, s->cap_inst);
	for (uint32_t i = 0; i < hwm && found < n; i++) {
		const struct inst_slot *slot = &s->insts[i];
		int busy = __atomic_load_n(&slot->h.seq, __ATOMIC_RELAXED) & 1;
		if (!busy && __atomic_load_n(&slot->h.state, __ATOMIC_RELAXED) != SLOT_LIVE)
			continue;
		uint32_t h = __atomic_load_n(&slot->hash, __ATOMIC_RELAXED);
		int32_t j = head[h & (size - 1)];
		/* Copy only a slot whose full hash is wanted (or one in flux):
		 * the bucket alone lets half the slots through for a short list. */
		while (!busy && j >= 0 && keys[j].hash != h)
			j = next[j];
		if (!busy && j < 0)
			continue;
		struct inst_view v;
		int r = yank__read_inst(s, i, &v);
		if (r == -EAGAIN && torn)
			(*torn)++;
		if (r < 0)
			continue;
		/* The copy is the truth: its hash may differ from the racy one. */
		uint32_t vh = yank__inst_hash(v.ns, v.ns_len, v.type, v.name, v.name_len);
		for (j = head[vh & (size - 1)]; j >= 0; j = next[j]) {
			const struct inst_key *k = &keys[j];
			if (got[j] || k->type != v.type || k->len != v.name_len ||
			    k->ns_len != v.ns_len || memcmp(k->name, v.name, k->len) != 0 ||
			    memcmp(k->ns, v.ns, k->ns_len) != 0)
				continue;
			out[j] = v;
			got[j] = 1;
			found++;
		}
	}
	free(head);
	free(next);
	free(got);
	return found == n ? 0 : -ENOENT;
}

int yank__lookup(const struct seg *s, uint32_t type, const char *name, size_t len,
		 struct inst_view *out, uint32_t *torn)
{
	struct inst_key k = inst_key(type, name, len);
	return yank__lookup_all(s, &k, 1, out, torn);
}

/* ---- writers: registry lock held ---- */

/* Pop a slot from the free list, or the next never-used one. */
static int table_take(struct table *t, uint32_t *idx)
{
	uint32_t link = *t->free;
	if (link) {
		uint32_t i = link - 1;
		if (i < t->cap && table_slot(t, i)->state == SLOT_FREE) {
			*t->free = *table_next(t, i);
			*idx = i;
			return 0;
		}
		*t->free = 0; /* a bad list is dropped; the repair rebuilds it */
	}
	uint32_t hwm = *t->hwm;
	if (hwm < t->cap) {
		*idx = hwm;
		return 0;
	}
	return -ENOSPC;
}

/* Called after the slot's LIVE state is stored. */
static void table_taken(struct table *t, uint32_t idx)
{
	if (idx >= *t->hwm)
		__atomic_store_n(t->hwm, idx + 1, __ATOMIC_RELEASE);
	(*t->count)++;
}

static void table_put(struct table *t, uint32_t idx)
{
	struct slot_head *h = table_slot(t, idx);
	slot_begin(h);
	h->state = SLOT_FREE;
	slot_end(h);
	*table_next(t, idx) = *t->free;
	*t->free = idx + 1;
	if (*t->count)
		(*t->count)--;
}

static uint64_t next_gen(struct seg *s)
{
	return ++s->hdr->gen_counter;
}

static int proc_claim(struct seg *s, const struct owner_id *id, uint32_t uid, uint32_t flags,
		      uint32_t *idx, uint64_t *gen)
{
	struct table t;
	yank__table(s, T_PROC, &t);
	uint32_t i;
	int r = table_take(&t, &i);
	if (r < 0)
		return r;
	struct proc_slot *p = &s->procs[i];
	slot_begin(&p->h);
	p->h.gen = next_gen(s);
	p->pid = id->pid;
	p->uid = uid;
	p->start_time = id->start_time;
	p->pidns_ino = id->pidns_ino;
	p->agent_len = 0;
	memset(p->agent, 0, sizeof(p->agent));
	p->flags = flags;
	FAULT("proc.claim.mid");
	/* LIVE last, and ordered so: the repair keeps a slot exactly when it is. */
	__atomic_store_n(&p->h.state, SLOT_LIVE, __ATOMIC_RELEASE);
	slot_end(&p->h);
	table_taken(&t, i);
	*idx = i;
	*gen = p->h.gen;
	return 0;
}

int yank__proc_claim(struct seg *s, const struct owner_id *id, uint32_t uid, uint32_t *idx,
		     uint64_t *gen)
{
	return proc_claim(s, id, uid, 0, idx, gen);
}

int yank__proc_claim_adopted(struct seg *s, const struct owner_id *id, uint32_t uid,
			     uint32_t *idx, uint64_t *gen)
{
	return proc_claim(s, id, uid, PROC_F_ADOPTED, idx, gen);
}

int yank__proc_find_adopted(const struct seg *s, const struct owner_id *id, uint32_t uid,
			    uint32_t *idx, uint64_t *gen)
{
	uint32_t n = seg_hwm(&s->hdr->proc_hwm, s->cap_proc);
	for (uint32_t i = 0; i < n; i++) {
		const struct proc_slot *p = &s->procs[i];
		if (p->h.state != SLOT_LIVE || p->pid != id->pid ||
		    p->start_time != id->start_time || p->pidns_ino != id->pidns_ino ||
		    p->uid != uid || !proc_adopted(p->flags))
			continue;
		*idx = i;
		*gen = p->h.gen;
		return 0;
	}
	return -ENOENT;
}

int yank__proc_has_insts(const struct seg *s, uint32_t idx, uint64_t gen)
{
	uint32_t n = seg_hwm(&s->hdr->inst_hwm, s->cap_inst);
	for (uint32_t i = 0; i < n; i++) {
		const struct inst_slot *in = &s->insts[i];
		if (in->h.state == SLOT_LIVE && in->proc == idx && in->proc_gen == gen)
			return 1;
	}
	return 0;
}

void yank__inst_drop(struct seg *s, uint32_t idx)
{
	uint64_t gen = s->insts[idx].h.gen;
	uint32_t n = seg_hwm(&s->hdr->rec_hwm, s->cap_rec);
	for (uint32_t i = 0; i < n; i++) {
		const struct rec_slot *r = &s->recs[i];
		if (r->h.state == SLOT_LIVE && r->inst == idx && r->inst_gen == gen)
			yank__rec_release(s, i);
	}
	yank__inst_release(s, idx);
}

void yank__proc_set_agent(struct seg *s, uint32_t idx, const char *addr, uint32_t len)
{
	struct proc_slot *p = &s->procs[idx];
	slot_begin(&p->h);
	memcpy(p->agent, addr, len);
	p->agent_len = len;
	slot_end(&p->h);
}

int yank__proc_owned(const struct seg *s, uint32_t idx, uint64_t gen, pid_t pid)
{
	if (idx >= s->cap_proc)
		return 0;
	const struct proc_slot *p = &s->procs[idx];
	return p->h.state == SLOT_LIVE && p->h.gen == gen && p->pid == pid;
}

void yank__proc_abandon(struct seg *s, uint32_t idx, uint64_t gen, pid_t pid)
{
	/* Safe without the lock: only this process writes its own live slot,
	 * and one aligned store cannot tear.  Readers see either value. */
	if (yank__proc_owned(s, idx, gen, pid))
		__atomic_store_n(&s->procs[idx].start_time, UINT64_MAX, __ATOMIC_RELEASE);
}

size_t yank__proc_release(struct seg *s, uint32_t idx)
{
	uint64_t gen = s->procs[idx].h.gen;
	uint32_t nr = seg_hwm(&s->hdr->rec_hwm, s->cap_rec);
	for (uint32_t i = 0; i < nr; i++) {
		const struct rec_slot *r = &s->recs[i];
		if (r->h.state == SLOT_LIVE && r->proc == idx)
			yank__rec_release(s, i);
	}
	size_t freed = 0;
	uint32_t ni = seg_hwm(&s->hdr->inst_hwm, s->cap_inst);
	for (uint32_t i = 0; i < ni; i++) {
		const struct inst_slot *in = &s->insts[i];
		if (in->h.state == SLOT_LIVE && in->proc == idx && in->proc_gen == gen) {
			yank__inst_release(s, i);
			freed++;
		}
	}
	FAULT("proc.release.mid");
	struct table t;
	yank__table(s, T_PROC, &t);
	table_put(&t, idx);
	return freed;
}

static uint32_t *bucket_of(const struct seg *s, uint32_t hash)
{
	return &s->buckets[hash & (s->nbuckets - 1)];
}

int yank__inst_find_key(const struct seg *s, const struct inst_key *k, uint32_t *idx)
{
	uint32_t link = *bucket_of(s, k->hash);
	/* A chain longer than the table has a cycle. */
	for (uint32_t steps = 0; link; steps++) {
		uint32_t i = link - 1;
		if (i >= s->cap_inst || steps > s->cap_inst)
			return -EPROTO;
		const struct inst_slot *in = &s->insts[i];
		if (in->h.state != SLOT_LIVE)
			return -EPROTO;
		if (inst_is(in, k)) {
			*idx = i;
			return 0;
		}
		link = in->next;
	}
	return -ENOENT;
}

int yank__inst_find(const struct seg *s, uint32_t type, const char *name, size_t len,
		    uint32_t *idx)
{
	struct inst_key k = inst_key(type, name, len);
	return yank__inst_find_key(s, &k, idx);
}

void yank__inst_link(struct seg *s, uint32_t idx)
{
	struct inst_slot *in = &s->insts[idx];
	uint32_t *b = bucket_of(s, in->hash);
	in->next = *b;
	*b = idx + 1;
}

int yank__inst_claim_key(struct seg *s, uint32_t proc, uint64_t proc_gen,
			 const struct inst_key *k, uint32_t *idx, uint64_t *gen)
{
	struct table t;
	yank__table(s, T_INST, &t);
	uint32_t i;
	int r = table_take(&t, &i);
	if (r < 0)
		return r;
	struct inst_slot *in = &s->insts[i];
	slot_begin(&in->h);
	in->h.gen = next_gen(s);
	in->type = k->type;
	in->proc = proc;
	in->proc_gen = proc_gen;
	in->order = ++s->hdr->order_counter;
	in->hash = k->hash;
	in->n_fds = 0;
	in->n_cbs = 0;
	in->n_pxs = 0;
	in->flags = 0;
	in->ns_len = (uint32_t)k->ns_len;
	if (k->ns_len) {
		memcpy(in->ns, k->ns, k->ns_len);
		in->ns[k->ns_len] = '\0';
	}
	in->name_len = (uint32_t)k->len;
	memcpy(in->name, k->name, k->len);
	in->name[k->len] = '\0';
	FAULT("inst.claim.mid");
	__atomic_store_n(&in->h.state, SLOT_LIVE, __ATOMIC_RELEASE);
	slot_end(&in->h);
	FAULT("inst.claim.before_link");
	yank__inst_link(s, i);
	table_taken(&t, i);
	*idx = i;
	*gen = in->h.gen;
	return 0;
}

int yank__inst_claim(struct seg *s, uint32_t proc, uint64_t proc_gen, uint32_t type,
		     const char *name, size_t len, uint32_t *idx, uint64_t *gen)
{
	struct inst_key k = inst_key(type, name, len);
	return yank__inst_claim_key(s, proc, proc_gen, &k, idx, gen);
}

/* Unlink from the hash chain first, so no chain ever leads to a free slot. */
void yank__inst_release(struct seg *s, uint32_t idx)
{
	struct inst_slot *in = &s->insts[idx];
	uint32_t *link = bucket_of(s, in->hash);
	for (uint32_t steps = 0; *link && steps <= s->cap_inst; steps++) {
		uint32_t i = *link - 1;
		if (i >= s->cap_inst)
			break;
		if (i == idx) {
			*link = in->next;
			break;
		}
		link = &s->insts[i].next;
	}
	FAULT("inst.release.mid");
	struct table t;
	yank__table(s, T_INST, &t);
	table_put(&t, idx);
}

static void count_add(struct seg *s, uint32_t inst, uint32_t kind, int delta)
{
	struct inst_slot *in = &s->insts[inst];
	slot_begin(&in->h);
	if (kind == REC_FD)
		in->n_fds += (uint32_t)delta;
	else if (kind == REC_CB)
		in->n_cbs += (uint32_t)delta;
	else
		in->n_pxs += (uint32_t)delta;
	slot_end(&in->h);
}

int yank__rec_claim(struct seg *s, uint32_t inst, uint32_t kind, int fd, uint64_t dev,
		    uint64_t ino, uint32_t *idx, uint64_t *gen)
{
	struct table t;
	yank__table(s, T_REC, &t);
	uint32_t i;
	int r = table_take(&t, &i);
	if (r < 0)
		return r;
	const struct inst_slot *in = &s->insts[inst];
	struct rec_slot *rec = &s->recs[i];
	slot_begin(&rec->h);
	rec->h.gen = next_gen(s);
	rec->kind = kind;
	rec->inst = inst;
	rec->proc = in->proc;
	rec->inst_gen = in->h.gen;
	rec->fd = fd;
	rec->dev = dev;
	rec->ino = ino;
	rec->order = ++s->hdr->order_counter;
	FAULT("rec.claim.mid");
	__atomic_store_n(&rec->h.state, SLOT_LIVE, __ATOMIC_RELEASE);
	slot_end(&rec->h);
	table_taken(&t, i);
	FAULT("rec.claim.before_count");
	count_add(s, inst, kind, 1);
	*idx = i;
	*gen = rec->h.gen;
	return 0;
}

void yank__rec_release(struct seg *s, uint32_t idx)
{
	struct rec_slot *rec = &s->recs[idx];
	uint32_t inst = rec->inst, kind = rec->kind;
	uint64_t inst_gen = rec->inst_gen;
	struct table t;
	yank__table(s, T_REC, &t);
	table_put(&t, idx);
	FAULT("rec.release.before_count");
	if (inst < s->cap_inst && s->insts[inst].h.state == SLOT_LIVE &&
	    s->insts[inst].h.gen == inst_gen)
		count_add(s, inst, kind, -1);
}

int yank__inst_set_flag(struct seg *s, uint32_t proc, uint64_t proc_gen, const char *ns,
			size_t ns_len, uint32_t flag, int on)
{
	int changed = 0;
	uint32_t n = seg_hwm(&s->hdr->inst_hwm, s->cap_inst);
	for (uint32_t i = 0; i < n; i++) {
		struct inst_slot *in = &s->insts[i];
		if (in->h.state != SLOT_LIVE || in->proc != proc || in->proc_gen != proc_gen ||
		    in->ns_len != ns_len || memcmp(in->ns, ns, ns_len) != 0)
			continue;
		uint32_t want = on ? in->flags | flag : in->flags & ~flag;
		if (want == in->flags)
			continue;
		slot_begin(&in->h);
		in->flags = want;
		slot_end(&in->h);
		changed++;
	}
	return changed;
}
