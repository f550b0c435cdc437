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
	cr_assert_eq(rb_peer_start(&o, NULL), 0);
	PEER_OK(&o, "open %s", seg);
	PEER_OK(&o, "inst c:x");
	PEER_OK(&o, "cb c:x");
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
	cr_assert_eq(rb_peer_start(&h, NULL), 0);
	PEER_OK(&h, "open %s", seg);
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
