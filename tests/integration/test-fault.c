/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * SPEC §5 and §9: a process dies (kill -9, _exit) or stops at every
 * fault-injection point of a registration, an unregistration, a record
 * change, a reap, a hand-off, a yank and a segment creation.  Afterwards:
 * the registry is consistent (yank_status, `yankctl status`), the records
 * of a live "survivor" process are intact and still work, the victim's are
 * reaped, and its names can be registered again.
 *
 * Every (point, action) pair of the table below is its own Criterion test,
 * fault/<point>_<action>, with real processes: the survivor and the victim are
 * rb-peer helpers driven over pipes, the test process only reads and
 * yanks.  A fault point that is not reached fails the test too: the
 * victim then answers its command instead of dying.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <sys/stat.h>

#include <yank.h>

#include "testutil.h"
#include "../helpers/rb-peer.h"

TestSuite(fault, .timeout = 60);

enum action { A_KILL, A_STOP, A_EXIT };
static const char *const action_name[] = { "kill", "stop", "exit" };

struct fault_case {
	const char *point;
	int pre;             /* the victim first owns b:vpre (instance, fd, callback) */
	const char *setup[3]; /* victim commands before the fault is armed */
	const char *op;      /* the victim command that reaches the point */
	int holds_lock;      /* the point is inside the registry lock */
	unsigned actions;    /* 1 << enum action */
};

#define K (1u << A_KILL)
#define S (1u << A_STOP)
#define E (1u << A_EXIT)

/* op NULL: see the special cases in run_case() (agent.after_send, seg.*). */
static const struct fault_case cases[] = {
	{ "register.locked", 1, { NULL }, "inst c:vict", 1, K | S | E },
	{ "unregister.locked", 1, { "inst c:vict" }, "uninst c:vict", 1, K },
	{ "proc.claim.mid", 0, { NULL }, "inst c:vict", 1, K | S },
	{ "inst.claim.mid", 1, { NULL }, "inst c:vict", 1, K | S },
	{ "inst.claim.before_link", 1, { NULL }, "inst c:vict", 1, K },
	{ "inst.release.mid", 1, { "inst c:vict" }, "uninst c:vict", 1, K },
	{ "proc.release.mid", 1, { "inst c:vict", "fd c:vict" }, "close", 1, K | S },
	{ "rec.claim.mid", 1, { "inst c:vict" }, "fd c:vict", 1, K | E },
	{ "rec.claim.before_count", 1, { "inst c:vict" }, "cb c:vict", 1, K | S },
	{ "record.claimed", 1, { "inst c:vict" }, "fd c:vict", 1, K },
	{ "record.unpublished", 1, { "inst c:vict", "fd c:vict" }, "unfd c:vict", 0, K | S },
	{ "rec.release.before_count", 1, { "inst c:vict", "cb c:vict" }, "uncb c:vict", 1, K | S },
	{ "reap.before_release", 1, { NULL }, "gc", 1, K | S },
	{ "agent.after_send", 1, { NULL }, NULL, 0, K | S },
	{ "yank.validated", 1, { NULL }, "yank c:surv0 b:vpre", 0, K | S },
	{ "seg.after_truncate", 0, { NULL }, NULL, 0, K | S },
	{ "seg.before_publish", 0, { NULL }, NULL, 0, K | S | E },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static struct yank_open_opts parent_opts(void)
{
	struct yank_open_opts o = { .max_instances = 128, .max_records = 512,
				    .max_processes = 32,
				    .lock_timeout_ms = (uint32_t)rb_ms(3000),
				    .agent_timeout_ms = (uint32_t)rb_ms(1000) };
	return o;
}

/* The survivor: live records that no fault elsewhere may disturb. */
struct survivor {
	struct rb_peer p;
	int surv0_peer; /* our copy of the far end of c:surv0's registered socket */
	struct rb_want want[3];
};

static void survivor_start(struct survivor *s, const char *seg)
{
	cr_assert_eq(rb_peer_start(&s->p, NULL), 0);
	PEER_OK(&s->p, "open %s lock=%ld agent=%ld", seg, rb_ms(3000), rb_ms(1000));
	PEER_OK(&s->p, "inst c:surv0");
	s->surv0_peer = rb_add_fd(&s->p, "c:surv0");
	PEER_OK(&s->p, "cb c:surv0");
	PEER_OK(&s->p, "inst b:surv1");
	PEER_OK(&s->p, "fd b:surv1");
	PEER_OK(&s->p, "fd b:surv1");
	PEER_OK(&s->p, "inst m");
	struct rb_want w[3] = { { YANK_CHARDEV, "surv0", s->p.pid, 1, 1 },
				{ YANK_BLOCK_NODE, "surv1", s->p.pid, 2, 0 },
				{ YANK_MIGRATION, NULL, s->p.pid, 0, 0 } };
	memcpy(s->want, w, sizeof(w));
}

static void survivor_end(struct survivor *s, yank_registry *reg, const char *seg)
{
	rb_peer_kill(&s->p);
	close(s->surv0_peer);
	yank_close(reg);
	shm_unlink(seg);
}

/* @p owns @inst: the instance, a socketpair fd and a callback. */
static void own(struct rb_peer *p, const char *inst)
{
	PEER_OK(p, "inst %s", inst);
	PEER_OK(p, "fd %s", inst);
	PEER_OK(p, "cb %s", inst);
}

/*
 * @v (@who) hit fault point @point and took action @a (kill or exit): it
 * never got past it, and died the way the fault said.
 */
static void assert_died_at(struct rb_peer *v, const char *who, const char *point, enum action a)
{
	if (a == A_KILL) {
		int r = rb_reply(v, 5000);
		cr_assert_eq(r, RB_NOREPLY, "the %s got past %s: '%s'", who, point, v->last);
		cr_assert(rb_killed(v, 5000), "the %s did not die at %s", who, point);
	} else {
		int st = rb_peer_wait(v, 5000);
		cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 99,
			  "the %s did not _exit(99) at %s ('%s')", who, point, v->last);
	}
}

