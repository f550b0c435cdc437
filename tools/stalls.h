/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Which connection is hung: the sockets behind each instance's fd
 * records, sampled (sockdiag.c, and /proc for the owner's blocked
 * threads) and judged (verdict.c).  Shared by list, watch and metrics.
 */
#ifndef YANKCTL_STALLS_H
#define YANKCTL_STALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <yank.h>

#include "args.h"
#include "output.h"
#include "sockdiag.h"
#include "verdict.h"

/* list and metrics: how far apart the two samples are, unless --sample says. */
#define YC_SAMPLE_DEFAULT_MS 200
/* How long sock_diag may take to answer, unless --timeout says. */
#define YC_DIAG_TIMEOUT_MS 2000

/* One registry and the instances a query of it returned. */
struct yc_stall_src {
	yank_registry *reg;
	const struct yank_instance_info *info;
	size_t n;
	uint64_t key; /* tells registries apart across calls (the uid, in host mode) */
};

/* One socket behind an fd record. */
struct yc_stall_sock {
	size_t inst;     /* its instance: index into the sources' instances, end to end */
	uint64_t src_key, order;
	pid_t pid;
	int fd;
	uint64_t ino;
	bool have_a;     /* a holds an earlier sample */
	struct yc_sock_sample a, b; /* the earlier and the latest sample */
	struct yc_sock_addr addr;   /* from the latest */
	struct yc_judgement j;
};

struct yc_stall_view {
	size_t n_inst;
	struct yc_stall_sock *socks; /* by instance, in the sources' order */
	size_t n_socks;
	size_t *first, *count;       /* per instance: its sockets */
	struct yc_judgement *inst;   /* per instance; YC_V_NONE without fd records */
	size_t *decider;             /* per instance: the socket that decided, or SIZE_MAX */
};

/*
 * The sockets of every instance of @src (@nsrc registries): 0 and @v
 * (free with yc_stalls_free()), or -ENOMEM, -EPROTO.  A registry whose
 * records cannot be read leaves its instances without sockets.
 */
int yc_stalls_collect(const struct yc_stall_src *src, size_t nsrc, struct yc_stall_view *v);
void yc_stalls_free(struct yc_stall_view *v);

/*
 * Sample every socket of @v once more: the latest sample becomes the
 * earlier one.  0, or sock_diag's error (the samples then say unknown).
 */
int yc_stalls_observe(struct yc_stall_view *v, struct yc_diag *d);

/* Judge every socket from its two samples, and each instance from its sockets. */
void yc_stalls_judge(struct yc_stall_view *v);

/*
 * "yankctl list" with the socket state of a->sample_ms: sample twice that
 * far apart (not at all for 0, or when no instance has an fd record) and
 * print the table with its VERDICT column, or the JSON with "sockets".
 * @info and @users (or NULL) are the sources' instances end to end.
 */
int yc_list_print(const struct yc_args *a, FILE *f, const struct yc_stall_src *src, size_t nsrc,
		  const struct yank_instance_info *info, const struct yc_user *users, size_t n);

/* One socket as the JSON object list prints in "sockets". */
int yc_sock_json(FILE *f, const struct yc_stall_sock *s);

/*
 * The registries a command line covers, opened and queried: root's every
 * user's (host mode, see host.h), else the one named.  A registry that
 * could not be opened or queried is kept, with @err set and no instances.
 */
struct yc_scope {
	bool host;
	size_t n;                   /* sources */
	struct yc_stall_src *src;   /* n of them: reg and its instances */
	char (*user)[64];           /* each registry's user name, or its uid */
	uid_t *uid;
	int *err;                   /* 0, or why it could not be read */
	char (*detail)[256];        /* and the library's words for it */
	struct yank_host_registry *regs;
	size_t n_regs;
	yank_registry *reg;         /* the one registry, outside host mode */
};

/*
 * Open @sc for @a.  0; -ENOENT (one registry, which does not exist: @sc
 * has it with no instances); -ENOMEM; or, for the one registry, why it
 * could not be opened (the error line is printed, unless @quiet).
 */
int yc_scope_open(const struct yc_args *a, bool quiet, struct yc_scope *sc);
void yc_scope_close(struct yc_scope *sc);

/* The commands of watch.c and metrics.c. */
int yc_cmd_watch(const struct yc_args *a);
int yc_cmd_metrics(const struct yc_args *a);

#endif
