/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The agent thread.  It sleeps in poll() with no timeout until a yanker
 * connects, so an idle agent costs nothing, even at the host's fd limit
 * (a reserve fd is given up to accept the connection that is waiting).  It
 * runs with every signal blocked (the host's handlers are the host's
 * business), never takes the registry lock, and reads the local record
 * table only under RCU, so no hung host thread can stop it from answering.
 *
 * Connections are accepted as they come and kept, up to a few, until they
 * speak: one that connects and says nothing delays nobody, and when too
 * many say nothing the oldest is closed to make room.  A request is
 * served whole once it arrives.  Every wait on a yanker is bounded, so a
 * yanker that stops mid-conversation delays the others by at most the
 * timeout; they fall back to pidfd_getfd in the meantime.
 *
 * The agent's fds are checked before each use (endpoint.h): if the host
 * closed them, the listener is made again on the same path and the reserve
 * reopened; a number that now names a host file is never touched.
 * yank_close() wakes the thread by connecting to that path, which needs
 * no fd of ours to be intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "endpoint.h"
#include "handoff.h"
#include "internal.h"
#include "layout.h"
#include "local.h"
#include "owner.h"

/* A batch of replies being built for one yanker. */
struct batch {
	int conn;
	uint64_t hold_until; /* the fds sent are in flight until then (WIRE_RES "dl") */
	struct wire_item items[WIRE_MAX_ITEMS];
	uint32_t n;
	int fds[WIRE_MAX_FDS];
	struct local_rec *held[WIRE_MAX_FDS];
	int nfds;
};

#define MAX_PENDING 16 /* accepted connections waiting for their request */
#define RETRY_MS 1000  /* after the host took our fds and we could not make them again */

struct pending {
	struct own_fd c;
	uint64_t until; /* closed unheard after this */
};

/* Buffers live here, not in thread-local storage, which every host thread would pay for. */
struct agent {
	struct agent_cfg cfg;
	struct endpoint ep;
	struct own_fd reserve; /* /dev/null, given up to accept at the fd limit */
	pthread_t th;
	int stopping; /* set by yank__agent_stop: finish the conversation, take no more */
	int degraded; /* an fd of ours could not be made again: retry on a timer */
	int backoff;  /* accept failed for want of resources: retry on a timer */
	unsigned long connections; /* accepted, for tests and diagnostics */
	unsigned long wakeups;     /* poll returns, for tests */
	struct pending pend[MAX_PENDING];
	int npend;
	char rbuf[WIRE_MAX_MSG];
	char sbuf[WIRE_MAX_MSG];
	struct wire_item req[WIRE_MAX_ITEMS];
	struct batch b;
	/* Proxied records of the request being served, run before the rest. */
	uint8_t px_done[WIRE_MAX_ITEMS];
	int px_res[WIRE_MAX_ITEMS];
	struct local_rec *px_rec[WIRE_MAX_ITEMS];
	uint32_t px_at[WIRE_MAX_ITEMS];
	struct yank_instance px_list[WIRE_MAX_ITEMS];
	int px_out[WIRE_MAX_ITEMS];
	int px_got[WIRE_MAX_ITEMS];
};

static __thread int in_cb;
/* The yanker's deadline, for the proxied function running on this thread. */
static __thread uint64_t px_deadline;

YANK_PUBLIC uint64_t yank_proxy_deadline(void)
{
	return px_deadline;
}

int yank__in_callback(void)
{
	return in_cb;
}

static void run_callback(struct local_rec *r)
{
	in_cb = 1;
	r->fn(r->opaque);
	in_cb = 0;
}

/*
 * Call a proxied function for @n instances and keep only the answers it
 * may give: anything but 0 or a negative errno is a failure of its own.
 */
static void run_proxy(const struct local_rec *r, const struct yank_instance *list, size_t n,
		      uint64_t deadline, int *res)
{
	for (size_t i = 0; i < n; i++)
		res[i] = -EIO;
	in_cb = 1;
	px_deadline = deadline;
	((yank_proxy_fn *)(void (*)(void))r->fn)(r->opaque, r->id->ns, list, n, res);
	px_deadline = 0;
	in_cb = 0;
	for (size_t i = 0; i < n; i++)
		if (res[i] > 0 || res[i] < -4095)
			res[i] = -EIO;
}

