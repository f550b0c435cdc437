/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/* struct yank_registry: one open registry in one process. */
#ifndef YANK_HANDLE_H
#define YANK_HANDLE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "segment.h"

struct local;
struct agent;

struct yank_registry {
	struct seg seg;
	uint32_t lock_ms, agent_ms;
	uint32_t writes; /* writer calls, counted under the registry lock */
	uid_t uid;
	int use_group;
	gid_t group;

	/* Ownership in the segment, valid in the process that made it only.
	 * Changed only under the registry lock, which also serialises our own
	 * threads. */
	int have_proc;
	uint32_t proc;
	uint64_t proc_gen;
	/* Made before the registry lock is taken, under agent_mu: starting a
	 * thread and its listener is no work for other processes to wait on.
	 * Set once (atomically), cleared only in a forked child. */
	pthread_mutex_t agent_mu;
	struct local *local;
	struct agent *agent;

	struct yank_registry *next_open; /* every open handle, for the fork hook */
};

/*
 * Before taking the registry lock: the handle's local table and its agent,
 * made once (under agent_mu) on the first registration.  0 or -errno.
 */
int yank__start_agent(struct yank_registry *reg);

#endif
