/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The agent as a yanker's peer sees it (SPEC §4, §9): each input is sent
 * as one datagram to a live agent thread of this process, which owns a
 * callback record, two fd records and proxied records in two namespaces
 * (agent-recs.h).  The agent must answer exactly as its protocol says,
 * and must keep serving afterwards:
 *
 *  - an input that yank__wire_decode() refuses, or that is no WIRE_YANK,
 *    or whose deadline has passed, gets one WIRE_ERR with that reason and
 *    the connection is closed, and nothing is run;
 *  - a WIRE_YANK gets WIRE_RES replies that answer its records in order,
 *    each exactly once: WS_FD with the registered socket attached for an
 *    fd record, WS_RAN (and one call) for the callback, WS_GONE for an
 *    (index, generation) that names nothing, and for a proxied record
 *    what its proxy answered for it (WS_RAN, or WS_FAILED and the errno,
 *    -EIO for an answer that is none), or -ETIMEDOUT if the deadline
 *    passed before its proxy's turn;
 *  - before the first reply, each proxy group (function, argument,
 *    namespace) the request names was called once at most, with exactly
 *    the group's records of the request in request order, and every group
 *    was unless the deadline may have passed; nothing is called after;
 *  - then a new connection with a valid request is answered at once;
 *  - and once that conversation is over, this process (the agent's host)
 *    has exactly the fds it had before the input: nothing leaked.
 *
 * Records are found by (index, generation) in the segment; a fresh segment
 * and a fixed order of registration make them the same in every run, so
 * the seeds can name them.  The proxies answer from the table, at once:
 * the same input always gets the same replies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yank.h>

#include "agent-recs.h"
#include "fuzz.h"
#include "handoff.h"
#include "internal.h"
#include "layout.h"
#include "registry.h"
#include "segment.h"
#include "wire.h"

#define REPLY_WAIT_MS 5000

struct known {
	uint32_t idx, kind;
	uint64_t gen, dev, ino;
	size_t t; /* its entry in agent_recs[] */
};

static struct {
	bool ready;
	yank_registry *reg;
	char addr[AGENT_ADDR_MAX];
	uint32_t addr_len;
	struct known recs[AGENT_NRECS];
	uint32_t nrecs;
	unsigned long calls;
} ag;

/* The two proxy arguments, AR_ARG_A and AR_ARG_B: only their addresses count. */
static char px_args[2];

/*
 * The proxy calls of the request being served, as the agent thread made
 * them: the group of each call, and the agent_recs[] entries of its list
 * in entry[first .. first + n).  Reset before each request is sent; read
 * once its first reply is in, by when the agent has made them all.
 */
static struct {
	uint32_t ncalls; /* the agent thread publishes a call by this */
	size_t group[AGENT_NRECS];
	uint32_t first[AGENT_NRECS], n[AGENT_NRECS];
	size_t entry[WIRE_MAX_ITEMS];
	uint32_t nentries;
} px;

static struct wire_item req_items[WIRE_MAX_ITEMS], rep_items[WIRE_MAX_ITEMS];
static char rbuf[WIRE_MAX_MSG];

static void count_call(void *opaque)
{
	__atomic_add_fetch((unsigned long *)opaque, 1, __ATOMIC_RELAXED);
}

static uint32_t px_calls(void)
{
	return __atomic_load_n(&px.ncalls, __ATOMIC_ACQUIRE);
}

static void px_reset(void)
{
	px.nentries = 0;
	__atomic_store_n(&px.ncalls, 0, __ATOMIC_RELEASE);
}

/* The entry of the record a proxy was called for: one of the call's group. */
static size_t px_entry(int fn, const void *arg, const char *ns, const struct yank_instance *in)
{
	for (size_t t = 0; t < AGENT_NRECS; t++) {
		const struct agent_rec *r = &agent_recs[t];

		if (r->kind == REC_PX && r->fn == fn && &px_args[r->arg] == arg &&
		    agent_same_str(r->ns, ns) && agent_same_inst(&r->inst, in))
			return t;
	}
	fprintf(stderr, "proxy %d called for %s %d:%s, not its own\n", fn, ns, (int)in->type,
		in->name ? in->name : "");
	FUZZ_ASSERT(!"a proxy called for a record of another group");
	return 0;
}

/* On the agent thread: note the call, answer from the table. */
static void px_answer(int fn, void *arg, const char *ns, const struct yank_instance *list,
		      size_t n, int *results)
{
	uint32_t c = __atomic_load_n(&px.ncalls, __ATOMIC_RELAXED);

	FUZZ_ASSERT(n > 0 && c < AGENT_NRECS && px.nentries + n <= WIRE_MAX_ITEMS);
	px.first[c] = px.nentries;
	px.n[c] = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		size_t t = px_entry(fn, arg, ns, &list[i]);

		px.entry[px.nentries++] = t;
		results[i] = fn == AR_MIXED ? agent_recs[t].answer : 0;
	}
	px.group[c] = agent_group(px.entry[px.first[c]]);
	__atomic_store_n(&px.ncalls, c + 1, __ATOMIC_RELEASE);
}

