/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl adopt and unadopt: sockets of running programs that know nothing
 * of yank (static binaries, Go, raw system calls), registered from outside
 * through yank_adopt_fd() and found through /proc (sockets.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <yank.h>

#include "cmd.h"
#include "host.h"
#include "output.h"
#include "qmp.h"
#include "sockets.h"

/*
 * Where an adopted record goes: the registry named; for root with none
 * named, the default registry of the process's own user (a yank through
 * root's may act on root's processes only); otherwise our own.
 */
static int open_for_adopt(const struct yc_args *a, yank_registry **reg)
{
	struct yank_open_opts o;
	uid_t uid;
	int r;

	yc_open_opts(a, &o);
	if (a->have_user)
		return yank_open_user(a->user, &o, reg);
	if (!yc_host_scope(a))
		return yank_open_with(a->segment, &o, reg);
	r = yc_proc_euid(a->pid, &uid);
	if (r < 0)
		return r;
	r = uid == 0 ? yank_open_with(NULL, &o, reg) : yank_open_user(uid, &o, reg);
	if (r == -ENOENT)
		fprintf(stderr,
			"yankctl: adopt: pid %d runs as uid %u, which has no registry /yank-%u "
			"yet: name one with --segment\n",
			(int)a->pid, (unsigned int)uid, (unsigned int)uid);
	return r;
}

/* One line on why adopting fd @fd of the process failed. */
static void adopt_error(const struct yc_args *a, yank_registry *reg, const char *inst, int fd,
			int err)
{
	char scope[32], esc[320];
	uid_t uid = 0;

	switch (err) {
	case -EPERM:
		fprintf(stderr,
			"yankctl: adopt: pid %d, fd %d: pidfd_getfd not permitted: adopting "
			"needs ptrace permission over the process (its own user and no more "
			"privileged, or CAP_SYS_PTRACE)",
			(int)a->pid, fd);
		if (*yc_ptrace_scope(scope, sizeof(scope)))
			fprintf(stderr, "; kernel.yama.ptrace_scope is %s", scope);
		fputc('\n', stderr);
		break;
	case -EACCES:
		yc_proc_euid(a->pid, &uid);
		fprintf(stderr,
			"yankctl: adopt: pid %d runs as uid %u, and a yank through segment %s "
			"may not act on that user's processes: adopt into that user's registry "
			"(--user %u)\n",
			(int)a->pid, (unsigned int)uid,
			yc_escape(yank_segment_name(reg), esc, sizeof(esc)), (unsigned int)uid);
		break;
	case -ESRCH:
		fprintf(stderr, "yankctl: adopt: pid %d: no such process\n", (int)a->pid);
		break;
	case -EBADF:
		fprintf(stderr, "yankctl: adopt: pid %d has no fd %d\n", (int)a->pid, fd);
		break;
	case -ENOTSOCK:
		fprintf(stderr, "yankctl: adopt: pid %d, fd %d is not a socket\n", (int)a->pid, fd);
		break;
	case -EEXIST:
		fprintf(stderr, "yankctl: %s: %s\n", inst, yank_strerror(err));
		break;
	default:
		yc_report(reg, "adopt", err);
	}
}

/* Adopt one fd as @inst; on success one line (or a JSON object into @done). */
static int adopt_one(const struct yc_args *a, yank_registry *reg, const struct yank_instance *inst,
		     int fd, json_t *done)
{
	char name[1100];
	int r = yank_adopt_fd(reg, inst, a->pid, fd);

	yc_format_instance(inst->type, inst->name, name, sizeof(name));
	if (r < 0) {
		adopt_error(a, reg, name, fd, r);
		return r;
	}
	if (!done) {
		printf("adopted %s: pid %d, fd %d\n", name, (int)a->pid, fd);
		return 0;
	}
	json_t *obj = yc_qmp_instance_json(inst->type, inst->name);
	if (obj) {
		json_object_set_new(obj, "pid", json_integer(a->pid));
		json_object_set_new(obj, "fd", json_integer(fd));
		json_array_append_new(done, obj);
	}
	return 0;
}

/* Every matching socket: 0, the one error when all failed, or -EIO when some did. */
static int adopt_all(const struct yc_args *a, yank_registry *reg, json_t *done)
{
	struct yc_sock *socks = NULL;
	size_t n = 0, tried = 0, failed = 0;
	char name[YANK_NAME_MAX + 1];
	int r = yc_list_sockets(a->pid, &socks, &n), last = 0;

	if (r == -EPERM)
		fprintf(stderr,
			"yankctl: adopt: pid %d: reading its fds needs ptrace permission over "
			"the process\n",
			(int)a->pid);
	else if (r < 0)
		adopt_error(a, reg, "", -1, r);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!yc_peer_matches(a->match, socks[i].peer))
			continue;
		struct yank_instance inst = {YANK_CHARDEV,
					     yc_sock_name(a->pid, &socks[i], name, sizeof(name))};
		tried++;
		r = adopt_one(a, reg, &inst, socks[i].fd, done);
		if (r < 0) {
			failed++;
			last = r;
		}
	}
	free(socks);
	if (!tried) {
		fprintf(stderr, "yankctl: adopt: pid %d: no connected stream socket%s\n",
			(int)a->pid, a->match ? " matches" : "");
		return -ENOENT;
	}
	return !failed ? 0 : failed == tried ? last : -EIO;
}

