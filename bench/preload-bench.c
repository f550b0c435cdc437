/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * preload-bench: what libyank-preload.so adds to connect() and close() of
 * a loopback TCP socket (SPEC §12: at most 2x each).  bench/run.sh runs it
 * twice in the same run, plain and with the shim preloaded:
 *
 *   preload-bench FIGURES                          plain; prints "CONNECT_NS CLOSE_NS"
 *   preload-bench FIGURES CONNECT_NS CLOSE_NS      preloaded; adds the ratios
 *
 * Only the client side goes through libc: the listener's accept and the
 * server end's close are raw system calls, which the shim does not see,
 * so the figures are one registration and one unregistration each.
 * Figures are appended to FIGURES as yank-bench writes them.
 */
#include <math.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "bench.h"

#define ITER 2000
#define WARMUP 100 /* the first connect opens the registry: not steady state */

static double connect_ns[ITER], close_ns[ITER];

static void fig(FILE *f, const char *name, double value, const char *unit, double target)
{
	char tv[32] = "null", ok[8] = "null";
	if (!isnan(target)) {
		snprintf(tv, sizeof(tv), "%.6g", target);
		snprintf(ok, sizeof(ok), "%s", value <= target ? "true" : "false");
	}
	fprintf(f,
		"{\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"target\": %s, "
		"\"ok\": %s, \"n\": %d, \"detail\": \"\"}\n",
		name, value, unit, tv, ok, ITER);
	fprintf(stderr, "  %-58s %10.4g %-6s %s%s\n", name, value, unit,
		isnan(target) ? "" : "target <= ", isnan(target) ? "" : tv);
}

/* One connect and one close of the client end, timed apart. */
static int one(int l, const struct sockaddr_in *a, int i)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	uint64_t t0 = now_ns();
	if (connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0)
		return -errno;
	uint64_t t1 = now_ns();
	long s = syscall(SYS_accept4, l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return -errno;
	uint64_t t2 = now_ns();
	close(c);
	uint64_t t3 = now_ns();
	syscall(SYS_close, (int)s);
	if (i >= 0) {
		connect_ns[i] = (double)(t1 - t0);
		close_ns[i] = (double)(t3 - t2);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: preload-bench FIGURES [CONNECT_NS CLOSE_NS]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "a");
	uint16_t port;
	int l = tcp_listener(&port);
	if (!f || l < 0) {
		fprintf(stderr, "preload-bench: setup failed\n");
		return 1;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	for (int i = -WARMUP; i < ITER; i++) {
		int r = one(l, &a, i < 0 ? -1 : i);
		if (r < 0) {
			fprintf(stderr, "preload-bench: %s\n", strerror(-r));
			return 1;
		}
	}
	struct stats cn = stats_of(connect_ns, ITER), cl = stats_of(close_ns, ITER);
	if (argc == 2) {
		fig(f, "loopback connect(), no shim: median", cn.median / 1000, "us", NAN);
		fig(f, "loopback close(), no shim: median", cl.median / 1000, "us", NAN);
		printf("%.0f %.0f\n", cn.median, cl.median);
		return 0;
	}
	fig(f, "loopback connect(), libyank-preload.so: median", cn.median / 1000, "us", NAN);
	fig(f, "loopback close(), libyank-preload.so: median", cl.median / 1000, "us", NAN);
	fig(f, "connect() with the shim / without", cn.median / atof(argv[2]), "x", 2);
	fig(f, "close() with the shim / without", cl.median / atof(argv[3]), "x", 2);
	return 0;
}
