/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The kernel's view of sockets by inode, through NETLINK_SOCK_DIAG: TCP
 * (IPv4, IPv6) with tcp_info, and Unix sockets with their queues and
 * their peer's.  Needs no privilege, and sees the sockets of our own
 * network namespace only.
 */
#ifndef YANKCTL_SOCKDIAG_H
#define YANKCTL_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

/* Where a socket is, escaped for printing; "" when it has no address. */
struct yc_sock_addr {
	char local[128]; /* "127.0.0.1:5000", "[::1]:5000", "/run/x.sock", "@abstract" */
	char peer[128];
};

struct yc_diag;

/*
 * A sock_diag socket; every receive on it is bounded by @timeout_ms.
 * 0 and *out, or a negative errno (no netlink, say).
 */
int yc_diag_open(uint32_t timeout_ms, struct yc_diag **out);
void yc_diag_close(struct yc_diag *d);

/*
 * Look at the @n sockets with inodes @ino: out[i] (and addr[i], unless
 * @addr is NULL) for each, status YC_SOCK_UNKNOWN for one the kernel does
 * not show (another kind of socket, closed, or in another namespace).
 * The handle remembers where each socket was found: inodes seen for the
 * first time cost one dump of the TCP tables (and an exact Unix lookup
 * each); known ones an exact lookup each, or one dump when there are many.
 * It forgets every inode not in this call's @ino, so its memory follows
 * the sockets still registered.  An inode not found is looked for again
 * only after a while (YC_DIAG_RETRY_MS), so that a socket that is no TCP
 * or Unix socket does not cost a dump at every call.  Fills t_ms.
 * 0, or a negative errno when sock_diag itself failed (-ETIMEDOUT for a
 * kernel that did not answer in time); the samples then say UNKNOWN.
 */
int yc_diag_sample(struct yc_diag *d, const uint64_t *ino, size_t n, struct yc_sock_sample *out,
		   struct yc_sock_addr *addr);

#define YC_DIAG_RETRY_MS 10000


/* CLOCK_MONOTONIC in milliseconds. */
uint64_t yc_now_ms(void);

#endif
