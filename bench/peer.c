/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * peer: the other processes of the benchmarks, started by yank-bench with
 * fork+exec.  Commands arrive on stdin, reports leave on stdout, one line
 * each, written with one write(2).  Every peer is bounded: it dies with its
 * parent (PR_SET_PDEATHSIG) and after at most PEER_LIFETIME seconds.
 *
 *   peer victim SEGMENT PREFIX
 *     "n ITER K": drop the previous round's registrations, then make K
 *     loopback TCP connections, register chardev PREFIX-ITER-0 .. K-1 with
 *     one socket fd each, report "R", and block until every one of them
 *     is shut down: K = 1 blocks in recv(), K > 1 in poll().  Then report
 *     "E T_NS EOFS": the CLOCK_MONOTONIC instant the last recv() returned
 *     and how many returned 0.  "d": drop the round's registrations, report
 *     "D".  "q" or EOF on stdin: close and exit.
 *
 *   peer idle SEGMENT
 *     Register one instance with one socket fd (so the agent thread runs),
 *     report "R", then sleep in read(stdin) until EOF.
 *
 *   peer fdserver NAME
 *     The agent's transport without the library, for the floor figures:
 *     listen on abstract SOCK_SEQPACKET address NAME, report "R FD" (FD is
 *     a connected loopback TCP socket), then for each connection: poll,
 *     accept, read one request, answer with FD attached (SCM_RIGHTS), wait
 *     for the "done" message or EOF, close.
 *
 *   peer churn SEGMENT PREFIX MS
 *     Report "R", wait for "g", then register and unregister instance
 *     PREFIX for MS milliseconds; report "C OPS ELAPSED_NS" (an op is one
 *     register + unregister pair) and exit.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <yank.h>

#include "bench.h"

#define PEER_LIFETIME 300
#define MAX_K 256

static void say(const char *line)
{
	if (write_all(STDOUT_FILENO, line, strlen(line)) < 0)
		_exit(3);
}

__attribute__((noreturn)) static void die(const char *what, int err)
{
	char line[256];
	snprintf(line, sizeof(line), "X %s: %s\n", what, yank_strerror(err));
	say(line);
	_exit(2);
}

/* ---- victim ---- */

struct round {
	int k;
	int client[MAX_K], server[MAX_K];
	char name[MAX_K][64];
	struct yank_instance inst[MAX_K];
};

static void drop_round(yank_registry *reg, struct round *rd)
{
	for (int i = 0; i < rd->k; i++) {
		int r = yank_unregister_fd(reg, &rd->inst[i], rd->client[i]);
		if (r == 0)
			r = yank_unregister_instance(reg, &rd->inst[i]);
		if (r < 0)
			die("unregister", r);
		close(rd->client[i]);
		close(rd->server[i]);
	}
	rd->k = 0;
}

static void setup_round(yank_registry *reg, int l, uint16_t port, struct round *rd,
			const char *prefix, int iter, int k)
{
	for (int i = 0; i < k; i++) {
		int r = tcp_pair(l, port, &rd->client[i], &rd->server[i]);
		if (r < 0)
			die("tcp_pair", r);
		snprintf(rd->name[i], sizeof(rd->name[i]), "%s-%d-%d", prefix, iter, i);
		rd->inst[i] = (struct yank_instance){ YANK_CHARDEV, rd->name[i] };
		r = yank_register_instance(reg, &rd->inst[i]);
		if (r == 0)
			r = yank_register_fd(reg, &rd->inst[i], rd->client[i]);
		if (r < 0)
			die(rd->name[i], r);
		rd->k = i + 1;
	}
}