int yc_cmd_adopt(const struct yc_args *a)
{
	yank_registry *reg = NULL;
	json_t *done = a->json ? json_array() : NULL;
	int r = open_for_adopt(a, &reg);

	if (r == -ESRCH)
		fprintf(stderr, "yankctl: adopt: pid %d: no such process\n", (int)a->pid);
	else if (r == -ENOENT && a->have_user)
		yc_note_missing(a);
	else if (r < 0 && r != -ENOENT)
		yc_open_error_line(a, r);
	if (r < 0) {
		json_decref(done);
		return yc_exit_code(r == -ENOENT ? -EACCES : r);
	}
	if (a->all_sockets)
		r = adopt_all(a, reg, done);
	else
		r = adopt_one(a, reg, &a->instances[0], a->fd, done);
	if (done)
		yc_print_json_line(json_pack("{s:o}", "adopted", done));
	yank_close(reg);
	return yc_exit_code(r);
}

/* Unadopt @inst in @reg, saying why not: 0 or the error. */
static int unadopt_in(yank_registry *reg, const struct yank_instance *inst, bool quiet_missing)
{
	char name[1100];
	int r = yank_unadopt(reg, inst);

	yc_format_instance(inst->type, inst->name, name, sizeof(name));
	if (r == -EPERM)
		fprintf(stderr,
			"yankctl: %s: not an adopted instance: its process registered it "
			"and only it may unregister it\n",
			name);
	else if (r == -ENOENT && !quiet_missing)
		fprintf(stderr, "yankctl: %s: Instance not found\n", name);
	else if (r < 0 && r != -ENOENT)
		yc_report(reg, "unadopt", r);
	return r;
}

/* Root with no registry named: the one user's registry that has it. */
static int unadopt_host(const struct yc_args *a, const struct yank_instance *inst)
{
	struct yank_host_registry *list = NULL;
	struct yank_open_opts o;
	char name[1100];
	size_t n = 0;
	int r;

	yc_open_opts(a, &o);
	r = yank_open_host(&o, &list, &n);
	if (r < 0) {
		fprintf(stderr, "yankctl: unadopt: %s\n", yank_strerror(r));
		return r;
	}
	r = -ENOENT;
	for (size_t i = 0; i < n && r == -ENOENT; i++)
		if (list[i].reg)
			r = unadopt_in(list[i].reg, inst, true);
	yank_close_host(list, n);
	if (r == -ENOENT)
		fprintf(stderr, "yankctl: %s: Instance not found\n",
			yc_format_instance(inst->type, inst->name, name, sizeof(name)));
	return r;
}

int yc_cmd_unadopt(const struct yc_args *a)
{
	yank_registry *reg = NULL;
	int r = 0, worst = 0;

	if (!yc_host_scope(a) && (r = yc_open_to_act(a, &reg)))
		return r;
	for (size_t i = 0; i < a->n_instances; i++) {
		r = reg ? unadopt_in(reg, &a->instances[i], false)
			: unadopt_host(a, &a->instances[i]);
		if (r < 0 && (!worst || yc_exit_code(r) > yc_exit_code(worst)))
			worst = r;
	}
	yank_close(reg);
	return yc_exit_code(worst);
}

