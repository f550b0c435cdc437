/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Where an agent listens, and the library's own fds.
 *
 * An agent listens on a pathname Unix socket in a directory it creates for
 * itself (mkdtemp under /dev/shm), 0700, or 0750 with the registry's group
 * for a group registry: other users cannot even reach the socket, so they
 * can neither flood it nor pose as it.
 *
 * Every fd the library keeps across calls is a struct own_fd: the number
 * and the identity (st_dev, st_ino) it had when we opened it.  A host may
 * close our fds behind our back (close_range, a daemon's "close all") and
 * reopen its own files on the same numbers; so before any poll, write or
 * close we check that the number still names our object, and we never
 * touch it otherwise.
 */
#ifndef YANK_ENDPOINT_H
#define YANK_ENDPOINT_H

#include <stdint.h>
#include <sys/types.h>

#include "layout.h"

struct own_fd {
	int fd; /* -1: none */
	uint64_t dev, ino;
};

/* Adopt a freshly opened @fd: 0, or -errno after closing it. */
int yank__own_fd_set(struct own_fd *o, int fd);
/* 1 when o->fd still names the object we opened. */
int yank__own_fd_ok(const struct own_fd *o);
/* Close o->fd if it is still ours; forget it either way. */
void yank__own_fd_close(struct own_fd *o);

struct endpoint {
	struct own_fd lfd;
	uint32_t len;              /* of path, without the NUL */
	char path[AGENT_ADDR_MAX]; /* DIR/s, NUL-terminated */
	uint32_t dir_len;          /* path[0, dir_len) is the directory */
	int use_group;
	gid_t group;
};

/*
 * Remove the directories that processes of our uid left when they were
 * killed (no clean-up runs then).  Best effort, and not under the
 * registry lock: it reads a directory and /proc.
 */
void yank__endpoint_sweep(void);

/* Make a private directory and listen in it. */
int yank__endpoint_open(struct endpoint *e, int use_group, gid_t group);
/* Our listener was closed by the host: listen on the same path again. */
int yank__endpoint_rebind(struct endpoint *e);
/* Close the listener (if still ours) and, with @remove, its directory. */
void yank__endpoint_close(struct endpoint *e, int remove);

#endif
