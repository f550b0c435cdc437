/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yank-bench: every SPEC §8 figure, measured in one run.
 *
 *   yank-bench BUILD_DIR DATA_DIR
 *
 * BUILD_DIR holds yankctl and bench/peer; DATA_DIR receives figures.jsonl
 * (one JSON object per figure: name, value, unit, target, ok, n, detail)
 * and the *.dat series that bench/run.sh plots.  Progress goes to stderr.
 *
 * Each figure uses a segment of its own, /yank-bench-RUN-NAME (RUN is
 * $YANK_BENCH_TAG or our pid), with default capacities, so that no figure
 * sees another's high-water marks; all are unlinked at exit.  The other
 * processes are bench/peer programs started with fork+exec; all are killed
 * and reaped at exit.  Every wait is bounded, and so is the whole run (an
 * alarm).  Nothing here asserts a timing: a figure that misses its target
 * is reported, not failed.
 *
 * $YANK_BENCH_ONLY=register,query,e2e,owners,contention,scaling,memory,
 * floors,idle runs only the sections named.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yank.h>

#include "baseline.h"
#include "bench.h"

#define RUN_LIMIT_S 280  /* the whole run; make bench must end in minutes */
#define PEER_WAIT_MS 10000
#define MAX_CHILDREN 128
#define MAX_SEGS 16
#define POOL 50      /* owner processes for the multi-process figures */
#define PER_OWNER 20 /* instances per owner in the 1,000-instance figure */

static char yankctl_path[PATH_MAX], peer_path[PATH_MAX];
static const char *datadir;
static FILE *figures;

static pid_t children[MAX_CHILDREN];
static int nchildren;
static char segs[MAX_SEGS][64];
static int nsegs;
static int devnull = -1;
static char run_tag[24]; /* in segment names: $YANK_BENCH_TAG, else our pid */

/* ---- housekeeping ---- */

static void cleanup(void)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	for (int i = 0; i < nchildren; i++)
		if (children[i] > 0)
			waitpid(children[i], NULL, 0);
	nchildren = 0;
	for (int i = 0; i < nsegs; i++)
		shm_unlink(segs[i]);
	nsegs = 0;
}

static void on_signal(int sig)
{
	static const char msg[] = "yank-bench: time limit or signal: stopping\n";
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	for (int i = 0; i < nchildren; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	for (int i = 0; i < nsegs; i++)
		shm_unlink(segs[i]);
	_exit(sig == SIGALRM ? 124 : 1);
}

__attribute__((format(printf, 1, 2), noreturn)) static void fatal(const char *fmt, ...)
{
	va_list ap;
	fputs("yank-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1); /* atexit: cleanup() */
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *seg_new(const char *tag)
{
	if (nsegs == MAX_SEGS)
		fatal("too many segments");
	char *s = segs[nsegs++];
	snprintf(s, sizeof(segs[0]), "/yank-bench-%s-%s", run_tag, tag);
	shm_unlink(s);
	return s;
}

static yank_registry *open_seg(const char *seg)
{
	yank_registry *reg;
	int r = yank_open(seg, &reg);
	if (r < 0)
		fatal("yank_open %s: %s", seg, yank_strerror(r));
	return reg;
}

static FILE *data_file(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		fatal("%s: %s", path, strerror(errno));
	return f;
}

/*
 * One figure.  @target NAN: informational, no target.  Every target is an
 * upper bound.  The line is JSON; names and units are plain ASCII here.
 */
static void fig(const char *name, double value, const char *unit, double target, size_t n,
		const char *detail)
{
	char tv[32] = "null", ok[8] = "null";
	if (!isnan(target)) {
		snprintf(tv, sizeof(tv), "%.6g", target);
		snprintf(ok, sizeof(ok), "%s", value <= target ? "true" : "false");
	}
	fprintf(figures,
		"{\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"target\": %s, "
		"\"ok\": %s, \"n\": %zu, \"detail\": \"%s\"}\n",
		name, value, unit, tv, ok, n, detail ? detail : "");
	fflush(figures);
	note("  %-58s %10.4g %-6s %s%s", name, value, unit, isnan(target) ? "" : "target <= ",
	     isnan(target) ? "" : tv);
}

/* ---- processes ---- */

static pid_t spawn(char *const argv[], int fd0, int fd1, int fd2)
{
	pid_t p = fork();
	if (p < 0)
		fatal("fork: %s", strerror(errno));
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd0 != 0)
			dup2(fd0, 0);
		if (fd1 != 1)
			dup2(fd1, 1);
		if (fd2 != 2)
			dup2(fd2, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

static void track(pid_t p)
{
	if (nchildren == MAX_CHILDREN)
		fatal("too many children");
	children[nchildren++] = p;
}

static void untrack(pid_t p)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] == p)
			children[i] = children[--nchildren];
}

struct peer {
	pid_t pid;
	int in;  /* we write commands */
	int out; /* we read reports */
	char prefix[16];
};

static void peer_start(struct peer *pe, const char *mode, const char *seg, const char *a1,
		       const char *a2)
{
	int to[2], from[2];
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		fatal("pipe: %s", strerror(errno));
	char *argv[] = { peer_path, (char *)mode, (char *)seg, (char *)a1, (char *)a2, NULL };
	pe->pid = spawn(argv, to[0], from[1], 2);
	track(pe->pid);
	close(to[0]);
	close(from[1]);
	pe->in = to[1];
	pe->out = from[0];
	fcntl(pe->out, F_SETFL, O_NONBLOCK);
}

static void peer_cmd(struct peer *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_cmd(struct peer *pe, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write_all(pe->in, line, (size_t)n) < 0)
		fatal("peer %d: write: %s", (int)pe->pid, strerror(errno));
}

/* The next report of @pe, which must start with @tag. */
static void peer_expect(struct peer *pe, char tag, char *line, size_t cap)
{
	int n = read_line(pe->out, line, cap, PEER_WAIT_MS);
	if (n < 0)
		fatal("peer %d: no report: %s", (int)pe->pid, strerror(-n));
	if (line[0] != tag)
		fatal("peer %d: expected %c, got \"%s\"", (int)pe->pid, tag, line);
}

static void peer_stop(struct peer *pe)
{
	close(pe->in);
	int st;
	/* Bounded: EOF on stdin makes it exit; the kill covers a wedged one. */
	for (int i = 0; i < 2000; i++) {
		if (waitpid(pe->pid, &st, WNOHANG) == pe->pid)
			goto done;
		nap_us(1000);
	}
	kill(pe->pid, SIGKILL);
	waitpid(pe->pid, &st, 0);
done:
	untrack(pe->pid);
	close(pe->out);
}

/*
 * Wait until thread @tid of @pid is blocked in one of the system calls
 * @nrs (from /proc/PID/task/TID/syscall), so that what we time really
 * starts from a blocked recv().  Bounded by @ms.
 */
static void wait_blocked(pid_t pid, pid_t tid, const int *nrs, int n, int ms)
{
	char path[64], buf[128];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	do {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fatal("%s: %s", path, strerror(errno));
		ssize_t k = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (k > 0) {
			buf[k] = '\0';
			int nr = atoi(buf);
			if (buf[0] >= '0' && buf[0] <= '9')
				for (int i = 0; i < n; i++)
					if (nr == nrs[i])
						return;
		}
		nap_us(20);
	} while (now_ns() < end);
	fatal("thread %d of %d never blocked", (int)tid, (int)pid);
}

static const int SYS_RECV[] = { 45 };     /* recvfrom: glibc's recv() */
static const int SYS_POLL[] = { 7, 271 }; /* poll, ppoll */

/* Time fork+exec+wait of @argv; -1 if it did not exit 0. */
static double spawn_wait_us(char *const argv[])
{
	uint64_t t0 = now_ns();
	pid_t p = spawn(argv, devnull, devnull, devnull);
	int st;
	if (waitpid(p, &st, 0) != p)
		fatal("waitpid: %s", strerror(errno));
	uint64_t t1 = now_ns();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return (double)(t1 - t0) / 1e3;
}

/* ---- figures 1, 2 and the registration scaling ---- */

struct reg_result {
	struct stats lib, base;
};

/*
 * Register + unregister one instance, @batches batches of @iters each,
 * libyank and the baseline interleaved batch by batch so both see the
 * same machine.  Per-pair times in nanoseconds.
 */
static struct reg_result reg_pairs(yank_registry *reg, struct base_registry *b, int batches,
				   int iters)
{
	double *lib = calloc((size_t)batches, sizeof(double));
	double *base = calloc((size_t)batches, sizeof(double));
	if (!lib || !base)
		fatal("out of memory");
	struct yank_instance in = { YANK_CHARDEV, "bench-probe-0" };
	for (int w = 0; w < iters; w++) { /* warm up both */
		if (yank_register_instance(reg, &in) || yank_unregister_instance(reg, &in) ||
		    base_register(b, &in) || base_unregister(b, &in))
			fatal("warm-up registration failed");
	}
	for (int k = 0; k < batches; k++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < iters; i++) {
			int r = yank_register_instance(reg, &in);
			if (r == 0)
				r = yank_unregister_instance(reg, &in);
			if (r < 0)
				fatal("register: %s", yank_strerror(r));
		}
		uint64_t t1 = now_ns();
		for (int i = 0; i < iters; i++) {
			base_register(b, &in);
			base_unregister(b, &in);
		}
		uint64_t t2 = now_ns();
		lib[k] = (double)(t1 - t0) / iters;
		base[k] = (double)(t2 - t1) / iters;
	}
	struct reg_result res = { stats_of(lib, (size_t)batches), stats_of(base, (size_t)batches) };
	free(lib);
	free(base);
	return res;
}

