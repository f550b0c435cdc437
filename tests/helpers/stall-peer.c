/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * stall-peer: both ends of a connection that stalls (or does not) on
 * purpose, for the tests of yankctl's verdicts, watch and metrics.
 *
 *   stall-peer peer ADDR MODE       the far end, which knows nothing of yank
 *   stall-peer reg SEGMENT INSTANCE ADDR MODE
 *                                   connects, registers the fd, then acts
 *
 * ADDR is "tcp" (peer: listen on 127.0.0.1, any port) or "tcp:PORT"
 * (reg: connect there), or "unix:PATH" for both.  Every line the program
 * prints is one word and maybe a number, flushed at once:
 *
 * peer MODE:  never-read  accept and never read
 *             steady      read everything at once (with a 4 MiB buffer);
 *                         prints FLOWING after the first MiB
 *             silent      read and drop what comes, never answer
 *   prints "PORT N" (tcp) or "LISTENING" first, "ACCEPTED" after accept.
 * reg MODE:   send        write as fast as the socket takes it
 *             trickle     write 2 to 62 KiB every 16 ms (about 2 MB/s)
 *             request     write one line, then block in recv() for an answer
 *             idle        write nothing; wait in poll() for the end
 *   prints "READY" once registered; "SHUT" when the connection is shut
 *   down under it (a yank), after which it unregisters and exits 0.
 *
 * -t SECONDS (first argument; default 120): exit by SIGALRM after that, so
 * that a stuck test never leaves one behind.  The peer also exits when its
 * connection ends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yank.h>

static void die(const char *what)
{
	fprintf(stderr, "stall-peer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void say(const char *word, long n)
{
	if (n >= 0)
		printf("%s %ld\n", word, n);
	else
		printf("%s\n", word);
	fflush(stdout);
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

static int listen_on(const char *addr)
{
	int fd;

	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un sa;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unlink(addr + 5);
		if (fd < 0 || unix_addr(addr + 5, &sa) < 0 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
			die("listen");
		say("LISTENING", -1);
		return fd;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	say("PORT", ntohs(sa.sin_port));
	return fd;
}

static int connect_to(const char *addr)
{
	int fd;

	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un sa;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || unix_addr(addr + 5, &sa) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("connect");
		return fd;
	}
	if (strncmp(addr, "tcp:", 4)) {
		errno = EINVAL;
		die(addr);
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(addr + 4)) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

static int peer(const char *addr, const char *mode)
{
	static char buf[1 << 16];
	int l = listen_on(addr);
	int big = 4 << 20;

	/* Set on the listener, so that the accepted socket starts with it. */
	if (!strcmp(mode, "steady"))
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		die("accept");
	say("ACCEPTED", -1);
	if (!strcmp(mode, "never-read")) {
		/* Until the other end goes: then the connection is reset or shut. */
		struct pollfd p = { c, POLLRDHUP, 0 };
		while (poll(&p, 1, -1) >= 0 && !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			;
		return 0;
	}
	long total = 0;
	bool flowing = false;
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		total += n;
		if (!flowing && total >= (1 << 20) && !strcmp(mode, "steady")) {
			flowing = true;
			say("FLOWING", -1);
		}
	}
}

static int reg_mode(int fd, const char *mode)
{
	static char buf[1 << 16];

	memset(buf, 'y', sizeof(buf));
	if (!strcmp(mode, "send") || !strcmp(mode, "trickle")) {
		bool trickle = !strcmp(mode, "trickle");
		unsigned int k = 0;

		for (;;) {
			/* Sizes that vary, so that no two samples of a queue agree by chance. */
			size_t len = trickle ? 2048 + (size_t)(k++ * 7919u % 61440u) : sizeof(buf);
			ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return 0;
			if (trickle)
				nap_ms(16);
		}
	}
	if (!strcmp(mode, "request")) {
		static const char line[] = "REQUEST\n";

		if (send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0)
			return 0;
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 0;
		}
	}
	/* idle: nothing moves until the connection is shut down. */
	struct pollfd p = { fd, POLLRDHUP, 0 };
	while (poll(&p, 1, -1) >= 0 && !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		;
	return 0;
}

static int reg(const char *segment, const char *spec, const char *addr, const char *mode)
{
	struct yank_instance in = { 0 };
	yank_registry *r = NULL;
	const char *colon = strchr(spec, ':');

	if (!colon || !strncmp(spec, "migration", 9)) {
		in.type = YANK_MIGRATION;
	} else {
		in.type = !strncmp(spec, "chardev:", 8) ? YANK_CHARDEV : YANK_BLOCK_NODE;
		in.name = colon + 1;
	}
	int fd = connect_to(addr);
	int e = yank_open(segment, &r);
	if (e == 0)
		e = yank_register_instance(r, &in);
	if (e == 0)
		e = yank_register_fd(r, &in, fd);
	if (e < 0) {
		fprintf(stderr, "stall-peer: register %s: %s\n", spec, yank_strerror(e));
		return 2;
	}
	say("READY", -1);
	reg_mode(fd, mode);
	say("SHUT", -1);
	yank_unregister_fd(r, &in, fd);
	yank_unregister_instance(r, &in);
	yank_close(r);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int seconds = 120;

	if (argc > 2 && !strcmp(argv[1], "-t")) {
		seconds = atoi(argv[2]);
		argc -= 2;
		argv += 2;
	}
	alarm(seconds > 0 ? (unsigned)seconds : 120);
	if (argc == 4 && !strcmp(argv[1], "peer"))
		return peer(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "reg"))
		return reg(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: stall-peer [-t SECONDS] peer ADDR MODE\n"
			"       stall-peer [-t SECONDS] reg SEGMENT INSTANCE ADDR MODE\n");
	return 2;
}
