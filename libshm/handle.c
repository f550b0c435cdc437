/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The handle's life in its process: opening a registry, closing it, the
 * fork hooks that let a child disown every handle its parent had open,
 * and starting the handle's agent on its first registration.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yank.h>

#include "agent.h"
#include "endpoint.h"
#include "handle.h"
#include "internal.h"
#include "local.h"
#include "lock.h"
#include "owner.h"
#include "registry.h"
#include "segment.h"

#define DEF_INSTANCES 16384
#define DEF_RECORDS 65536
#define DEF_PROCESSES 4096
#define DEF_LOCK_MS 5000
#define DEF_AGENT_MS 1000
#define MAX_WAIT_MS 600000

/* Every open handle, so that a forked child can disown them all. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct yank_registry *open_list;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* An agent half made at fork() would leave the child a held agent_mu. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&open_mu);
	for (struct yank_registry *r = open_list; r; r = r->next_open)
		pthread_mutex_lock(&r->agent_mu);
}

static void fork_parent(void)
{
	for (struct yank_registry *r = open_list; r; r = r->next_open)
		pthread_mutex_unlock(&r->agent_mu);
	pthread_mutex_unlock(&open_mu);
}

/* SPEC §2.9: the child owns nothing of the parent's, and has no agent. */
static void fork_child(void)
{
	pthread_mutex_init(&open_mu, NULL);
	for (struct yank_registry *r = open_list; r; r = r->next_open) {
		pthread_mutex_init(&r->agent_mu, NULL);
		r->have_proc = 0;
		if (r->local)
			yank__local_forget(r->local);
		yank__agent_forget(r->agent);
		r->agent = NULL;
	}
}

