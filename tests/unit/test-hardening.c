/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Hosts and peers that misbehave on purpose (hardening issue, SPEC §2.8,
 * §4, §9): a thread cancelled inside a call, a host that closes every fd
 * and reuses the numbers, an image replaced by execve(), a socket posing
 * as a dead owner's agent, a flood of connections, an agent at the fd
 * limit.  Each test failed on the library before its fix.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <yank.h>

#include "agent.h"
#include "handle.h"
#include "handoff.h"
#include "internal.h"
#include "lock.h"
#include "registry.h"
#include "wire.h"

#include "testutil.h"
#include "../helpers/rb-peer.h"

static const struct yank_instance CX = { YANK_CHARDEV, "x" };

static yank_registry *open_ms(const char *seg, uint32_t lock_ms, uint32_t agent_ms)
{
	struct yank_open_opts o = { .lock_timeout_ms = lock_ms, .agent_timeout_ms = agent_ms };
	yank_registry *r;
	int e = yank_open_with(seg, &o, &r);
	cr_assert_eq(e, 0, "open %s: %s", seg, yank_strerror(e));
	return r;
}

/* A peer process that owns c:x with one callback; @opts go to its open. */
static void peer_owns_cb(struct rb_peer *o, const char *seg, const char *opts)
{
	cr_assert_eq(rb_peer_start(o, NULL), 0);
	PEER_OK(o, "open %s %s", seg, opts);
	PEER_OK(o, "inst c:x");
	PEER_OK(o, "cb c:x");
}

/* The agent path recorded by the only owner in @r's segment. */
static void agent_path(yank_registry *r, char *path)
{
	struct proc_view pv = { 0 };
	for (uint32_t i = 0; i < r->seg.cap_proc && !pv.agent_len; i++)
		if (yank__read_proc(&r->seg, i, &pv) < 0)
			pv.agent_len = 0;
	cr_assert(pv.agent_len > 0, "no agent recorded");
	memcpy(path, pv.agent, pv.agent_len);
	path[pv.agent_len] = '\0';
}

/* ---- cancellation: no public call may be cancelled half-way ---- */

struct call {
	yank_registry *r;
	int what;
	int fd;
	int result;
	int done; /* set right after the call returned: it was not cancelled inside */
	pid_t tid;
};

enum { C_UNREG_FD, C_UNREG_FN, C_YANK, C_CLOSE, C_REGISTER };

static void slow_cb(void *opaque)
{
	/* Runs in the agent until the test writes a byte (bounded: 30 s). */
	int fd = *(int *)opaque;
	struct pollfd p = { fd, POLLIN, 0 };
	poll(&p, 1, 30000);
}

static int slow_pipe[2];