/* Only the survivor's instances remain, with their counts. */
static void assert_only_survivor(yank_registry *reg, struct survivor *s, const char *when)
{
	char why[1024];
	cr_assert_eq(rb_query_is(reg, s->want, 3, why, sizeof(why)), 0, "%s: %s", when, why);
}

/* Survivor's records listed (others may be too): lockless readers are never hindered. */
static void assert_survivor_listed(yank_registry *reg, struct survivor *s, const char *when)
{
	struct yank_instance_info *info;
	size_t n;
	long t0 = tu_now_ms();
	int r = yank_query(reg, &info, &n);
	long dt = tu_now_ms() - t0;
	cr_assert_eq(r, 0, "%s: yank_query: %s", when, yank_strerror(r));
	cr_assert_lt(dt, rb_ms(1000), "%s: yank_query took %ld ms", when, dt);
	size_t found = 0;
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			if (info[i].type == s->want[k].type &&
			    (s->want[k].name
				     ? info[i].name && !strcmp(info[i].name, s->want[k].name)
				     : !info[i].name) &&
			    info[i].pid == s->want[k].pid && info[i].n_fds == s->want[k].fds &&
			    info[i].n_callbacks == s->want[k].cbs)
				found++;
	yank_query_free(info, n);
	cr_assert_eq(found, 3, "%s: the survivor's 3 instances are not all listed intact", when);
}

