/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The records of the agent fuzz target: fuzz-agent.c registers them and
 * gen-seeds.c, by the very same steps, learns the (index, generation)
 * each one gets, so that its seeds can name them.  One table for both,
 * so that the two cannot drift apart.
 *
 * Besides a callback and two fd records, proxied records in two
 * namespaces, of two proxy functions and two arguments: the agent calls a
 * proxy once per (function, argument, namespace), so the records are
 * spread over four such groups, one instance of qemu:vm1 in two of them
 * and one of qemu:vm2 in two others.
 */
#ifndef YANK_FUZZ_AGENT_RECS_H
#define YANK_FUZZ_AGENT_RECS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <yank.h>

#include "layout.h"

enum { AR_MIXED, AR_ALL_OK };      /* which proxy function */
enum { AR_ARG_A, AR_ARG_B };       /* which proxy argument */

struct agent_rec {
	uint32_t kind;             /* REC_CB, REC_FD or REC_PX */
	const char *ns;            /* NULL: native */
	struct yank_instance inst;
	int fd;                    /* REC_FD: which of the two sockets */
	int fn, arg;               /* REC_PX: AR_MIXED or AR_ALL_OK, AR_ARG_A or _B */
	int answer;                /* REC_PX, AR_MIXED: what the proxy says for it */
	int seen;                  /* REC_PX: the result the yanker gets, 0 for WS_RAN */
};

#define AR_VM1 "qemu:vm1"
#define AR_VM2 "qemu:vm2"

/*
 * In registration order, which is the order of the records in a fresh
 * segment.  The native ones come first and as they always did, so that
 * the (index, generation) of the older seeds still names them.  An
 * answer out of the errno range must reach the yanker as -EIO.
 */
static const struct agent_rec agent_recs[] = {
	{ REC_CB, NULL, { YANK_CHARDEV, "c0" }, 0, 0, 0, 0, 0 },
	{ REC_FD, NULL, { YANK_CHARDEV, "c0" }, 0, 0, 0, 0, 0 },
	{ REC_FD, NULL, { YANK_BLOCK_NODE, "d0" }, 1, 0, 0, 0, 0 },
	{ REC_PX, AR_VM1, { YANK_CHARDEV, "ok" }, 0, AR_MIXED, AR_ARG_A, 0, 0 },
	{ REC_PX, AR_VM1, { YANK_CHARDEV, "gone" }, 0, AR_MIXED, AR_ARG_A, -ENOENT, -ENOENT },
	{ REC_PX, AR_VM1, { YANK_BLOCK_NODE, "mute" }, 0, AR_MIXED, AR_ARG_A, -ETIMEDOUT,
	  -ETIMEDOUT },
	{ REC_PX, AR_VM1, { YANK_BLOCK_NODE, "bad" }, 0, AR_MIXED, AR_ARG_A, -EIO, -EIO },
	{ REC_PX, AR_VM1, { YANK_MIGRATION, NULL }, 0, AR_MIXED, AR_ARG_A, 1, -EIO },
	{ REC_PX, AR_VM1, { YANK_CHARDEV, "ok" }, 0, AR_MIXED, AR_ARG_B, 0, 0 },
	{ REC_PX, AR_VM2, { YANK_CHARDEV, "a" }, 0, AR_MIXED, AR_ARG_A, 0, 0 },
	{ REC_PX, AR_VM2, { YANK_CHARDEV, "b" }, 0, AR_MIXED, AR_ARG_A, -ENOENT, -ENOENT },
	{ REC_PX, AR_VM2, { YANK_BLOCK_NODE, "n1" }, 0, AR_ALL_OK, AR_ARG_A, 0, 0 },
	{ REC_PX, AR_VM2, { YANK_CHARDEV, "a" }, 0, AR_ALL_OK, AR_ARG_A, 0, 0 },
};

#define AGENT_NRECS (sizeof(agent_recs) / sizeof(agent_recs[0]))

/* What the setup hands to the registrations. */
struct agent_env {
	yank_fn *cb;
	void *cb_arg;
	int fds[2];
	yank_proxy_fn *px[2]; /* by AR_MIXED, AR_ALL_OK */
	void *px_arg[2];      /* by AR_ARG_A, AR_ARG_B */
};

/* NULL as "": a native namespace, a migration's name. */
static inline bool agent_same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static inline bool agent_same_inst(const struct yank_instance *a, const struct yank_instance *b)
{
	return a->type == b->type && agent_same_str(a->name, b->name);
}

/* The first entry of @t's instance: there the instance is registered. */
static inline bool agent_first_of_inst(size_t t)
{
	for (size_t i = 0; i < t; i++)
		if (agent_same_str(agent_recs[i].ns, agent_recs[t].ns) &&
		    agent_same_inst(&agent_recs[i].inst, &agent_recs[t].inst))
			return false;
	return true;
}

/* The first entry of @t's proxy group: the group's number. */
static inline size_t agent_group(size_t t)
{
	const struct agent_rec *r = &agent_recs[t];

	for (size_t i = 0;; i++) {
		const struct agent_rec *g = &agent_recs[i];

		if (g->kind == REC_PX && g->fn == r->fn && g->arg == r->arg &&
		    agent_same_str(g->ns, r->ns))
			return i;
	}
}

/* Registers the table in order; 0 or the first error. */
static inline int agent_register(yank_registry *reg, const struct agent_env *env)
{
	for (size_t t = 0; t < AGENT_NRECS; t++) {
		const struct agent_rec *r = &agent_recs[t];
		int e = 0;

		if (agent_first_of_inst(t))
			e = yank_register_instance_ns(reg, r->ns, &r->inst);
		if (e == 0 && r->kind == REC_CB)
			e = yank_register_function(reg, &r->inst, env->cb, env->cb_arg);
		else if (e == 0 && r->kind == REC_FD)
			e = yank_register_fd(reg, &r->inst, env->fds[r->fd]);
		else if (e == 0)
			e = yank_register_proxy(reg, r->ns, &r->inst, env->px[r->fn],
						env->px_arg[r->arg]);
		if (e < 0)
			return e;
	}
	return 0;
}

#endif
