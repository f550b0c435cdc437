/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Helpers shared by the benchmark programs: a monotonic clock, sample
 * statistics, line I/O on pipes with a deadline, and loopback sockets.
 * Everything is static inline so that each bench/NAME.c stays one program.
 * Benchmarks measure; they never assert a timing.
 */
#ifndef YANK_BENCH_H
#define YANK_BENCH_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void nap_us(unsigned int us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- statistics over samples (any unit, as doubles) ---- */

struct stats {
	double median, p99, min, max, mean;
	size_t n;
};

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts @v in place. p99 is the nearest-rank 99th percentile. */
static inline struct stats stats_of(double *v, size_t n)
{
	struct stats s = { 0 };
	if (!n)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	size_t r99 = (size_t)((double)n * 0.99 + 0.999999);
	s.n = n;
	s.min = v[0];
	s.max = v[n - 1];
	s.mean = sum / (double)n;
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.p99 = v[(r99 ? r99 : 1) - 1];
	return s;
}

/* ---- pipes ---- */

/*
 * Read one '\n'-terminated line from @fd into @buf (NUL-terminated, without
 * the newline), waiting at most @timeout_ms.  Reads byte by byte: the pipes
 * carry a few short lines, and no byte of the next line may be consumed.
 * Returns the length, -ETIMEDOUT, -EPIPE on EOF, or -errno.
 */
static inline int read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r == 1) {
			if (c == '\n') {
				buf[n] = '\0';
				return (int)n;
			}
			if (n + 1 < cap)
				buf[n++] = c;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		uint64_t now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { fd, POLLIN, 0 };
		poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
	}
}

static inline int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t r = write(fd, p, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* ---- loopback TCP ---- */

/* A listening socket on 127.0.0.1 and an ephemeral port; -errno on failure. */
static inline int tcp_listener(uint16_t *port)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1024) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0) {
		int e = errno;
		close(l);
		return -e;
	}
	*port = ntohs(a.sin_port);
	return l;
}

/*
 * A connected loopback TCP pair: *client is connected to @port of the
 * listener @l, *server is the accepted end.  0 or -errno.
 */
static inline int tcp_pair(int l, uint16_t port, int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(c);
		return -e;
	}
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		int e = errno;
		close(c);
		return -e;
	}
	*client = c;
	*server = s;
	return 0;
}

#endif
