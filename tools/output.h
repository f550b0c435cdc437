/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * What yankctl prints: the list table and its JSON form, the status
 * report, and yank failures.  Pure formatting over what the library
 * returned; the only outside look is /proc/PID/comm for owner names.
 */
#ifndef YANKCTL_OUTPUT_H
#define YANKCTL_OUTPUT_H

#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include <yank.h>

/* Whose registry an instance was found in, when a list spans several users. */
struct yc_user {
	uid_t uid;
	const char *name; /* the user name, or the uid in decimal */
};

/*
 * The aligned table: [USER] TYPE NAME PID COMMAND FDS CALLBACKS [ADOPTED],
 * the USER column when @users (one per instance) is given, ADOPTED ("yes"
 * or "-") when any instance is adopted.  Nothing for n == 0.
 */
int yc_print_list(FILE *f, const struct yank_instance_info *info, const struct yc_user *users,
		  size_t n);

/*
 * What other modules add to the list (stalls.c: the socket state): a
 * VERDICT column before COMMAND, and more members at the end of each JSON
 * object, written by @json_members as ", \"name\": value"...
 */
struct yc_list_extra {
	const char *(*verdict)(void *ctx, size_t i, char *buf, size_t size);
	int (*json_members)(void *ctx, FILE *f, size_t i);
	void *ctx;
};
int yc_print_list_with(FILE *f, const struct yank_instance_info *info, const struct yc_user *users,
		       size_t n, const struct yc_list_extra *x);
int yc_print_list_json_with(FILE *f, const struct yank_instance_info *info,
			    const struct yc_user *users, size_t n, const struct yc_list_extra *x);

/*
 * A JSON array, one object per line, streamed: {"type", "id" or
 * "node-name", "pid", "command", "alive", "fds", "callbacks"}, "adopted":
 * true for an adopted instance, and "user" and "uid" when @users is given.
 */
int yc_print_list_json(FILE *f, const struct yank_instance_info *info,
		       const struct yc_user *users, size_t n);

/*
 * The status report; @info (@n instances, may be none) adds the
 * namespaces whose proxy marked them unresponsive.
 */
void yc_print_status(FILE *f, const char *segment, const struct yank_status *st,
		     const struct yank_instance_info *info, size_t n);
int yc_print_status_json(FILE *f, const char *segment, const struct yank_status *st,
			 const struct yank_instance_info *info, size_t n);
/* The object yc_print_status_json() prints, or NULL for no memory. */
json_t *yc_status_json(const char *segment, const struct yank_status *st,
		       const struct yank_instance_info *info, size_t n);

/*
 * The report on a segment that could not be opened: its name, the error
 * and the library's detail (yank_error_detail(), possibly "").  The JSON
 * form is {"segment", "exists": true, "ok": false, "error", "detail"}.
 */
void yc_print_unusable(FILE *f, const char *segment, int err, const char *detail);
int yc_print_unusable_json(FILE *f, const char *segment, int err, const char *detail);
json_t *yc_unusable_json(const char *segment, int err, const char *detail);

/*
 * "yanked INSTANCE", once for each instance of @list that no failure record
 * names: what an operator at a terminal wants to see happen.
 */
void yc_print_yanked(FILE *f, const char *const *ns, const struct yank_instance *list, size_t n,
		     const struct yank_failure *fl, size_t nf);

/* @obj as one line of JSON on @f, consumed: 0, -ENOMEM (NULL), -EIO. */
int yc_json_line(FILE *f, json_t *obj);

/* The JSON word for a failure kind: "stale", "no-agent", "vanished", ... */
const char *yc_failure_word(enum yank_failure_kind kind);

/* One "yankctl: INSTANCE: pid P, fd F: reason" line per record. */
void yc_print_failures(FILE *f, const struct yank_failure *fl, size_t n);

/* {"failures": [{"type", "id"/"node-name", "pid", "fd", "reason", "error"}]} */
int yc_print_failures_json(FILE *f, const struct yank_failure *fl, size_t n);
/* Append those objects to the JSON array @list: 0 or -ENOMEM. */
int yc_failures_append_json(json_t *list, const struct yank_failure *fl, size_t n);

/*
 * The owner's command name from /proc/PID/comm into @buf (escaped for
 * printing), or "" when it cannot be read.
 */
char *yc_owner_comm(pid_t pid, char *buf, size_t size);

#endif
