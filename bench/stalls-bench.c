/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * stalls-bench: what yankctl's socket state costs (list, watch).
 *
 *   stalls-bench BUILD_DIR FIGURES
 *
 * 10,000 loopback TCP connections, each client end registered as an
 * instance with its fd: the whole "yankctl --json list" process with the
 * socket state (two looks, 200 ms apart: its CPU time, and its wall time
 * less those 200 ms) against the same list with --sample 0 (no socket
 * state, the list of before).  Then 1,000 of them in a registry of their
 * own, the other connections closed, and "yankctl watch" at its default
 * 1 s interval: CPU per second from /proc/PID/stat over 10 s of steady
 * state, and from its whole run (getrusage at exit).  Figures are
 * appended to FIGURES as yank-bench writes them; no targets.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <yank.h>

#include "bench.h"

#define N_LIST 10000
#define N_WATCH 1000
#define LIST_RUNS 7
#define WATCH_FOR_S 12

static FILE *figures;
static char yankctl[PATH_MAX];
static int devnull;

__attribute__((format(printf, 1, 2), noreturn)) static void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("stalls-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void fig(const char *name, double value, const char *unit, size_t n, const char *detail)
{
	fprintf(figures,
		"{\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"target\": null, "
		"\"ok\": null, \"n\": %zu, \"detail\": \"%s\"}\n",
		name, value, unit, n, detail ? detail : "");
	fflush(figures);
	fprintf(stderr, "  %-64s %10.4g %s\n", name, value, unit);
}

static pid_t spawn(char *const argv[])
{
	pid_t p = fork();
	if (p < 0)
		fatal("fork: %s", strerror(errno));
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(devnull, 0);
		dup2(devnull, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

/* Run @argv to its end: wall microseconds, and its CPU (user + system) in *cpu_us. */
static double run_us(char *const argv[], double *cpu_us)
{
	struct rusage ru;
	int st;
	uint64_t t0 = now_ns();
	pid_t p = spawn(argv);
	if (wait4(p, &st, 0, &ru) != p)
		fatal("wait4: %s", strerror(errno));
	uint64_t t1 = now_ns();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fatal("%s failed (status %d)", argv[0], st);
	*cpu_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
		  (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
	return (double)(t1 - t0) / 1e3;
}

/* utime + stime of @pid from /proc/PID/stat, in clock ticks; -1 when gone. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long long ut, stt;
	/* After the command: state, then fields 4 to 13, then utime and stime. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &stt) != 2)
		return -1;
	return (long long)(ut + stt);
}

static void nap_ms(unsigned int ms)
{
	nap_us(ms * 1000u);
}

/* Register @n instances "chardev:<tag><i>", each with the client end fds[i]. */
static yank_registry *registry(const char *seg, const char *tag, const int *fds, size_t n)
{
	yank_registry *reg;
	char name[64];
	int r = yank_open(seg, &reg);
	if (r < 0)
		fatal("yank_open %s: %s", seg, yank_strerror(r));
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%zu", tag, i);
		struct yank_instance in = { YANK_CHARDEV, name };
		if ((r = yank_register_instance(reg, &in)) < 0 ||
		    (r = yank_register_fd(reg, &in, fds[i])) < 0)
			fatal("register %s: %s", name, yank_strerror(r));
	}
	return reg;
}

static void bench_list(const char *seg)
{
	char *with[] = { yankctl, "--segment", (char *)seg, "--json", "list", NULL };
	char *plain[] = { yankctl, "--segment", (char *)seg, "--json", "list", "--sample", "0",
			  NULL };
	double w[LIST_RUNS], c[LIST_RUNS], pw[LIST_RUNS], pc[LIST_RUNS], cpu;
	char d[160];

	run_us(with, &cpu); /* warm: page cache, the first dump's module load */
	for (int k = 0; k < LIST_RUNS; k++) {
		w[k] = run_us(with, &c[k]) / 1e3 - 200;
		pw[k] = run_us(plain, &pc[k]) / 1e3;
		c[k] /= 1e3;
		pc[k] /= 1e3;
	}
	struct stats sw = stats_of(w, LIST_RUNS), sc = stats_of(c, LIST_RUNS);
	struct stats spw = stats_of(pw, LIST_RUNS), spc = stats_of(pc, LIST_RUNS);
	snprintf(d, sizeof(d), "%d runs, two looks 200 ms apart; CPU is user + system", LIST_RUNS);
	fig("yankctl list --json, 10,000 sockets, with socket state: CPU, median", sc.median,
	    "ms", sc.n, d);
	fig("same: wall time less the 200 ms between the looks, median", sw.median, "ms", sw.n,
	    d);
	snprintf(d, sizeof(d), "%d runs, --sample 0: the list without socket state", LIST_RUNS);
	fig("yankctl list --json --sample 0, 10,000 sockets: wall, median", spw.median, "ms",
	    spw.n, d);
	fig("yankctl list --json --sample 0, 10,000 sockets: CPU, median", spc.median, "ms",
	    spc.n, d);
	fig("socket state / plain list, CPU", sc.median / (spc.median > 0 ? spc.median : 1), "x",
	    sc.n, "the two medians above");
}

static void bench_watch(const char *seg)
{
	char forv[16];
	snprintf(forv, sizeof(forv), "%ds", WATCH_FOR_S);
	char *argv[] = { yankctl, "--segment", (char *)seg, "watch", "--for", forv, NULL };
	struct rusage ru;
	int st;
	pid_t p = spawn(argv);

	/* Steady state: after the first round (the one dump), over 10 s. */
	nap_ms(1500);
	long long t0 = cpu_ticks(p);
	uint64_t w0 = now_ns();
	nap_ms(10000);
	long long t1 = cpu_ticks(p);
	uint64_t w1 = now_ns();
	if (wait4(p, &st, 0, &ru) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fatal("yankctl watch failed (status %d)", st);
	if (t0 < 0 || t1 < 0)
		fatal("cannot read /proc/%d/stat", (int)p);
	double secs = (double)(w1 - w0) / 1e9;
	double ms = (double)(t1 - t0) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
	fig("yankctl watch, 1,000 sockets, 1 s interval: CPU per second (/proc stat, 10 s)",
	    ms / secs, "ms/s", 1, "utime + stime from /proc/PID/stat, 10 ms ticks");
	double all = (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
		     (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
	char d[128];
	snprintf(d, sizeof(d), "getrusage of the whole %d s run, start and first dump included",
		 WATCH_FOR_S);
	fig("yankctl watch, 1,000 sockets, 1 s interval: CPU per second (whole run)",
	    all / WATCH_FOR_S, "ms/s", 1, d);
}

/*
 * The far ends: accept N_LIST connections and hold them; on 'c' close all
 * but the first N_WATCH (so that they leave the TCP tables), at end of
 * input exit.
 */
__attribute__((noreturn)) static void acceptor_main(int l, int ctl, int ctl_w)
{
	static int server[N_LIST];
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(ctl_w); /* or its end of input never comes */
	for (int i = 0; i < N_LIST; i++) {
		server[i] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (server[i] < 0)
			_exit(1);
	}
	while (read(ctl, &c, 1) == 1)
		for (int i = N_WATCH; i < N_LIST; i++)
			close(server[i]);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: stalls-bench BUILD_DIR FIGURES\n");
		return 2;
	}
	snprintf(yankctl, sizeof(yankctl), "%s/yankctl", argv[1]);
	figures = fopen(argv[2], "a");
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!figures || devnull < 0)
		fatal("%s: %s", argv[2], strerror(errno));
	alarm(240); /* the whole bench, whatever happens */
	/* One fd per connection here, the other end in a child: within a
	 * hard limit of 20,000 as well. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max < N_LIST + 100)
		fatal("RLIMIT_NOFILE: a hard limit of %d fds is needed", N_LIST + 100);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);

	uint16_t port = 0;
	int l = tcp_listener(&port);
	if (l < 0)
		fatal("listen: %s", strerror(-l));
	int ctl[2];
	if (pipe2(ctl, O_CLOEXEC) < 0)
		fatal("pipe: %s", strerror(errno));
	/* Forked before any registry is opened: no agent thread to copy. */
	pid_t acceptor = fork();
	if (acceptor < 0)
		fatal("fork: %s", strerror(errno));
	if (acceptor == 0)
		acceptor_main(l, ctl[0], ctl[1]);
	close(ctl[0]);
	close(l);
	static int client[N_LIST];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	for (int i = 0; i < N_LIST; i++) {
		client[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (client[i] < 0 || connect(client[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			fatal("connection %d: %s", i, strerror(errno));
	}
	const char *tag = getenv("YANK_BENCH_TAG");
	char seg[64], seg2[64];
	snprintf(seg, sizeof(seg), "/yank-bench-%s-stalls", tag ? tag : "0");
	snprintf(seg2, sizeof(seg2), "/yank-bench-%s-watch", tag ? tag : "0");
	shm_unlink(seg);
	shm_unlink(seg2);

	fprintf(stderr, "stalls-bench: list with socket state, 10,000 sockets\n");
	yank_registry *reg = registry(seg, "s", client, N_LIST);
	bench_list(seg);
	yank_close(reg);
	shm_unlink(seg);

	/* watch sees a host with 1,000 connections, not 10,000. */
	for (int i = N_WATCH; i < N_LIST; i++)
		close(client[i]);
	if (write(ctl[1], "c", 1) != 1)
		fatal("acceptor: %s", strerror(errno));
	fprintf(stderr, "stalls-bench: watch, 1,000 sockets, %d s\n", WATCH_FOR_S);
	reg = registry(seg2, "w", client, N_WATCH);
	bench_watch(seg2);
	yank_close(reg);
	shm_unlink(seg2);
	close(ctl[1]);
	waitpid(acceptor, NULL, 0);
	return 0;
}
