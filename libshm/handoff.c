/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The hand-off.  The only file that uses CMSG_*.  Received fds are
 * close-on-exec from the first instant (MSG_CMSG_CLOEXEC), counted from
 * cmsg_len rather than from anything the peer claims, and closed on every
 * error path: a library must never leak an fd into its host.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff.h"
#include "internal.h"
#include "owner.h"
#include "wire.h"

int yank__send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { (void *)buf, len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds < 0 || nfds > WIRE_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		size_t n = sizeof(int) * (size_t)nfds;
		memset(u.buf, 0, CMSG_SPACE(n));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n);
		memcpy(CMSG_DATA(c), fds, n);
	}
	/* Full socket buffer: a peer that reads nothing, or a trickle, is not
	 * waited on for more than a second in all. */
	uint64_t deadline = yank__now_ns() + 1000000000u;
	for (;;) {
		ssize_t r = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0)
			return (size_t)r == len ? 0 : -EMSGSIZE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		uint64_t now = yank__now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { sock, POLLOUT, 0 };
		int pr = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (pr < 0 && errno != EINTR)
			return -errno;
	}
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Collect every SCM_RIGHTS fd of @mh; fail (after closing them) on anything odd. */
static int take_fds(struct msghdr *mh, int *fds, int maxfds, int *nfds)
{
	int n = 0, bad = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, p + i, sizeof(fd));
			if (n < maxfds)
				fds[n++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (bad || (mh->msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		close_all(fds, n);
		*nfds = 0;
		return -EPROTO;
	}
	*nfds = n;
	return 0;
}

int yank__recv(int sock, void *buf, size_t cap, size_t *len, int *fds, int maxfds, int *nfds,
	       int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
		struct cmsghdr align;
	} u;
	uint64_t deadline = yank__now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
	*nfds = 0;
	int gone_seen = 0;
	for (;;) {
		struct iovec iov = { buf, cap };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     /* room for one more than allowed, to see the excess */
				     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)(maxfds + 1)) };
		if (mh.msg_controllen > sizeof(u.buf))
			mh.msg_controllen = sizeof(u.buf);
		ssize_t r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (r >= 0) {
			int e = take_fds(&mh, fds, maxfds, nfds);
			if (e < 0)
				return e;
			if (r == 0) {
				close_all(fds, *nfds);
				*nfds = 0;
				if (!gone_seen++)
					continue;
				return -ECONNRESET;
			}
			*len = (size_t)r;
			return 0;
		}
		if (errno == EINTR)
			continue;
		/* A peer that answered and hung up can be reported gone (a reset,
		 * or on SOCK_SEQPACKET even an end of file) before its last
		 * message is: the kernel checks sk_err first and clears it by
		 * reporting it.  Seen here about once in 30,000 conversations.
		 * So look once more before believing it. */
		if (errno == ECONNRESET && !gone_seen++)
			continue;
		if (errno != EAGAIN)
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		int wait = -1;
		if (timeout_ms >= 0) {
			uint64_t now = yank__now_ns();
			if (now >= deadline)
				return -ETIMEDOUT;
			wait = (int)((deadline - now + 999999) / 1000000);
		}
		struct pollfd p = { sock, POLLIN, 0 };
		int pr = poll(&p, 1, wait);
		if (pr < 0 && errno != EINTR)
			return -errno;
	}
}

int yank__peer_allowed(int sock, uid_t me, int use_group, gid_t gid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	if (cr.uid == me || cr.uid == 0)
		return 1;
	return use_group && cr.gid == gid;
}

int yank__sock_identity(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

int yank__shutdown_verified(int fd, uint64_t dev, uint64_t ino)
{
	uint64_t d, i;
	int r = yank__sock_identity(fd, &d, &i);
	if (r == -ENOTSOCK || (r == 0 && (d != dev || i != ino)))
		return -ESTALE;
	if (r < 0)
		return r;
	if (shutdown(fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
		return -errno;
	return 0;
}

int yank__pidfd_open(pid_t pid, uint64_t start_time, int *pidfd)
{
	int fd = pidfd_open(pid, 0);
	if (fd < 0)
		return -errno;
	/* The pidfd pins the process; only now is the start time check final. */
	uint64_t st;
	int r = yank__proc_start_time(pid, &st);
	if (r < 0 || st != start_time) {
		close(fd);
		return -ESRCH;
	}
	*pidfd = fd;
	return 0;
}

int yank__pidfd_getfd(int pidfd, int fd, int *out)
{
	int r = pidfd_getfd(pidfd, fd, 0);
	if (r < 0)
		return -errno;
	*out = r;
	return 0;
}

int yank__agent_connect(const char *path, uint32_t len, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (len == 0 || len >= sizeof(sa.sun_path) || path[0] != '/' || memchr(path, '\0', len))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	/* Non-blocking: a full backlog is -EAGAIN at once, for the caller to retry. */
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(s);
		return -e;
	}
	*out = s;
	return 0;
}

int yank__peer_is(int sock, pid_t pid, uid_t uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	if (cr.uid != uid)
		return -EPERM;
	return pid > 0 && cr.pid != pid ? -ESRCH : 0;
}

/* Reaping probes with the registry lock held: no cancellation point here
 * (connect, close) may act. */
int yank__agent_probe(const char *path, uint32_t len, pid_t pid, uid_t uid)
{
	int c = yank__cancel_off();
	int s, who = 0;
	int r = yank__agent_connect(path, len, &s);
	if (r == 0) {
		who = yank__peer_is(s, pid, uid);
		close(s);
	}
	yank__cancel_restore(c);
	/* Nobody listens there: the image that did has exec'd or died. */
	if (r == -ECONNREFUSED)
		return 0;
	if (r < 0)
		return 1; /* a full backlog, no permission, no file: cannot tell */
	return who != -EPERM && who != -ESRCH;
}
