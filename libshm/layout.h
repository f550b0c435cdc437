/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The shared-memory segment, byte for byte.  Every process that maps it
 * must agree on this layout, so it holds fixed-width integers only: no
 * pointers (each process maps at its own address), no enums, no bool.
 * Slots refer to each other by 32-bit index; every index read from here is
 * bounds-checked before use, because any process with write access could
 * have scribbled on it.
 *
 * Authoritative state is the three slot arrays.  Everything else in the
 * header below "derived" (free lists, hash chains, counts) is rebuilt from
 * them by the repair after a lock holder died (recover.c).
 */
#ifndef YANK_LAYOUT_H
#define YANK_LAYOUT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SEG_MAGIC 0x4b4e4159u /* "YANK" in memory on little-endian */
#define SEG_LAYOUT_VERSION 2u
/*
 * Links between slots (free lists, hash chains, bucket heads) store index + 1,
 * so that 0, the value of a page nobody touched yet, means "none".
 */

#define SEG_STATE_INIT 0u  /* creator still initialising */
#define SEG_STATE_READY 1u /* published: safe to use */

/* Slot states.  A slot is claimed by filling it and storing LIVE last. */
#define SLOT_FREE 0u
#define SLOT_LIVE 1u

#define REC_FD 1u
#define REC_CB 2u
#define REC_PX 3u /* proxied function: yanks in another system, reports back */

#define PROC_F_ADOPTED 1u /* registered from outside (adopt.c): has no agent */
#define INST_F_UNRESPONSIVE 1u /* its proxy says the system behind stopped answering */

#define NS_MAX 71 /* owner namespace bytes (YANK_NS_MAX) */

#define AGENT_ADDR_MAX 64 /* the agent socket's path, without a NUL */

/* Every slot starts with these: a seqlock and a reuse generation. */
struct slot_head {
	uint32_t seq;   /* odd while a writer changes the slot */
	uint32_t state; /* SLOT_FREE or SLOT_LIVE */
	uint64_t gen;   /* unique per claim: (index, gen) names one life */
};

/* One process (one open handle of it) that owns registrations. */
struct proc_slot {
	struct slot_head h;
	int32_t pid;
	uint32_t uid;
	uint64_t start_time; /* /proc/PID/stat field 22: tells a reused pid apart */
	uint64_t pidns_ino;  /* the pid namespace the pid is valid in */
	uint32_t next;       /* free list link (derived) */
	uint32_t agent_len;  /* 0: no agent yet */
	char agent[AGENT_ADDR_MAX];
	uint32_t flags;      /* PROC_F_*, set before the slot is LIVE */
	uint32_t pad;
};

struct inst_slot {
	struct slot_head h;
	uint32_t type;     /* 1 block-node, 2 chardev, 3 migration */
	uint32_t proc;     /* owner's proc slot */
	uint64_t proc_gen; /* owner's proc slot generation */
	uint64_t order;    /* registration sequence number */
	uint32_t hash;     /* of (namespace, type, name) */
	uint32_t next;     /* hash chain or free list link (derived) */
	uint32_t n_fds;    /* derived from the record array */
	uint32_t n_cbs;    /* derived from the record array */
	uint32_t n_pxs;    /* derived from the record array */
	uint32_t flags;    /* INST_F_* */
	uint32_t ns_len;   /* bytes of ns, at most NS_MAX; 0 for a native instance */
	uint32_t name_len; /* bytes of name, at most 255 */
	/* A reader copies only the used part of each; a native instance's
	 * registration touches no byte of ns, which is past the name. */
	char name[256];    /* NUL-terminated at name_len */
	char ns[NS_MAX + 1]; /* owner namespace, NUL-terminated at ns_len when ns_len > 0 */
};

struct rec_slot {
	struct slot_head h;
	uint32_t kind;     /* REC_FD, REC_CB or REC_PX */
	uint32_t next;     /* free list link (derived) */
	uint32_t inst;     /* instance slot */
	uint32_t proc;     /* owner's proc slot (same as the instance's) */
	uint64_t inst_gen;
	int32_t fd;        /* REC_FD: the fd number in the owner */
	uint32_t pad;
	uint64_t dev;      /* REC_FD: st_dev of the socket at registration */
	uint64_t ino;      /* REC_FD: st_ino of the socket at registration */
	uint64_t order;    /* registration sequence number */
};