static void *caller(void *arg)
{
	struct call *c = arg;
	c->tid = (pid_t)gettid();
	switch (c->what) {
	case C_UNREG_FD:
		c->result = yank_unregister_fd(c->r, &CX, c->fd);
		break;
	case C_UNREG_FN:
		c->result = yank_unregister_function(c->r, &CX, slow_cb, &slow_pipe[0]);
		break;
	case C_YANK:
		c->result = yank_yank(c->r, &CX, 1);
		break;
	case C_CLOSE:
		yank_close(c->r);
		c->result = 0;
		break;
	case C_REGISTER: {
		struct yank_instance y = { YANK_CHARDEV, "contended" };
		c->result = yank_register_instance(c->r, &y);
		break;
	}
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	pthread_testcancel();
	return NULL;
}

/* Is thread @tid asleep in the kernel (state S)? */
static int sleeping(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* What ends the wait once the cancel is sent (a yanker let go, a callback released). */
static struct rb_peer raw;
static void let_raw_go(void)
{
	rb_peer_kill(&raw);
}
static void release_cb(void)
{
	tu_write_byte(slow_pipe[1], 'x');
}

/* Run @c in a thread, cancel it once it waits inside the call, let the
 * wait end with @after, join it. */
static void cancel_inside(struct call *c, const char *what, void (*after)(void))
{
	pthread_t th;
	c->tid = 0;
	cr_assert_eq(pthread_create(&th, NULL, caller, c), 0);
	long end = tu_now_ms() + rb_ms(10000);
	/* Asleep twice in a row 20 ms apart: inside its wait, not passing by. */
	int seen = 0;
	while (seen < 2 && tu_now_ms() < end) {
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
		pid_t tid = __atomic_load_n(&c->tid, __ATOMIC_ACQUIRE);
		int waiting = tid && sleeping(tid) && !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
		seen = waiting ? seen + 1 : 0;
	}
	cr_assert_eq(seen, 2, "%s: the call never waited", what);
	pthread_cancel(th);
	if (after)
		after();
	struct timespec ts = yank__deadline_ts((uint32_t)rb_ms(30000));
	cr_assert_eq(pthread_clockjoin_np(th, NULL, CLOCK_MONOTONIC, &ts), 0, "%s: no end", what);
	cr_assert(c->done, "%s was cancelled half-way", what);
}

/* A peer process with @seg open. */
static void peer_open(struct rb_peer *p, const char *seg)
{
	cr_assert_eq(rb_peer_start(p, NULL), 0);
	PEER_OK(p, "open %s", seg);
}

/* After the cancel: another process registers at once, and so do we. */
static void registry_still_works(yank_registry *r, const char *seg, const char *what)
{
	struct rb_peer o;
	cr_assert_eq(rb_peer_start(&o, NULL), 0);
	PEER_OK(&o, "open %s lock=2000", seg);
	int rc = rb_cmd(&o, "inst c:other");
	cr_assert_eq(rc, 0, "after %s, another process could not register: '%s'", what, o.last);
	rb_peer_kill(&o);
	if (!r)
		return;
	struct call c = { .r = r, .what = C_REGISTER };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, caller, &c), 0);
	struct timespec ts = yank__deadline_ts((uint32_t)rb_ms(10000));
	cr_assert_eq(pthread_clockjoin_np(th, NULL, CLOCK_MONOTONIC, &ts), 0,
		     "after %s, the host's own next call hangs", what);
	cr_assert(c.result == 0 || c.result == -EEXIST, "after %s: %s", what,
		  yank_strerror(c.result));
}

/* The test process owns c:x with one fd record, which a raw yanker takes
 * and holds without saying done: unregister and close drain on it. */
static yank_registry *owner_with_held_fd(const char *seg, int *fd)
{
	yank_registry *r = open_ms(seg, 2000, 3000);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(yank_register_instance(r, &CX), 0);
	cr_assert_eq(yank_register_fd(r, &CX, sv[0]), 0);
	rb_rawclient(&raw, seg, "c:x", "--hold", NULL);
	cr_assert(!strncmp(raw.last, "res", 3), "the raw yanker got '%s'", raw.last);
	*fd = sv[0];
	return r;
}

Test(hardening, cancel_inside_unregister_fd)
{
	const char *seg = tu_segment("cancel-fd");
	int fd;
	yank_registry *r = owner_with_held_fd(seg, &fd);
	struct call c = { .r = r, .what = C_UNREG_FD, .fd = fd };
	cancel_inside(&c, "unregister_fd", let_raw_go);
	cr_assert_eq(c.result, 0, "unregister_fd: %s", yank_strerror(c.result));
	registry_still_works(r, seg, "unregister_fd");
	yank_close(r);
}

Test(hardening, cancel_inside_close)
{
	const char *seg = tu_segment("cancel-close");
	int fd;
	yank_registry *r = owner_with_held_fd(seg, &fd);
	struct call c = { .r = r, .what = C_CLOSE };
	cancel_inside(&c, "close", let_raw_go);
	registry_still_works(NULL, seg, "close");
}