/* Block until every registered socket is shut down; the last instant and the EOF count. */
static void await_round(const struct round *rd, uint64_t *t_last, int *eofs)
{
	char buf[64];
	*eofs = 0;
	if (rd->k == 1) {
		ssize_t n;
		do
			n = recv(rd->client[0], buf, sizeof(buf), 0);
		while (n > 0 || (n < 0 && errno == EINTR));
		*t_last = now_ns();
		*eofs = n == 0;
		return;
	}
	struct pollfd p[MAX_K];
	int open = rd->k;
	for (int i = 0; i < rd->k; i++)
		p[i] = (struct pollfd){ rd->client[i], POLLIN, 0 };
	while (open > 0) {
		if (poll(p, (nfds_t)rd->k, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", -errno);
		}
		uint64_t t = now_ns();
		for (int i = 0; i < rd->k; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t n = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
				continue;
			*eofs += n == 0;
			p[i].fd = -1;
			open--;
			*t_last = t;
		}
	}
}

static int victim(const char *seg, const char *prefix)
{
	yank_registry *reg;
	int r = yank_open(seg, &reg);
	if (r < 0)
		die("yank_open", r);
	uint16_t port = 0;
	int l = tcp_listener(&port);
	if (l < 0)
		die("listen", l);
	static struct round rd;
	char cmd[128];
	for (;;) {
		int n = read_line(STDIN_FILENO, cmd, sizeof(cmd), PEER_LIFETIME * 1000);
		if (n < 0 || cmd[0] == 'q')
			break;
		if (cmd[0] == 'd') {
			drop_round(reg, &rd);
			say("D\n");
			continue;
		}
		int iter, k;
		if (sscanf(cmd, "n %d %d", &iter, &k) != 2 || k < 1 || k > MAX_K)
			die("bad command", -EINVAL);
		drop_round(reg, &rd);
		setup_round(reg, l, port, &rd, prefix, iter, k);
		say("R\n");
		uint64_t t = 0;
		int eofs;
		await_round(&rd, &t, &eofs);
		char line[64];
		snprintf(line, sizeof(line), "E %llu %d\n", (unsigned long long)t, eofs);
		say(line);
	}
	drop_round(reg, &rd);
	yank_close(reg);
	return 0;
}

/* ---- idle ---- */

static int idle(const char *seg)
{
	yank_registry *reg;
	int r = yank_open(seg, &reg);
	if (r < 0)
		die("yank_open", r);
	uint16_t port = 0;
	int l = tcp_listener(&port), c = -1, s = -1;
	if (l < 0)
		die("listen", l);
	if ((r = tcp_pair(l, port, &c, &s)) < 0)
		die("tcp_pair", r);
	struct yank_instance in = { YANK_CHARDEV, "idle-0" };
	r = yank_register_instance(reg, &in);
	if (r == 0)
		r = yank_register_fd(reg, &in, c);
	if (r < 0)
		die("register", r);
	say("R\n");
	char b;
	while (read(STDIN_FILENO, &b, 1) < 0 && errno == EINTR)
		;
	yank_unregister_fd(reg, &in, c);
	yank_unregister_instance(reg, &in);
	yank_close(reg);
	return 0;
}

/* ---- fdserver ---- */

static int fdserver(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t nl = strlen(name);
	if (nl + 1 >= sizeof(sa.sun_path))
		die("fdserver name", -ENAMETOOLONG);
	memcpy(sa.sun_path + 1, name, nl);
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nl);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sl) < 0 || listen(lfd, 128) < 0)
		die("fdserver listen", -errno);
	uint16_t port = 0;
	int l = tcp_listener(&port), c = -1, s = -1, r;
	if (l < 0)
		die("listen", l);
	if ((r = tcp_pair(l, port, &c, &s)) < 0)
		die("tcp_pair", r);
	char line[32];
	snprintf(line, sizeof(line), "R %d\n", c);
	say(line);
	for (;;) {
		struct pollfd p[2] = { { lfd, POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", -errno);
		}
		if (p[1].revents)
			break; /* EOF or anything on stdin: done */
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			continue;
		char req[64];
		if (recv(conn, req, sizeof(req), 0) > 0) {
			union {
				char buf[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} u;
			memset(&u, 0, sizeof(u));
			struct iovec iov = { "F", 1 };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
					     .msg_controllen = sizeof(u.buf) };
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &c, sizeof(int));
			if (sendmsg(conn, &mh, MSG_NOSIGNAL) == 1) {
				struct pollfd pc = { conn, POLLIN, 0 };
				if (poll(&pc, 1, 1000) > 0)
					(void)!recv(conn, req, sizeof(req), 0);
			}
		}
		close(conn);
	}
	return 0;
}

/* ---- churn ---- */

static int churn(const char *seg, const char *prefix, int ms)
{
	yank_registry *reg;
	int r = yank_open(seg, &reg);
	if (r < 0)
		die("yank_open", r);
	struct yank_instance in = { YANK_CHARDEV, prefix };
	for (int i = 0; i < 1000; i++) { /* warm up: process slot, caches */
		if ((r = yank_register_instance(reg, &in)) < 0 ||
		    (r = yank_unregister_instance(reg, &in)) < 0)
			die("register", r);
	}
	say("R\n");
	char cmd[16];
	if (read_line(STDIN_FILENO, cmd, sizeof(cmd), 60000) < 0 || cmd[0] != 'g')
		return 1;
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)ms * 1000000u, t;
	unsigned long long ops = 0;
	do {
		for (int i = 0; i < 64; i++) {
			if ((r = yank_register_instance(reg, &in)) < 0 ||
			    (r = yank_unregister_instance(reg, &in)) < 0)
				die("register", r);
		}
		ops += 64;
	} while ((t = now_ns()) < end);
	char line[96];
	snprintf(line, sizeof(line), "C %llu %llu\n", ops, (unsigned long long)(t - t0));
	say(line);
	yank_close(reg);
	return 0;
}

int main(int argc, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(PEER_LIFETIME);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "victim"))
		return victim(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "idle"))
		return idle(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "fdserver"))
		return fdserver(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "churn"))
		return churn(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: peer victim SEG PREFIX | idle SEG | fdserver NAME |"
			" churn SEG PREFIX MS\n");
	return 1;
}
