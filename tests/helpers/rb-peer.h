/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Driver side of the robustness suites' helper programs (rb-peer,
 * rb-rawclient, rb-churn): spawning them, one bounded command/reply
 * exchange at a time, their event stream, and the checks every suite
 * needs (a stopped child, a socket's peer seeing EOF, running yankctl
 * with a bound, as another uid).
 *
 * Everything here runs in the Criterion test process, never in a forked
 * child before exec: children only exec or _exit, and report through exit
 * status and pipes (design-anchors §7).  Every wait is bounded and scaled
 * by tu_mult().
 */
#ifndef RB_PEER_H
#define RB_PEER_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <yank.h>

#include "testutil.h"

#define RB_NOREPLY INT_MIN


struct rb_peer {
	pid_t pid;
	int cmd;  /* its stdin */
	int rep;  /* its stdout */
	int ev;   /* its fd 3 */
	int dead; /* reaped */
	int status;
	size_t rlen, elen;
	char rbuf[16384];
	char ebuf[4096];
	char last[16384]; /* the last reply line */
};

/* Credentials a child drops to before it execs (or that rb-peer's "cred" takes). */
struct rb_cred {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[4];
};

static inline const char *rb_exe_dir(void)
{
	static char dir[4096];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0)
		return ".";
	dir[n] = '\0';
	char *s = strrchr(dir, '/');
	if (s)
		*s = '\0';
	return dir;
}

/* $HELPERS, or the helpers/ directory next to this test binary. */
static inline const char *rb_helpers(void)
{
	static char buf[4200];
	const char *h = getenv("HELPERS");
	if (h && *h)
		return h;
	snprintf(buf, sizeof(buf), "%s/helpers", rb_exe_dir());
	return buf;
}

/* $YANKCTL, or ../yankctl from this test binary; NULL when not executable. */
static inline const char *rb_yankctl_path(void)
{
	static char buf[4200];
	const char *y = getenv("YANKCTL");
	if (!y || !*y) {
		snprintf(buf, sizeof(buf), "%s/../yankctl", rb_exe_dir());
		y = buf;
	}
	return access(y, X_OK) == 0 ? y : NULL;
}

/* In a child (after fork, before exec): become @c for good. */
static inline void rb_become(const struct rb_cred *c)
{
	if (setgroups((size_t)c->ngroups, c->groups) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
	    setresuid(c->uid, c->uid, c->uid) < 0)
		_exit(126);
	/* The credential change cleared the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/*
 * Start $HELPERS/@prog with @argv (argv[0] included, NULL-terminated), as
 * @cred if not NULL.  Its stdin, stdout and fd 3 are pipes to us; stderr is
 * ours.  0 or -errno.
 */
static inline int rb_spawn(struct rb_peer *p, const char *prog, char *const argv[],
			   const struct rb_cred *cred)
{
	int in[2], out[2], ev[2];
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(ev, O_CLOEXEC) < 0)
		return -errno;
	char path[4600];
	snprintf(path, sizeof(path), "%s/%s", rb_helpers(), prog);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		tu_child_init();
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(ev[1], 3) < 0)
			_exit(125);
		if (cred)
			rb_become(cred);
		execv(path, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(ev[1]);
	p->pid = pid;
	p->cmd = in[1];
	p->rep = out[0];
	p->ev = ev[0];
	return 0;
}

static inline int rb_peer_start(struct rb_peer *p, const struct rb_cred *cred)
{
	char *argv[] = { (char *)"rb-peer", NULL };
	return rb_spawn(p, "rb-peer", argv, cred);
}

/* One line from @fd (buffered in @buf/@len) within @ms (scaled): 0, or -1. */
static inline int rb_line(int fd, char *buf, size_t cap, size_t *len, char *out, size_t ocap,
			  long ms)
{
	long end = tu_now_ms() + ms * tu_mult();
	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		if (nl) {
			size_t n = (size_t)(nl - buf);
			size_t c = n < ocap - 1 ? n : ocap - 1;
			memcpy(out, buf, c);
			out[c] = '\0';
			memmove(buf, nl + 1, *len - n - 1);
			*len -= n + 1;
			return 0;
		}
		if (*len == cap)
			*len = 0;
		/* Past the deadline, still take what is already there. */
		long left = end - tu_now_ms();
		if (left < 0)
			left = 0;
		struct pollfd pf = { fd, POLLIN, 0 };
		int pr = poll(&pf, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t r = read(fd, buf + *len, cap - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		*len += (size_t)r;
	}
}

__attribute__((format(printf, 2, 3))) static inline int rb_send(struct rb_peer *p,
								const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf) - 1)
		return -EINVAL;
	buf[n++] = '\n';
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ssize_t w = write(p->cmd, buf, (size_t)n);
	int e = errno;
	/* Swallow a SIGPIPE we caused, so that it is not delivered later. */
	struct timespec zero = { 0, 0 };
	if (w < 0 && e == EPIPE)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w == n ? 0 : -e;
}

