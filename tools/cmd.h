/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * What yankctl's commands share (yankctl.c): opening the registry a
 * command line names, and saying why it could not be.  The commands that
 * live in files of their own (adopt.c) use them too.
 */
#ifndef YANKCTL_CMD_H
#define YANKCTL_CMD_H

#include <jansson.h>
#include <yank.h>

#include "args.h"

/* The library's options for @a: its timeouts. */
void yc_open_opts(const struct yc_args *a, struct yank_open_opts *o);
/* One line on why the registry @a names could not be opened (@r). */
void yc_open_error_line(const struct yc_args *a, int r);
/* A registry named on the command line or in the environment is missing. */
void yc_note_missing(const struct yc_args *a);
/* "yankctl: segment NAME: WHAT: error". */
void yc_report(yank_registry *reg, const char *what, int err);
/* The registry a command acts on must exist: 0 with *reg, or the exit status. */
int yc_open_to_act(const struct yc_args *a, yank_registry **reg);
/*
 * The registry a command reads: 0 and *reg, which is NULL (after a note on
 * stderr when it was named) when there is none, or the exit status.
 */
int yc_open_to_read(const struct yc_args *a, yank_registry **reg);
/* One JSON value as one line on stdout; consumes @obj. */
void yc_print_json_line(json_t *obj);

int yc_cmd_adopt(const struct yc_args *a);
int yc_cmd_unadopt(const struct yc_args *a);
int yc_cmd_log(const struct yc_args *a);

#endif
