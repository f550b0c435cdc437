/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The connected stream sockets of another process, for "yankctl adopt
 * --all-sockets": which fds are sockets (/proc/PID/fd), what they are
 * connected to (/proc/PID/net/{tcp,tcp6,unix}, seen from the process's
 * own network namespace, and sock_diag for the peer of a Unix socket),
 * and the default instance name SPEC §12 gives them.
 */
#ifndef YANKCTL_SOCKETS_H
#define YANKCTL_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct yc_sock {
	int fd;
	char dir;       /* '>' we connected, '<' accepted (local port is listened on) */
	char peer[160]; /* "tcp:HOST:PORT", "tcp6:[HOST]:PORT", "unix:PATH", "unix:-" */
};

/*
 * Every ESTABLISHED TCP (IPv4, IPv6) and connected Unix stream socket of
 * @pid, in fd order: 0 with *out (free()) and *n, -ESRCH, -EPERM (reading
 * its fds needs the ptrace read permission), -ENOMEM or -errno.
 */
int yc_list_sockets(pid_t pid, struct yc_sock **out, size_t *n);

/*
 * Does @peer match one of the comma-separated shell patterns @patterns
 * ("tcp:127.0.0.1:*,unix:*.sock")?  NULL matches everything.
 */
bool yc_peer_matches(const char *patterns, const char *peer);

/*
 * The default name, "<comm>[<pid>]#<fd><dir><peer>", e.g.
 * "curl[27796]#5>tcp:127.0.0.1:47001", into @buf: bytes that are not
 * printable ASCII become '?', so the library accepts every name made.
 */
char *yc_sock_name(pid_t pid, const struct yc_sock *s, char *buf, size_t size);

/* Effective uid of @pid, from /proc/PID/status: 0, -ESRCH, -EPROTO. */
int yc_proc_euid(pid_t pid, uid_t *out);

/* kernel.yama.ptrace_scope into @buf ("1", say), or "" when there is no Yama. */
char *yc_ptrace_scope(char *buf, size_t size);

#endif