Test(hardening, cancel_inside_unregister_function)
{
	const char *seg = tu_segment("cancel-fn");
	yank_registry *r = open_ms(seg, 2000, 3000);
	cr_assert_eq(pipe2(slow_pipe, O_CLOEXEC), 0);
	cr_assert_eq(yank_register_instance(r, &CX), 0);
	cr_assert_eq(yank_register_function(r, &CX, slow_cb, &slow_pipe[0]), 0);
	/* Its request makes the agent run slow_cb, which waits for our byte. */
	char *argv[] = { (char *)"rb-rawclient", (char *)seg, (char *)"c:x", NULL };
	cr_assert_eq(rb_spawn(&raw, "rb-rawclient", argv, NULL), 0);
	long end = tu_now_ms() + rb_ms(10000);
	while (yank__agent_connections(r->agent) == 0 && tu_now_ms() < end) {
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	struct call c = { .r = r, .what = C_UNREG_FN };
	cancel_inside(&c, "unregister_function", release_cb);
	cr_assert_eq(c.result, 0, "unregister_function: %s", yank_strerror(c.result));
	rb_peer_kill(&raw);
	registry_still_works(r, seg, "unregister_function");
	yank_close(r);
}

/* A yank waits for an owner that is stopped: up to the agent timeout. */
Test(hardening, cancel_inside_yank)
{
	const char *seg = tu_segment("cancel-yank");
	struct rb_peer o;
	peer_owns_cb(&o, seg, "");
	rb_peer_stop(&o);
	yank_registry *r = open_ms(seg, 2000, 3000);
	struct call c = { .r = r, .what = C_YANK };
	cancel_inside(&c, "yank", NULL);
	cr_assert_eq(c.result, -EIO, "yank of a stopped owner's callback: %s",
		     yank_strerror(c.result));
	kill(o.pid, SIGCONT);
	registry_still_works(r, seg, "yank");
	yank_close(r);
	rb_peer_kill(&o);
}

/* Registering waits for the lock that a stopped process holds. */
Test(hardening, cancel_inside_register_under_contention)
{
	const char *seg = tu_segment("cancel-lock");
	struct rb_peer h;
	peer_open(&h, seg);
	PEER_OK(&h, "fault register.locked:stop");
	rb_send(&h, "inst c:held");
	rb_assert_stopped_at(&h, "holder", "register.locked");
	yank_registry *r = open_ms(seg, 1500, 1000);
	struct call c = { .r = r, .what = C_REGISTER };
	cancel_inside(&c, "register under contention", NULL);
	cr_assert_eq(c.result, -ETIMEDOUT, "register: %s", yank_strerror(c.result));
	rb_peer_kill(&h); /* the lock's owner dies: the next locker repairs */
	registry_still_works(r, seg, "register under contention");
	yank_close(r);
}

/*
 * A cancel already pending when the instance calls start, which run
 * without a guard of their own: every cancellation point they reach
 * (starting the agent on the first registration; reading /proc and
 * probing the agent of a dead owner that holds the name) must leave it
 * pending, to act at the caller's next cancellation point.
 */
static const struct yank_instance CDEAD = { YANK_CHARDEV, "dead" };

static void *pending_caller(void *arg)
{
	struct call *c = arg;
	pthread_cancel(pthread_self());
	c->result = yank_register_instance(c->r, &CX);
	if (c->result == 0)
		c->result = yank_register_instance(c->r, &CDEAD);
	if (c->result == 0)
		c->result = yank_unregister_instance(c->r, &CDEAD);
	if (c->result == 0)
		c->result = yank_unregister_instance(c->r, &CX);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	pthread_testcancel();
	return NULL;
}

Test(hardening, cancel_pending_before_instance_calls)
{
	const char *seg = tu_segment("cancel-pending");
	struct rb_peer d;
	peer_open(&d, seg);
	PEER_OK(&d, "inst c:dead");
	rb_peer_kill(&d); /* its name stays in the segment until somebody reaps it */
	yank_registry *r = open_ms(seg, 2000, 1000);
	struct call c = { .r = r };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, pending_caller, &c), 0);
	void *ret = NULL;
	struct timespec ts = yank__deadline_ts((uint32_t)rb_ms(30000));
	cr_assert_eq(pthread_clockjoin_np(th, &ret, CLOCK_MONOTONIC, &ts), 0, "no end");
	cr_assert(c.done, "an instance call was cancelled half-way");
	cr_assert_eq(c.result, 0, "%s", yank_strerror(c.result));
	cr_assert_eq(ret, PTHREAD_CANCELED, "the cancel was lost, not kept pending");
	registry_still_works(r, seg, "a pending cancel");
	yank_close(r);
}