static void install_fork_hooks(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- open and close ---- */

/* @user: open the default registry of that uid, which must exist; -1: @segment as given. */
static int open_common(const char *segment, const struct yank_open_opts *opts, int create,
		       uid_t user, yank_registry **out)
{
	/* A success leaves no stale detail behind for yank_error_detail(). */
	yank__detail_clear();
	if (!out)
		return -EINVAL;
	pthread_once(&fork_once, install_fork_hooks);
	struct yank_open_opts o = opts ? *opts : (struct yank_open_opts){ 0 };
	for (size_t i = 0; i < ARRAY_SIZE(o.reserved); i++)
		if (o.reserved[i]) {
			yank__detail_set("struct yank_open_opts: reserved[%zu] is not zero", i);
			return -EINVAL;
		}
	struct seg_params p = {
		.cap_proc = o.max_processes ? o.max_processes : DEF_PROCESSES,
		.cap_inst = o.max_instances ? o.max_instances : DEF_INSTANCES,
		.cap_rec = o.max_records ? o.max_records : DEF_RECORDS,
		.use_group = o.use_group,
		.group = o.group,
		.wait_ms = o.lock_timeout_ms ? o.lock_timeout_ms : DEF_LOCK_MS,
		.user_registry = user != (uid_t)-1,
		.user = user,
	};
	/* Bounded means bounded: past ten minutes a wait is a hang. */
	if (p.wait_ms > MAX_WAIT_MS)
		p.wait_ms = MAX_WAIT_MS;
	if (create && !yank__seg_bytes(p.cap_proc, p.cap_inst, p.cap_rec)) {
		yank__detail_set("capacities out of range (1 to 4194304 each)");
		return -EINVAL;
	}
	struct yank_registry *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	/* Before any lock is held: what killed processes of ours left. */
	if (create)
		yank__endpoint_sweep();
	int r = yank__seg_open(segment, &p, create, &reg->seg);
	if (r < 0) {
		free(reg);
		return r;
	}
	pthread_mutex_init(&reg->agent_mu, NULL);
	reg->lock_ms = p.wait_ms;
	reg->agent_ms = o.agent_timeout_ms ? o.agent_timeout_ms : DEF_AGENT_MS;
	if (reg->agent_ms > MAX_WAIT_MS)
		reg->agent_ms = MAX_WAIT_MS;
	reg->uid = geteuid();
	/*
	 * Whom our agent serves besides our uid and root: the group we asked
	 * for, or the group of a segment that is ours.  Never one taken from
	 * the header (any member can write it) nor from another owner's file
	 * (whoever created it chose the group, and would get our fds).
	 */
	if (o.use_group) {
		reg->use_group = 1;
		reg->group = o.group;
	} else if (reg->seg.file_group && reg->seg.file_uid == reg->uid) {
		reg->use_group = 1;
		reg->group = reg->seg.file_gid;
	}
	pthread_mutex_lock(&open_mu);
	reg->next_open = open_list;
	open_list = reg;
	pthread_mutex_unlock(&open_mu);
	*out = reg;
	return 0;
}

YANK_PUBLIC int yank_open_with(const char *segment, const struct yank_open_opts *opts,
			       yank_registry **out)
{
	int c = yank__cancel_off();
	int r = open_common(segment, opts, 1, (uid_t)-1, out);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC int yank_open(const char *segment, yank_registry **out)
{
	int c = yank__cancel_off();
	int r = open_common(segment, NULL, 1, (uid_t)-1, out);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC int yank_open_existing(const char *segment, const struct yank_open_opts *opts,
				   yank_registry **out)
{
	int c = yank__cancel_off();
	int r = open_common(segment, opts, 0, (uid_t)-1, out);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC int yank_open_user(uid_t uid, const struct yank_open_opts *opts, yank_registry **out)
{
	char name[32];
	if (uid == (uid_t)-1)
		return -EINVAL;
	snprintf(name, sizeof(name), "/yank-%u", (unsigned)uid);
	int c = yank__cancel_off();
	int r = open_common(name, opts, 0, uid, out);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC const char *yank_segment_name(const yank_registry *reg)
{
	return reg ? reg->seg.name : NULL;
}

static void do_close(yank_registry *reg)
{
	/* From inside a callback the handle, its agent and the yank that runs
	 * the callback are all in use: refuse rather than free them. */
	if (!reg || yank__in_callback())
		return;
	pthread_mutex_lock(&open_mu);
	for (struct yank_registry **p = &open_list; *p; p = &(*p)->next_open)
		if (*p == reg) {
			*p = reg->next_open;
			break;
		}
	pthread_mutex_unlock(&open_mu);
	/*
	 * Records leave the segment first, so no new yank finds them; then the
	 * agent finishes what it handed out (drain); only then does it stop.
	 * Stopping it first would send yankers that already read the records
	 * to the pidfd fallback, whose shutdown can land after we return.
	 */
	if (reg->have_proc && yank__lock(&reg->seg, reg->lock_ms) == 0) {
		if (yank__proc_owned(&reg->seg, reg->proc, reg->proc_gen, yank__self()->pid))
			yank__proc_release(&reg->seg, reg->proc);
		yank__unlock(&reg->seg);
	} else if (reg->have_proc) {
		/* The lock is not to be had (its holder is stopped): declare our
		 * slot's owner gone, so that the next writer reaps it. */
		yank__proc_abandon(&reg->seg, reg->proc, reg->proc_gen, yank__self()->pid);
	}
	if (reg->local)
		yank__local_take_all(reg->local, reg->agent_ms);
	/* An agent that would not end still reads the local table: leave it
	 * that, rather than free memory a running thread uses. */
	if (yank__agent_stop(reg->agent) == 0)
		yank__local_free(reg->local);
	yank__seg_close(&reg->seg);
	pthread_mutex_destroy(&reg->agent_mu);
	free(reg);
}

YANK_PUBLIC void yank_close(yank_registry *reg)
{
	int c = yank__cancel_off();
	do_close(reg);
	yank__cancel_restore(c);
}

/*
 * Before the registry lock: the local table and the agent that answers
 * for this process.  Every owner has an agent from its first registration,
 * even one with instances only: its listener is what tells an image that
 * exec'd from one that still runs (yank__proc_gone).
 */
int yank__start_agent(yank_registry *reg)
{
	if (__atomic_load_n(&reg->agent, __ATOMIC_ACQUIRE))
		return 0;
	/* A thread, a directory, a socket: cancellation points, and agent_mu held. */
	int c = yank__cancel_off();
	pthread_mutex_lock(&reg->agent_mu);
	int r = 0;
	if (!reg->local)
		r = yank__local_new(reg->seg.cap_rec, &reg->local);
	if (r == 0 && !reg->agent) {
		struct agent_cfg cfg = { reg->local, reg->uid, reg->use_group, reg->group,
					 reg->agent_ms };
		struct agent *a;
		FAULT("agent.starting");
		r = yank__agent_start(&cfg, &a);
		if (r == 0)
			__atomic_store_n(&reg->agent, a, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&reg->agent_mu);
	yank__cancel_restore(c);
	return r;
}

