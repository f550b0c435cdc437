/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * SPEC §9, concurrency: many processes registering, unregistering, dying
 * and yanking at once for a bounded time, with random SIGKILL and
 * SIGSTOP/SIGCONT from the test, then a consistency check.
 *
 * The churners are rb-churn helpers (tests/helpers/rb-churn.c): they check
 * every result they get and exit with a status >= 10 on a broken
 * guarantee.  Meanwhile the test runs yankctl (each call must end within
 * its --timeout, plus process start-up), queries, and every few seconds
 * freezes everybody to check the registry's integrity.  At the end, with
 * every churner killed, one gc must leave an empty, consistent registry.
 *
 * About 20 s in `make test`; YANK_SOAK=1 (make soak) runs it for 270 s,
 * YANK_CHAOS_SECONDS=N for N.  YANK_CHAOS_SEED=N replays a schedule (the
 * churners' own interleavings are not reproducible).
 */
#include <criterion/criterion.h>
#include <stdbool.h>

#include <yank.h>

#include "testutil.h"
#include "../helpers/rb-peer.h"

TestSuite(chaos, .timeout = 420);

#define NREG 4
#define NYANK 2
#define NCH (NREG + NYANK)
#define CTL_TIMEOUT 1000

struct churner {
	struct rb_peer p;
	int yanker;
	int stopped;
	long resume_at;
};

static unsigned long long rng;

static unsigned rnd(unsigned n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((rng >> 33) % n);
}

static void spawn(struct churner *c, const char *seg, int yanker)
{
	char seed[32];
	snprintf(seed, sizeof(seed), "%u", rnd(1u << 30));
	char *argv[] = { (char *)"rb-churn", (char *)seg, (char *)(yanker ? "yank" : "reg"), seed,
			 NULL };
	memset(c, 0, sizeof(*c));
	c->yanker = yanker;
	cr_assert_eq(rb_spawn(&c->p, "rb-churn", argv, NULL), 0);
	fcntl(c->p.ev, F_SETFL, O_NONBLOCK);
}

static long drain(struct churner *c)
{
	char buf[4096];
	long n = 0;
	ssize_t r;
	while ((r = read(c->p.ev, buf, sizeof(buf))) > 0)
		n += r;
	return n;
}

/* A churner that ended on its own: fine if it chose to (0), a failure otherwise. */
static void check_alive(struct churner *c, int i)
{
	int st;
	pid_t r = waitpid(c->p.pid, &st, WNOHANG);
	if (r != c->p.pid)
		return;
	c->p.dead = 1;
	c->p.status = st;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "churner %d (pid %d, %s) ended with %s %d: a guarantee broke (see its stderr)",
		  i, (int)c->p.pid, c->yanker ? "yank" : "reg",
		  WIFEXITED(st) ? "status" : "signal",
		  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void yankctl_step(const char *seg, long *ctl_calls)
{
	static const char *const pool[] = { "chardev:c0", "chardev:c3", "block-node:b1",
					    "block-node:b7", "migration", "chardev:c11" };
	long dt;
	int rc;
	const char *what;
	switch (rnd(4)) {
	case 0:
		what = "list";
		rc = rb_yankctl(seg, CTL_TIMEOUT, NULL, 30000, NULL, 0, &dt, "--json", "list",
				NULL);
		cr_assert_eq(rc, 0, "`yankctl list` during chaos exited %d", rc);
		break;
	case 1:
		what = "yank";
		rc = rb_yankctl(seg, CTL_TIMEOUT, NULL, 30000, NULL, 0, &dt, "yank", pool[rnd(6)],
				pool[rnd(6)], NULL);
		cr_assert(rc == 0 || rc == 2 || rc == 3, "`yankctl yank` during chaos exited %d",
			  rc);
		break;
	case 2:
		what = "status";
		rc = rb_yankctl(seg, CTL_TIMEOUT, NULL, 30000, NULL, 0, &dt, "status", NULL);
		cr_assert(rc == 0 || rc == 4, "`yankctl status` during chaos exited %d", rc);
		break;
	default:
		what = "gc";
		rc = rb_yankctl(seg, CTL_TIMEOUT, NULL, 30000, NULL, 0, &dt, "gc", NULL);
		cr_assert(rc == 0 || rc == 4, "`yankctl gc` during chaos exited %d", rc);
		break;
	}
	/* Its --timeout bounds each wait; allow for process start-up and one fallback. */
	cr_assert_lt(dt, CTL_TIMEOUT + 1000 * tu_mult(), "`yankctl --timeout %d %s` took %ld ms",
		     CTL_TIMEOUT, what, dt);
	(*ctl_calls)++;
}

/*
 * Freeze every churner; if nobody holds the lock, nobody is mid-write, and
 * the registry must check out.  Returns 1 when the check was made.
 */
static int frozen_check(yank_registry *reg, struct churner *ch)
{
	for (int i = 0; i < NCH; i++) {
		if (ch[i].stopped || ch[i].p.dead)
			continue;
		kill(ch[i].p.pid, SIGSTOP);
		long until = tu_now_ms() + 5000 * tu_mult();
		for (;;) {
			int ws;
			pid_t r = waitpid(ch[i].p.pid, &ws, WUNTRACED | WNOHANG);
			if (r == ch[i].p.pid && WIFSTOPPED(ws))
				break;
			if (r == ch[i].p.pid) {
				/* It ended meanwhile: fine only if by choice. */
				ch[i].p.dead = 1;
				ch[i].p.status = ws;
				cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
					  "churner %d ended with %s %d: a guarantee broke", i,
					  WIFEXITED(ws) ? "status" : "signal",
					  WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
				break;
			}
			cr_assert_lt(tu_now_ms(), until, "churner %d did not stop", i);
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	struct yank_status st;
	long t0 = tu_now_ms();
	cr_assert_eq(yank_status(reg, &st), 0);
	long dt = tu_now_ms() - t0;
	cr_assert_lt(dt, 2000 * tu_mult(), "yank_status took %ld ms", dt);
	for (int i = 0; i < NCH && st.lock_holder; i++) {
		if (ch[i].p.dead || ch[i].p.pid != st.lock_holder)
			continue;
		/* Frozen inside the lock: kill it there, the check then sees the repair. */
		kill(ch[i].p.pid, SIGKILL);
		rb_peer_wait(&ch[i].p, 5000); /* reaped, and marked dead: respawned later */
		cr_assert_eq(yank_status(reg, &st), 0);
	}
	int checked = 0;
	if (st.lock_holder == 0 || !st.lock_holder_alive) {
		cr_assert_eq(st.integrity, 0, "all frozen, lock free or its holder dead: %s",
			     st.integrity_detail);
		cr_assert_eq(st.torn_slots, 0, "all frozen, lock free or its holder dead: %u torn",
			     st.torn_slots);
		checked = 1;
	}
	for (int i = 0; i < NCH; i++)
		if (!ch[i].p.dead) {
			kill(ch[i].p.pid, SIGCONT);
			ch[i].stopped = 0;
		}
	return checked;
}

Test(chaos, churn_kill_stop_then_consistent, .timeout = 420)
{
	signal(SIGPIPE, SIG_IGN);
	long seconds = 20;
	const char *e = getenv("YANK_CHAOS_SECONDS");
	if (e && atol(e) > 0)
		seconds = atol(e);
	else if (getenv("YANK_SOAK") && atoi(getenv("YANK_SOAK")))
		seconds = 270;
	e = getenv("YANK_CHAOS_SEED");
	rng = e ? strtoull(e, NULL, 0)
		: (unsigned long long)tu_now_ms() ^ (unsigned long long)getpid();
	cr_log_info("chaos: %ld s, YANK_CHAOS_SEED=%llu", seconds, rng);

	const char *seg = tu_segment("chaos");
	struct yank_open_opts o = { .max_instances = 256, .max_records = 1024,
				    .max_processes = 64, .lock_timeout_ms = 3000 * tu_mult(),
				    .agent_timeout_ms = 300 };
	yank_registry *reg = NULL;
	cr_assert_eq(yank_open_with(seg, &o, &reg), 0);

	struct churner ch[NCH];
	for (int i = 0; i < NCH; i++)
		spawn(&ch[i], seg, i >= NREG);

	long progress[2] = { 0, 0 }, kills = 0, stops = 0, respawns = 0, ctl_calls = 0,
	     checks = 0, queries = 0;
	long end = tu_now_ms() + seconds * 1000, next_freeze = tu_now_ms() + 1500;
	while (tu_now_ms() < end) {
		struct timespec nap = { 0, 20 * 1000000L };
		nanosleep(&nap, NULL);
		long now = tu_now_ms();
		for (int i = 0; i < NCH; i++) {
			progress[ch[i].yanker] += drain(&ch[i]);
			if (ch[i].stopped && now >= ch[i].resume_at) {
				kill(ch[i].p.pid, SIGCONT);
				ch[i].stopped = 0;
			}
			check_alive(&ch[i], i);
			if (ch[i].p.dead) {
				int y = ch[i].yanker;
				rb_peer_kill(&ch[i].p);
				spawn(&ch[i], seg, y);
				respawns++;
			}
		}
		unsigned dice = rnd(100);
		struct churner *c = &ch[rnd(NCH)];
		if (dice < 15 && !c->stopped) {
			kill(c->p.pid, SIGSTOP);
			c->stopped = 1;
			c->resume_at = now + 50 + rnd(350);
			stops++;
		} else if (dice < 20) {
			int y = c->yanker;
			rb_peer_kill(&c->p); /* SIGKILL, stopped or not, whatever it holds */
			spawn(c, seg, y);
			kills++;
		} else if (dice < 28 && rb_yankctl_path()) {
			yankctl_step(seg, &ctl_calls);
		} else if (dice < 38) {
			struct yank_instance_info *info;
			size_t n;
			long t0 = tu_now_ms();
			int r = yank_query(reg, &info, &n);
			long dt = tu_now_ms() - t0;
			cr_assert_eq(r, 0, "yank_query during chaos: %s", yank_strerror(r));
			cr_assert_lt(dt, 1000 * tu_mult(), "yank_query took %ld ms", dt);
			yank_query_free(info, n);
			queries++;
		}
		if (tu_now_ms() >= next_freeze) {
			checks += frozen_check(reg, ch);
			next_freeze = tu_now_ms() + 1500;
		}
	}

	/* The end: everybody dies, whatever it holds. */
	for (int i = 0; i < NCH; i++) {
		check_alive(&ch[i], i);
		progress[ch[i].yanker] += drain(&ch[i]);
		rb_peer_kill(&ch[i].p);
	}
	cr_log_info("chaos: %ld+%ld progress bytes (64 ops each), %ld kills, %ld stops, %ld "
		    "respawns, %ld yankctl calls, %ld frozen checks, %ld queries",
		    progress[0], progress[1], kills, stops, respawns, ctl_calls, checks, queries);
	cr_assert_gt(progress[0], 10, "the registering churners made no progress");
	cr_assert_gt(progress[1], 2, "the yanking churners made no progress");

	size_t reaped = 0;
	int r = yank_gc(reg, &reaped);
	cr_assert_eq(r, 0, "final gc: %s", yank_strerror(r));
	struct yank_status st;
	cr_assert_eq(yank_status(reg, &st), 0);
	cr_assert_eq(st.integrity, 0, "final integrity: %s", st.integrity_detail);
	cr_assert_eq(st.torn_slots, 0, "final: %u torn slots", st.torn_slots);
	cr_assert_eq(st.used_instances, 0, "final: %u instances left", st.used_instances);
	cr_assert_eq(st.used_records, 0, "final: %u records left", st.used_records);
	cr_assert_eq(st.used_processes, 0, "final: %u process slots left", st.used_processes);
	cr_assert_eq(st.live_processes, 0, "final: %u live processes", st.live_processes);
	cr_assert_eq(st.dead_processes, 0, "final: %u dead processes", st.dead_processes);
	cr_assert_eq(st.lock_holder, 0, "final: lock held by %d", (int)st.lock_holder);
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(reg, &info, &n), 0);
	yank_query_free(info, n);
	cr_assert_eq(n, 0, "final: %zu instances listed", n);
	if (rb_yankctl_path()) {
		char out[256];
		long dt;
		int rc = rb_yankctl(seg, 2000, NULL, 10000, NULL, 0, &dt, "status", NULL);
		cr_assert_eq(rc, 0, "final `yankctl status` exited %d", rc);
		rc = rb_yankctl(seg, 2000, NULL, 10000, out, sizeof(out), &dt, "--json", "list",
				NULL);
		cr_assert_eq(rc, 0);
		cr_assert(!strncmp(out, "[]", 2), "final `yankctl --json list`: %s", out);
	}
	/* And it is still a working registry. */
	struct yank_instance c0 = { YANK_CHARDEV, "c0" };
	cr_assert_eq(yank_register_instance(reg, &c0), 0);
	cr_assert_eq(yank_unregister_instance(reg, &c0), 0);
	yank_close(reg);
	shm_unlink(seg);
}
