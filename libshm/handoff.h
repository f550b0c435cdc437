/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Moving fds between processes and acting on them safely: SCM_RIGHTS over
 * the agent socket, peer credentials, fd identity checks, and the pidfd
 * fallback for an owner whose agent does not answer.
 */
#ifndef YANK_HANDOFF_H
#define YANK_HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Send one message with @nfds fds attached (MSG_NOSIGNAL): 0 or -errno. */
int yank__send(int sock, const void *buf, size_t len, const int *fds, int nfds);

/*
 * Receive one message, waiting at most @timeout_ms (-1: no bound, only for
 * the agent's idle wait).  Received fds are close-on-exec; at most @maxfds
 * are accepted.  On any error every fd that arrived is closed.
 * 0, -ECONNRESET (peer closed), -ETIMEDOUT, -EPROTO (truncated, bad or too
 * many fds), or -errno.
 */
int yank__recv(int sock, void *buf, size_t cap, size_t *len, int *fds, int maxfds, int *nfds,
	       int timeout_ms);

/* Is the peer of @sock allowed: same uid, root, or (@use_group) in @gid? */
int yank__peer_allowed(int sock, uid_t me, int use_group, gid_t gid);

/* st_dev/st_ino of socket @fd: 0, -EBADF, -ENOTSOCK. */
int yank__sock_identity(int fd, uint64_t *dev, uint64_t *ino);

/*
 * shutdown(@fd, SHUT_RDWR) if @fd is still the socket (@dev, @ino):
 * 0, -ESTALE (another file now), or -errno.
 */
int yank__shutdown_verified(int fd, uint64_t dev, uint64_t ino);

/*
 * Fallback: copy fd number @fd out of process (@pid, @start_time) with
 * pidfd_getfd.  0 and *out, -ESRCH (gone), -EPERM, -EBADF (not open).
 */
int yank__pidfd_open(pid_t pid, uint64_t start_time, int *pidfd);
int yank__pidfd_getfd(int pidfd, int fd, int *out);

/* Connect to the agent listening at @path: 0 and *out, or -errno
 * (-EAGAIN: its backlog is full). */
int yank__agent_connect(const char *path, uint32_t len, int *out);

/*
 * Is the listener at the other end of @sock the one recorded: uid @uid and
 * (when @pid > 0) process @pid?  SO_PEERCRED gives the credentials of
 * whoever called listen(), which nobody else can forge.  0; -EPERM for
 * another uid, -ESRCH for the right uid but another pid; -errno.
 */
int yank__peer_is(int sock, pid_t pid, uid_t uid);

/*
 * Does the image that recorded agent @path still run?  0 when nothing
 * listens there any more (the process exec'd or died) or somebody else
 * does; 1 when it answers or when it cannot be told (no permission, a
 * full backlog, the file removed): a live owner is never declared dead on
 * a guess.  Connecting wakes that agent once.
 */
int yank__agent_probe(const char *path, uint32_t len, pid_t pid, uid_t uid);

#endif