static void assert_healthy(yank_registry *reg, unsigned inst, unsigned recs, unsigned live,
			   const char *when)
{
	struct yank_status st;
	cr_assert_eq(yank_status(reg, &st), 0);
	cr_assert_eq(st.integrity, 0, "%s: integrity check failed: %s", when, st.integrity_detail);
	cr_assert_eq(st.torn_slots, 0, "%s: %u torn slots", when, st.torn_slots);
	cr_assert_eq(st.lock_holder, 0, "%s: lock still held by %d", when, (int)st.lock_holder);
	cr_assert_eq(st.dead_processes, 0, "%s: %u dead processes not reaped", when,
		     st.dead_processes);
	cr_assert_eq(st.live_processes, live, "%s: %u live processes, want %u", when,
		     st.live_processes, live);
	cr_assert_eq(st.used_instances, inst, "%s: %u instances used, want %u", when,
		     st.used_instances, inst);
	cr_assert_eq(st.used_records, recs, "%s: %u records used, want %u", when, st.used_records,
		     recs);
}

static void assert_yankctl_status_ok(const char *seg, const char *when)
{
	if (!rb_have_yankctl("`yankctl status` not checked"))
		return;
	rb_assert_yankctl_exit(seg, 2000, NULL, 0, when, "status", NULL);
	rb_assert_yankctl_exit(seg, 2000, NULL, 0, when, "list", NULL);
}

/*
 * The survivor still works: its socket was never shut by anyone, then a
 * yank of it shuts it and runs its callback; the victim's names register
 * again (instance and records) and yank.
 */
static void assert_survivor_works(yank_registry *reg, struct survivor *s, int pre)
{
	cr_assert_not(rb_sees_eof(s->surv0_peer, 50),
		      "the survivor's socket was shut down although nobody yanked it");
	char ev[512];
	cr_assert_not(rb_any_event(&s->p, 0, ev, sizeof(ev)),
		      "unexpected event in the survivor: %s", ev);
	own(&s->p, "c:vict");
	if (pre)
		PEER_OK(&s->p, "inst b:vpre");
	const struct yank_instance l[] = { { YANK_CHARDEV, "surv0" }, { YANK_CHARDEV, "vict" } };
	int r = yank_yank(reg, l, 2);
	cr_assert_eq(r, 0, "yank of the survivor's instances: %s", yank_strerror(r));
	cr_assert(rb_sees_eof(s->surv0_peer, rb_ms(2000)), "c:surv0 was not shut down by its yank");
	cr_assert(rb_event_is(&s->p, 2000, "cb c:surv0"), "c:surv0's callback did not run");
	cr_assert(rb_event_is(&s->p, 2000, "cb c:vict"), "c:vict's callback did not run");
}

static void run_seg_case(const struct fault_case *c, enum action a)
{
	const char *seg = tu_segment("seg");
	struct rb_peer v;
	cr_assert_eq(rb_peer_start(&v, NULL), 0);
	PEER_OK(&v, "fault %s:%s", c->point, action_name[a]);
	cr_assert_eq(rb_send(&v, "open %s cap=64,256,16 lock=%ld", seg, rb_ms(3000)), 0);
	if (a == A_STOP) {
		rb_assert_stopped_at(&v, "the creator", c->point);
		/* A creator stopped mid-way: openers wait for it, bounded. */
		struct yank_open_opts o = parent_opts();
		o.lock_timeout_ms = 300;
		yank_registry *reg = NULL;
		long t0 = tu_now_ms();
		int r = yank_open_with(seg, &o, &reg);
		long dt = tu_now_ms() - t0;
		cr_assert_eq(r, -ETIMEDOUT, "open beside a stopped creator: %s",
			     yank_strerror(r));
		cr_assert_lt(dt, rb_ms(2000), "open beside a stopped creator took %ld ms", dt);
		if (rb_yankctl_path()) {
			int rc = rb_yankctl(seg, 500, NULL, 5000, NULL, 0, &dt, "list", NULL);
			cr_assert_eq(rc, 4, "`yankctl list` beside a stopped creator: exit %d", rc);
			cr_assert_lt(dt, rb_ms(2000), "`yankctl --timeout 500 list` took %ld ms",
				     dt);
		}
		kill(v.pid, SIGKILL);
		cr_assert(rb_killed(&v, 5000));
	} else {
		assert_died_at(&v, "creator", c->point, a);
	}
	rb_peer_kill(&v);

	/* The next opener finishes the job: a correct, empty registry of its own geometry. */
	struct yank_open_opts o = parent_opts();
	yank_registry *reg = NULL;
	int r = yank_open_with(seg, &o, &reg);
	cr_assert_eq(r, 0, "open after a creator died at %s: %s", c->point, yank_strerror(r));
	struct yank_status st;
	cr_assert_eq(yank_status(reg, &st), 0);
	cr_assert_eq(st.max_instances, 128, "capacity %u: the dead creator's header survived",
		     st.max_instances);
	cr_assert_eq(st.max_records, 512);
	assert_healthy(reg, 0, 0, 0, "fresh segment");
	struct stat sb = rb_seg_stat(seg);
	cr_assert_eq(sb.st_mode & 0777, 0600, "segment mode %o", sb.st_mode & 0777);

	struct survivor s;
	survivor_start(&s, seg);
	assert_only_survivor(reg, &s, "after re-creation");
	assert_healthy(reg, 3, 4, 1, "after re-creation");
	assert_yankctl_status_ok(seg, "after re-creation");
	assert_survivor_works(reg, &s, 0);
	survivor_end(&s, reg, seg);
}