static void px_mixed(void *arg, const char *ns, const struct yank_instance *list, size_t n,
		     int *results)
{
	px_answer(AR_MIXED, arg, ns, list, n, results);
}

static void px_all_ok(void *arg, const char *ns, const struct yank_instance *list, size_t n,
		      int *results)
{
	px_answer(AR_ALL_OK, arg, ns, list, n, results);
}

static void setup(void)
{
	struct yank_open_opts o = { .max_instances = 16, .max_records = 24, .max_processes = 4 };
	struct seg_params p = { .cap_proc = 4, .cap_inst = 16, .cap_rec = 24, .wait_ms = 1000 };
	struct proc_view pv;
	struct seg s;
	char name[64];
	int sp[2][2];
	uint64_t order = 0;

	snprintf(name, sizeof(name), "/yank-test-fuzz-agent-%d", (int)getpid());
	shm_unlink(name);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp[0]) == 0);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp[1]) == 0);
	FUZZ_ASSERT(yank_open_with(name, &o, &ag.reg) == 0);
	struct agent_env env = { count_call, &ag.calls, { sp[0][0], sp[1][0] },
				 { px_mixed, px_all_ok }, { &px_args[0], &px_args[1] } };
	FUZZ_ASSERT(agent_register(ag.reg, &env) == 0);

	/* Where the agent listens and what its records are called. */
	FUZZ_ASSERT(yank__seg_open(name, &p, 0, &s) == 0);
	shm_unlink(name);
	FUZZ_ASSERT(yank__read_proc(&s, 0, &pv) == 0 && pv.agent_len > 0);
	memcpy(ag.addr, pv.agent, pv.agent_len);
	ag.addr_len = pv.agent_len;
	/* The records in registration order are the table's entries. */
	for (uint32_t i = 0; i < s.hdr->rec_hwm && ag.nrecs < AGENT_NRECS; i++) {
		struct rec_view rv;

		if (yank__read_rec(&s, i, &rv) < 0)
			continue;
		FUZZ_ASSERT(rv.order > order && rv.kind == agent_recs[ag.nrecs].kind);
		order = rv.order;
		ag.recs[ag.nrecs] = (struct known){ rv.idx, rv.kind, rv.gen, rv.dev, rv.ino, ag.nrecs };
		ag.nrecs++;
	}
	FUZZ_ASSERT(ag.nrecs == AGENT_NRECS);
	yank__seg_close(&s);
	ag.ready = true;
}

static const struct known *find_rec(uint32_t idx, uint64_t gen)
{
	for (uint32_t i = 0; i < ag.nrecs; i++)
		if (ag.recs[i].idx == idx && ag.recs[i].gen == gen)
			return &ag.recs[i];
	return NULL;
}

static int connect_agent(void)
{
	int fd;

	FUZZ_ASSERT(yank__agent_connect(ag.addr, ag.addr_len, &fd) == 0);
	return fd;
}