static void bench_register(void)
{
	note("registration: one process, empty registry (figures 1, 2)");
	const char *seg = seg_new("reg");
	yank_registry *reg = open_seg(seg);
	struct base_registry b;
	base_init(&b);
	struct reg_result r = reg_pairs(reg, &b, 400, 1000);
	char d[160];
	snprintf(d, sizeof(d), "median of 400 batches of 1000 pairs; p99 %.0f ns", r.lib.p99);
	fig("register+unregister one instance: median", r.lib.median / 1e3, "us", 1.0, r.lib.n,
	    d);
	fig("register+unregister one instance: p99", r.lib.p99 / 1e3, "us", NAN, r.lib.n, NULL);
	snprintf(d, sizeof(d), "QEMU util/yank.c style: mutex + list + 3 mallocs; p99 %.0f ns",
		 r.base.p99);
	fig("baseline register+unregister (mutex + list): median", r.base.median / 1e3, "us",
	    NAN, r.base.n, d);
	snprintf(d, sizeof(d), "libyank %.0f ns / baseline %.0f ns, same run, batches interleaved",
		 r.lib.median, r.base.median);
	fig("register+unregister: libyank / in-process baseline", r.lib.median / r.base.median,
	    "x", 2.0, r.lib.n, d);
	base_destroy(&b);

	/*
	 * An fd record: register + unregister on an instance of ours.  The
	 * unregister waits for an RCU grace period (rule 6).  On a handle of
	 * its own, closed afterwards, so that its agent thread is gone before
	 * the other figures run.
	 */
	yank_registry *fr = open_seg(seg);
	uint16_t port = 0;
	int l = tcp_listener(&port), c = -1, sv = -1, e;
	if (l < 0 || (e = tcp_pair(l, port, &c, &sv)) < 0)
		fatal("loopback pair failed");
	struct yank_instance fi = { YANK_CHARDEV, "bench-fd-0" };
	if ((e = yank_register_instance(fr, &fi)) < 0 || (e = yank_register_fd(fr, &fi, c)) < 0 ||
	    (e = yank_unregister_fd(fr, &fi, c)) < 0) /* the agent starts here, once */
		fatal("register fd: %s", yank_strerror(e));
	enum { NF = 3000 };
	double *v = calloc(NF, sizeof(double));
	if (!v)
		fatal("out of memory");
	for (int k = 0; k < NF; k++) {
		uint64_t t0 = now_ns();
		e = yank_register_fd(fr, &fi, c);
		if (e == 0)
			e = yank_unregister_fd(fr, &fi, c);
		v[k] = (double)(now_ns() - t0) / 1e3;
		if (e < 0)
			fatal("register fd: %s", yank_strerror(e));
	}
	struct stats sf = stats_of(v, NF);
	free(v);
	snprintf(d, sizeof(d),
		 "fstat, lock, record claim, local table; unregister waits one RCU grace period;"
		 " p99 %.1f us",
		 sf.p99);
	fig("register_fd+unregister_fd one socket: median", sf.median, "us", NAN, sf.n, d);
	yank_unregister_instance(fr, &fi);
	yank_close(fr);
	close(c);
	close(sv);
	close(l);
	yank_close(reg);
}

