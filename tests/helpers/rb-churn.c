/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * rb-churn: one process of tests/integration/test-chaos.c.  It runs until it
 * is killed (or decides to die), doing random registry work as fast as it
 * can, and checks every result against what may legitimately happen while
 * other processes churn, die and get stopped around it:
 *
 *   rb-churn SEG reg SEED     register/unregister instances, fds
 *                             (socketpairs) and callbacks from a shared pool
 *                             of names; now and then yank its own, close
 *                             and reopen, or _exit without cleaning up
 *   rb-churn SEG yank SEED    list, then yank random instances (sometimes
 *                             with a name that cannot exist)
 *
 * A result that breaks a guarantee is reported on stderr and ends the
 * process with exit status 10 or more ("VIOLATION ..."): a registration of
 * ours that vanished (-ENOENT while we live), a callback run after its
 * unregister returned, an error code no caller can expect.  Exit status 0
 * means it chose to die.  A byte goes to fd 3 every 64 operations.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <yank.h>

#define NNAMES 25 /* c0..c11, b0..b11, migration */
#define MAXREC 6
#define CB_LIVE 0x4c495645u
#define CB_DEAD 0x44454144u

struct cb {
	uint32_t magic;
	int idx;
};

struct own {
	int used;
	int tainted; /* an unregister timed out: its records' state is unknown */
	int nfd, ncb;
	int fa[MAXREC], fb[MAXREC];
	struct cb *cbs[MAXREC];
};

static yank_registry *reg;
static struct own owned[NNAMES];
static char names[NNAMES][8];
static unsigned long long rng;
static unsigned long ops;

__attribute__((format(printf, 2, 3))) static void violation(int code, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(buf, sizeof(buf), "rb-churn[%d]: VIOLATION: ", (int)getpid());
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	strncat(buf, "\n", sizeof(buf) - strlen(buf) - 1);
	(void)!write(2, buf, strlen(buf));
	_exit(code);
}

static unsigned rnd(unsigned n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((rng >> 33) % n);
}

static struct yank_instance inst_of(int i)
{
	struct yank_instance in;
	if (i == NNAMES - 1) {
		in.type = YANK_MIGRATION;
		in.name = NULL;
	} else {
		in.type = i < 12 ? YANK_CHARDEV : YANK_BLOCK_NODE;
		in.name = names[i];
	}
	return in;
}

static void callback(void *opaque)
{
	struct cb *c = opaque;
	if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) != CB_LIVE)
		violation(40, "callback of %s ran after its unregister returned", names[c->idx]);
}

static void progress(void)
{
	if (++ops % 64 == 0)
		(void)!write(3, "p", 1);
}

static void open_reg(const char *seg)
{
	struct yank_open_opts o = { .lock_timeout_ms = 200, .agent_timeout_ms = 300 };
	for (int tries = 0;; tries++) {
		int r = yank_open_with(seg, &o, &reg);
		if (r == 0)
			return;
		if (r != -ETIMEDOUT || tries > 100)
			violation(11, "yank_open: %s", yank_strerror(r));
	}
}

/* Forget everything of ours: yank_close() has returned, nothing of ours runs. */
static void drop_all(void)
{
	for (int i = 0; i < NNAMES; i++) {
		struct own *o = &owned[i];
		for (int k = 0; k < o->nfd; k++) {
			close(o->fa[k]);
			close(o->fb[k]);
		}
		for (int k = 0; k < o->ncb; k++)
			__atomic_store_n(&o->cbs[k]->magic, CB_DEAD, __ATOMIC_RELEASE);
		memset(o, 0, sizeof(*o));
	}
}

static void check_yank(int r, struct yank_failure *f, size_t nf, int must_enoent)
{
	if (must_enoent && r != -ENOENT)
		violation(20, "yank with a missing instance returned %d, want -ENOENT", r);
	if (r != 0 && r != -EIO && r != -ENOENT)
		violation(21, "yank returned %d (%s)", r, yank_strerror(r));
	if (r == -EIO && nf == 0)
		violation(22, "yank returned -EIO with no failure listed");
	if (r == 0 && nf != 0)
		violation(23, "yank returned 0 with %zu failures", nf);
	for (size_t i = 0; i < nf; i++)
		if (f[i].kind < YANK_FAIL_STALE || f[i].kind > YANK_FAIL_PROTOCOL)
			violation(24, "failure kind %d", (int)f[i].kind);
}