/* One reply, decoded and checked for shape; its fds in @fds. */
static int receive(int conn, struct wire_msg *m, int *fds, int *nfds)
{
	size_t len;
	int r = yank__recv(conn, rbuf, sizeof(rbuf), &len, fds, WIRE_MAX_FDS, nfds,
			   REPLY_WAIT_MS);

	FUZZ_ASSERT(r != -ETIMEDOUT);
	if (r < 0)
		return r;
	*m = (struct wire_msg){ .items = rep_items };
	FUZZ_ASSERT(yank__wire_decode(rbuf, len, m) == 0);
	FUZZ_ASSERT(m->op == WIRE_RES || m->op == WIRE_ERR);
	if (m->op == WIRE_ERR)
		FUZZ_ASSERT(*nfds == 0);
	return 0;
}

static void send_done(int conn)
{
	struct wire_msg d = { .op = WIRE_DONE };
	char buf[64];
	size_t len;

	FUZZ_ASSERT(yank__wire_encode(&d, buf, sizeof(buf), &len) == 0);
	yank__send(conn, buf, len, NULL, 0);
}

/* The replies to a request the agent must refuse with @want; it runs nothing. */
static void expect_refusal(int conn, int want, unsigned long before)
{
	struct wire_msg m;
	int fds[WIRE_MAX_FDS], nfds = 0;

	FUZZ_ASSERT(receive(conn, &m, fds, &nfds) == 0);
	FUZZ_ASSERT(m.op == WIRE_ERR);
	FUZZ_ASSERT(m.err == want);
	/* ... and nothing more: the agent hangs up. */
	FUZZ_ASSERT(receive(conn, &m, fds, &nfds) < 0);
	FUZZ_ASSERT(__atomic_load_n(&ag.calls, __ATOMIC_RELAXED) == before && px_calls() == 0);
}

/*
 * The proxy calls for a yank of @req, all made before its first reply:
 * one for each group @req names at most, with exactly that group's
 * records of @req in request order (repeats too); one for each unless the
 * deadline may have passed on the way.  Fills @call_of (by group: its
 * call, or -1) and returns the number of calls.
 */
static uint32_t expect_proxy_calls(const struct wire_msg *req, bool may_time_out, int *call_of)
{
	uint32_t ncalls = px_calls(), ngroups = 0, got[AGENT_NRECS] = { 0 };
	bool named[AGENT_NRECS] = { false };

	for (size_t g = 0; g < AGENT_NRECS; g++)
		call_of[g] = -1;
	for (uint32_t c = 0; c < ncalls; c++) {
		FUZZ_ASSERT(call_of[px.group[c]] < 0);
		call_of[px.group[c]] = (int)c;
	}
	for (uint32_t i = 0; i < req->n; i++) {
		const struct known *k = find_rec(req->items[i].idx, req->items[i].gen);
		size_t g;
		int c;

		if (!k || k->kind != REC_PX)
			continue;
		g = agent_group(k->t);
		ngroups += !named[g];
		named[g] = true;
		c = call_of[g];
		if (c < 0)
			continue;
		FUZZ_ASSERT(got[c] < px.n[c] && px.entry[px.first[c] + got[c]] == k->t);
		got[c]++;
	}
	for (uint32_t c = 0; c < ncalls; c++)
		FUZZ_ASSERT(got[c] == px.n[c]);
	FUZZ_ASSERT(ncalls == ngroups || (may_time_out && ncalls < ngroups));
	return ncalls;
}

/*
 * The replies to a valid yank of @req: every record answered, in order,
 * once.  @before is the call count from before the request was sent.
 */