/* ---- query ---- */

/* yank_query + yank_query_free, @reps calls, microseconds each. */
static struct stats query_cost(yank_registry *reg, int reps, size_t expect)
{
	double *v = calloc((size_t)reps, sizeof(double));
	if (!v)
		fatal("out of memory");
	for (int k = -reps / 10 - 1; k < reps; k++) {
		struct yank_instance_info *info;
		size_t n;
		uint64_t t0 = now_ns();
		int r = yank_query(reg, &info, &n);
		if (r == 0)
			yank_query_free(info, n);
		uint64_t t1 = now_ns();
		if (r < 0)
			fatal("yank_query: %s", yank_strerror(r));
		if (n != expect)
			fatal("yank_query: %zu instances, expected %zu", n, expect);
		if (k >= 0)
			v[k] = (double)(t1 - t0) / 1e3;
	}
	struct stats s = stats_of(v, (size_t)reps);
	free(v);
	return s;
}

static void name_of(char *buf, size_t cap, const char *prefix, size_t i)
{
	snprintf(buf, cap, "%s-%zu", prefix, i);
}

static void register_many(yank_registry *reg, const char *prefix, size_t from, size_t to)
{
	char name[64];
	for (size_t i = from; i < to; i++) {
		name_of(name, sizeof(name), prefix, i);
		struct yank_instance in = { i % 2 ? YANK_BLOCK_NODE : YANK_CHARDEV, name };
		int r = yank_register_instance(reg, &in);
		if (r < 0)
			fatal("register %s: %s", name, yank_strerror(r));
	}
}

static void bench_query10(void)
{
	note("yank_query with 10 instances, long-lived caller (figure 7)");
	const char *seg = seg_new("q10");
	yank_registry *reg = open_seg(seg);
	register_many(reg, "q", 0, 10);
	struct stats s = query_cost(reg, 5000, 10);
	char d[96];
	snprintf(d, sizeof(d), "5000 calls, query + free; p99 %.2f us", s.p99);
	fig("yank_query, 10 instances: median", s.median, "us", 10.0, s.n, d);
	fig("yank_query, 10 instances: p99", s.p99, "us", NAN, s.n, NULL);
	yank_close(reg);
}

enum { VAL_K = 100 };

/*
 * yank_yank of the VAL_K most recently registered instances, which carry
 * no functions: the cost of validating a list (each instance is looked up
 * by scanning the slots) and gathering its records, with no agent asked.
 */
static struct stats validate_cost(yank_registry *reg, size_t n)
{
	static struct yank_instance list[VAL_K];
	static char names[VAL_K][32];
	size_t k = n < VAL_K ? n : VAL_K;
	for (size_t i = 0; i < k; i++) {
		size_t j = n - k + i;
		name_of(names[i], sizeof(names[i]), "s", j);
		list[i] = (struct yank_instance){ j % 2 ? YANK_BLOCK_NODE : YANK_CHARDEV, names[i] };
	}
	enum { REPS = 60 };
	double v[REPS];
	for (int r = -5; r < REPS; r++) {
		uint64_t t0 = now_ns();
		int e = yank_yank(reg, list, k);
		uint64_t t1 = now_ns();
		if (e < 0)
			fatal("yank_yank of %zu instances: %s", k, yank_strerror(e));
		if (r >= 0)
			v[r] = (double)(t1 - t0) / 1e3;
	}
	return stats_of(v, REPS);
}