static uint32_t proxy_status(int res, int32_t *err)
{
	if (res == 0)
		return WS_RAN;
	*err = res;
	return WS_FAILED;
}

uint32_t yank__run_local(struct local *l, uint32_t rec, uint64_t gen, uint64_t deadline,
			 int32_t *err)
{
	uint32_t st = WS_RAN;
	yank__local_read_lock();
	struct local_rec *r = yank__local_get(l, rec, gen);
	if (!r) {
		st = WS_GONE;
	} else if (r->kind == REC_CB) {
		run_callback(r);
	} else if (r->kind == REC_PX) {
		int res;
		run_proxy(r, &r->id->inst, 1, deadline, &res);
		st = proxy_status(res, err);
	} else {
		int e = yank__shutdown_verified(r->fd, r->dev, r->ino);
		if (e < 0) {
			*err = e;
			st = WS_FAILED;
		}
	}
	yank__local_read_unlock();
	return st;
}

static void release_held(struct agent *a, struct batch *b)
{
	for (int i = 0; i < b->nfds; i++)
		yank__local_release(a->cfg.local, b->held[i]);
	b->nfds = 0;
}

static int send_error(int conn, int err)
{
	struct wire_msg m = { .op = WIRE_ERR, .err = err };
	char buf[64];
	size_t len;
	if (yank__wire_encode(&m, buf, sizeof(buf), &len) < 0)
		return -EINVAL;
	return yank__send(conn, buf, len, NULL, 0);
}

/* The yanker says it is done with the fds we sent; anything else ends the conversation. */
static int wait_done(struct agent *a, struct batch *b)
{
	size_t len;
	int nfds;
	/* The request's buffers are reused: anything but "done" ends the
	 * request being served, so nothing reads them after this. */
	struct wire_msg m = { .items = a->req };
	/* Past the deadline we gave, plus a margin for a yanker that checked
	 * it just before: then nothing of ours is in flight any more. */
	uint64_t now = yank__now_ns(), until = b->hold_until + 100000000u;
	int ms = until > now ? (int)((until - now + 999999) / 1000000) : 0;
	int r = yank__recv(b->conn, a->rbuf, sizeof(a->rbuf), &len, NULL, 0, &nfds, ms);
	if (r == 0)
		r = yank__wire_decode(a->rbuf, len, &m);
	if (r == 0 && m.op != WIRE_DONE)
		r = -EPROTO;
	/* Done, garbage, timeout or close: our copies are no longer in flight
	 * from our side; the bound is what rule 6 promises. */
	release_held(a, b);
	return r;
}

static int flush(struct agent *a, struct batch *b, int more)
{
	char *buf = a->sbuf;
	size_t cap = sizeof(a->sbuf);
	b->hold_until = yank__now_ns() + (uint64_t)a->cfg.timeout_ms * 1000000u;
	struct wire_msg m = { .op = WIRE_RES, .n = b->n, .items = b->items, .more = more,
			      .deadline = b->hold_until };
	size_t len;
	int r = yank__wire_encode(&m, buf, cap, &len);
	if (r == 0)
		r = yank__send(b->conn, buf, len, b->fds, b->nfds);
	if (r == -EBADF && b->nfds) {
		/* The host closed a registered fd under us: report, send none. */
		for (uint32_t i = 0; i < b->n; i++)
			if (b->items[i].status == WS_FD) {
				b->items[i].status = WS_FAILED;
				b->items[i].err = -EBADF;
			}
		release_held(a, b);
		r = yank__wire_encode(&m, buf, cap, &len);
		if (r == 0)
			r = yank__send(b->conn, buf, len, NULL, 0);
	}
	FAULT("agent.after_send");
	if (r == 0 && b->nfds)
		r = wait_done(a, b);
	release_held(a, b);
	b->n = 0;
	return r;
}

/*
 * The proxied records of request @m, before anything else of it: those of
 * one function, argument and namespace go to one call, so that the system
 * behind sees them together (QEMU checks one yank's instances at once).
 * One read-side section over all of it: a record found here cannot be
 * unregistered until its call has returned.  A group whose turn comes
 * after the yanker's deadline is not called: the yanker has reported it
 * as not done, and running it now would make that a lie.
 */