static void expect_results(int conn, const struct wire_msg *req, unsigned long before,
			   bool may_time_out)
{
	unsigned long ran = 0;
	uint32_t answered = 0, ncalls = 0;
	int call_of[AGENT_NRECS];
	bool first = true;
	struct wire_msg m;

	for (;;) {
		int fds[WIRE_MAX_FDS], nfds = 0, fi = 0;

		FUZZ_ASSERT(receive(conn, &m, fds, &nfds) == 0);
		if (m.op == WIRE_ERR) {
			/* Only a deadline that passed on the way may stop it. */
			FUZZ_ASSERT(may_time_out && answered == 0 && m.err == -ETIMEDOUT);
			FUZZ_ASSERT(px_calls() == 0);
			return;
		}
		if (first)
			ncalls = expect_proxy_calls(req, may_time_out, call_of);
		first = false;
		FUZZ_ASSERT(answered + m.n <= req->n);
		for (uint32_t i = 0; i < m.n; i++) {
			const struct wire_item *q = &req->items[answered + i], *a = &m.items[i];
			const struct known *k = find_rec(q->idx, q->gen);

			FUZZ_ASSERT(a->idx == q->idx && a->gen == q->gen);
			if (!k) {
				FUZZ_ASSERT(a->status == WS_GONE);
			} else if (k->kind == REC_CB) {
				FUZZ_ASSERT(a->status == WS_RAN);
				ran++;
			} else if (k->kind == REC_PX) {
				/* A group not called was too late for the deadline. */
				int want = call_of[agent_group(k->t)] >= 0 ? agent_recs[k->t].seen
									   : -ETIMEDOUT;

				if (want == 0)
					FUZZ_ASSERT(a->status == WS_RAN);
				else
					FUZZ_ASSERT(a->status == WS_FAILED && a->err == want);
			} else {
				struct stat st;

				FUZZ_ASSERT(a->status == WS_FD && fi < nfds);
				FUZZ_ASSERT(fstat(fds[fi], &st) == 0);
				FUZZ_ASSERT((uint64_t)st.st_dev == k->dev &&
					    (uint64_t)st.st_ino == k->ino);
				fi++;
			}
		}
		FUZZ_ASSERT(fi == nfds);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		answered += m.n;
		if (nfds)
			send_done(conn);
		if (!m.more)
			break;
	}
	FUZZ_ASSERT(answered == req->n);
	FUZZ_ASSERT(__atomic_load_n(&ag.calls, __ATOMIC_RELAXED) - before == ran);
	FUZZ_ASSERT(px_calls() == ncalls);
}

/* After whatever came before, a plain request is answered at once. */
static void expect_serving(void)
{
	struct wire_msg req = { .op = WIRE_YANK, .items = req_items, .deadline = UINT64_MAX };
	char buf[128];
	size_t len;
	unsigned long before = __atomic_load_n(&ag.calls, __ATOMIC_RELAXED);
	int conn = connect_agent();

	px_reset();
	FUZZ_ASSERT(yank__wire_encode(&req, buf, sizeof(buf), &len) == 0);
	FUZZ_ASSERT(yank__send(conn, buf, len, NULL, 0) == 0);
	expect_results(conn, &req, before, false);
	close(conn);
}

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* The agent closes its end of our last connection when it sees ours
 * close, on its own thread: give it a bounded moment to. */
static void expect_fds(int want)
{
	uint64_t end = yank__now_ns() + (uint64_t)REPLY_WAIT_MS * 1000000u;
	int n;
	while ((n = count_fds()) != want && yank__now_ns() < end) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (n != want)
		fprintf(stderr, "fds: %d before the input, %d after\n", want, n);
	FUZZ_ASSERT(n == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg req = { .items = req_items };
	unsigned long before;
	uint64_t now;
	int conn, r;

	if (!ag.ready)
		setup();
	int fds_before = count_fds();
	/* A zero-length datagram reads as a hang-up: nothing to answer. */
	if (size == 0)
		return 0;
	r = yank__wire_decode((const char *)data, size, &req);
	now = yank__now_ns();

	before = __atomic_load_n(&ag.calls, __ATOMIC_RELAXED);
	px_reset();
	conn = connect_agent();
	FUZZ_ASSERT(yank__send(conn, data, size, NULL, 0) == 0);
	if (r < 0)
		expect_refusal(conn, r, before);
	else if (req.op != WIRE_YANK)
		expect_refusal(conn, -EPROTO, before);
	else if (req.deadline <= now)
		expect_refusal(conn, -ETIMEDOUT, before);
	else /* A deadline only seconds away may pass before the agent looks. */
		expect_results(conn, &req, before, req.deadline - now < 10000000000ull);
	close(conn);
	expect_serving();
	expect_fds(fds_before);
	return 0;
}
