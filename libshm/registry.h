/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The registry tables in the segment: processes, instances, records.
 * Readers take no lock and get consistent copies ("views") through the
 * per-slot sequence counters; writers hold the registry lock.
 */
#ifndef YANK_REGISTRY_H
#define YANK_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "layout.h"

struct seg;
struct owner_id;

struct proc_view {
	uint32_t idx;
	uint64_t gen;
	pid_t pid;
	uint32_t uid;
	uint64_t start_time, pidns_ino;
	uint32_t agent_len;
	char agent[AGENT_ADDR_MAX];
	uint32_t flags;
};

struct inst_view {
	uint32_t idx;
	uint64_t gen;
	uint32_t type, proc;
	uint64_t proc_gen, order;
	uint32_t n_fds, n_cbs, n_pxs;
	uint32_t flags;
	uint32_t ns_len;
	char ns[NS_MAX + 1];
	uint32_t name_len;
	char name[256];
};

struct rec_view {
	uint32_t idx;
	uint64_t gen;
	uint32_t kind, inst, proc;
	uint64_t inst_gen;
	int32_t fd;
	uint64_t dev, ino, order;
};

/* A slot array seen generically, for claim/release and the repair. */
struct table {
	char *base;
	size_t slot_size, next_off;
	uint32_t cap;
	uint32_t *hwm, *free, *count;
};

enum table_id { T_PROC, T_INST, T_REC };

uint32_t yank__name_hash(uint32_t type, const char *name, size_t len);
/* Of an instance's identity: the name's hash for a native one. */
static inline uint32_t yank__inst_hash(const char *ns, size_t ns_len, uint32_t type,
				       const char *name, size_t len)
{
	uint32_t h = yank__name_hash(type, name, len);
	if (ns_len)
		h = (h ^ yank__name_hash(0xa5, ns, ns_len)) * 0x9e3779b1u;
	return h;
}
void yank__table(struct seg *s, enum table_id id, struct table *t);
static inline struct slot_head *table_slot(const struct table *t, uint32_t i)
{
	return (struct slot_head *)(t->base + (size_t)i * t->slot_size);
}
static inline uint32_t *table_next(const struct table *t, uint32_t i)
{
	return (uint32_t *)(t->base + (size_t)i * t->slot_size + t->next_off);
}

/*
 * Seqlock, writer side (lock held).  Parity is forced rather than toggled:
 * a writer that died inside a slot the repair did not visit (one past the
 * high-water mark) leaves it odd, and the next writer must not invert it.
 */