static void run_proxies(struct agent *a, const struct wire_msg *m)
{
	uint32_t n = 0;
	memset(a->px_done, 0, m->n);
	yank__local_read_lock();
	for (uint32_t i = 0; i < m->n; i++) {
		struct local_rec *r = yank__local_get(a->cfg.local, m->items[i].idx, m->items[i].gen);
		if (r && r->kind == REC_PX) {
			a->px_rec[n] = r;
			a->px_at[n++] = i;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		struct local_rec *lead = a->px_rec[i];
		if (a->px_done[a->px_at[i]])
			continue;
		uint32_t k = 0;
		for (uint32_t j = i; j < n; j++) {
			struct local_rec *r = a->px_rec[j];
			if (a->px_done[a->px_at[j]] || r->fn != lead->fn || r->opaque != lead->opaque ||
			    strcmp(r->id->ns, lead->id->ns) != 0)
				continue;
			a->px_list[k] = r->id->inst;
			a->px_out[k++] = (int)j;
			a->px_done[a->px_at[j]] = 1;
		}
		int late = yank__now_ns() > m->deadline;
		if (!late)
			run_proxy(lead, a->px_list, k, m->deadline, a->px_got);
		for (uint32_t q = 0; q < k; q++)
			a->px_res[a->px_at[a->px_out[q]]] = late ? -ETIMEDOUT : a->px_got[q];
	}
	yank__local_read_unlock();
}

static int handle_item(struct agent *a, struct batch *b, const struct wire_item *in, uint32_t at)
{
	if (b->n == WIRE_MAX_ITEMS || b->nfds == WIRE_MAX_FDS) {
		int r = flush(a, b, 1);
		if (r < 0)
			return r;
	}
	struct wire_item *out = &b->items[b->n++];
	*out = (struct wire_item){ in->idx, in->gen, WS_GONE, 0 };
	if (a->px_done[at]) {
		out->status = proxy_status(a->px_res[at], &out->err);
		return 0;
	}
	yank__local_read_lock();
	struct local_rec *r = yank__local_get(a->cfg.local, in->idx, in->gen);
	if (r && r->kind == REC_CB && b->nfds) {
		/* Callbacks run after the fds listed before them are shut down. */
		yank__local_read_unlock();
		b->n--;
		int e = flush(a, b, 1);
		if (e < 0)
			return e;
		b->items[b->n++] = (struct wire_item){ in->idx, in->gen, WS_GONE, 0 };
		out = &b->items[b->n - 1];
		yank__local_read_lock();
		r = yank__local_get(a->cfg.local, in->idx, in->gen);
	}
	if (r && r->kind == REC_CB) {
		run_callback(r);
		out->status = WS_RAN;
	} else if (r && r->kind == REC_PX) {
		/* Published after run_proxies() looked: as good as not yet there. */
	} else if (r) {
		uint64_t dev, ino;
		int e = yank__sock_identity(r->fd, &dev, &ino);
		if (e == 0 && (dev != r->dev || ino != r->ino))
			e = -ESTALE;
		if (e == -ENOTSOCK)
			e = -ESTALE;
		if (e < 0) {
			out->status = WS_FAILED;
			out->err = e;
		} else {
			yank__local_hold(r);
			b->held[b->nfds] = r;
			b->fds[b->nfds++] = r->fd;
			out->status = WS_FD;
		}
	}
	yank__local_read_unlock();
	return 0;
}

static void serve(struct agent *a, int conn)
{
	struct batch *b = &a->b;
	b->conn = conn;
	/* A peer that keeps talking must not keep yank_close() waiting. */
	while (!__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE)) {
		size_t len;
		int nfds;
		/* Requests carry no fds: any attached ones are closed by recv. */
		int r = yank__recv(conn, a->rbuf, sizeof(a->rbuf), &len, NULL, 0, &nfds,
				   (int)a->cfg.timeout_ms);
		if (r == -EPROTO) {
			send_error(conn, -EPROTO);
			return;
		}
		if (r < 0)
			return;
		struct wire_msg m = { .items = a->req };
		r = yank__wire_decode(a->rbuf, len, &m);
		if (r == 0 && m.op != WIRE_YANK)
			r = -EPROTO;
		/* A yanker that gave up (we were stopped, say) has reported these
		 * records as not run: running them now would make it a liar. */
		if (r == 0 && yank__now_ns() > m.deadline)
			r = -ETIMEDOUT;
		if (r < 0) {
			send_error(conn, r);
			return;
		}
		b->n = 0;
		b->nfds = 0;
		run_proxies(a, &m);
		for (uint32_t i = 0; i < m.n && r == 0; i++)
			r = handle_item(a, b, &m.items[i], i);
		if (r == 0)
			r = flush(a, b, 0);
		release_held(a, b);
		if (r < 0)
			return;
	}
}

