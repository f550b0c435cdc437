/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * SPEC §5 and §9, stopped processes: a registrant SIGSTOPped while it holds
 * the registry lock, an owner whose agent is stopped, and yankers that stop
 * (or fall silent) in the middle of a conversation.  Nothing anybody else
 * does may hang on them: readers and yanks go on, writers get -ETIMEDOUT
 * within their bound, and everything proceeds once they continue.
 *
 * Peers are rb-peer and rb-rawclient helpers (tests/helpers/); the test
 * process itself only reads, yanks and sends signals.
 */
#include <criterion/criterion.h>
#include <stdbool.h>

#include <yank.h>

#include "testutil.h"
#include "../helpers/rb-peer.h"

TestSuite(stopped, .timeout = 60);

static yank_registry *open_parent(const char *seg, long lock_ms, long agent_ms)
{
	struct yank_open_opts o = { .max_instances = 128, .max_records = 512,
				    .max_processes = 32, .lock_timeout_ms = (uint32_t)lock_ms,
				    .agent_timeout_ms = (uint32_t)agent_ms };
	yank_registry *reg = NULL;
	int r = yank_open_with(seg, &o, &reg);
	cr_assert_eq(r, 0, "yank_open_with(%s): %s", seg, yank_strerror(r));
	return reg;
}

static void start_peer(struct rb_peer *p, const char *seg, long lock_ms, long agent_ms)
{
	cr_assert_eq(rb_peer_start(p, NULL), 0);
	PEER_OK(p, "open %s lock=%ld agent=%ld", seg, lock_ms, agent_ms);
}

/* The peer stops itself at fault point @point while running @op. */
static void stop_at(struct rb_peer *p, const char *point, const char *op)
{
	PEER_OK(p, "fault %s:stop", point);
	cr_assert_eq(rb_send(p, "%s", op), 0);
	rb_assert_stopped_at(p, "peer", point);
}

/*
 * Every test's registry and what it leaves behind: the peers it started
 * and our copies of their sockets, all let go of at scene_end().
 */
struct scene {
	const char *seg;
	yank_registry *reg;
	struct rb_peer *peers[4];
	int npeers;
	int fds[4];
	int nfds;
};

static void scene_open(struct scene *sc, const char *tag, long agent_ms)
{
	signal(SIGPIPE, SIG_IGN);
	memset(sc, 0, sizeof(*sc));
	sc->seg = tu_segment(tag);
	sc->reg = open_parent(sc->seg, rb_ms(3000), agent_ms);
}

static void scene_peer(struct scene *sc, struct rb_peer *p, long lock_ms, long agent_ms)
{
	cr_assert_lt(sc->npeers, 4);
	start_peer(p, sc->seg, lock_ms, agent_ms);
	sc->peers[sc->npeers++] = p;
}

/* @p registers @inst with one socketpair fd (and a callback if @cb); our copy of the far end. */
static int scene_inst(struct scene *sc, struct rb_peer *p, const char *inst, bool cb)
{
	cr_assert_lt(sc->nfds, 4);
	PEER_OK(p, "inst %s", inst);
	int fd = rb_add_fd(p, inst);
	if (cb)
		PEER_OK(p, "cb %s", inst);
	sc->fds[sc->nfds++] = fd;
	return fd;
}

static void scene_end(struct scene *sc)
{
	for (int i = sc->npeers; i-- > 0;)
		rb_peer_kill(sc->peers[i]);
	for (int i = 0; i < sc->nfds; i++)
		close(sc->fds[i]);
	yank_close(sc->reg);
	shm_unlink(sc->seg);
}

/*
 * A process stopped while it starts its agent (its first registration)
 * holds no registry lock: another process registers at once, and after
 * SIGCONT the stopped one's registration completes.
 */
