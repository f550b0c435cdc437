/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The fd records of a registry with the identity of each socket, for the
 * tools that look at the sockets themselves (yankctl's list, watch and
 * metrics read their state through sock_diag).  Not public API: yankctl
 * links libyank statically and calls it by its internal name.
 */
#ifndef YANK_RECSOCK_H
#define YANK_RECSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yank.h>

struct yank__recsock {
	uint64_t order; /* the instance's registration order, as yank_query() reports it */
	pid_t pid;      /* its owner; 0 when its slot could not be read, or the pid would
			 * name another process here (other pid namespace, owner dead) */
	int fd;         /* the fd number in the owner */
	uint64_t dev;   /* st_dev and st_ino of the socket when it was registered */
	uint64_t ino;
};

/*
 * Every fd record of @reg, sorted by instance order and then fd number: 0
 * with *out (free()) and *n, -EINVAL, -ENOMEM, or -EPROTO (a slot that
 * fails its checks).  Lock-free, like yank_query(): a record or instance
 * in flux is left out, so the list may differ from a query made a moment
 * before; match the two by @order.
 */
int yank__recsock_list(yank_registry *reg, struct yank__recsock **out, size_t *n);

#endif