static void drop_pending(struct agent *a, int i)
{
	yank__own_fd_close(&a->pend[i].c);
	a->pend[i] = a->pend[--a->npend];
}

/* Make again what the host closed; forget what it reused.  Never touches
 * a number that is not ours. */
static void heal(struct agent *a)
{
	a->degraded = 0;
	for (int i = a->npend - 1; i >= 0; i--)
		if (!yank__own_fd_ok(&a->pend[i].c)) {
			a->pend[i].c.fd = -1;
			a->pend[i] = a->pend[--a->npend];
		}
	if (!yank__own_fd_ok(&a->ep.lfd) && yank__endpoint_rebind(&a->ep) < 0) {
		a->ep.lfd.fd = -1;
		a->degraded = 1;
	}
	if (!yank__own_fd_ok(&a->reserve)) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || yank__own_fd_set(&a->reserve, fd) < 0) {
			a->reserve.fd = -1;
			a->degraded = 1;
		}
	}
}

/* Returns 1 when @c joined the pending connections (as the last one). */
static int take_connection(struct agent *a, int c)
{
	__atomic_add_fetch(&a->connections, 1, __ATOMIC_RELAXED);
	if (!yank__peer_allowed(c, a->cfg.uid, a->cfg.use_group, a->cfg.group)) {
		send_error(c, -EACCES);
		close(c);
		return 0;
	}
	struct pending *p = &a->pend[a->npend];
	if (yank__own_fd_set(&p->c, c) < 0)
		return 0;
	p->until = yank__now_ns() + (uint64_t)a->cfg.timeout_ms * 1000000u;
	a->npend++;
	return 1;
}

static void accept_one(struct agent *a)
{
	int c = accept4(a->ep.lfd.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0 && (errno == EMFILE || errno == ENFILE) && a->reserve.fd >= 0) {
		/* At the fd limit the connection would stay pending and poll
		 * report it again at once: give up the reserve to take it. */
		yank__own_fd_close(&a->reserve);
		c = accept4(a->ep.lfd.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	}
	if (c >= 0) {
		if (!take_connection(a, c))
			return;
		/* A yanker sends its request as soon as it is connected, so it
		 * is usually queued by now: answer it without another round
		 * through poll().  A silent one waits in the pending set. */
		struct pollfd q = { c, POLLIN, 0 };
		if (poll(&q, 1, 0) == 1) {
			serve(a, c);
			drop_pending(a, a->npend - 1);
		}
	} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		a->backoff = 1; /* no reserve left, or worse: stop polling it for a while */
}

static int oldest(const struct agent *a)
{
	int o = 0;
	for (int i = 1; i < a->npend; i++)
		if (a->pend[i].until < a->pend[o].until)
			o = i;
	return o;
}

static int poll_timeout(const struct agent *a)
{
	if (a->degraded || a->backoff)
		return RETRY_MS;
	if (!a->npend)
		return -1;
	uint64_t first = UINT64_MAX, now = yank__now_ns();
	for (int i = 0; i < a->npend; i++)
		if (a->pend[i].until < first)
			first = a->pend[i].until;
	return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	struct pollfd p[1 + MAX_PENDING];
	while (!__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE)) {
		heal(a);
		int np = 0, listening = a->ep.lfd.fd >= 0 && !a->backoff;
		if (listening)
			p[np++] = (struct pollfd){ a->ep.lfd.fd, POLLIN, 0 };
		for (int i = 0; i < a->npend; i++)
			p[np++] = (struct pollfd){ a->pend[i].c.fd, POLLIN, 0 };
		int r = poll(p, (nfds_t)np, poll_timeout(a));
		a->backoff = 0;
		__atomic_add_fetch(&a->wakeups, 1, __ATOMIC_RELAXED);
		if (r < 0 && errno != EINTR && errno != ENOMEM)
			break;
		if (r <= 0 || __atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE))
			goto expire;
		/* Served in arrival order of the poll array; each is checked to be
		 * ours again first, as the host may have run meanwhile. */
		for (int i = a->npend - 1; i >= 0; i--) {
			if (!p[listening + i].revents)
				continue;
			if (yank__own_fd_ok(&a->pend[i].c))
				serve(a, a->pend[i].c.fd);
			drop_pending(a, i);
		}
		if (listening && p[0].revents && yank__own_fd_ok(&a->ep.lfd)) {
			/* Full of connections that said nothing when polled: the
			 * oldest gives way, so idle ones never shut out a yanker. */
			if (a->npend == MAX_PENDING)
				drop_pending(a, oldest(a));
			accept_one(a);
		}
	expire:;
		uint64_t now = yank__now_ns();
		for (int i = a->npend - 1; i >= 0; i--)
			if (now >= a->pend[i].until)
				drop_pending(a, i);
	}
	return NULL;
}

