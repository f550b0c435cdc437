/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The agent: one thread per handle that owns records, serving yank requests
 * from other processes on a pathname Unix socket in a private directory
 * (endpoint.h).
 */
#ifndef YANK_AGENT_H
#define YANK_AGENT_H

#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

struct agent;
struct local;

struct agent_cfg {
	struct local *local;
	uid_t uid;
	int use_group;
	gid_t group;
	uint32_t timeout_ms; /* how long a yanker may take to report its fds done */
};

int yank__agent_start(const struct agent_cfg *cfg, struct agent **out);
/*
 * Stop the thread and free the agent: 0.  -ETIMEDOUT when the thread did
 * not end within its bound: it is detached and keeps what it uses (the
 * agent, and the local table it reads), which the caller must not free.
 */
int yank__agent_stop(struct agent *a);
/* In a forked child: the thread is not there; close its fds (if still
 * ours), free it, and leave the parent's socket file alone. */
void yank__agent_forget(struct agent *a);
const char *yank__agent_addr(const struct agent *a, uint32_t *len);
/* Connections accepted so far, and poll() returns: for tests. */
unsigned long yank__agent_connections(const struct agent *a);
unsigned long yank__agent_wakeups(const struct agent *a);

/*
 * Run one record of this process, in this thread, as a yank would: the
 * callback is called, the proxied function told @deadline, or the fd shut
 * down after its identity check.  Returns WS_RAN, WS_GONE or WS_FAILED
 * (*err set).  Must not be called from inside a yank callback.
 */
uint32_t yank__run_local(struct local *l, uint32_t rec, uint64_t gen, uint64_t deadline,
			 int32_t *err);

/* Non-zero on a thread that is running a yank callback right now. */
int yank__in_callback(void);

#endif