/* ---- a host that closes every fd and reuses the numbers ---- */

Test(hardening, host_that_closes_our_fds_keeps_its_files)
{
	const char *seg = tu_segment("closerange");
	struct rb_peer o;
	peer_owns_cb(&o, seg, "");
	PEER_OK(&o, "closerange"); /* our listener and reserve now name host files */
	PEER_OK(&o, "inst c:y");
	PEER_OK(&o, "cb c:y");
	int far = rb_add_fd(&o, "c:y");
	yank_registry *r = open_ms(seg, 2000, rb_ms(3000));
	struct yank_instance y = { YANK_CHARDEV, "y" };
	struct yank_failure *f = NULL;
	size_t nf = 0;
	int e = yank_yank_detailed(r, &y, 1, &f, &nf);
	cr_assert_eq(e, 0, "yank after the host's close_range: %s (%zu failures, first kind %d err %d)",
		     yank_strerror(e), nf, nf ? (int)f[0].kind : -1, nf ? f[0].err : 0);
	yank_failures_free(f, nf);
	cr_assert(rb_event_is(&o, 5000, "cb c:y"), "the agent made again ran no callback");
	cr_assert(rb_sees_eof(far, rb_ms(2000)), "the fd was not shut down");
	PEER_OK(&o, "hostcheck");
	PEER_OK(&o, "close");
	PEER_OK(&o, "hostcheck"); /* yank_close wrote to or closed none of them */
	yank_close(r);
	rb_peer_kill(&o);
	close(far);
}

/* ---- an owner is a process image ---- */

Test(hardening, an_image_that_execs_can_register_its_names_again)
{
	const char *seg = tu_segment("exec");
	struct rb_peer o;
	peer_owns_cb(&o, seg, "");
	PEER_OK(&o, "inst b:disk");
	PEER_OK(&o, "exec"); /* same pid, same start time, a new image */
	PEER_OK(&o, "open %s", seg);
	PEER_OK(&o, "inst c:x");
	PEER_OK(&o, "cb c:x");
	yank_registry *r = open_ms(seg, 2000, rb_ms(3000));
	cr_assert_eq(yank_yank(r, &CX, 1), 0, "the new image's callback");
	cr_assert(rb_event_is(&o, 5000, "cb c:x"), "the new image's callback did not run");
	/* The old image's other name went with it. */
	struct yank_instance d = { YANK_BLOCK_NODE, "disk" };
	cr_assert_eq(yank_yank(r, &d, 1), -ENOENT, "the old image's block-node survived");
	yank_close(r);
	rb_peer_kill(&o);
}

Test(hardening, gc_reaps_what_an_image_that_exec_d_left)
{
	const char *seg = tu_segment("exec-gc");
	struct rb_peer o;
	peer_open(&o, seg);
	PEER_OK(&o, "inst c:x");
	rb_add_fd(&o, "c:x");
	PEER_OK(&o, "exec"); /* and does not open the registry again */
	yank_registry *r = open_ms(seg, 2000, 1000);
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.dead_processes, 1, "status counts the old image as live");
	cr_assert_eq(st.live_processes, 0);
	if (rb_have_yankctl("yankctl gc after exec")) {
		char out[256];
		long dt;
		int rc = rb_yankctl(seg, 2000, NULL, 10000, out, sizeof(out), &dt, "gc", NULL);
		cr_assert_eq(rc, 0, "yankctl gc exited %d", rc);
		cr_assert(strstr(out, "1"), "yankctl gc reaped nothing: '%s'", out);
	} else {
		size_t n = 0;
		cr_assert_eq(yank_gc(r, &n), 0);
		cr_assert_eq(n, 1);
	}
	cr_assert_eq(yank_yank(r, &CX, 1), -ENOENT, "the old image's instance survived gc");
	yank_close(r);
	rb_peer_kill(&o);
}