static void run_case(const struct fault_case *c, enum action a)
{
	if (!strncmp(c->point, "seg.", 4)) {
		run_seg_case(c, a);
		return;
	}
	const char *seg = tu_segment("f");
	struct yank_open_opts o = parent_opts();
	yank_registry *reg = NULL;
	cr_assert_eq(yank_open_with(seg, &o, &reg), 0);
	struct survivor s;
	survivor_start(&s, seg);
	/* Leave a freed slot in each table, so that the victim's claims come
	 * off the free lists (derived state the repair must rebuild), not only
	 * from the high-water marks. */
	struct rb_peer ghost;
	cr_assert_eq(rb_peer_start(&ghost, NULL), 0);
	PEER_OK(&ghost, "open %s", seg);
	PEER_OK(&ghost, "inst c:ghost");
	own(&ghost, "b:ghost");
	PEER_OK(&ghost, "close");
	rb_peer_kill(&ghost);

	struct rb_peer v, corpse = { .pid = -1 };
	cr_assert_eq(rb_peer_start(&v, NULL), 0);
	PEER_OK(&v, "open %s lock=%ld agent=%ld", seg, rb_ms(3000), rb_ms(1000));
	int agent_case = !strcmp(c->point, "agent.after_send");
	if (agent_case) /* armed before the agent thread exists: it only reads it */
		PEER_OK(&v, "fault %s:%s", c->point, action_name[a]);
	if (c->pre)
		own(&v, "b:vpre");
	if (!strcmp(c->point, "reap.before_release")) {
		/* Someone for the victim's reap to find dead. */
		cr_assert_eq(rb_peer_start(&corpse, NULL), 0);
		PEER_OK(&corpse, "open %s", seg);
		own(&corpse, "b:corpse");
		rb_peer_kill(&corpse);
	}
	if (c->pre) {
		/* And a freed instance and records of its own. */
		own(&v, "c:vtmp");
		PEER_OK(&v, "unfd c:vtmp");
		PEER_OK(&v, "uncb c:vtmp");
		PEER_OK(&v, "uninst c:vtmp");
	}
	for (int i = 0; i < 3 && c->setup[i]; i++)
		PEER_OK(&v, "%s", c->setup[i]);

	if (!agent_case) {
		PEER_OK(&v, "fault %s:%s", c->point, action_name[a]);
		cr_assert_eq(rb_send(&v, "%s", c->op), 0);
	} else {
		/* The victim's agent hands its fd over, then dies (or stops) before "done". */
		const struct yank_instance l[] = { { YANK_BLOCK_NODE, "vpre" } };
		struct yank_failure *f = NULL;
		size_t nf = 0;
		long t0 = tu_now_ms();
		int r = yank_yank_detailed(reg, l, 1, &f, &nf);
		long dt = tu_now_ms() - t0;
		yank_failures_free(f, nf);
		cr_assert(r == 0 || r == -EIO, "yank whose owner dies mid-hand-off: %s",
			  yank_strerror(r));
		cr_assert_lt(dt, rb_ms(3000), "yank whose owner dies mid-hand-off took %ld ms", dt);
	}

	if (a == A_STOP) {
		rb_assert_stopped_at(&v, "the victim", c->point);
		assert_survivor_listed(reg, &s, "victim stopped");
		if (c->holds_lock) {
			struct yank_status st;
			long t0 = tu_now_ms();
			cr_assert_eq(yank_status(reg, &st), 0);
			long dt = tu_now_ms() - t0;
			cr_assert_lt(dt, rb_ms(2000), "yank_status beside a stopped holder: %ld ms",
				     dt);
			cr_assert_eq(st.lock_holder, v.pid, "lock holder %d, want the victim %d",
				     (int)st.lock_holder, (int)v.pid);
			cr_assert(st.lock_holder_alive);
			/* A writer gets -ETIMEDOUT, bounded. */
			struct yank_open_opts o2 = parent_opts();
			o2.lock_timeout_ms = 200;
			yank_registry *r2 = NULL;
			cr_assert_eq(yank_open_with(seg, &o2, &r2), 0);
			t0 = tu_now_ms();
			int r = yank_gc(r2, NULL);
			dt = tu_now_ms() - t0;
			cr_assert_eq(r, -ETIMEDOUT, "gc beside a stopped holder: %s",
				     yank_strerror(r));
			cr_assert_lt(dt, rb_ms(1500), "gc with a 200 ms bound took %ld ms", dt);
			yank_close(r2);
		}
		kill(v.pid, SIGKILL);
		cr_assert(rb_killed(&v, 5000));
	} else {
		assert_died_at(&v, "victim", c->point, a);
	}

	/* Readers see the survivor intact even before anybody repaired anything. */
	assert_survivor_listed(reg, &s, "victim dead, before repair");
	if (c->holds_lock) {
		struct yank_status st;
		cr_assert_eq(yank_status(reg, &st), 0);
		cr_assert_eq(st.lock_holder, v.pid, "a dead holder must be reported: %d, want %d",
			     (int)st.lock_holder, (int)v.pid);
		cr_assert_not(st.lock_holder_alive, "the dead holder is reported alive");
	}
	rb_peer_kill(&v);

	size_t reaped = 0;
	int r = yank_gc(reg, &reaped);
	cr_assert_eq(r, 0, "gc after %s: %s", c->point, yank_strerror(r));
	assert_healthy(reg, 3, 4, 1, "after the fault and gc");
	assert_only_survivor(reg, &s, "after the fault and gc");
	assert_yankctl_status_ok(seg, "after the fault and gc");
	assert_survivor_works(reg, &s, c->pre);
	assert_healthy(reg, c->pre ? 5 : 4, 6, 1, "after re-registering the victim's names");

	survivor_end(&s, reg, seg);
}