/*
 * The reply to the last command within @ms: 0 for "ok", the negative errno
 * of "err", or RB_NOREPLY (timeout, or the peer died).  p->last has the line.
 */
static inline int rb_reply(struct rb_peer *p, long ms)
{
	p->last[0] = '\0';
	if (rb_line(p->rep, p->rbuf, sizeof(p->rbuf), &p->rlen, p->last, sizeof(p->last), ms) < 0)
		return RB_NOREPLY;
	if (!strncmp(p->last, "ok", 2))
		return 0;
	int e;
	if (sscanf(p->last, "err %d", &e) == 1 && e < 0)
		return e;
	return RB_NOREPLY;
}

#define RB_CMD_MS 10000

/* Send and wait for the reply (10 s, scaled). */
__attribute__((format(printf, 2, 3))) static inline int rb_cmd(struct rb_peer *p,
							       const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf))
		return -EINVAL;
	if (rb_send(p, "%s", buf) < 0)
		return RB_NOREPLY;
	return rb_reply(p, RB_CMD_MS);
}

/* The next event line within @ms into @out: 0, or -1. */
static inline int rb_event(struct rb_peer *p, long ms, char *out, size_t cap)
{
	return rb_line(p->ev, p->ebuf, sizeof(p->ebuf), &p->elen, out, cap, ms);
}

/* Wait for an event line equal to @want within @ms: 1 seen, 0 not. */
static inline int rb_event_is(struct rb_peer *p, long ms, const char *want)
{
	char line[512];
	long end = tu_now_ms() + ms * tu_mult();
	while (tu_now_ms() < end)
		if (rb_event(p, 10, line, sizeof(line)) == 0 && !strcmp(line, want))
			return 1;
	return 0;
}

/* Is an event pending within @ms? (Does not consume anything but what it prints.) */
static inline int rb_any_event(struct rb_peer *p, long ms, char *out, size_t cap)
{
	return rb_event(p, ms, out, cap) == 0;
}

/* Wait until @pid is stopped (it must be our child): 0, or -1 (exited or timed out). */
static inline int rb_wait_stopped(pid_t pid, long ms)
{
	long end = tu_now_ms() + ms * tu_mult();
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG | WUNTRACED);
		if (r == pid)
			return WIFSTOPPED(st) ? 0 : -1;
		if (r < 0 || tu_now_ms() > end)
			return -1;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Wait for @p to die within @ms (SIGKILL after that); its wait status, or -1. */
static inline int rb_peer_wait(struct rb_peer *p, long ms)
{
	if (p->pid <= 0 || p->dead)
		return p->dead ? p->status : -1;
	int st = tu_wait(p->pid, ms);
	p->dead = 1;
	p->status = st;
	return st;
}

/* SIGKILL and reap @p, close our pipes.  Safe on a peer never started. */
static inline void rb_peer_kill(struct rb_peer *p)
{
	if (p->pid > 0 && !p->dead) {
		kill(p->pid, SIGKILL);
		rb_peer_wait(p, 5000);
	}
	if (p->pid > 0) {
		close(p->cmd);
		close(p->rep);
		close(p->ev);
	}
	p->pid = -1;
}

