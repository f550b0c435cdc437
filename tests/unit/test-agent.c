/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The agent and its wire protocol, white-box: every message is untrusted
 * (SPEC §4): malformed input gets one error reply, attached fds are
 * closed, and the agent keeps serving.  An idle agent never wakes up.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <yank.h>

#include "agent.h"
#include "handle.h"
#include "handoff.h"
#include "internal.h"
#include "registry.h"
#include "testutil.h"
#include "wire.h"

TestSuite(agent, .timeout = 60);

/* A byte string literal and its length, NULs included. */
#define BYTES(s) s, sizeof(s) - 1

struct fixture {
	yank_registry *r;
	int sv[2];
	uint32_t rec;
	uint64_t gen;
};

static void setup(struct fixture *f, const char *tag)
{
	int e = yank_open(tu_segment(tag), &f->r);
	cr_assert_eq(e, 0, "%s", yank_strerror(e));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv), 0);
	struct yank_instance in = { YANK_CHARDEV, "a0" };
	cr_assert_eq(yank_register_instance(f->r, &in), 0);
	cr_assert_eq(yank_register_fd(f->r, &in, f->sv[0]), 0);
	struct seg *s = &f->r->seg;
	struct rec_view rv;
	cr_assert_eq(yank__read_rec(s, 0, &rv), 0);
	f->rec = rv.idx;
	f->gen = rv.gen;
}

static int agent_conn(struct fixture *f)
{
	uint32_t len;
	const char *addr = yank__agent_addr(f->r->agent, &len);
	int c;
	cr_assert_eq(yank__agent_connect(addr, len, &c), 0);
	return c;
}

/* Send @len raw bytes (with @fd attached if >= 0); return the agent's reply op/err. */
static int exchange(struct fixture *f, const void *buf, size_t len, int fd, struct wire_msg *m,
		    int *nfds, int *fds)
{
	int c = agent_conn(f);
	cr_assert_eq(yank__send(c, buf, len, fd >= 0 ? &fd : NULL, fd >= 0), 0);
	static char rbuf[WIRE_MAX_MSG];
	size_t rl;
	int r = yank__recv(c, rbuf, sizeof(rbuf), &rl, fds, WIRE_MAX_FDS, nfds,
			   5000 * tu_mult());
	if (r == 0)
		r = yank__wire_decode(rbuf, rl, m);
	if (r == 0 && m->op == WIRE_RES && *nfds) {
		struct wire_msg d = { .op = WIRE_DONE };
		size_t dl;
		yank__wire_encode(&d, rbuf, sizeof(rbuf), &dl);
		yank__send(c, rbuf, dl, NULL, 0);
	}
	close(c);
	return r;
}

static size_t valid_request(struct fixture *f, char *buf, size_t cap, uint64_t deadline)
{
	struct wire_item it = { f->rec, f->gen, 0, 0 };
	struct wire_msg m = { .op = WIRE_YANK, .n = 1, .items = &it, .deadline = deadline };
	size_t len;
	cr_assert_eq(yank__wire_encode(&m, buf, cap, &len), 0);
	return len;
}

static void expect_served(struct fixture *f)
{
	char buf[256];
	size_t len = valid_request(f, buf, sizeof(buf), yank__now_ns() + 10000000000ull);
	struct wire_item items[WIRE_MAX_ITEMS];
	struct wire_msg m = { .items = items };
	int fds[WIRE_MAX_FDS], nfds = 0;
	cr_assert_eq(exchange(f, buf, len, -1, &m, &nfds, fds), 0);
	cr_assert_eq(m.op, WIRE_RES);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(m.items[0].status, WS_FD);
	cr_assert_eq(nfds, 1);
	struct stat a, b;
	cr_assert_eq(fstat(fds[0], &a), 0);
	cr_assert_eq(fstat(f->sv[0], &b), 0);
	cr_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev, "not the registered socket");
	cr_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, "received fd is not close-on-exec");
	close(fds[0]);
}