static const struct fault_case *find_case(const char *point)
{
	for (size_t i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].point, point))
			return &cases[i];
	return NULL;
}

static void run_point(const char *point, enum action a)
{
	const struct fault_case *c = find_case(point);
	cr_assert_not_null(c, "no case for %s", point);
	cr_log_info("fault point %s:%s", c->point, action_name[a]);
	signal(SIGPIPE, SIG_IGN);
	run_case(c, a);
}

/* Which (point, action) pairs have a test below: checked against the table. */
static unsigned instantiated[NCASES];

static void mark(const char *point, enum action a)
{
	const struct fault_case *c = find_case(point);
	if (c)
		instantiated[c - cases] |= 1u << a;
}

#define FT(id, point, act)                                                                 \
	__attribute__((constructor)) static void mark_##id(void)                           \
	{                                                                                  \
		mark(point, act);                                                          \
	}                                                                                  \
	Test(fault, id, .timeout = 60)                                                     \
	{                                                                                  \
		run_point(point, act);                                                     \
	}

FT(register_locked_kill, "register.locked", A_KILL)
FT(register_locked_stop, "register.locked", A_STOP)
FT(register_locked_exit, "register.locked", A_EXIT)
FT(unregister_locked_kill, "unregister.locked", A_KILL)
FT(proc_claim_mid_kill, "proc.claim.mid", A_KILL)
FT(proc_claim_mid_stop, "proc.claim.mid", A_STOP)
FT(inst_claim_mid_kill, "inst.claim.mid", A_KILL)
FT(inst_claim_mid_stop, "inst.claim.mid", A_STOP)
FT(inst_claim_before_link_kill, "inst.claim.before_link", A_KILL)
FT(inst_release_mid_kill, "inst.release.mid", A_KILL)
FT(proc_release_mid_kill, "proc.release.mid", A_KILL)
FT(proc_release_mid_stop, "proc.release.mid", A_STOP)
FT(rec_claim_mid_kill, "rec.claim.mid", A_KILL)
FT(rec_claim_mid_exit, "rec.claim.mid", A_EXIT)
FT(rec_claim_before_count_kill, "rec.claim.before_count", A_KILL)
FT(rec_claim_before_count_stop, "rec.claim.before_count", A_STOP)
FT(record_claimed_kill, "record.claimed", A_KILL)
FT(record_unpublished_kill, "record.unpublished", A_KILL)
FT(record_unpublished_stop, "record.unpublished", A_STOP)
FT(rec_release_before_count_kill, "rec.release.before_count", A_KILL)
FT(rec_release_before_count_stop, "rec.release.before_count", A_STOP)
FT(reap_before_release_kill, "reap.before_release", A_KILL)
FT(reap_before_release_stop, "reap.before_release", A_STOP)
FT(agent_after_send_kill, "agent.after_send", A_KILL)
FT(agent_after_send_stop, "agent.after_send", A_STOP)
FT(yank_validated_kill, "yank.validated", A_KILL)
FT(yank_validated_stop, "yank.validated", A_STOP)
FT(seg_after_truncate_kill, "seg.after_truncate", A_KILL)
FT(seg_after_truncate_stop, "seg.after_truncate", A_STOP)
FT(seg_before_publish_kill, "seg.before_publish", A_KILL)
FT(seg_before_publish_stop, "seg.before_publish", A_STOP)
FT(seg_before_publish_exit, "seg.before_publish", A_EXIT)

/* The table covers every fault point compiled into the library. */
Test(fault, table_covers_every_point, .timeout = 30)
{
	static const char *const all[] = {
		"register.locked", "unregister.locked", "proc.claim.mid", "inst.claim.mid",
		"inst.claim.before_link", "inst.release.mid", "proc.release.mid", "rec.claim.mid",
		"rec.claim.before_count", "record.claimed", "record.unpublished",
		"rec.release.before_count", "reap.before_release", "seg.after_truncate",
		"seg.before_publish", "agent.after_send", "yank.validated",
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		size_t k = 0;
		while (k < NCASES && strcmp(cases[k].point, all[i]))
			k++;
		cr_assert_lt(k, NCASES, "fault point %s has no case", all[i]);
		cr_assert(cases[k].actions & K, "fault point %s is never killed", all[i]);
	}
	for (size_t k = 0; k < NCASES; k++)
		cr_assert_eq(instantiated[k], cases[k].actions,
			     "%s: the tests instantiated (mask %u) are not the table's (mask %u)",
			     cases[k].point, instantiated[k], cases[k].actions);
}