/* Registration and query cost against the number of instances present. */
static void bench_scaling(void)
{
	static const size_t levels[] = { 1, 10, 100, 1000, 10000 };
	note("scaling: registration and query at 1 .. 10,000 instances (figures 3, 4)");
	const char *seg = seg_new("scale");
	yank_registry *reg = open_seg(seg);
	struct base_registry b;
	base_init(&b);
	FILE *fr = data_file("scale-register.dat");
	FILE *fq = data_file("scale-query.dat");
	fprintf(fr, "# instances  libyank_ns  libyank_p99_ns  baseline_ns  baseline_p99_ns\n");
	fprintf(fq, "# instances  query_median_us  query_p99_us  yank_validate_100_median_us\n");
	size_t have = 0;
	char name[128], d[128];
	for (size_t li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
		size_t n = levels[li];
		register_many(reg, "s", have, n);
		for (size_t i = have; i < n; i++) {
			name_of(name, sizeof(name), "s", i);
			struct yank_instance in = { i % 2 ? YANK_BLOCK_NODE : YANK_CHARDEV, name };
			if (base_register(&b, &in) < 0)
				fatal("baseline register");
		}
		have = n;
		int iters = (int)(200000 / (n + 100));
		iters = iters < 10 ? 10 : iters > 2000 ? 2000 : iters;
		struct reg_result r = reg_pairs(reg, &b, 100, iters);
		fprintf(fr, "%zu %.1f %.1f %.1f %.1f\n", n, r.lib.median, r.lib.p99, r.base.median,
			r.base.p99);
		int reps = (int)(2000000 / (n + 100));
		reps = reps < 100 ? 100 : reps > 3000 ? 3000 : reps;
		struct stats q = query_cost(reg, reps, n);
		struct stats y = validate_cost(reg, n);
		fprintf(fq, "%zu %.3f %.3f %.3f\n", n, q.median, q.p99, y.median);
		snprintf(name, sizeof(name),
			 "scaling: yank_yank of the %zu newest (no functions), %zu present: median",
			 n < VAL_K ? n : (size_t)VAL_K, n);
		fig(name, y.median, "us", NAN, y.n,
		    "lookup + gather only: what a yank costs before any agent is asked");
		snprintf(name, sizeof(name), "scaling: register+unregister, %zu present: median", n);
		snprintf(d, sizeof(d), "baseline %.0f ns at the same size", r.base.median);
		fig(name, r.lib.median / 1e3, "us", NAN, r.lib.n, d);
		snprintf(name, sizeof(name), "scaling: baseline register+unregister, %zu present", n);
		fig(name, r.base.median / 1e3, "us", NAN, r.base.n, NULL);
		if (n == 10000) {
			snprintf(d, sizeof(d), "%d calls, query + free; p99 %.3f ms", reps,
				 q.p99 / 1e3);
			fig("yank_query, 10,000 instances: median", q.median / 1e3, "ms", 1.0, q.n,
			    d);
		} else {
			snprintf(name, sizeof(name), "scaling: yank_query, %zu instances: median", n);
			fig(name, q.median, "us", NAN, q.n, NULL);
		}
	}
	fclose(fr);
	fclose(fq);
	base_destroy(&b);

	/* Figure 4: the whole yankctl process over the same 10,000 instances. */
	note("yankctl list --json, 10,000 instances (figure 4)");
	char *argv[] = { yankctl_path, "--segment", (char *)seg, "--json", "list", NULL };
	char out[PATH_MAX];
	snprintf(out, sizeof(out), "%s/list.json", datadir);
	int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ofd < 0)
		fatal("%s: %s", out, strerror(errno));
	pid_t p = spawn(argv, devnull, ofd, 2);
	int st;
	waitpid(p, &st, 0);
	close(ofd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fatal("yankctl list --json failed (status %d)", st);
	double v[40];
	for (int k = -3; k < 40; k++) {
		double us = spawn_wait_us(argv);
		if (us < 0)
			fatal("yankctl list --json failed");
		if (k >= 0)
			v[k] = us;
	}
	struct stats s = stats_of(v, 40);
	snprintf(d, sizeof(d), "fork+exec to exit, stdout /dev/null, 40 runs; p99 %.1f ms",
		 s.p99 / 1e3);
	fig("yankctl list --json, 10,000 instances: median", s.median / 1e3, "ms", 30.0, s.n, d);
	yank_close(reg);
}

/* ---- end to end ---- */

struct victim_round {
	double eof_us;  /* start to the last victim's recv() returning */
	double call_us; /* yank_yank call to return (library) or spawn to exit (yankctl) */
};

/*
 * One round: the victims @v[0..np) each register @k connected sockets and
 * block; then @how yanks all of them: 0 = one yank_yank() call from @reg,
 * 1 = fork+exec "yankctl yank" (one instance only).
 */
static struct victim_round victim_round(struct peer *v, int np, int k, int iter, int how,
					yank_registry *reg)
{
	static struct yank_instance list[POOL * PER_OWNER];
	static char names[POOL * PER_OWNER][48];
	char line[128];
	for (int i = 0; i < np; i++)
		peer_cmd(&v[i], "n %d %d\n", iter, k);
	for (int i = 0; i < np; i++)
		peer_expect(&v[i], 'R', line, sizeof(line));
	for (int i = 0; i < np; i++)
		wait_blocked(v[i].pid, v[i].pid, k == 1 ? SYS_RECV : SYS_POLL, k == 1 ? 1 : 2,
			     PEER_WAIT_MS);
	int n = 0;
	for (int i = 0; i < np; i++)
		for (int j = 0; j < k; j++, n++) {
			snprintf(names[n], sizeof(names[n]), "%s-%d-%d", v[i].prefix, iter, j);
			list[n] = (struct yank_instance){ YANK_CHARDEV, names[n] };
		}
	struct victim_round res;
	uint64_t t0, t1;
	pid_t p = 0;
	if (how == 0) {
		t0 = now_ns();
		int r = yank_yank(reg, list, (size_t)n);
		t1 = now_ns();
		if (r < 0)
			fatal("yank_yank of %d instances: %s", n, yank_strerror(r));
	} else {
		char arg[64];
		snprintf(arg, sizeof(arg), "chardev:%s", names[0]);
		char *argv[] = { yankctl_path, "--segment", (char *)yank_segment_name(reg), "yank",
				 arg, NULL };
		t0 = now_ns();
		p = spawn(argv, devnull, devnull, devnull);
		t1 = 0;
	}
	uint64_t last = 0;
	if (how == 1 && read_line(v[0].out, line, sizeof(line), PEER_WAIT_MS) < 0) {
		int st = 0;
		if (waitpid(p, &st, WNOHANG) == p)
			fatal("yankctl yank exited with status %d; the victim saw no EOF", st);
		fatal("yankctl yank: the victim saw no EOF");
	}
	for (int i = 0; i < np; i++) {
		if (how != 1)
			peer_expect(&v[i], 'E', line, sizeof(line));
		unsigned long long t;
		int eofs;
		if (sscanf(line, "E %llu %d", &t, &eofs) != 2 || eofs != k)
			fatal("victim %d: bad report \"%s\"", (int)v[i].pid, line);
		if (t > last)
			last = t;
	}
	if (how == 1) {
		int st;
		waitpid(p, &st, 0);
		t1 = now_ns();
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fatal("yankctl yank exited with status %d", st);
	}
	res.eof_us = (double)(int64_t)(last - t0) / 1e3;
	res.call_us = (double)(t1 - t0) / 1e3;
	return res;
}

static void dump_sorted(const char *file, const double *v, size_t n)
{
	FILE *f = data_file(file);
	fprintf(f, "# latency_us  cumulative_fraction\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%.3f %.5f\n", v[i], (double)(i + 1) / (double)n);
	fclose(f);
}