/* ---- somebody else at a dead owner's agent address ---- */

/* Bind @path as uid 65534 and answer every request: "all ran". */
static pid_t impostor(const char *path, int ready)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
		_exit(2);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	unlink(path);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 8) < 0)
		_exit(3);
	tu_write_byte(ready, 'r');
	static char buf[WIRE_MAX_MSG];
	static struct wire_item items[WIRE_MAX_ITEMS];
	for (int k = 0; k < 20; k++) {
		struct pollfd p = { l, POLLIN, 0 };
		if (poll(&p, 1, 20000) <= 0)
			_exit(0);
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ssize_t n = c < 0 ? -1 : recv(c, buf, sizeof(buf), 0);
		struct wire_msg m = { .items = items };
		if (n > 0 && yank__wire_decode(buf, (size_t)n, &m) == 0 && m.op == WIRE_YANK) {
			for (uint32_t i = 0; i < m.n; i++)
				items[i].status = WS_RAN;
			struct wire_msg res = { .op = WIRE_RES, .n = m.n, .items = items,
						.deadline = m.deadline };
			size_t len;
			if (yank__wire_encode(&res, buf, sizeof(buf), &len) == 0)
				send(c, buf, len, MSG_NOSIGNAL);
		}
		if (c >= 0)
			close(c);
	}
	_exit(0);
}

Test(hardening, a_socket_posing_as_a_dead_owners_agent_is_not_believed)
{
	const char *seg = tu_segment("impostor");
	struct rb_peer o;
	peer_owns_cb(&o, seg, "");
	yank_registry *r = open_ms(seg, 2000, rb_ms(2000));
	rb_peer_kill(&o); /* kill -9: nothing is cleaned up */
	/*
	 * Its address, as another uid could take it when addresses were
	 * abstract names: here a socket of nobody's in a directory of its
	 * own, which the dead owner's slot is made to name.  (Under the lock,
	 * as a writer would; no sweep of ours ever touches that directory.)
	 */
	char dir[] = "/tmp/yank-impostor-XXXXXX", path[AGENT_ADDR_MAX + 1];
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chown(dir, 65534, 65534), 0);
	snprintf(path, sizeof(path), "%s/s", dir);
	struct proc_view pv = { 0 };
	for (uint32_t i = 0; i < r->seg.cap_proc && !pv.agent_len; i++)
		if (yank__read_proc(&r->seg, i, &pv) < 0)
			pv.agent_len = 0;
	cr_assert(pv.agent_len > 0, "no owner recorded");
	cr_assert_eq(yank__lock(&r->seg, 2000), 0);
	yank__proc_set_agent(&r->seg, pv.idx, path, (uint32_t)strlen(path));
	yank__unlock(&r->seg);
	int ready[2];
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	pid_t imp = impostor(path, ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], rb_ms(5000)), 'r', "the impostor did not bind");
	struct yank_failure *f = NULL;
	size_t nf = 0;
	int e = yank_yank_detailed(r, &CX, 1, &f, &nf);
	cr_assert_eq(e, -EIO, "a yank answered by an impostor: %s", yank_strerror(e));
	cr_assert_eq(nf, 1);
	cr_assert(f[0].kind == YANK_FAIL_OWNER_GONE || f[0].kind == YANK_FAIL_NO_AGENT,
		  "failure kind %d", (int)f[0].kind);
	yank_failures_free(f, nf);
	kill(imp, SIGKILL);
	tu_wait(imp, 5000);
	unlink(path);
	rmdir(dir);
	yank_close(r);
}

/* ---- a flood of connections from our own uid ---- */

/* Keep up to 400 connections to @path open, making new ones as fast as the
 * backlog takes them, for at most @ms; stop when @stop is readable. */