static inline void slot_begin(struct slot_head *h)
{
	__atomic_store_n(&h->seq, h->seq | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}
static inline void slot_end(struct slot_head *h)
{
	__atomic_store_n(&h->seq, (h->seq | 1) + 1, __ATOMIC_RELEASE);
}

/* Readers: 0, -ENOENT (slot free), -EAGAIN (a writer is in the slot), -EPROTO. */
int yank__read_proc(const struct seg *s, uint32_t idx, struct proc_view *out);
int yank__read_inst(const struct seg *s, uint32_t idx, struct inst_view *out);
/* Does a copy of an instance slot hold what readers accept (type, name,
 * namespace, owner index)?  The repair keeps exactly these. */
int yank__inst_valid(const struct seg *s, const struct inst_slot *c);
int yank__read_rec(const struct seg *s, uint32_t idx, struct rec_view *out);


/* Writers, registry lock held.  Indices are trusted only after checks. */
int yank__proc_claim(struct seg *s, const struct owner_id *id, uint32_t uid, uint32_t *idx,
		     uint64_t *gen);
void yank__proc_set_agent(struct seg *s, uint32_t idx, const char *addr, uint32_t len);

/*
 * Adopted owners (adopt.c): a process that knows nothing of yank, whose
 * sockets were registered from outside.  Its slot has no agent and
 * carries PROC_F_ADOPTED.  A native owner runs its agent from its first
 * registration, in the same critical section, so it never carries it.
 */
static inline int proc_adopted(uint32_t flags)
{
	return (flags & PROC_F_ADOPTED) != 0;
}

/* As yank__proc_claim(), for an adopted process: tagged before it is LIVE. */
int yank__proc_claim_adopted(struct seg *s, const struct owner_id *id, uint32_t uid,
			     uint32_t *idx, uint64_t *gen);
/* Lock held: an adopted slot of (@id, @uid) already LIVE, to own one more instance. */
int yank__proc_find_adopted(const struct seg *s, const struct owner_id *id, uint32_t uid,
			    uint32_t *idx, uint64_t *gen);
/* Lock held: does process slot @idx (generation @gen) own any instance? */
int yank__proc_has_insts(const struct seg *s, uint32_t idx, uint64_t gen);
/* Lock held: free instance @idx and every record on it. */
void yank__inst_drop(struct seg *s, uint32_t idx);
/* Free a process slot and everything it owns; returns the instances freed. */
size_t yank__proc_release(struct seg *s, uint32_t idx);
int yank__proc_owned(const struct seg *s, uint32_t idx, uint64_t gen, pid_t pid);
/*
 * Without the lock: mark our own process slot as belonging to a process
 * that is gone (a start time no process has), for the next writer to reap.
 */
void yank__proc_abandon(struct seg *s, uint32_t idx, uint64_t gen, pid_t pid);

/* An instance's identity with its hash, computed once per call. */
struct inst_key {
	uint32_t type;
	const char *name;
	size_t len;
	uint32_t hash;
	const char *ns; /* "" for a native instance */
	size_t ns_len;
};

static inline struct inst_key inst_key_ns(const char *ns, size_t ns_len, uint32_t type,
					  const char *name, size_t len)
{
	return (struct inst_key){ type, name, len, yank__inst_hash(ns, ns_len, type, name, len),
				  ns, ns_len };
}

/* A native instance's. */
static inline struct inst_key inst_key(uint32_t type, const char *name, size_t len)
{
	return inst_key_ns("", 0, type, name, len);
}

/* The key of the instance in slot @in (lock held, or a reader's copy). */
static inline struct inst_key inst_slot_key(const struct inst_slot *in)
{
	return inst_key_ns(in->ns, in->ns_len, in->type, in->name, in->name_len);
}

/* Does the slot (lock held, or a reader's copy) hold the instance of @k? */
static inline int inst_is(const struct inst_slot *in, const struct inst_key *k)
{
	return in->hash == k->hash && in->type == k->type && in->name_len == k->len &&
	       in->ns_len == k->ns_len && memcmp(in->name, k->name, k->len) == 0 &&
	       (k->ns_len == 0 || memcmp(in->ns, k->ns, k->ns_len) == 0);
}

/*
 * Readers: find live instances by one scan of the slots (no lock, no
 * chains): 0 when all were found, -ENOENT, -ENOMEM.  *torn (may be NULL)
 * counts slots that stayed mid-update and were skipped.
 */
int yank__lookup_all(const struct seg *s, const struct inst_key *keys, size_t n,
		     struct inst_view *out, uint32_t *torn);
int yank__lookup(const struct seg *s, uint32_t type, const char *name, size_t len,
		 struct inst_view *out, uint32_t *torn);

/* 0 and *idx, -ENOENT, or -EPROTO (a chain that needs the repair). */
int yank__inst_find_key(const struct seg *s, const struct inst_key *k, uint32_t *idx);
/* A native instance. */
int yank__inst_find(const struct seg *s, uint32_t type, const char *name, size_t len,
		    uint32_t *idx);
int yank__inst_claim_key(struct seg *s, uint32_t proc, uint64_t proc_gen,
			 const struct inst_key *k, uint32_t *idx, uint64_t *gen);
/* A native instance. */
int yank__inst_claim(struct seg *s, uint32_t proc, uint64_t proc_gen, uint32_t type,
		     const char *name, size_t len, uint32_t *idx, uint64_t *gen);
/* Lock held: set or clear @flag on the instances of @ns owned by (@proc, @proc_gen). */
int yank__inst_set_flag(struct seg *s, uint32_t proc, uint64_t proc_gen, const char *ns,
			size_t ns_len, uint32_t flag, int on);
void yank__inst_release(struct seg *s, uint32_t idx);
void yank__inst_link(struct seg *s, uint32_t idx);

int yank__rec_claim(struct seg *s, uint32_t inst, uint32_t kind, int fd, uint64_t dev,
		    uint64_t ino, uint32_t *idx, uint64_t *gen);
void yank__rec_release(struct seg *s, uint32_t idx);

#endif