static void bench_end_to_end(void)
{
	note("end to end: yank_yank from a long-lived caller (figure 6)");
	const char *seg = seg_new("e2e");
	yank_registry *reg = open_seg(seg);
	struct peer v;
	snprintf(v.prefix, sizeof(v.prefix), "e");
	peer_start(&v, "victim", seg, v.prefix, NULL);

	enum { N6 = 400, N5 = 200 };
	static double eof[N6], call[N6];
	int iter = 0;
	for (int k = -20; k < N6; k++) {
		struct victim_round r = victim_round(&v, 1, 1, iter++, 0, reg);
		if (k >= 0) {
			eof[k] = r.eof_us;
			call[k] = r.call_us;
		}
	}
	struct stats se = stats_of(eof, N6), sc = stats_of(call, N6);
	dump_sorted("e2e-library.dat", eof, N6);
	char d[160];
	snprintf(d, sizeof(d), "yank_yank start to victim's recv() returning, %d rounds; p99 %.0f us",
		 N6, se.p99);
	fig("yank_yank, one instance of another process, to recv() returning: median", se.median,
	    "us", 200.0, se.n, d);
	fig("yank_yank, one instance of another process: p99", se.p99, "us", NAN, se.n, NULL);
	fig("yank_yank, one instance of another process: call to return, median", sc.median,
	    "us", NAN, sc.n, NULL);

	note("end to end: yankctl yank, and spawning /bin/true (figure 5)");
	static double ctl[N5], ctl_exit[N5], tru[N5], ver[N5];
	char *true_argv[] = { "/bin/true", NULL };
	char *ver_argv[] = { yankctl_path, "--version", NULL };
	for (int k = -10; k < N5; k++) {
		struct victim_round r = victim_round(&v, 1, 1, iter++, 1, reg);
		double t = spawn_wait_us(true_argv);
		double tv = spawn_wait_us(ver_argv);
		if (t < 0 || tv < 0)
			fatal("/bin/true or yankctl --version failed");
		if (k >= 0) {
			ctl[k] = r.eof_us;
			ctl_exit[k] = r.call_us;
			tru[k] = t;
			ver[k] = tv;
		}
	}
	struct stats s5 = stats_of(ctl, N5), s5x = stats_of(ctl_exit, N5), st = stats_of(tru, N5);
	dump_sorted("e2e-yankctl.dat", ctl, N5);
	dump_sorted("spawn-true.dat", tru, N5);
	snprintf(d, sizeof(d), "fork+exec of yankctl to victim's recv() returning, %d rounds; p99 %.2f ms",
		 N5, s5.p99 / 1e3);
	fig("yankctl yank, start to recv() returning: median", s5.median / 1e3, "ms", 2.0, s5.n,
	    d);
	fig("yankctl yank, start to recv() returning: p99", s5.p99 / 1e3, "ms", NAN, s5.n, NULL);
	fig("yankctl yank, start to exit: median", s5x.median / 1e3, "ms", NAN, s5x.n, NULL);
	snprintf(d, sizeof(d), "fork+exec+wait, interleaved with the yankctl rounds; p99 %.2f ms",
		 st.p99 / 1e3);
	fig("spawn /bin/true (fork+exec+wait): median", st.median / 1e3, "ms", NAN, st.n, d);
	snprintf(d, sizeof(d), "%.3f ms / %.3f ms, same run", s5.median / 1e3, st.median / 1e3);
	fig("yankctl yank to recv() returning / spawn of /bin/true", s5.median / st.median, "x",
	    1.0, s5.n, d);
	/* Start-up alone: the same spawn, doing nothing but print a line. */
	struct stats sv = stats_of(ver, N5);
	snprintf(d, sizeof(d), "%.3f ms / %.3f ms, same run", sv.median / 1e3, st.median / 1e3);
	fig("yankctl --version / spawn of /bin/true", sv.median / st.median, "x", NAN, sv.n, d);

	/* A yank looks its instances up by scanning the slots: cost follows the
	 * position of the instance, at worst the high-water mark. */
	note("yank_yank with 1,000 and 10,000 other instances in the registry");
	peer_stop(&v);
	FILE *f = data_file("yank-vs-size.dat");
	fprintf(f, "# instances_in_registry  eof_median_us  call_median_us (the yanked one last)\n");
	fprintf(f, "1 %.2f %.2f\n", se.median, sc.median);
	size_t have = 0;
	static const size_t fills[] = { 1000, 10000 };
	for (size_t fi = 0; fi < 2; fi++) {
		register_many(reg, "fill", have, fills[fi]);
		have = fills[fi];
		struct peer w;
		snprintf(w.prefix, sizeof(w.prefix), "w%zu", fi);
		peer_start(&w, "victim", seg, w.prefix, NULL);
		enum { NF = 150 };
		double e[NF], c[NF];
		for (int k = -10; k < NF; k++) {
			struct victim_round r = victim_round(&w, 1, 1, k + 10, 0, reg);
			if (k >= 0) {
				e[k] = r.eof_us;
				c[k] = r.call_us;
			}
		}
		peer_stop(&w);
		struct stats a = stats_of(e, NF), bb = stats_of(c, NF);
		fprintf(f, "%zu %.2f %.2f\n", have + 1, a.median, bb.median);
		char name[96];
		snprintf(name, sizeof(name),
			 "yank_yank, one instance behind %zu others, to recv() returning: median", have);
		fig(name, a.median, "us", NAN, a.n, NULL);
	}
	fclose(f);
	yank_close(reg);
}

/* ---- many owners ---- */