Test(stopped, agent_start_holds_no_registry_lock)
{
	struct scene sc;
	scene_open(&sc, "agentstart", rb_ms(1000));
	struct rb_peer p;
	scene_peer(&sc, &p, rb_ms(3000), rb_ms(1000));
	stop_at(&p, "agent.starting", "inst c:late");

	struct yank_status st;
	cr_assert_eq(yank_status(sc.reg, &st), 0);
	cr_assert_eq(st.lock_holder, 0, "pid %d holds the lock while starting its agent",
		     (int)st.lock_holder);
	const struct yank_instance mine = { YANK_CHARDEV, "mine" };
	int r = yank_register_instance(sc.reg, &mine);
	cr_assert_eq(r, 0, "a registration behind a starting agent: %s", yank_strerror(r));

	cr_assert_eq(kill(p.pid, SIGCONT), 0);
	cr_assert_eq(rb_reply(&p, rb_ms(5000)), 0, "the continued registration: '%s'", p.last);
	struct rb_want want[2] = { { YANK_CHARDEV, "late", p.pid, 0, 0 },
				   { YANK_CHARDEV, "mine", getpid(), 0, 0 } };
	char why[1024];
	cr_assert_eq(rb_query_is(sc.reg, want, 2, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(yank_unregister_instance(sc.reg, &mine), 0);
	scene_end(&sc);
}

/*
 * A registrant stopped inside the registry lock: queries, yanks and status
 * go on; another writer gets -ETIMEDOUT within its bound; after SIGCONT
 * everybody proceeds and the registry is consistent.
 */
Test(stopped, lock_holder_blocks_no_reader_and_no_yank)
{
	struct scene sc;
	scene_open(&sc, "holder", rb_ms(1000));
	struct rb_peer s, p, q;
	scene_peer(&sc, &s, rb_ms(3000), rb_ms(1000));
	int b0 = scene_inst(&sc, &s, "c:surv0", true);
	int b1 = scene_inst(&sc, &s, "b:surv1", false);

	scene_peer(&sc, &p, rb_ms(3000), rb_ms(1000));
	stop_at(&p, "register.locked", "inst c:stuck");

	struct yank_status st;
	long t0 = tu_now_ms();
	cr_assert_eq(yank_status(sc.reg, &st), 0);
	long dt = tu_now_ms() - t0;
	cr_assert_lt(dt, rb_ms(2000), "yank_status took %ld ms", dt);
	cr_assert_eq(st.lock_holder, p.pid, "lock holder %d, want %d", (int)st.lock_holder,
		     (int)p.pid);
	cr_assert(st.lock_holder_alive);
	cr_assert_eq(st.integrity, 0, "a stopped holder is not corruption: %s",
		     st.integrity_detail);

	struct rb_want want[2] = { { YANK_CHARDEV, "surv0", s.pid, 1, 1 },
				   { YANK_BLOCK_NODE, "surv1", s.pid, 1, 0 } };
	char why[1024];
	t0 = tu_now_ms();
	cr_assert_eq(rb_query_is(sc.reg, want, 2, why, sizeof(why)), 0, "%s", why);
	dt = tu_now_ms() - t0;
	cr_assert_lt(dt, rb_ms(500), "yank_query took %ld ms beside a stopped holder", dt);

	const struct yank_instance l0[] = { { YANK_CHARDEV, "surv0" } };
	t0 = tu_now_ms();
	int r = yank_yank(sc.reg, l0, 1);
	dt = tu_now_ms() - t0;
	cr_assert_eq(r, 0, "yank beside a stopped holder: %s", yank_strerror(r));
	cr_assert_lt(dt, rb_ms(1000), "yank took %ld ms beside a stopped holder", dt);
	cr_assert(rb_sees_eof(b0, rb_ms(1000)), "c:surv0 not shut");
	cr_assert(rb_event_is(&s, 2000, "cb c:surv0"), "c:surv0's callback did not run");
	/* Audited all the same: the ring takes no lock. */
	struct yank_audit_entry *log;
	size_t nlog;
	cr_assert_eq(yank_audit_read(sc.reg, 0, &log, &nlog), 0);
	cr_assert_eq(nlog, 1);
	cr_assert(!log[0].torn && log[0].result == 0 && log[0].pid == getpid());
	cr_assert_str_eq(log[0].items[0].instance, "chardev:surv0");
	yank_audit_free(log, nlog);

	/* Another registrant: -ETIMEDOUT within its 300 ms bound, not a hang. */
	scene_peer(&sc, &q, 300, rb_ms(1000));
	t0 = tu_now_ms();
	r = rb_cmd(&q, "inst c:other");
	dt = tu_now_ms() - t0;
	cr_assert_eq(r, -ETIMEDOUT, "registrant beside a stopped holder: %d '%s'", r, q.last);
	cr_assert_lt(dt, 300 + rb_ms(1000), "a 300 ms lock bound took %ld ms", dt);
	t0 = tu_now_ms();
	r = rb_cmd(&q, "fd c:surv0");
	dt = tu_now_ms() - t0;
	cr_assert_eq(r, -ETIMEDOUT, "record registration beside a stopped holder: %d '%s'", r,
		     q.last);
	cr_assert_lt(dt, 300 + rb_ms(1000), "a 300 ms lock bound took %ld ms", dt);
	yank_registry *r2 = open_parent(sc.seg, 300, rb_ms(1000));
	t0 = tu_now_ms();
	r = yank_gc(r2, NULL);
	dt = tu_now_ms() - t0;
	cr_assert_eq(r, -ETIMEDOUT, "gc beside a stopped holder: %s", yank_strerror(r));
	cr_assert_lt(dt, 300 + rb_ms(1000), "gc with a 300 ms bound took %ld ms", dt);
	yank_close(r2);

	/* Continue: the stopped registration completes, the other one goes through. */
	cr_assert_eq(kill(p.pid, SIGCONT), 0);
	r = rb_reply(&p, 5000);
	cr_assert_eq(r, 0, "the continued registrant: %d '%s'", r, p.last);
	PEER_OK(&q, "inst c:other");
	PEER_OK(&q, "fd c:other");
	const struct yank_instance l1[] = { { YANK_BLOCK_NODE, "surv1" } };
	cr_assert_eq(yank_yank(sc.reg, l1, 1), 0);
	cr_assert(rb_sees_eof(b1, rb_ms(1000)), "b:surv1 not shut");
	struct rb_want all[4] = { { YANK_CHARDEV, "surv0", s.pid, 1, 1 },
				  { YANK_BLOCK_NODE, "surv1", s.pid, 1, 0 },
				  { YANK_CHARDEV, "stuck", p.pid, 0, 0 },
				  { YANK_CHARDEV, "other", q.pid, 1, 0 } };
	cr_assert_eq(rb_query_is(sc.reg, all, 4, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(yank_status(sc.reg, &st), 0);
	cr_assert_eq(st.integrity, 0, "%s", st.integrity_detail);
	cr_assert_eq(st.lock_holder, 0);
	cr_assert_eq(st.live_processes, 3);

	scene_end(&sc);
}

/* The same with yankctl: list, yank and status answer within --timeout. */
Test(stopped, lock_holder_blocks_no_yankctl)
{
	if (!rb_yankctl_path())
		cr_skip_test("yankctl is not built");
	struct scene sc;
	scene_open(&sc, "ctl", rb_ms(1000));
	struct rb_peer s, p;
	scene_peer(&sc, &s, rb_ms(3000), rb_ms(1000));
	int b0 = scene_inst(&sc, &s, "c:surv0", true);
	scene_peer(&sc, &p, rb_ms(3000), rb_ms(1000));
	stop_at(&p, "register.locked", "inst c:stuck");

	char out[8192];
	long dt;
	int rc = rb_yankctl(sc.seg, 2000, NULL, 10000, out, sizeof(out), &dt, "list", NULL);
	cr_assert_eq(rc, 0, "`yankctl --timeout 2000 list` exited %d", rc);
	cr_assert_lt(dt, rb_ms(2000), "`yankctl --timeout 2000 list` took %ld ms", dt);
	cr_assert(strstr(out, "surv0"), "list does not show c:surv0:\n%s", out);
	rc = rb_yankctl(sc.seg, 2000, NULL, 10000, out, sizeof(out), &dt, "--json", "list", NULL);
	cr_assert_eq(rc, 0, "`yankctl --json list` exited %d", rc);
	cr_assert(strstr(out, "\"surv0\""), "list --json does not show c:surv0:\n%s", out);
	rc = rb_yankctl(sc.seg, 2000, NULL, 10000, NULL, 0, &dt, "yank", "chardev:surv0", NULL);
	cr_assert_eq(rc, 0, "`yankctl --timeout 2000 yank chardev:surv0` exited %d", rc);
	cr_assert_lt(dt, rb_ms(2000), "`yankctl --timeout 2000 yank` took %ld ms", dt);
	cr_assert(rb_sees_eof(b0, rb_ms(1000)), "c:surv0 not shut by yankctl");
	cr_assert(rb_event_is(&s, 2000, "cb c:surv0"), "c:surv0's callback did not run");
	rc = rb_yankctl(sc.seg, 2000, NULL, 10000, out, sizeof(out), &dt, "status", NULL);
	cr_assert_eq(rc, 0, "`yankctl status` beside a stopped holder exited %d:\n%s", rc, out);
	cr_assert_lt(dt, rb_ms(2000), "`yankctl --timeout 2000 status` took %ld ms", dt);
	rc = rb_yankctl(sc.seg, 500, NULL, 10000, NULL, 0, &dt, "gc", NULL);
	cr_assert_eq(rc, 4, "`yankctl gc` beside a stopped holder exited %d, want 4", rc);
	cr_assert_lt(dt, rb_ms(2000), "`yankctl --timeout 500 gc` took %ld ms", dt);

	kill(p.pid, SIGCONT);
	cr_assert_eq(rb_reply(&p, 5000), 0, "continued registrant: '%s'", p.last);
	rc = rb_yankctl(sc.seg, 2000, NULL, 10000, NULL, 0, &dt, "status", NULL);
	cr_assert_eq(rc, 0, "`yankctl status` exited %d", rc);
	scene_end(&sc);
}

/*
 * The owner is stopped while its thread is blocked in recv(): its agent
 * cannot answer.  The yank still shuts the fd (pidfd fallback: the peer
 * sees EOF, the blocked recv returns once continued) and reports the
 * callback it could not run; the agent, continued, does not run it late.
 */
Test(stopped, stopped_agent_fds_shut_by_pidfd_fallback)
{
	struct scene sc;
	scene_open(&sc, "agent", rb_ms(300));
	struct rb_peer o;
	scene_peer(&sc, &o, rb_ms(3000), rb_ms(1000));
	int b = scene_inst(&sc, &o, "c:hung", true);
	PEER_OK(&o, "block c:hung");
	rb_peer_stop(&o);

	const struct yank_instance l[] = { { YANK_CHARDEV, "hung" } };
	struct yank_failure *f = NULL;
	size_t nf = 0;
	long t0 = tu_now_ms();
	int r = yank_yank_detailed(sc.reg, l, 1, &f, &nf);
	long dt = tu_now_ms() - t0;
	cr_assert_eq(r, -EIO, "yank of a stopped owner with a callback: %s", yank_strerror(r));
	cr_assert_lt(dt, rb_ms(300) + rb_ms(1500), "yank of a stopped owner took %ld ms", dt);
	cr_assert_eq(nf, 1, "%zu failures, want 1 (the callback)", nf);
	cr_assert_eq(f[0].kind, YANK_FAIL_CALLBACK, "failure kind %d", f[0].kind);
	cr_assert_eq(f[0].fd, -1);
	cr_assert_eq(f[0].pid, o.pid);
	cr_assert_str_eq(f[0].name, "hung");
	yank_failures_free(f, nf);
	cr_assert(rb_sees_eof(b, rb_ms(1000)), "the stopped owner's socket was not shut down");

	cr_assert_eq(kill(o.pid, SIGCONT), 0);
	cr_assert(rb_event_is(&o, 3000, "eof c:hung 0"),
		  "the owner's blocked recv() did not return after the yank");
	char ev[512];
	cr_assert_not(rb_any_event(&o, 500, ev, sizeof(ev)),
		      "after SIGCONT the owner did '%s': a yank reported as not run ran late", ev);
	/* Continued, it answers again: the callback runs on the next yank. */
	r = yank_yank(sc.reg, l, 1);
	cr_assert_eq(r, 0, "yank of the continued owner: %s", yank_strerror(r));
	cr_assert(rb_event_is(&o, 2000, "cb c:hung"), "callback did not run after SIGCONT");
	scene_end(&sc);
}

/* yankctl on a stopped agent: fds shut (exit 0); with a callback, exit 3. */
Test(stopped, yankctl_yanks_a_stopped_agent)
{
	if (!rb_yankctl_path())
		cr_skip_test("yankctl is not built");
	struct scene sc;
	scene_open(&sc, "ctlagent", rb_ms(300));
	struct rb_peer o;
	scene_peer(&sc, &o, rb_ms(3000), rb_ms(1000));
	int b1 = scene_inst(&sc, &o, "c:fdonly", false);
	int b2 = scene_inst(&sc, &o, "b:withcb", true);
	rb_peer_stop(&o);
	long dt;
	int rc = rb_yankctl(sc.seg, 500, NULL, 10000, NULL, 0, &dt, "yank", "chardev:fdonly", NULL);
	cr_assert_eq(rc, 0, "`yankctl yank` of a stopped owner's fd exited %d", rc);
	cr_assert_lt(dt, rb_ms(500) + rb_ms(1500), "`yankctl --timeout 500 yank` took %ld ms", dt);
	cr_assert(rb_sees_eof(b1, rb_ms(1000)), "c:fdonly not shut");
	rc = rb_yankctl(sc.seg, 500, NULL, 10000, NULL, 0, &dt, "yank", "block-node:withcb", NULL);
	cr_assert_eq(rc, 3, "`yankctl yank` of a stopped owner's callback exited %d, want 3", rc);
	cr_assert_lt(dt, rb_ms(500) + rb_ms(1500), "`yankctl --timeout 500 yank` took %ld ms", dt);
	cr_assert(rb_sees_eof(b2, rb_ms(1000)), "b:withcb's fd not shut");
	scene_end(&sc);
}

/*
 * A yanker stopped mid-hand-off: it holds the owner's fd and never says
 * "done".  The owner's yank_unregister_fd returns within its bound, and
 * another yanker still succeeds meanwhile (falling back to pidfd_getfd
 * while the agent waits on the first).
 */
Test(stopped, yanker_holding_fds_blocks_no_unregister_and_no_other_yanker)
{
	const long agent_ms = rb_ms(1500);
	struct scene sc;
	scene_open(&sc, "hold", rb_ms(300));
	struct rb_peer o, raw;
	scene_peer(&sc, &o, rb_ms(3000), agent_ms);
	int bx = scene_inst(&sc, &o, "c:x", false);
	int by = scene_inst(&sc, &o, "c:y", false);

	/* Its line is not "ok ...". */
	cr_assert_eq(rb_rawclient(&raw, sc.seg, "c:x", "--hold", NULL), RB_NOREPLY);
	cr_assert_str_eq(raw.last, "res n=1 nfds=1 st=0", "raw client: '%s'", raw.last);
	cr_assert_not(rb_sees_eof(bx, 0), "the raw client must not have shut c:x");

	/* Another yanker meanwhile: succeeds, by the fallback if need be. */
	const struct yank_instance ly[] = { { YANK_CHARDEV, "y" } };
	long t0 = tu_now_ms();
	int r = yank_yank(sc.reg, ly, 1);
	long dt = tu_now_ms() - t0;
	cr_assert_eq(r, 0, "yank while another yanker holds fds: %s", yank_strerror(r));
	cr_assert_lt(dt, rb_ms(300) + rb_ms(1500), "yank took %ld ms", dt);
	cr_assert(rb_sees_eof(by, rb_ms(1000)), "c:y not shut");

	/* The owner's unregister waits for the holder, bounded. */
	t0 = tu_now_ms();
	r = rb_cmd(&o, "unfd c:x");
	dt = tu_now_ms() - t0;
	cr_assert_eq(r, 0, "unregister while a yanker holds the fd: %d '%s'", r, o.last);
	cr_assert_lt(dt, agent_ms + 1000 + rb_ms(1000), "unregister took %ld ms", dt);
	PEER_OK(&o, "uninst c:x");

	rb_peer_kill(&raw);
	/* The agent serves again, promptly (no fallback needed). */
	PEER_OK(&o, "cb c:y");
	t0 = tu_now_ms();
	r = yank_yank(sc.reg, ly, 1);
	dt = tu_now_ms() - t0;
	cr_assert_eq(r, 0, "yank after the holder left: %s", yank_strerror(r));
	cr_assert(rb_event_is(&o, 2000, "cb c:y"), "c:y's callback did not run");
	scene_end(&sc);
}

/* A client that connects to an agent and says nothing delays others, boundedly. */
Test(stopped, silent_connection_does_not_wedge_the_agent)
{
	const long agent_ms = rb_ms(1000);
	struct scene sc;
	scene_open(&sc, "silent", rb_ms(300));
	struct rb_peer o, raw;
	scene_peer(&sc, &o, rb_ms(3000), agent_ms);
	int by = scene_inst(&sc, &o, "c:y", false);
	PEER_OK(&o, "inst c:z");
	PEER_OK(&o, "cb c:z");

	rb_rawclient(&raw, sc.seg, "c:y", "--silent", NULL);
	cr_assert_str_eq(raw.last, "silent", "raw client: '%s'", raw.last);

	const struct yank_instance ly[] = { { YANK_CHARDEV, "y" } };
	int r = yank_yank(sc.reg, ly, 1);
	cr_assert_eq(r, 0, "fd yank beside a silent connection: %s", yank_strerror(r));
	cr_assert(rb_sees_eof(by, rb_ms(1000)), "c:y not shut");

	/* A callback needs the agent itself: it comes back within its bound. */
	yank_registry *patient = open_parent(sc.seg, rb_ms(3000), agent_ms + rb_ms(3000));
	const struct yank_instance lz[] = { { YANK_CHARDEV, "z" } };
	long t0 = tu_now_ms();
	r = yank_yank(patient, lz, 1);
	long dt = tu_now_ms() - t0;
	cr_assert_eq(r, 0, "callback yank after a silent connection: %s", yank_strerror(r));
	cr_assert_lt(dt, agent_ms + rb_ms(1500), "the agent was wedged %ld ms by a silent client",
		     dt);
	cr_assert(rb_event_is(&o, 2000, "cb c:z"), "c:z's callback did not run");
	yank_close(patient);
	rb_peer_kill(&raw);
	scene_end(&sc);
}

/*
 * A yanker stopped after validating (before contacting anyone) delays
 * nobody; continued, it finds the record unregistered and leaves the
 * socket alone (SPEC §2 rule 6), though the fd is still open.
 */
Test(stopped, yanker_stopped_after_validation_never_shuts_an_unregistered_fd)
{
	struct scene sc;
	scene_open(&sc, "validated", rb_ms(1000));
	struct rb_peer o, y;
	scene_peer(&sc, &o, rb_ms(3000), rb_ms(1000));
	int bx = scene_inst(&sc, &o, "c:x", true);
	scene_peer(&sc, &y, rb_ms(3000), rb_ms(1000));
	stop_at(&y, "yank.validated", "yank c:x");

	long t0 = tu_now_ms();
	PEER_OK(&o, "unfd c:x keep");
	PEER_OK(&o, "uncb c:x");
	long dt = tu_now_ms() - t0;
	cr_assert_lt(dt, rb_ms(1000), "unregistering beside a stopped yanker took %ld ms", dt);
	const struct yank_instance l[] = { { YANK_CHARDEV, "x" } };
	cr_assert_eq(yank_yank(sc.reg, l, 1), 0, "another yanker");

	kill(y.pid, SIGCONT);
	int r = rb_reply(&y, 5000);
	cr_assert_eq(r, 0, "the continued yanker: %d '%s'", r, y.last);
	cr_assert_not(rb_sees_eof(bx, 300),
		      "a stale yank shut a socket after its yank_unregister_fd returned");
	char ev[512];
	cr_assert_not(rb_any_event(&o, 100, ev, sizeof(ev)), "unexpected '%s'", ev);
	scene_end(&sc);
}

/*
 * yank_unregister_fd that times out on the registry lock (a registrant is
 * stopped holding it) must leave something the caller can finish once the
 * lock is free: retrying works, and the instance can be unregistered.  No
 * record may stay behind in the segment that nothing can remove but the
 * owner's death.
 */
Test(stopped, unregister_timed_out_on_the_lock_leaves_no_phantom_record)
{
	struct scene sc;
	scene_open(&sc, "phantom", rb_ms(1000));
	struct rb_peer o, p;
	scene_peer(&sc, &o, 300, rb_ms(1000));
	scene_inst(&sc, &o, "c:x", false);
	/* Stop the owner between its two lock sections, then have the lock taken. */
	stop_at(&o, "record.unpublished", "unfd c:x");
	scene_peer(&sc, &p, rb_ms(3000), rb_ms(1000));
	stop_at(&p, "register.locked", "inst c:p");
	kill(o.pid, SIGCONT);
	int r = rb_reply(&o, 5000);
	cr_assert(r == 0 || r == -ETIMEDOUT, "unregister with the lock held elsewhere: %d '%s'", r,
		  o.last);
	kill(p.pid, SIGCONT);
	cr_assert_eq(rb_reply(&p, 5000), 0, "continued registrant: '%s'", p.last);
	PEER_OK(&o, "nofault");

	if (r == -ETIMEDOUT) {
		/* The caller retries, as -ETIMEDOUT invites it to. */
		r = rb_cmd(&o, "unfd c:x");
		cr_assert(r == 0 || r == -ENOENT, "retried unregister: %d '%s'", r, o.last);
	}
	r = rb_cmd(&o, "uninst c:x");
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(sc.reg, &info, &n), 0);
	unsigned phantom = 0;
	for (size_t i = 0; i < n; i++)
		if (info[i].name && !strcmp(info[i].name, "x"))
			phantom = info[i].n_fds;
	yank_query_free(info, n);
	cr_assert_eq(r, 0,
		     "unregistering the instance after a timed-out yank_unregister_fd: %d '%s' "
		     "(c:x still lists %u fd record(s) that no call can remove)",
		     r, o.last, phantom);
	struct yank_status st;
	cr_assert_eq(yank_status(sc.reg, &st), 0);
	cr_assert_eq(st.integrity, 0, "%s", st.integrity_detail);
	scene_end(&sc);
}

/*
 * yank_close() while a registrant is stopped holding the lock cannot free
 * its process slot in time.  The process lives on (a daemon that reopens
 * its registry, say): its old registrations must not stay behind for its
 * whole life, blocking its own names (-EEXIST) and listing records whose
 * fds it has closed.
 */
Test(stopped, close_with_the_lock_held_elsewhere_leaves_nothing_behind)
{
	struct scene sc;
	scene_open(&sc, "close", rb_ms(1000));
	struct rb_peer o, p;
	scene_peer(&sc, &o, 300, rb_ms(1000));
	scene_inst(&sc, &o, "c:x", true);
	scene_peer(&sc, &p, rb_ms(3000), rb_ms(1000));
	stop_at(&p, "register.locked", "inst c:p");
	long t0 = tu_now_ms();
	PEER_OK(&o, "close");
	long dt = tu_now_ms() - t0;
	cr_assert_lt(dt, 300 + rb_ms(2000), "yank_close beside a stopped holder took %ld ms", dt);
	kill(p.pid, SIGCONT);
	cr_assert_eq(rb_reply(&p, 5000), 0, "continued registrant: '%s'", p.last);

	/* Later, the lock free again, the same process registers anew. */
	PEER_OK(&o, "open %s lock=%ld agent=%ld", sc.seg, rb_ms(3000), rb_ms(1000));
	int r = rb_cmd(&o, "inst c:x");
	struct rb_want want[2] = { { YANK_CHARDEV, "p", p.pid, 0, 0 },
				   { YANK_CHARDEV, "x", o.pid, 0, 0 } };
	char why[1024];
	int listed = rb_query_is(sc.reg, want, 2, why, sizeof(why));
	cr_assert_eq(r, 0,
		     "re-registering c:x after yank_close() (lock held elsewhere at the time): "
		     "%d '%s'",
		     r, o.last);
	cr_assert_eq(listed, 0, "after re-registering: %s", why);
	struct yank_status st;
	cr_assert_eq(yank_status(sc.reg, &st), 0);
	cr_assert_eq(st.integrity, 0, "%s", st.integrity_detail);
	cr_assert_eq(st.used_processes, 2, "%u process slots used, want 2 (o, p)",
		     st.used_processes);
	scene_end(&sc);
}
