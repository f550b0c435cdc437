/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The process-local table of this process's records: what a record index
 * in the segment means here (an fd, or a function and its argument).  The
 * agent reads it under RCU, so a hung host thread can never block a yank;
 * unregistering waits for a grace period, so a removed record cannot run.
 */
#ifndef YANK_LOCAL_H
#define YANK_LOCAL_H

#include <stdint.h>

#include "yank.h"

struct local;

/* A proxied record's instance, as its function is told it. */
struct local_ident {
	struct yank_instance inst; /* name points into @name */
	char ns[YANK_NS_MAX + 1];
	char name[YANK_NAME_MAX + 1];
};

struct local_rec {
	uint32_t rec, inst;
	uint64_t rec_gen, inst_gen;
	uint32_t kind; /* REC_FD, REC_CB or REC_PX */
	int fd;
	uint64_t dev, ino;
	yank_fn *fn;   /* REC_PX: a yank_proxy_fn, cast back before the call */
	void *opaque;
	struct local_ident *id; /* REC_PX: owned by the table while the record is in it */
	int inflight; /* fds of this record handed to yankers, not yet done */
};

int yank__local_new(uint32_t cap_rec, struct local **out);
/* Frees every entry; call only when no reader can be running. */
void yank__local_free(struct local *l);

/* Takes over @r->id, also on failure. */
int yank__local_add(struct local *l, const struct local_rec *r);

/*
 * Remove the newest entry of instance (@inst, @inst_gen) that matches @kind
 * and @fd (REC_FD) or @fn/@opaque (REC_CB).  Returns once no reader can
 * see it and no hand-off of it is in flight, waiting at most @wait_ms for
 * the latter.  *rec and *rec_gen name the segment record to free.
 * 0, -ENOENT, or -ETIMEDOUT (a yanker still holds the fd: it stays removed).
 * *out gets a copy of what was removed, so a caller can put it back; on 0
 * its @id is the caller's (to free, or to hand back with yank__local_add).
 */
int yank__local_take(struct local *l, uint32_t inst, uint64_t inst_gen, uint32_t kind, int fd,
		     yank_fn *fn, void *opaque, uint32_t wait_ms, struct local_rec *out);

/* Remove everything (yank_close); returns how many, or -ETIMEDOUT. */
int yank__local_take_all(struct local *l, uint32_t wait_ms);

/* Reader side: between these two, yank__local_get() results stay valid. */
void yank__local_read_lock(void);
void yank__local_read_unlock(void);
struct local_rec *yank__local_get(struct local *l, uint32_t rec, uint64_t gen);

/* Mark a looked-up fd record handed out / done (done wakes unregisterers). */
void yank__local_hold(struct local_rec *r);
void yank__local_release(struct local *l, struct local_rec *r);

/* In a forked child: forget the parent's entries without touching the segment. */
void yank__local_forget(struct local *l);

#endif