static void bench_many_owners(void)
{
	note("yank across owner processes: 1, 10, 50 owners x 1 and 20 instances (figure 8)");
	const char *seg = seg_new("multi");
	yank_registry *reg = open_seg(seg);
	static struct peer pool[POOL];
	for (int i = 0; i < POOL; i++) {
		snprintf(pool[i].prefix, sizeof(pool[i].prefix), "p%d", i);
		peer_start(&pool[i], "victim", seg, pool[i].prefix, NULL);
	}
	static const int owners[] = { 1, 10, 50 };
	static const int per[] = { 1, PER_OWNER };
	FILE *f = data_file("scale-yank.dat");
	fprintf(f, "# owners  k1_eof_us  k1_call_us  k20_eof_us  k20_call_us  (medians)\n");
	double med[3][2][2];
	int iter = 0;
	for (int oi = 0; oi < 3; oi++) {
		for (int ki = 0; ki < 2; ki++) {
			int np = owners[oi], k = per[ki];
			int reps = np * k >= 1000 ? 25 : np * k >= 100 ? 20 : 40;
			double e[40], c[40];
			for (int r = -3; r < reps; r++) {
				struct victim_round vr = victim_round(pool, np, k, iter++, 0, reg);
				if (r >= 0) {
					e[r] = vr.eof_us;
					c[r] = vr.call_us;
				}
			}
			struct stats se = stats_of(e, (size_t)reps), sc = stats_of(c, (size_t)reps);
			med[oi][ki][0] = se.median;
			med[oi][ki][1] = sc.median;
			char name[128], d[128];
			if (np == POOL && k == PER_OWNER) {
				snprintf(d, sizeof(d),
					 "one yank_yank call, %d rounds; until the last victim's EOF: median %.2f ms",
					 reps, se.median / 1e3);
				fig("yank 1,000 instances over 50 processes, one call: median",
				    sc.median / 1e3, "ms", 50.0, sc.n, d);
				fig("yank 1,000 instances over 50 processes: until last EOF, median",
				    se.median / 1e3, "ms", NAN, se.n, NULL);
				fig("yank 1,000 instances over 50 processes, one call: p99 (max)",
				    sc.p99 / 1e3, "ms", NAN, sc.n, NULL);
			} else {
				snprintf(name, sizeof(name),
					 "yank %d instance(s) in each of %d process(es): call, median",
					 k, np);
				snprintf(d, sizeof(d), "until the last EOF: %.1f us", se.median);
				fig(name, sc.median, "us", NAN, sc.n, d);
			}
		}
	}
	for (int oi = 0; oi < 3; oi++)
		fprintf(f, "%d %.2f %.2f %.2f %.2f\n", owners[oi], med[oi][0][0], med[oi][0][1],
			med[oi][1][0], med[oi][1][1]);
	fclose(f);

	/*
	 * The same 1,000-instance yank in a registry that also holds 10,000
	 * other instances, registered before the victims' (which then sit in
	 * the highest slots): validation scans the slots for every listed
	 * instance, so this shows what that costs at scale.
	 */
	char line[64];
	for (int i = 0; i < POOL; i++)
		peer_cmd(&pool[i], "d\n");
	for (int i = 0; i < POOL; i++)
		peer_expect(&pool[i], 'D', line, sizeof(line));
	register_many(reg, "other", 0, 10000);
	enum { NB = 8 };
	double e[NB], c[NB];
	for (int r = -1; r < NB; r++) {
		struct victim_round vr = victim_round(pool, POOL, PER_OWNER, iter++, 0, reg);
		if (r >= 0) {
			e[r] = vr.eof_us;
			c[r] = vr.call_us;
		}
	}
	struct stats se = stats_of(e, NB), sc = stats_of(c, NB);
	char d[128];
	snprintf(d, sizeof(d), "%d rounds; until the last EOF %.2f ms", NB, se.median / 1e3);
	fig("yank 1,000 instances over 50 processes, 10,000 others registered first: call, median",
	    sc.median / 1e3, "ms", NAN, sc.n, d);
	for (int i = 0; i < POOL; i++)
		peer_cmd(&pool[i], "q\n");
	for (int i = 0; i < POOL; i++)
		peer_stop(&pool[i]);
	yank_close(reg);
}

/* ---- contention ---- */

static void bench_contention(void)
{
	note("registration throughput: 1 and 2 processes on one registry");
	const char *seg = seg_new("churn");
	yank_registry *reg = open_seg(seg); /* creates it before the peers race to */
	FILE *f = data_file("scale-contention.dat");
	fprintf(f, "# processes  total_pairs_per_s  ns_per_pair_per_process\n");
	for (int np = 1; np <= 2; np++) {
		struct peer pe[2];
		char line[128];
		for (int i = 0; i < np; i++) {
			snprintf(pe[i].prefix, sizeof(pe[i].prefix), "c%d", i);
			peer_start(&pe[i], "churn", seg, pe[i].prefix, "700");
		}
		for (int i = 0; i < np; i++)
			peer_expect(&pe[i], 'R', line, sizeof(line));
		for (int i = 0; i < np; i++)
			peer_cmd(&pe[i], "g\n");
		double total = 0, per = 0;
		for (int i = 0; i < np; i++) {
			unsigned long long ops, ns;
			peer_expect(&pe[i], 'C', line, sizeof(line));
			if (sscanf(line, "C %llu %llu", &ops, &ns) != 2 || !ops || !ns)
				fatal("churn: bad report \"%s\"", line);
			total += (double)ops * 1e9 / (double)ns;
			per += (double)ns / (double)ops / np;
		}
		for (int i = 0; i < np; i++)
			peer_stop(&pe[i]);
		fprintf(f, "%d %.0f %.1f\n", np, total, per);
		char name[96], d[96];
		snprintf(name, sizeof(name), "register+unregister throughput, %d process(es)", np);
		snprintf(d, sizeof(d), "%.0f ns per pair in each process", per);
		fig(name, total / 1e6, "Mpair/s", NAN, (size_t)np, d);
	}
	fclose(f);
	yank_close(reg);
}

/* ---- memory ---- */

