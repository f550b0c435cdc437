/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/* Repair after a lock holder died, reaping of dead owners, integrity check. */
#ifndef YANK_RECOVER_H
#define YANK_RECOVER_H

#include <stddef.h>
#include <stdint.h>

struct seg;
struct proc_slot;
struct inst_key;

/*
 * Lock held, previous holder died: make every slot readable again, drop
 * slots no live owner can claim, and rebuild chains, free lists and counts
 * from the slot arrays.  Then reap dead owners.  Never runs callbacks.
 */
int yank__repair(struct seg *s);

/* Lock held: free everything owned by processes that are gone. */
size_t yank__reap(struct seg *s);

/* Is the owner of this process slot gone: dead, or its image replaced by
 * execve()?  Never 1 on a guess. */
int yank__proc_gone(const struct proc_slot *p);

/* Lock held: find instance @k, mending the hash chains once if they need it. */
int yank__inst_find_mend(struct seg *s, const struct inst_key *k, uint32_t *idx);

/* Lock held: is the name @k free, once owners that are gone are reaped?
 * 0, -EEXIST, or an error. */
int yank__name_free(struct seg *s, const struct inst_key *k);

/* Reap dead owners (not images that exec'd: that takes a connect per live
 * owner) at most once a second: cheap enough for every registration. */
void yank__reap_maybe(struct seg *s);

struct check_result {
	uint32_t torn;          /* slots mid-update */
	uint32_t live_procs, dead_procs;
	uint32_t used_proc, used_inst, used_rec;
	int ok;                 /* 1 when every invariant holds */
	char detail[160];       /* the first broken invariant */
};

/*
 * Check the registry.  With @locked, also the derived state (chains, free
 * lists, counts), which is only stable under the lock.
 */
void yank__check(const struct seg *s, int locked, struct check_result *out);

#endif