/* Did @p die of SIGKILL (a fault point's "kill")? */
static inline int rb_killed(struct rb_peer *p, long ms)
{
	int st = rb_peer_wait(p, ms);
	return st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* A copy of fd @fd of process @pid (pidfd_getfd; we are root), or -errno. */
static inline int rb_getfd(pid_t pid, int fd)
{
	int pfd = pidfd_open(pid, 0);
	if (pfd < 0)
		return -errno;
	int r = pidfd_getfd(pfd, fd, 0);
	int e = errno;
	close(pfd);
	return r < 0 ? -e : r;
}

/*
 * 1 if socket @fd sees end-of-file (its peer was shut down or closed)
 * within @ms (not scaled: callers choose), 0 if it stays quiet.
 */
static inline int rb_sees_eof(int fd, long ms)
{
	struct pollfd pf = { fd, POLLIN | POLLRDHUP, 0 };
	long end = tu_now_ms() + ms;
	for (;;) {
		long left = end - tu_now_ms();
		int r = poll(&pf, 1, left > 0 ? (int)left : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		char c;
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
		return n == 0 || (pf.revents & (POLLHUP | POLLRDHUP)) ? 1 : 0;
	}
}

/*
 * Run @argv[0] (an absolute path) as @cred (or ourselves), stdout to
 * /dev/null unless @out (then up to @cap bytes of it, NUL-terminated).
 * Waits at most @ms (scaled), SIGKILLs after.  Returns the exit code,
 * -2 when it had to be killed, -1 on other failures; *elapsed_ms if asked.
 */
static inline int rb_run(char *const argv[], const struct rb_cred *cred, long ms, char *out,
			 size_t cap, long *elapsed_ms)
{
	int pp[2];
	if (pipe2(pp, O_CLOEXEC) < 0)
		return -1;
	long t0 = tu_now_ms();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		tu_child_init();
		int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(dn, 0);
		dup2(out ? pp[1] : dn, 1);
		if (cred)
			rb_become(cred);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pp[1]);
	size_t len = 0;
	long end = t0 + ms * tu_mult();
	int killed = 0;
	for (;;) {
		long left = end - tu_now_ms();
		if (left <= 0) {
			killed = 1;
			kill(pid, SIGKILL);
			break;
		}
		struct pollfd pf = { pp[0], POLLIN, 0 };
		int pr = poll(&pf, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		char tmp[4096];
		ssize_t n = read(pp[0], tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (out && len + 1 < cap) {
			size_t c = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
			memcpy(out + len, tmp, c);
			len += c;
		}
	}
	close(pp[0]);
	if (out)
		out[len] = '\0';
	long left = end - tu_now_ms();
	int st = tu_wait(pid, (left > 0 ? left : 0) / tu_mult() + 1);
	if (elapsed_ms)
		*elapsed_ms = tu_now_ms() - t0;
	if (killed || st < 0)
		return -2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run yankctl --segment @seg --timeout @tmo ARGS... (NULL-terminated) as above. */
static inline int rb_yankctl(const char *seg, int tmo, const struct rb_cred *cred, long ms,
			     char *out, size_t cap, long *elapsed, ...)
{
	const char *y = rb_yankctl_path();
	if (!y)
		return -1;
	char *argv[32];
	char tbuf[32];
	int n = 0;
	argv[n++] = (char *)y;
	argv[n++] = (char *)"--segment";
	argv[n++] = (char *)seg;
	if (tmo > 0) {
		snprintf(tbuf, sizeof(tbuf), "%d", tmo);
		argv[n++] = (char *)"--timeout";
		argv[n++] = tbuf;
	}
	va_list ap;
	va_start(ap, elapsed);
	for (char *a; n < 31 && (a = va_arg(ap, char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return rb_run(argv, cred, ms, out, cap, elapsed);
}

/* ---- registry checks from the test process (yank.h only) ---- */

struct rb_want {
	enum yank_type type;
	const char *name;
	pid_t pid;
	unsigned int fds, cbs;
};

/*
 * Does yank_query list exactly @want (any order), with these owners and
 * counts?  0, or -1 with a reason in @why.
 */
static inline int rb_query_is(yank_registry *reg, const struct rb_want *want, size_t n, char *why,
			      size_t cap)
{
	struct yank_instance_info *info;
	size_t got;
	int r = yank_query(reg, &info, &got);
	if (r < 0) {
		snprintf(why, cap, "yank_query: %s", yank_strerror(r));
		return -1;
	}
	int bad = 0;
	why[0] = '\0';
	for (size_t i = 0; i < n && !bad; i++) {
		size_t k;
		for (k = 0; k < got; k++)
			if (info[k].type == want[i].type &&
			    (want[i].name ? info[k].name && !strcmp(info[k].name, want[i].name)
					  : !info[k].name))
				break;
		if (k == got) {
			snprintf(why, cap, "%s is missing (%zu listed)",
				 want[i].name ? want[i].name : "migration", got);
			bad = 1;
		} else if (info[k].pid != want[i].pid || info[k].n_fds != want[i].fds ||
			   info[k].n_callbacks != want[i].cbs) {
			snprintf(why, cap, "%s: pid %d fds %u cbs %u, want pid %d fds %u cbs %u",
				 want[i].name ? want[i].name : "migration", (int)info[k].pid,
				 info[k].n_fds, info[k].n_callbacks, (int)want[i].pid, want[i].fds,
				 want[i].cbs);
			bad = 1;
		}
	}
	if (!bad && got != n) {
		size_t len = (size_t)snprintf(why, cap, "%zu instances listed, want %zu:", got, n);
		for (size_t k = 0; k < got && len < cap; k++)
			len += (size_t)snprintf(why + len, cap - len, " %s(pid %d)",
						info[k].name ? info[k].name : "migration",
						(int)info[k].pid);
		bad = 1;
	}
	yank_query_free(info, got);
	return bad ? -1 : 0;
}

/* ---- checks the suites share (Criterion assertions: test process only) ---- */

/* @v milliseconds, scaled by the run's timeout multiplier. */
static inline long rb_ms(long v)
{
	return v * tu_mult();
}

/*
 * The peer's command must answer "ok".  A macro, so that a failure points
 * at the test's line; it quotes the command as sent, and the reply.
 */
#define PEER_OK(p, ...)                                                                   \
	do {                                                                              \
		char cmd_[4096];                                                          \
		snprintf(cmd_, sizeof(cmd_), __VA_ARGS__);                                \
		int rc_ = rb_cmd((p), "%s", cmd_);                                        \
		cr_assert_eq(rc_, 0, "peer %d: '%s' -> %d '%s'", (int)(p)->pid, cmd_, rc_,   \
			     (p)->last);                                                  \
	} while (0)

/* Register one socketpair fd for @inst in @p; returns our copy of its far end. */
static inline int rb_add_fd(struct rb_peer *p, const char *inst)
{
	PEER_OK(p, "fd %s", inst);
	int a, b;
	cr_assert_eq(sscanf(p->last, "ok %d %d", &a, &b), 2, "fd %s: '%s'", inst, p->last);
	int fd = rb_getfd(p->pid, b);
	cr_assert_geq(fd, 0, "pidfd_getfd: %s", strerror(-fd));
	return fd;
}

/* SIGSTOP @p and see it stopped. */
static inline void rb_peer_stop(struct rb_peer *p)
{
	cr_assert_eq(kill(p->pid, SIGSTOP), 0);
	cr_assert_eq(rb_wait_stopped(p->pid, 5000), 0, "peer %d did not stop", (int)p->pid);
}

/*
 * @p (@who, in the message) must have stopped itself at fault point @point;
 * if it answered instead, the failure quotes its reply.
 */
static inline void rb_assert_stopped_at(struct rb_peer *p, const char *who, const char *point)
{
	cr_assert_eq(rb_wait_stopped(p->pid, 5000), 0, "%s %d did not stop at %s ('%s')", who,
		     (int)p->pid, point, rb_reply(p, 0) == RB_NOREPLY ? "" : p->last);
}

/*
 * Start rb-rawclient @seg @inst [@opt [@arg]] (NULL leaves them out) and
 * wait for its one line (in raw->last); rb_reply()'s code for it.
 */
static inline int rb_rawclient(struct rb_peer *raw, const char *seg, const char *inst,
			       const char *opt, const char *arg)
{
	char *argv[] = { (char *)"rb-rawclient", (char *)seg, (char *)inst, (char *)opt,
			 (char *)arg, NULL };
	cr_assert_eq(rb_spawn(raw, "rb-rawclient", argv, NULL), 0);
	return rb_reply(raw, 5000);
}

/* stat(2) of @seg's file under /dev/shm, which must exist. */
static inline struct stat rb_seg_stat(const char *seg)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof(path), "/dev/shm%s", seg);
	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	return st;
}

/* Is there a yankctl to check?  When not, the log says what goes unchecked. */
static inline int rb_have_yankctl(const char *unchecked)
{
	if (rb_yankctl_path())
		return 1;
	cr_log_warn("yankctl not built: %s", unchecked);
	return 0;
}

/* `yankctl --timeout @tmo @cmd [@arg]` on @seg as @cred (or us) must exit @want. */
static inline void rb_assert_yankctl_exit(const char *seg, int tmo, const struct rb_cred *cred,
					  int want, const char *who, const char *cmd,
					  const char *arg)
{
	long dt;
	int rc = rb_yankctl(seg, tmo, cred, 10000, NULL, 0, &dt, cmd, arg, NULL);
	cr_assert_eq(rc, want, "%s: `yankctl %s%s%s` exited %d, want %d", who, cmd, arg ? " " : "",
		     arg ? arg : "", rc, want);
}

#endif