static pid_t flooder(const char *path, int stop, long ms)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	static int c[400];
	int n = 0, next = 0;
	long end = tu_now_ms() + ms;
	while (tu_now_ms() < end) {
		struct pollfd p = { stop, POLLIN, 0 };
		if (poll(&p, 1, 0) > 0)
			break;
		int s;
		if (yank__agent_connect(path, (uint32_t)strlen(path), &s) < 0) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
			continue;
		}
		if (n == 400) {
			close(c[next]);
			c[next] = s;
			next = (next + 1) % 400;
		} else {
			c[n++] = s;
		}
	}
	_exit(0);
}

Test(hardening, under_a_connection_flood_every_callback_yank_succeeds)
{
	const char *seg = tu_segment("flood");
	struct rb_peer o;
	char opts[32], path[AGENT_ADDR_MAX + 1];
	snprintf(opts, sizeof(opts), "agent=%ld", rb_ms(5000));
	peer_owns_cb(&o, seg, opts);
	yank_registry *r = open_ms(seg, 2000, rb_ms(5000));
	agent_path(r, path);
	int stop[2];
	cr_assert_eq(pipe2(stop, O_CLOEXEC), 0);
	pid_t fl = flooder(path, stop[0], rb_ms(60000));
	int ok = 0;
	for (int i = 0; i < 10; i++) {
		struct yank_failure *f = NULL;
		size_t nf = 0;
		int e = yank_yank_detailed(r, &CX, 1, &f, &nf);
		if (e == 0 && rb_event_is(&o, 5000, "cb c:x"))
			ok++;
		else
			cr_log_error("yank %d under the flood: %s, first failure kind %d err %d", i,
				     yank_strerror(e), nf ? (int)f[0].kind : -1, nf ? f[0].err : 0);
		yank_failures_free(f, nf);
	}
	tu_write_byte(stop[1], 's');
	tu_wait(fl, 10000);
	cr_assert_eq(ok, 10, "%d of 10 callback yanks succeeded under the flood", ok);
	yank_close(r);
	rb_peer_kill(&o);
}

/* ---- a registry names only processes of the uids it may ---- */

/*
 * Root reads every user's registry, and that user writes it: a record
 * there naming one of root's processes must not make root's yank act on
 * it.  Here the registry is made to look like another user's (its file
 * owner, as root's yanker saw it at open) while its owner is root's.
 */
Test(hardening, a_registry_cannot_point_a_yank_at_another_uids_process)
{
	if (geteuid() != 0)
		cr_skip_test("the rule is about root's yank (a user may act on its own processes)");
	const char *seg = tu_segment("uid-rule");
	struct rb_peer o;
	peer_owns_cb(&o, seg, "");
	int far = rb_add_fd(&o, "c:x");
	yank_registry *r = open_ms(seg, 2000, rb_ms(2000));
	r->seg.file_uid = 65534; /* as if /yank-65534, read by root */
	struct yank_failure *f = NULL;
	size_t nf = 0;
	int e = yank_yank_detailed(r, &CX, 1, &f, &nf);
	cr_assert_eq(e, -EIO, "a yank of root's process through another user's registry: %s",
		     yank_strerror(e));
	cr_assert_eq(nf, 2);
	for (size_t i = 0; i < nf; i++)
		cr_assert(f[i].kind == YANK_FAIL_FALLBACK || f[i].kind == YANK_FAIL_CALLBACK,
			  "failure kind %d", (int)f[i].kind);
	yank_failures_free(f, nf);
	cr_assert_not(rb_sees_eof(far, 200), "the fd was shut down");
	char ev[256];
	cr_assert_not(rb_any_event(&o, 200, ev, sizeof(ev)), "the owner did '%s'", ev);
	r->seg.file_uid = 0;
	cr_assert_eq(yank_yank(r, &CX, 1), 0, "the same yank through root's own registry");
	cr_assert(rb_sees_eof(far, rb_ms(2000)));
	yank_close(r);
	rb_peer_kill(&o);
	close(far);
}