/*
 * The audit ring: the last AUDIT_SLOTS yanks.  Written without the
 * registry lock, because a yank must work while a stopped process holds
 * it: entry n is claimed by an atomic increment of audit_next and lives in
 * slot n % AUDIT_SLOTS, whose seq is 2n+1 while it is written and 2n+2
 * once done.  A sum over the rest makes two writers lapping each other on
 * one slot (or a scribble) show as torn instead of as a mixed entry.
 */
#define AUDIT_SLOTS 256u
#define AUDIT_ITEMS 16u   /* instances whose outcome is kept per entry */
#define AUDIT_TEXT 512u   /* their spellings, NUL-separated */
#define AUDIT_CMD 96u

struct audit_item {
	uint32_t failures;
	uint32_t kind; /* the first failure's enum yank_failure_kind, or 0 */
};

struct audit_slot {
	uint64_t seq;
	uint64_t sum;         /* of everything below */
	int64_t time_ns;      /* CLOCK_REALTIME */
	int32_t pid;
	uint32_t uid;
	int32_t result;
	uint32_t n_instances; /* yanked; at most AUDIT_ITEMS are kept */
	uint32_t failures;
	uint32_t n_items;
	uint32_t text_len;
	uint32_t pad;
	char command[AUDIT_CMD];
	struct audit_item items[AUDIT_ITEMS];
	char text[AUDIT_TEXT];
};

struct seg_hdr {
	/* Written once by the creator, before state becomes READY. */
	uint32_t magic;
	uint32_t format; /* seg_format(): layout version and struct sizes */
	uint64_t size;   /* total bytes; must match fstat */
	uint32_t state;  /* SEG_STATE_*; stored with release semantics last */
	/* What the creator asked for, for diagnostics only: any group member
	 * can write these, so access is decided from fstat, never from here. */
	uint32_t flags;  /* SEG_F_GROUP */
	uint32_t gid;    /* the group asked for, with SEG_F_GROUP */
	uint32_t cap_proc, cap_inst, cap_rec, nbuckets;
	uint32_t pad0;
	uint64_t off_proc, off_inst, off_rec, off_bucket, off_audit;

	/* Changed under the lock. */
	uint64_t gen_counter; /* source of slot generations */
	uint64_t order_counter; /* source of registration order */
	uint32_t proc_hwm, inst_hwm, rec_hwm; /* readers scan [0, hwm) */
	int32_t holder_pid;   /* who holds the lock, for diagnostics */
	uint64_t holder_start;
	uint64_t last_reap_ns; /* CLOCK_MONOTONIC of the last reap */
	uint32_t pad2;

	/* Derived: rebuilt by the repair. */
	uint32_t proc_free, inst_free, rec_free; /* links */
	uint32_t n_proc, n_inst, n_rec;
	uint8_t pad1[4];

	/* Atomic, never under the lock: yanks do not take it. */
	uint64_t audit_next;  /* entries claimed so far */
	uint64_t yanks_ok, yanks_failed, yanks_not_found;

	/* The lock sits last in its own cache lines; its size is in the format word. */
	pthread_mutex_t lock __attribute__((aligned(64)));
};

#define SEG_F_GROUP 1u

_Static_assert(sizeof(struct slot_head) == 16, "slot_head size");
_Static_assert(sizeof(struct proc_slot) == 120, "proc_slot size");
_Static_assert(sizeof(struct inst_slot) == 400, "inst_slot size");
_Static_assert(offsetof(struct inst_slot, ns) > offsetof(struct inst_slot, name), "ns after name");
_Static_assert(sizeof(struct audit_slot) == 792, "audit_slot size");
_Static_assert(sizeof(struct rec_slot) == 72, "rec_slot size");
_Static_assert(offsetof(struct seg_hdr, lock) % 64 == 0, "lock alignment");

/*
 * The format word folds in the sizes that must agree between processes:
 * a 32-bit peer, another pthread ABI or another slot layout is refused.
 */
static inline uint32_t seg_format(void)
{
	return SEG_LAYOUT_VERSION | (uint32_t)sizeof(pthread_mutex_t) << 8 |
	       (uint32_t)sizeof(void *) << 16 | (uint32_t)(sizeof(struct inst_slot) / 8) << 24;
}

#endif
