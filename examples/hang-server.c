/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * hang-server: a TCP server that accepts connections and never answers,
 * the peer a hung client is stuck on (a dead NBD server, a chardev peer
 * that stopped talking).
 *
 *   hang-server [-p PORT] [-t SECONDS]
 *
 * Listens on 127.0.0.1:PORT (default 0: a free port) and prints the port
 * on stdout.  Anything a client sends is read and dropped; nothing is ever
 * written back.  A connection the client shuts down is closed.  Exits when
 * stdin is a pipe or socket and reaches end of file, on SIGTERM, or after
 * SECONDS (default 120), so that it never outlives a test or a demo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Only a pipe or a socket on stdin is a lifeline: /dev/null or a tty is not. */
static int stdin_is_lifeline(void)
{
	struct stat st;

	return fstat(STDIN_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

static int listen_on(unsigned short port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len = sizeof(sa);
	int one = 1, fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("hang-server: listen on 127.0.0.1");
		exit(1);
	}
	printf("%u\n", ntohs(sa.sin_port));
	fflush(stdout);
	return fd;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_CONNS + 2];
	long seconds = 120, port = 0, deadline;
	nfds_t nfds;
	int opt;

	static const char usage_text[] =
		"usage: hang-server [-p PORT] [-t SECONDS]\n"
		"  Listen on 127.0.0.1:PORT (default: a free port, printed on stdout),\n"
		"  accept connections and never answer them.  Ends at end of stdin (a\n"
		"  pipe), on SIGTERM, or after SECONDS (default 120).\n"
		"  -h, --help  this text\n";

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "p:t:h")) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtol(optarg, NULL, 10);
			break;
		default:
			fputs(usage_text, stderr);
			return 1;
		}
	}
	if (port < 0 || port > 65535 || seconds <= 0) {
		fprintf(stderr, "usage: hang-server [-p PORT] [-t SECONDS]\n");
		return 1;
	}

	pfd[0] = (struct pollfd){.fd = listen_on((unsigned short)port), .events = POLLIN};
	/* A negative fd is ignored by poll(). */
	pfd[1] = (struct pollfd){.fd = stdin_is_lifeline() ? STDIN_FILENO : -1, .events = POLLIN};
	nfds = 2;
	deadline = now_ms() + seconds * 1000;

	for (long left; (left = deadline - now_ms()) > 0;) {
		char buf[4096];

		if (poll(pfd, nfds, (int)(left > 1000 ? 1000 : left)) < 0) {
			if (errno == EINTR)
				continue;
			perror("hang-server: poll");
			return 1;
		}
		if (pfd[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n <= 0)
				return 0;
		}
		if ((pfd[0].revents & POLLIN) && nfds < MAX_CONNS + 2) {
			int fd = accept4(pfd[0].fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				pfd[nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
			/* When full, leave the rest in the backlog rather than spin. */
			if (nfds == MAX_CONNS + 2)
				pfd[0].events = 0;
		}
		/* Drain what clients send; close those that hung up. */
		for (nfds_t i = 2; i < nfds; i++) {
			if (!pfd[i].revents)
				continue;
			if (read(pfd[i].fd, buf, sizeof(buf)) > 0)
				continue;
			close(pfd[i].fd);
			pfd[i--] = pfd[--nfds];
			pfd[0].events = POLLIN;
		}
	}
	return 0;
}