static void bench_memory(void)
{
	note("segment bytes per instance (figure 9)");
	const char *seg = seg_new("mem");
	yank_registry *reg = open_seg(seg);
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm%s", seg);
	struct stat s0, s1;
	if (stat(path, &s0) < 0)
		fatal("%s: %s", path, strerror(errno));
	struct yank_status ys;
	int r = yank_status(reg, &ys);
	if (r < 0)
		fatal("yank_status: %s", yank_strerror(r));
	uint16_t port = 0;
	int l = tcp_listener(&port);
	if (l < 0)
		fatal("listen: %s", strerror(-l));
	int c[4], sv[4];
	for (int i = 0; i < 4; i++)
		if ((r = tcp_pair(l, port, &c[i], &sv[i])) < 0)
			fatal("tcp_pair: %s", strerror(-r));
	enum { NI = 2000 };
	char name[64];
	for (size_t i = 0; i < NI; i++) {
		name_of(name, sizeof(name), "m", i);
		struct yank_instance in = { YANK_CHARDEV, name };
		r = yank_register_instance(reg, &in);
		for (int j = 0; r == 0 && j < 4; j++)
			r = yank_register_fd(reg, &in, c[j]);
		if (r < 0)
			fatal("register %s: %s", name, yank_strerror(r));
	}
	if (stat(path, &s1) < 0)
		fatal("%s: %s", path, strerror(errno));
	double per = (double)s0.st_size / ys.max_instances;
	double touched = (double)(s1.st_blocks - s0.st_blocks) * 512.0 / NI;
	char d[200];
	snprintf(d, sizeof(d),
		 "st_size %lld B / %u instances (%u records, %u processes reserved with them)",
		 (long long)s0.st_size, ys.max_instances, ys.max_records, ys.max_processes);
	fig("segment bytes per instance (4 fd records), reserved", per, "B", 1024.0, 1, d);
	snprintf(d, sizeof(d), "tmpfs pages allocated by %d instances x 4 fd records, per instance",
		 NI);
	fig("segment bytes per instance (4 fd records), touched", touched, "B", NAN, NI, d);
	yank_close(reg);
	for (int i = 0; i < 4; i++) {
		close(c[i]);
		close(sv[i]);
	}
	close(l);
}

/* ---- floors: what the library's paths are built from ---- */

static double per_call_ns(uint64_t t0, uint64_t t1, long n)
{
	return (double)(t1 - t0) / (double)n;
}

static void bench_floors(void)
{
	note("floors: system calls and hand-offs the library cannot go below");
	enum { NC = 1000000 };
	struct timespec ts;
	uint64_t t0 = now_ns();
	for (long i = 0; i < NC; i++)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	fig("floor: clock_gettime(CLOCK_MONOTONIC)", per_call_ns(t0, now_ns(), NC), "ns", NAN, NC,
	    "vDSO; the registry lock's deadline and the reap timer each read it");

	pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER, robust;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &a);
	pthread_mutexattr_destroy(&a);
	t0 = now_ns();
	for (long i = 0; i < NC; i++) {
		pthread_mutex_lock(&plain);
		pthread_mutex_unlock(&plain);
	}
	uint64_t t1 = now_ns();
	for (long i = 0; i < NC; i++) {
		pthread_mutex_lock(&robust);
		pthread_mutex_unlock(&robust);
	}
	uint64_t t2 = now_ns();
	fig("floor: lock+unlock, default mutex", per_call_ns(t0, t1, NC), "ns", NAN, NC, NULL);
	fig("floor: lock+unlock, robust process-shared mutex", per_call_ns(t1, t2, NC), "ns", NAN,
	    NC, NULL);
	pthread_mutex_destroy(&robust);

	/* shutdown() of a connected loopback TCP socket: the act of a yank. */
	enum { NS = 300 };
	uint16_t port = 0;
	int l = tcp_listener(&port);
	if (l < 0)
		fatal("listen: %s", strerror(-l));
	double v[NS > 600 ? NS : 600];
	for (int k = 0; k < NS; k++) {
		int c = -1, sv = -1, r = tcp_pair(l, port, &c, &sv);
		if (r < 0)
			fatal("tcp_pair: %s", strerror(-r));
		t0 = now_ns();
		shutdown(c, SHUT_RDWR);
		v[k] = (double)(now_ns() - t0) / 1e3;
		close(c);
		close(sv);
	}
	close(l);
	struct stats s = stats_of(v, NS);
	fig("floor: shutdown(SHUT_RDWR) of a loopback TCP socket", s.median, "us", NAN, s.n,
	    "no waiter; FIN processed inline by loopback");

	/* The agent's transport, without the library: connect, request, fd back. */
	struct peer fs;
	char name[64], line[64];
	snprintf(name, sizeof(name), "yank-bench-%s-fd", run_tag);
	peer_start(&fs, "fdserver", name, NULL, NULL);
	peer_expect(&fs, 'R', line, sizeof(line));
	int rfd = atoi(line + 2);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path + 1, name, strlen(name));
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	enum { NR = 600 };
	for (int k = -30; k < NR; k++) {
		t0 = now_ns();
		int so = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (so < 0 || connect(so, (struct sockaddr *)&sa, sl) < 0 || send(so, "Y", 1, 0) != 1)
			fatal("fdserver: %s", strerror(errno));
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		char b;
		struct iovec iov = { &b, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		if (recvmsg(so, &mh, MSG_CMSG_CLOEXEC) != 1)
			fatal("fdserver: no reply");
		t1 = now_ns();
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (!cm || cm->cmsg_type != SCM_RIGHTS)
			fatal("fdserver: no fd");
		int got;
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
		close(got);
		(void)!send(so, "D", 1, 0);
		close(so);
		if (k >= 0)
			v[k] = (double)(t1 - t0) / 1e3;
	}
	s = stats_of(v, NR);
	fig("floor: connect + request + SCM_RIGHTS reply from a waiting process", s.median, "us",
	    NAN, s.n, "abstract AF_UNIX SOCK_SEQPACKET, server blocked in poll()");

	/* The fallback's path: pidfd_open + pidfd_getfd. */
	for (int k = -30; k < NR; k++) {
		t0 = now_ns();
		int pfd = pidfd_open(fs.pid, 0);
		int got = pfd < 0 ? -1 : pidfd_getfd(pfd, rfd, 0);
		t1 = now_ns();
		if (got < 0)
			fatal("pidfd_getfd: %s", strerror(errno));
		close(got);
		close(pfd);
		if (k >= 0)
			v[k] = (double)(t1 - t0) / 1e3;
	}
	s = stats_of(v, NR);
	fig("floor: pidfd_open + pidfd_getfd", s.median, "us", NAN, s.n, NULL);
	peer_stop(&fs);
}

/* ---- idle agent ---- */

struct idle {
	struct peer pe;
	pid_t tid;
	unsigned long long sw0;
	uint64_t t0;
};

static unsigned long long ctxt_switches(pid_t pid, pid_t tid)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		fatal("%s: %s", path, strerror(errno));
	unsigned long long v, sum = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