int yank__agent_start(const struct agent_cfg *cfg, struct agent **out)
{
	struct agent *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->reserve.fd = -1;
	int r = yank__endpoint_open(&a->ep, cfg->use_group, cfg->group);
	if (r < 0) {
		free(a);
		return r;
	}
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? -errno : yank__own_fd_set(&a->reserve, fd);
	if (r == 0) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r = -pthread_create(&a->th, NULL, agent_main, a);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r == 0)
			pthread_setname_np(a->th, "yank-agent"); /* for ps and top */
	}
	if (r < 0) {
		yank__own_fd_close(&a->reserve);
		yank__endpoint_close(&a->ep, 1);
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

/* Knock on our own door: the thread sees a connection and then `stopping`. */
static void wake(struct agent *a)
{
	int c;
	if (yank__agent_connect(a->ep.path, a->ep.len, &c) == 0)
		close(c);
}

int yank__agent_stop(struct agent *a)
{
	if (!a)
		return 0;
	__atomic_store_n(&a->stopping, 1, __ATOMIC_RELEASE);
	/* The thread may be in a conversation (bounded by the timeout, twice
	 * for a yanker's done) or asleep on a number the host took over.
	 * Knock until it ends; if it never does, leave it what it uses. */
	uint64_t until = yank__now_ns() + (2 * (uint64_t)a->cfg.timeout_ms + 1000) * 1000000u;
	for (;;) {
		wake(a);
		struct timespec ts = yank__deadline_ts(50);
		if (pthread_clockjoin_np(a->th, NULL, CLOCK_MONOTONIC, &ts) == 0)
			break;
		if (yank__now_ns() > until) {
			pthread_detach(a->th);
			return -ETIMEDOUT;
		}
	}
	for (int i = 0; i < a->npend; i++)
		yank__own_fd_close(&a->pend[i].c);
	yank__own_fd_close(&a->reserve);
	yank__endpoint_close(&a->ep, 1);
	free(a);
	return 0;
}

void yank__agent_forget(struct agent *a)
{
	if (!a)
		return;
	/* The parent's listener and directory stay: they are the parent's. */
	for (int i = 0; i < a->npend; i++)
		yank__own_fd_close(&a->pend[i].c);
	yank__own_fd_close(&a->reserve);
	yank__endpoint_close(&a->ep, 0);
	free(a);
}

unsigned long yank__agent_connections(const struct agent *a)
{
	return a ? __atomic_load_n(&a->connections, __ATOMIC_RELAXED) : 0;
}

unsigned long yank__agent_wakeups(const struct agent *a)
{
	return a ? __atomic_load_n(&a->wakeups, __ATOMIC_RELAXED) : 0;
}

const char *yank__agent_addr(const struct agent *a, uint32_t *len)
{
	*len = a->ep.len;
	return a->ep.path;
}