static void expect_error(struct fixture *f, const void *buf, size_t len, int want, const char *what)
{
	struct wire_item items[WIRE_MAX_ITEMS];
	struct wire_msg m = { .items = items };
	int fds[WIRE_MAX_FDS], nfds = 0;
	int r = exchange(f, buf, len, -1, &m, &nfds, fds);
	cr_assert_eq(r, 0, "%s: no reply (%s)", what, yank_strerror(r));
	cr_assert_eq(m.op, WIRE_ERR, "%s: not refused", what);
	cr_assert_eq(m.err, want, "%s: error %d, want %d", what, m.err, want);
	cr_assert_eq(nfds, 0, "%s: fds handed out", what);
}

Test(agent, malformed_messages_are_refused_and_the_agent_keeps_serving)
{
	struct fixture f;
	setup(&f, "malformed");
	int before = tu_count_fds();
	expect_served(&f);
	struct {
		const char *what;
		const char *bytes;
		size_t len;
		int err;
	} cases[] = {
		{ "truncated map", BYTES("\x85"), -EPROTO },
		{ "not a map", BYTES("\x01"), -EPROTO },
		{ "huge array count", BYTES("\xdd\xff\xff\xff\xff"), -EPROTO },
		{ "huge map count", BYTES("\xdf\x7f\xff\xff\xff"), -EPROTO },
		{ "string version", BYTES("\x84\xa1v\xa1" "1\xa2op\xa4yank\xa4recs\x90\xa2" "dl\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), -EPROTO },
		{ "unknown version", BYTES("\x84\xa1v\x02\xa2op\xa4yank\xa4recs\x90\xa2" "dl\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), -EPROTONOSUPPORT },
		{ "done as a request", BYTES("\x82\xa1v\x01\xa2op\xa4" "done"), -EPROTO },
		{ "missing recs", BYTES("\x83\xa1v\x01\xa2op\xa4yank\xa2" "dl\x00"), -EPROTO },
		{ "unknown key", BYTES("\x85\xa1v\x01\xa2op\xa4yank\xa4recs\x90\xa2" "dl\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa1x\x00"), -EPROTO },
		{ "duplicate key", BYTES("\x85\xa1v\x01\xa1v\x01\xa2op\xa4yank\xa4recs\x90\xa2" "dl\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), -EPROTO },
		{ "record of wrong shape", BYTES("\x84\xa1v\x01\xa2op\xa4yank\xa4recs\x91\x91\x00\xa2" "dl\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), -EPROTO },
		{ "negative index", BYTES("\x84\xa1v\x01\xa2op\xa4yank\xa4recs\x91\x92\xff\x00\xa2" "dl\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), -EPROTO },
		{ "deep nesting", BYTES("\x91\x91\x91\x91\x91\x91\x91\x90"), -EPROTO },
		{ "trailing garbage", BYTES("\x80\x00"), -EPROTO },
		{ "ext type", BYTES("\xd4\x01\x00"), -EPROTO },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		expect_error(&f, cases[i].bytes, cases[i].len, cases[i].err, cases[i].what);
		expect_served(&f);
	}
	/* A request past its deadline: the yanker gave up, so nothing is done. */
	char buf[256];
	size_t len = valid_request(&f, buf, sizeof(buf), 1);
	expect_error(&f, buf, len, -ETIMEDOUT, "expired deadline");
	/* Oversized: more than the agent reads. */
	char *big = calloc(1, WIRE_MAX_MSG + 4096);
	big[0] = (char)0xc6; /* bin32 */
	expect_error(&f, big, WIRE_MAX_MSG + 4096, -EPROTO, "oversized");
	free(big);
	expect_served(&f);
	/* Unknown records are answered "gone", not an error. */
	struct wire_item it = { 7777, 1, 0, 0 };
	struct wire_msg m = { .op = WIRE_YANK, .n = 1, .items = &it, .deadline = UINT64_MAX };
	cr_assert_eq(yank__wire_encode(&m, buf, sizeof(buf), &len), 0);
	struct wire_item items[WIRE_MAX_ITEMS];
	struct wire_msg rep = { .items = items };
	int fds[WIRE_MAX_FDS], nfds;
	cr_assert_eq(exchange(&f, buf, len, -1, &rep, &nfds, fds), 0);
	cr_assert_eq(rep.op, WIRE_RES);
	cr_assert_eq(rep.items[0].status, WS_GONE);
	/* The agent closes its end of our last connection on its own time. */
	long end = tu_now_ms() + 5000 * tu_mult();
	while (tu_count_fds() != before && tu_now_ms() < end)
		sched_yield();
	cr_assert_eq(tu_count_fds(), before, "fds leaked");
	yank_close(f.r);
}

Test(agent, fds_attached_to_a_request_are_closed_by_the_agent)
{
	struct fixture f;
	setup(&f, "attached");
	char buf[256];
	size_t len = valid_request(&f, buf, sizeof(buf), UINT64_MAX);
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	struct wire_item items[WIRE_MAX_ITEMS];
	struct wire_msg m = { .items = items };
	int fds[WIRE_MAX_FDS], nfds = 0;
	cr_assert_eq(exchange(&f, buf, len, p[1], &m, &nfds, fds), 0);
	cr_assert_eq(m.op, WIRE_ERR);
	cr_assert_eq(m.err, -EPROTO);
	cr_assert_eq(nfds, 0);
	close(p[1]);
	/* EOF on the read end proves no copy of the write end is left anywhere. */
	struct pollfd pf = { p[0], POLLIN, 0 };
	cr_assert_eq(poll(&pf, 1, 5000 * tu_mult()), 1);
	char c;
	cr_assert_eq(read(p[0], &c, 1), 0, "the agent kept the fd it was sent");
	close(p[0]);
	expect_served(&f);
	yank_close(f.r);
}

/* The agent thread's /proc/self/task/TID directory name, or -1. */
static int agent_tid(void)
{
	DIR *d = opendir("/proc/self/task");
	cr_assert_not_null(d);
	struct dirent *e;
	int tid = -1;
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *fp = fopen(path, "re");
		if (!fp)
			continue;
		if (fgets(comm, sizeof(comm), fp) && !strncmp(comm, "yank-agent", 10))
			tid = atoi(e->d_name);
		fclose(fp);
	}
	closedir(d);
	return tid;
}

/* Wait (bounded) until the agent sleeps in poll: only then is it idle. */
static bool agent_in_poll(void)
{
	long end = tu_now_ms() + 5000 * tu_mult();
	while (tu_now_ms() < end) {
		char path[64], buf[64] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", agent_tid());
		FILE *fp = fopen(path, "re");
		if (fp) {
			if (!fgets(buf, sizeof(buf), fp))
				buf[0] = '\0';
			fclose(fp);
		}
		int nr = atoi(buf);
		if (buf[0] && (nr == 7 || nr == 271)) /* poll, ppoll on x86-64 */
			return true;
		sched_yield();
	}
	return false;
}

/* Context switches of the agent thread so far, or -1 when there is none. */
static int agent_switches(void)
{
	int tid = agent_tid();
	if (tid < 0)
		return -1;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	FILE *fp = fopen(path, "re");
	int total = 0;
	while (fp && fgets(line, sizeof(line), fp)) {
		int v;
		if (sscanf(line, "voluntary_ctxt_switches: %d", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %d", &v) == 1)
			total += v;
	}
	if (fp)
		fclose(fp);
	return total;
}

Test(agent, an_idle_agent_never_wakes_up)
{
	struct fixture f;
	setup(&f, "idle");
	expect_served(&f);
	cr_assert(agent_in_poll(), "agent not back in poll");
	int a = agent_switches();
	cr_assert_geq(a, 0, "no yank-agent thread");
	struct timespec ts = { 1, 0 };
	nanosleep(&ts, NULL); /* a measurement window, not a synchronisation */
	int b = agent_switches();
	cr_assert_eq(a, b, "idle agent woke up %d times in 1 s", b - a);
	yank_close(f.r);
	cr_assert_eq(agent_switches(), -1, "agent thread survived yank_close");
}

/* Readers (query, yank, status) own nothing and so run no agent. */
Test(agent, a_process_that_only_reads_runs_no_agent)
{
	yank_registry *r;
	cr_assert_eq(yank_open(tu_segment("noagent"), &r), 0);
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	yank_query_free(info, n);
	cr_assert_eq(yank_yank(r, NULL, 0), 0);
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(agent_switches(), -1, "an agent started in a process that owns nothing");
	yank_close(r);
}

/* An owner of instances alone has an agent too: its listener is what tells
 * its image from one that replaced it by execve(). */
Test(agent, an_owner_of_instances_only_runs_an_agent)
{
	yank_registry *r;
	cr_assert_eq(yank_open(tu_segment("instagent"), &r), 0);
	struct yank_instance in = { YANK_CHARDEV, "quiet" };
	cr_assert_eq(yank_register_instance(r, &in), 0);
	cr_assert_neq(agent_switches(), -1, "no agent for an owner of an instance");
	cr_assert_eq(yank_unregister_instance(r, &in), 0);
	yank_close(r);
	cr_assert_eq(agent_switches(), -1, "agent thread survived yank_close");
}

Test(agent, forked_child_has_no_agent_and_does_not_serve_the_parents_records)
{
	struct fixture f;
	setup(&f, "forkagent");
	pid_t pid = fork();
	if (pid == 0) {
		tu_child_init();
		if (agent_switches() != -1)
			_exit(1);
		if (f.r->agent != NULL)
			_exit(2);
		yank_close(f.r);
		_exit(0);
	}
	cr_assert_eq(tu_exit_code(pid, 20000), 0);
	expect_served(&f);
	yank_close(f.r);
}

Test(wire, round_trip_of_every_message)
{
	static struct wire_item in[WIRE_MAX_ITEMS], out[WIRE_MAX_ITEMS];
	for (uint32_t i = 0; i < WIRE_MAX_ITEMS; i++)
		in[i] = (struct wire_item){ i * 7, (uint64_t)i << 40 | i, i % 4, -(int32_t)(i % 200) };
	static char buf[WIRE_MAX_MSG];
	enum wire_op ops[] = { WIRE_YANK, WIRE_RES, WIRE_DONE, WIRE_ERR };
	for (size_t k = 0; k < ARRAY_SIZE(ops); k++) {
		struct wire_msg m = { .op = ops[k], .n = ops[k] <= WIRE_RES ? WIRE_MAX_ITEMS : 0,
				      .items = in, .more = 1, .err = -EPROTO, .deadline = 12345 };
		size_t len;
		cr_assert_eq(yank__wire_encode(&m, buf, sizeof(buf), &len), 0, "op %d", ops[k]);
		struct wire_msg d = { .items = out };
		cr_assert_eq(yank__wire_decode(buf, len, &d), 0, "op %d", ops[k]);
		cr_assert_eq(d.op, ops[k]);
		cr_assert_eq(d.n, m.n);
		for (uint32_t i = 0; i < d.n; i++) {
			cr_assert_eq(out[i].idx, in[i].idx);
			cr_assert_eq(out[i].gen, in[i].gen);
			if (ops[k] == WIRE_RES) {
				cr_assert_eq(out[i].status, in[i].status);
				cr_assert_eq(out[i].err, in[i].err);
			}
		}
		if (ops[k] == WIRE_ERR)
			cr_assert_eq(d.err, -EPROTO);
		if (ops[k] == WIRE_YANK)
			cr_assert_eq(d.deadline, 12345);
		/* Every strict prefix is refused. */
		for (size_t cut = 0; cut < len && cut < 64; cut++)
			cr_assert_eq(yank__wire_decode(buf, cut, &d), -EPROTO, "prefix %zu", cut);
	}
	struct wire_msg too_many = { .op = WIRE_YANK, .n = WIRE_MAX_ITEMS + 1, .items = in };
	size_t len;
	cr_assert_lt(yank__wire_encode(&too_many, buf, sizeof(buf), &len), 0);
	struct wire_msg small = { .op = WIRE_RES, .n = 100, .items = in };
	cr_assert_eq(yank__wire_encode(&small, buf, 16, &len), -EMSGSIZE);
}

/* A yanker that answers the fds with anything but "done" ends its conversation, nothing more. */
Test(agent, a_reply_other_than_done_is_refused_without_harm)
{
	struct fixture f;
	setup(&f, "notdone");
	char buf[256];
	size_t len = valid_request(&f, buf, sizeof(buf), UINT64_MAX);
	int c = agent_conn(&f);
	cr_assert_eq(yank__send(c, buf, len, NULL, 0), 0);
	static char rbuf[WIRE_MAX_MSG];
	static struct wire_item items[WIRE_MAX_ITEMS];
	struct wire_msg m = { .items = items };
	int fds[WIRE_MAX_FDS], nfds = 0;
	size_t rl;
	cr_assert_eq(yank__recv(c, rbuf, sizeof(rbuf), &rl, fds, WIRE_MAX_FDS, &nfds,
				5000 * tu_mult()), 0);
	cr_assert_eq(yank__wire_decode(rbuf, rl, &m), 0);
	cr_assert_eq(m.op, WIRE_RES);
	cr_assert_gt(m.deadline, yank__now_ns() - 1000000000ull, "no hold deadline in res");
	cr_assert_eq(nfds, 1);
	close(fds[0]);
	/* Instead of "done": a request with many records, as a hostile peer would. */
	for (uint32_t i = 0; i < 70; i++)
		items[i] = (struct wire_item){ 0x41, 0x42, 0, 0 };
	struct wire_msg bogus = { .op = WIRE_YANK, .n = 70, .items = items, .deadline = 0 };
	cr_assert_eq(yank__wire_encode(&bogus, rbuf, sizeof(rbuf), &rl), 0);
	cr_assert_eq(yank__send(c, rbuf, rl, NULL, 0), 0);
	close(c);
	expect_served(&f);
	yank_close(f.r);
}

/* Context switches of thread @tid through its pre-opened status file. */
static int switches_at(int status_fd)
{
	char buf[4096];
	ssize_t n = pread(status_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	int total = 0, v;
	const char *p = strstr(buf, "voluntary_ctxt_switches:");
	if (p && sscanf(p, "voluntary_ctxt_switches: %d", &v) == 1)
		total += v;
	p = strstr(buf, "nonvoluntary_ctxt_switches:");
	if (p && sscanf(p, "nonvoluntary_ctxt_switches: %d", &v) == 1)
		total += v;
	return total;
}

/*
 * At the host's fd limit, a yanker that connected and went away leaves a
 * connection the agent cannot accept: it must not spin (or nap-and-retry)
 * on it.  It gives up a reserve fd to take it, and is then idle again.
 */
Test(agent, at_the_fd_limit_an_idle_agent_never_wakes_up)
{
	struct fixture f;
	setup(&f, "fdlimit");
	expect_served(&f);
	int tid = agent_tid();
	cr_assert_geq(tid, 0, "no yank-agent thread");
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	int st = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(st, 0);
	uint32_t alen;
	const char *addr = yank__agent_addr(f.r->agent, &alen);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, addr, alen);
	unsigned long conns = yank__agent_connections(f.r->agent);

	/* Every fd number below the limit in use. */
	int maxfd = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			maxfd = fd;
	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)maxfd + 1;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	static int fill[4096];
	int nfill = 0;
	while (nfill < 4096 && (fill[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nfill++;
	int full_errno = errno;
	/* A yanker comes and goes: its connection waits in the backlog.  It
	 * is another process, so that no fd of ours is freed meanwhile. */
	pid_t y = fork();
	if (y == 0) {
		close(fill[0]);
		int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		_exit(c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : 1);
	}
	int e = tu_exit_code(y, 5000);

	long end = tu_now_ms() + 5000 * tu_mult();
	while (yank__agent_connections(f.r->agent) == conns && tu_now_ms() < end)
		sched_yield();
	unsigned long conns_after = yank__agent_connections(f.r->agent);
	/* Settled: the agent took the connection and is back asleep. */
	int a = switches_at(st), b = -2;
	for (int tries = 0; tries < 20 && a != b; tries++) {
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
		b = a;
		a = switches_at(st);
	}
	struct timespec ts = { 2, 0 };
	nanosleep(&ts, NULL); /* a measurement window, not a synchronisation */
	b = switches_at(st);

	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	cr_assert_eq(full_errno, EMFILE, "the test did not reach the fd limit");
	cr_assert_eq(e, 0, "the yanker could not connect");
	cr_assert_neq(conns_after, conns, "at the fd limit the agent never took the connection");
	cr_assert_eq(a, b, "at the fd limit the idle agent woke up %d times in 2 s", b - a);
	close(st);
	yank_close(f.r);
}