static void idle_start(struct idle *id)
{
	note("idle agent: starting the watched process (figure 10)");
	const char *seg = seg_new("idle");
	yank_registry *reg = open_seg(seg); /* create it here: the peer only attaches */
	yank_close(reg);
	peer_start(&id->pe, "idle", seg, NULL, NULL);
	char line[128];
	peer_expect(&id->pe, 'R', line, sizeof(line));
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)id->pe.pid);
	DIR *d = opendir(dir);
	if (!d)
		fatal("%s: %s", dir, strerror(errno));
	/* The agent is the thread that is not the main one; it is named
	 * "yank-agent" (agent.c), which we prefer if there are others. */
	int threads = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		threads++;
		pid_t t = atoi(e->d_name);
		if (t == id->pe.pid)
			continue;
		char path[96], comm[32] = "";
		snprintf(path, sizeof(path), "%s/%d/comm", dir, (int)t);
		FILE *f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		if (!id->tid || !strncmp(comm, "yank-agent", 10))
			id->tid = t;
	}
	closedir(d);
	if (!id->tid)
		fatal("idle peer has %d thread(s): no agent thread", threads);
	wait_blocked(id->pe.pid, id->tid, SYS_POLL, 2, PEER_WAIT_MS);
	id->sw0 = ctxt_switches(id->pe.pid, id->tid);
	id->t0 = now_ns();
}

static void idle_finish(struct idle *id)
{
	/* At least 2 s of watching, even when the other sections did not run. */
	uint64_t min_end = id->t0 + 2000000000ull, t = now_ns();
	if (t < min_end)
		nap_us((unsigned int)((min_end - t) / 1000));
	unsigned long long sw1 = ctxt_switches(id->pe.pid, id->tid);
	double secs = (double)(now_ns() - id->t0) / 1e9;
	peer_stop(&id->pe);
	char d[160];
	snprintf(d, sizeof(d),
		 "agent thread's voluntary+involuntary context switches over the %.1f s of the run: %llu",
		 secs, sw1 - id->sw0);
	fig("idle agent thread: wake-ups per second", (double)(sw1 - id->sw0) / secs, "1/s", 0.0,
	    1, d);
}

/* ---- how busy the machine was with other work ---- */

struct cpu_sample {
	unsigned long long busy, steal, total; /* clock ticks, all CPUs */
};

static struct cpu_sample cpu_sample(void)
{
	struct cpu_sample c = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	unsigned long long v[10] = { 0 };
	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			&v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		/* user nice system idle iowait irq softirq steal (guest is in user) */
		c.busy = v[0] + v[1] + v[2] + v[5] + v[6];
		c.steal = v[7];
		c.total = c.busy + v[3] + v[4] + v[7];
	}
	if (f)
		fclose(f);
	return c;
}

static double rusage_s(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * CPU time the rest of the machine used while we ran, as a share of the
 * run's capacity: the figures are only as clean as this is small.
 */
static void machine_load(struct cpu_sample c0, uint64_t t0)
{
	struct cpu_sample c1 = cpu_sample();
	double hz = (double)sysconf(_SC_CLK_TCK);
	double wall = (double)(now_ns() - t0) / 1e9;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double cap = wall * (double)(ncpu > 0 ? ncpu : 1);
	double busy = (double)(c1.busy - c0.busy) / hz;
	double ours = rusage_s(RUSAGE_SELF) + rusage_s(RUSAGE_CHILDREN);
	double others = busy > ours ? busy - ours : 0;
	char d[160];
	snprintf(d, sizeof(d), "%.1f s of %ld CPUs' %.1f s; this run used %.1f s; steal %.1f s",
		 others, ncpu, cap, ours, (double)(c1.steal - c0.steal) / hz);
	fig("machine: CPU used by other processes during the run", 100.0 * others / cap, "%",
	    NAN, 1, d);
	fig("machine: CPU stolen by the hypervisor during the run",
	    100.0 * (double)(c1.steal - c0.steal) / hz / cap, "%", NAN, 1, NULL);
}

/* $YANK_BENCH_ONLY: a comma-separated list of sections to run (default all). */
static int want(const char *section)
{
	const char *only = getenv("YANK_BENCH_ONLY");
	if (!only || !*only)
		return 1;
	size_t n = strlen(section);
	for (const char *p = only; p; p = strchr(p, ',')) {
		p += *p == ',';
		if (!strncmp(p, section, n) && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: yank-bench BUILD_DIR DATA_DIR\n");
		return 1;
	}
	snprintf(yankctl_path, sizeof(yankctl_path), "%s/yankctl", argv[1]);
	snprintf(peer_path, sizeof(peer_path), "%s/bench/peer", argv[1]);
	datadir = argv[2];
	const char *tag = getenv("YANK_BENCH_TAG");
	if (tag && *tag && strlen(tag) < sizeof(run_tag) && !strpbrk(tag, "/"))
		snprintf(run_tag, sizeof(run_tag), "%s", tag);
	else
		snprintf(run_tag, sizeof(run_tag), "%d", (int)getpid());
	if (access(yankctl_path, X_OK) < 0 || access(peer_path, X_OK) < 0)
		fatal("%s or %s missing: run make bench", yankctl_path, peer_path);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		fatal("/dev/null: %s", strerror(errno));
	figures = data_file("figures.jsonl");

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	alarm(RUN_LIMIT_S);
	atexit(cleanup);

	struct cpu_sample c0 = cpu_sample();
	uint64_t t0 = now_ns();
	struct idle id = { 0 };
	if (want("idle"))
		idle_start(&id);
	if (want("register"))
		bench_register();
	if (want("query"))
		bench_query10();
	if (want("e2e"))
		bench_end_to_end();
	if (want("owners"))
		bench_many_owners();
	if (want("contention"))
		bench_contention();
	if (want("scaling"))
		bench_scaling();
	if (want("memory"))
		bench_memory();
	if (want("floors"))
		bench_floors();
	if (want("idle"))
		idle_finish(&id);
	machine_load(c0, t0);
	fclose(figures);
	return 0;
}
