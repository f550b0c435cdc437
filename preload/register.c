/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The shim's side of libyank: its private handle, opened on the first
 * socket worth registering, and the registering and unregistering of one
 * fd.  Whatever goes wrong here, the host's own call goes on as if the
 * shim were not loaded: failures are swallowed (one stderr line with
 * YANK_PRELOAD_DEBUG=1), a registry lock held too long makes the shim back
 * off for a while, and no libyank call is made from a thread that is
 * already inside one (a signal handler's close, say): that fd's record is
 * left behind as stale, which a yank recognises by its inode and skips.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

#define LOCK_MS 100
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 4000
#define OPEN_WAIT_TRIES 200 /* 1 ms each, for another thread's open */
#define DEFAULT_TEMPLATE "%c[%p]#%f%d%a"

enum reg_state { REG_NONE, REG_OPENING, REG_OPEN, REG_OFF };

static struct {
	int loaded;
	int debug;
	int grouped; /* the template has no %f: fds share instances */
	enum yank_type type;
	char tmpl[YANK_NAME_MAX + 1];
	char match[4096]; /* empty: every socket */
	char comm[80];    /* escaped, read once */
} cfg;

static yank_registry *reg;
static int reg_state;
static pid_t owner_pid;           /* the process whose records the table holds */
static uint64_t backoff_until_ns; /* CLOCK_MONOTONIC */
static uint32_t backoff_ms;

/* Non-zero while this thread is inside libyank: nothing may call into it again. */
static __thread int depth __attribute__((tls_model("initial-exec")));

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One line on stderr, only when asked for; errno is the caller's to keep. */
__attribute__((format(printf, 1, 2))) static void debug(const char *fmt, ...)
{
	if (!cfg.debug)
		return;
	int e = errno;
	char line[512];
	int n = snprintf(line, sizeof(line), "libyank-preload[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = strlen(line);
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	errno = e;
}

static void read_comm(void)
{
	char raw[32] = "";
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, raw, sizeof(raw) - 1);
	if (fd >= 0)
		yank__pl_real_close(fd);
	if (n > 0 && raw[n - 1] == '\n')
		n--;
	if (n <= 0) {
		strcpy(cfg.comm, "?");
		return;
	}
	yank__pl_escape(raw, (size_t)n, cfg.comm, sizeof(cfg.comm));
}

static void copy_env(const char *var, char *dst, size_t size, const char *def)
{
	const char *v = getenv(var);
	if (!v || !*v)
		v = def;
	if (strlen(v) >= size)
		debug("%s is too long; using the first %zu bytes", var, size - 1);
	snprintf(dst, size, "%s", v);
}

/* From the constructor: the environment as the program was started with it. */
void yank__pl_config_load(void)
{
	const char *d = getenv("YANK_PRELOAD_DEBUG");
	cfg.debug = d && *d && strcmp(d, "0") != 0;
	copy_env("YANK_PRELOAD_NAME", cfg.tmpl, sizeof(cfg.tmpl), DEFAULT_TEMPLATE);
	copy_env("YANK_PRELOAD_MATCH", cfg.match, sizeof(cfg.match), "");
	cfg.grouped = !yank__pl_template_has_fd(cfg.tmpl);
	cfg.type = YANK_CHARDEV;
	const char *t = getenv("YANK_PRELOAD_TYPE");
	if (t && strcmp(t, "block-node") == 0)
		cfg.type = YANK_BLOCK_NODE;
	else if (t && *t && strcmp(t, "chardev") != 0)
		debug("YANK_PRELOAD_TYPE=%s is neither chardev nor block-node; using chardev", t);
	__atomic_store_n(&cfg.loaded, 1, __ATOMIC_RELEASE);
}

static int backing_off(void)
{
	uint64_t until = __atomic_load_n(&backoff_until_ns, __ATOMIC_RELAXED);
	return until && now_ns() < until;
}

/* Every libyank result passes here: a lock timeout starts or lengthens the back-off. */
static int note(int r, const char *what, const char *name)
{
	if (r == -ETIMEDOUT) {
		uint32_t ms = __atomic_load_n(&backoff_ms, __ATOMIC_RELAXED);
		ms = ms ? ms * 2 : BACKOFF_MIN_MS;
		if (ms > BACKOFF_MAX_MS)
			ms = BACKOFF_MAX_MS;
		__atomic_store_n(&backoff_ms, ms, __ATOMIC_RELAXED);
		__atomic_store_n(&backoff_until_ns, now_ns() + (uint64_t)ms * 1000000u,
				 __ATOMIC_RELAXED);
		debug("%s %s: registry lock busy; not trying again for %u ms", what, name, ms);
	} else if (r == 0) {
		__atomic_store_n(&backoff_ms, 0, __ATOMIC_RELAXED);
	} else {
		debug("%s %s: %s", what, name, yank_strerror(r));
	}
	return r;
}

static int open_registry(void)
{
	struct yank_open_opts o = { .lock_timeout_ms = LOCK_MS };
	yank_registry *r = NULL;
	depth++;
	int e = yank_open_with(NULL, &o, &r);
	depth--;
	if (e < 0) {
		const char *seg = getenv("YANK_SEGMENT");
		debug("registry %s unusable, registering nothing: %s%s%s", seg ? seg : "(default)",
		      yank_strerror(e), *yank_error_detail() ? ": " : "", yank_error_detail());
		__atomic_store_n(&reg_state, REG_OFF, __ATOMIC_RELEASE);
		return 0;
	}
	read_comm();
	reg = r;
	__atomic_store_n(&owner_pid, getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&reg_state, REG_OPEN, __ATOMIC_RELEASE);
	return 1;
}

/* The handle, opened on first use; 0 when it is off, still opening, or backing off. */
static int ready(void)
{
	int st = __atomic_load_n(&reg_state, __ATOMIC_ACQUIRE);
	if (st == REG_OPEN)
		return !backing_off();
	if (st == REG_OFF)
		return 0;
	int expect = REG_NONE;
	if (st == REG_NONE && __atomic_compare_exchange_n(&reg_state, &expect, REG_OPENING, 0,
							  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return open_registry();
	/* Another thread is opening it: a short, bounded wait. */
	for (int i = 0; i < OPEN_WAIT_TRIES; i++) {
		st = __atomic_load_n(&reg_state, __ATOMIC_ACQUIRE);
		if (st != REG_OPENING)
			return st == REG_OPEN;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return 0;
}

/* A vfork child shares our memory but not our records: it must touch neither. */
static int is_owner(void)
{
	return getpid() == __atomic_load_n(&owner_pid, __ATOMIC_RELAXED);
}

/*
 * Add the record of @fd under @name.  With a template that has no %f
 * several fds share one instance: it may exist already (ours, EEXIST), or
 * vanish between the two calls when its last fd goes, so try twice.
 */
static int add(int fd, const char *name)
{
	struct yank_instance in = { cfg.type, name };
	int r = -ENOENT;
	for (int tries = 0; tries < 2 && r == -ENOENT; tries++) {
		int ri = yank_register_instance(reg, &in);
		if (ri < 0 && !(ri == -EEXIST && cfg.grouped))
			return note(ri, "register", name);
		r = yank_register_fd(reg, &in, fd);
		if (r < 0 && ri == 0)
			yank_unregister_instance(reg, &in);
	}
	return note(r, "register fd of", name);
}

/* Drop the record of @fd; the instance goes with its last fd. */
static int drop(int fd, const char *name)
{
	struct yank_instance in = { cfg.type, name };
	int r = yank_unregister_fd(reg, &in, fd);
	if (r == 0 || r == -ENOENT) {
		/* -EBUSY: other fds of a shared instance remain, which is fine. */
		int ri = yank_unregister_instance(reg, &in);
		if (ri == -ETIMEDOUT)
			note(ri, "unregister", name);
		return 0;
	}
	return note(r, "unregister fd of", name);
}

/* Slot held BUSY by us: unregister, then leave it @after, or STALE if that failed. */
static void drop_slot(int fd, struct fd_slot *s, enum fd_state after)
{
	depth++;
	int r = drop(fd, s->name);
	depth--;
	yank__pl_move(s, FD_BUSY, r == 0 ? after : FD_STALE);
}

/* A slot left REG or STALE by a close we never saw (fclose inside libc, say). */
static int clear_leftover(int fd, struct fd_slot *s, uint64_t ino)
{
	enum fd_state st = yank__pl_state(s);
	if (st == FD_REG && s->ino == ino)
		return 1; /* the same socket, connected again (EALREADY, EISCONN) */
	if ((st == FD_REG || st == FD_STALE) && yank__pl_move(s, st, FD_BUSY))
		drop_slot(fd, s, FD_FREE);
	return 0;
}

void yank__pl_register(int fd, char dir, const char *peer)
{
	if (depth || !__atomic_load_n(&cfg.loaded, __ATOMIC_ACQUIRE))
		return;
	if (cfg.match[0] && !yank__pl_match(cfg.match, peer))
		return;
	struct stat st;
	struct fd_slot *s = yank__pl_slot(fd, 1);
	if (!s || fstat(fd, &st) < 0 || !ready() || !is_owner())
		return;
	if (clear_leftover(fd, s, st.st_ino))
		return;
	if (!yank__pl_move(s, FD_FREE, FD_BUSY))
		return;
	yank__pl_name(cfg.tmpl, cfg.comm, fd, dir, peer, s->name, sizeof(s->name));
	s->ino = st.st_ino;
	depth++;
	int r = add(fd, s->name);
	depth--;
	yank__pl_move(s, FD_BUSY, r == 0 ? FD_REG : FD_FREE);
}

void yank__pl_closing(int fd)
{
	struct fd_slot *s = yank__pl_slot(fd, 0);
	if (!s)
		return;
	enum fd_state st = yank__pl_state(s);
	if (st != FD_REG && st != FD_STALE)
		return;
	if (!is_owner())
		return;
	/*
	 * Inside libyank already (a signal handler interrupted it on this
	 * thread), or the lock is out of reach: close without unregistering.
	 * The record outlives the fd; a yank finds another inode there and
	 * leaves it alone, and the next registration of this number clears it.
	 */
	if (depth || backing_off()) {
		if (st == FD_REG)
			yank__pl_move(s, FD_REG, FD_STALE);
		return;
	}
	if (yank__pl_move(s, st, FD_BUSY))
		drop_slot(fd, s, FD_FREE);
}

/*
 * exec: the new image starts clean.  libyank would also reap an exec'd
 * image's records, but only at some later registration; until then
 * yankctl would list them as a live process's.  Nothing here runs in a
 * vfork child (is_owner), whose exec must not take its parent's records.
 */
void yank__pl_exec_park(void)
{
	if (depth || __atomic_load_n(&reg_state, __ATOMIC_ACQUIRE) != REG_OPEN || !is_owner())
		return;
	for (int fd = 0, hwm = yank__pl_hwm(); fd <= hwm; fd++) {
		struct fd_slot *s = yank__pl_slot(fd, 0);
		if (!s)
			continue;
		enum fd_state st = yank__pl_state(s);
		if ((st == FD_REG || st == FD_STALE) && yank__pl_move(s, st, FD_BUSY))
			drop_slot(fd, s, st == FD_REG ? FD_PARKED : FD_FREE);
	}
}

void yank__pl_exec_unpark(void)
{
	if (depth || __atomic_load_n(&reg_state, __ATOMIC_ACQUIRE) != REG_OPEN || !is_owner())
		return;
	for (int fd = 0, hwm = yank__pl_hwm(); fd <= hwm; fd++) {
		struct fd_slot *s = yank__pl_slot(fd, 0);
		if (!s || !yank__pl_move(s, FD_PARKED, FD_BUSY))
			continue;
		depth++;
		int r = add(fd, s->name);
		depth--;
		yank__pl_move(s, FD_BUSY, r == 0 ? FD_REG : FD_FREE);
	}
}

/*
 * The child owns nothing (SPEC §2 rule 9): forget the table in one store.
 * The handle stays; libyank's own atfork handler made it register anew.
 * A handle another thread was still opening is given up: that thread is
 * not in the child to finish.
 */
void yank__pl_fork_child(void)
{
	yank__pl_forget_all();
	__atomic_store_n(&owner_pid, getpid(), __ATOMIC_RELAXED);
	if (__atomic_load_n(&reg_state, __ATOMIC_RELAXED) == REG_OPENING)
		__atomic_store_n(&reg_state, REG_OFF, __ATOMIC_RELAXED);
	depth = 0;
}
