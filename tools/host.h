/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl over every user's registry: what root gets with no --segment,
 * --user or $YANK_SEGMENT.  On a VM host QEMU, storage daemons and
 * helpers run as users of their own, each with its default registry
 * /yank-<uid>; the operator is root and wants one command for all.
 */
#ifndef YANKCTL_HOST_H
#define YANKCTL_HOST_H

#include <stdbool.h>

#include <yank.h>

#include "args.h"
#include "qmp.h"

/* @uid's user name, or the uid in decimal. */
void yc_user_name(uid_t uid, char *out, size_t len);

/* Does this command line cover every user's registry? */
bool yc_host_scope(const struct yc_args *a);

int yc_host_list(const struct yc_args *a, const struct yank_open_opts *o);
int yc_host_yank(const struct yc_args *a, const struct yank_open_opts *o);
int yc_host_status(const struct yc_args *a, const struct yank_open_opts *o);
int yc_host_gc(const struct yc_args *a, const struct yank_open_opts *o);

/*
 * A QMP backend over every registry, opened afresh for each command:
 * query-yank lists them all, and yank finds each name in the one
 * registry that has it (a name in two is refused as ambiguous).
 */
struct yc_host_qmp;
struct yc_host_qmp *yc_host_qmp_new(const struct yank_open_opts *o, struct yc_qmp_backend *be);
void yc_host_qmp_free(struct yc_host_qmp *c);

#endif