static void reg_step(const char *seg)
{
	unsigned dice = rnd(1000);
	if (dice == 0) {
		yank_close(reg);
		drop_all();
		open_reg(seg);
		return;
	}
	if (dice == 1 && rnd(4) == 0)
		_exit(0); /* dies with everything registered */
	int i = (int)rnd(NNAMES);
	struct own *o = &owned[i];
	struct yank_instance in = inst_of(i);
	int r;
	if (!o->used) {
		r = yank_register_instance(reg, &in);
		if (r == 0)
			o->used = 1;
		else if (r != -EEXIST && r != -ETIMEDOUT)
			violation(12, "register %s: %s", names[i], yank_strerror(r));
		return;
	}
	unsigned op = rnd(100);
	if (op < 25 && o->nfd < MAXREC) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			violation(13, "socketpair: %s", strerror(errno));
		r = yank_register_fd(reg, &in, sv[0]);
		if (r == 0) {
			o->fa[o->nfd] = sv[0];
			o->fb[o->nfd++] = sv[1];
			return;
		}
		close(sv[0]);
		close(sv[1]);
		if (r != -ETIMEDOUT)
			violation(14, "register fd on our %s: %s", names[i], yank_strerror(r));
	} else if (op < 45 && o->ncb < MAXREC) {
		struct cb *c = calloc(1, sizeof(*c));
		c->magic = CB_LIVE;
		c->idx = i;
		r = yank_register_function(reg, &in, callback, c);
		if (r == 0) {
			o->cbs[o->ncb++] = c;
			return;
		}
		free(c);
		if (r != -ETIMEDOUT)
			violation(15, "register callback on our %s: %s", names[i],
				  yank_strerror(r));
	} else if (op < 65 && o->nfd > 0) {
		int k = (int)rnd((unsigned)o->nfd);
		r = yank_unregister_fd(reg, &in, o->fa[k]);
		if (r == -ETIMEDOUT)
			o->tainted = 1;
		else if (r != 0 && !(r == -ENOENT && o->tainted))
			violation(16, "unregister fd of our %s: %s", names[i], yank_strerror(r));
		/* Closed either way: a record that stayed behind then names a
		 * closed or reused fd number, which a yank must leave alone. */
		close(o->fa[k]);
		close(o->fb[k]);
		o->fa[k] = o->fa[o->nfd - 1];
		o->fb[k] = o->fb[--o->nfd];
	} else if (op < 85 && o->ncb > 0) {
		int k = (int)rnd((unsigned)o->ncb);
		struct cb *c = o->cbs[k];
		r = yank_unregister_function(reg, &in, callback, c);
		if (r == 0)
			/* Kept, as a tombstone: if it ran now, the callback would say so. */
			__atomic_store_n(&c->magic, CB_DEAD, __ATOMIC_RELEASE);
		else if (r == -ETIMEDOUT)
			o->tainted = 1; /* unknown: it may still run, so it stays live */
		else if (!(r == -ENOENT && o->tainted))
			violation(17, "unregister callback of our %s: %s", names[i],
				  yank_strerror(r));
		o->cbs[k] = o->cbs[--o->ncb];
	} else if (op < 92) {
		struct yank_failure *f = NULL;
		size_t nf = 0;
		r = yank_yank_detailed(reg, &in, 1, &f, &nf);
		check_yank(r, f, nf, 0);
		if (r == -ENOENT)
			violation(18, "our own %s is not found by a yank", names[i]);
		yank_failures_free(f, nf);
	} else {
		r = yank_unregister_instance(reg, &in);
		if (r == 0) {
			if (o->nfd || o->ncb)
				violation(19, "unregistered %s with %d fds and %d callbacks",
					  names[i], o->nfd, o->ncb);
			o->used = 0;
			o->tainted = 0;
		} else if (r == -EBUSY) {
			if (!o->nfd && !o->ncb && !o->tainted)
				violation(25, "%s has no functions but unregistering it is -EBUSY",
					  names[i]);
		} else if (r != -ETIMEDOUT) {
			violation(26, "unregister our %s: %s", names[i], yank_strerror(r));
		}
	}
}

static void yank_step(void)
{
	struct yank_instance_info *info;
	size_t n;
	int r = yank_query(reg, &info, &n);
	if (r < 0)
		violation(30, "yank_query: %s", yank_strerror(r));
	for (size_t i = 1; i < n; i++)
		if (info[i].order <= info[i - 1].order)
			violation(31, "yank_query not in registration order");
	struct yank_instance list[4];
	size_t k = 0;
	int missing = 0;
	size_t want = 1 + rnd(3);
	for (size_t i = 0; i < want && n; i++) {
		const struct yank_instance_info *it = &info[rnd((unsigned)n)];
		list[k++] = (struct yank_instance){ it->type, it->name };
	}
	if (rnd(10) == 0) {
		list[k++] = (struct yank_instance){ YANK_CHARDEV, "no-such-instance" };
		missing = 1;
	}
	if (k) {
		struct yank_failure *f = NULL;
		size_t nf = 0;
		r = yank_yank_detailed(reg, list, k, &f, &nf);
		check_yank(r, f, nf, missing);
		yank_failures_free(f, nf);
	}
	yank_query_free(info, n);
	if (rnd(20) == 0) {
		struct yank_status st;
		if ((r = yank_status(reg, &st)) < 0)
			violation(32, "yank_status: %s", yank_strerror(r));
	}
}

int main(int argc, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	if (argc < 4)
		return 2;
	int yanker = !strcmp(argv[2], "yank");
	rng = strtoull(argv[3], NULL, 0) * 2654435761u + (unsigned long long)getpid();
	fcntl(3, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		snprintf(names[12 + i], sizeof(names[12 + i]), "b%d", i);
	}
	open_reg(argv[1]);
	for (;;) {
		if (yanker)
			yank_step();
		else
			reg_step(argv[1]);
		progress();
	}
}
