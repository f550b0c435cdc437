/*
 * The agent thread.  It sleeps in poll() with no timeout until a yanker
 * connects or yank_close() wakes it, so an idle agent costs nothing.  It
 * runs with every signal blocked (the host's handlers are the host's
 * business), never takes the registry lock, and reads the local record
 * table only under RCU, so no hung host thread can stop it from answering.
 *
 * One request is served at a time.  Every wait on a yanker is bounded, so
 * a yanker that stops mid-conversation delays the others by at most the
 * timeout; they fall back to pidfd_getfd in the meantime.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
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

/* Buffers live here, not in thread-local storage, which every host thread would pay for. */
struct agent {
	struct agent_cfg cfg;
	int lfd, efd;
	pthread_t th;
	int stopping; /* set by yank__agent_stop: finish the conversation, take no more */
	unsigned long connections; /* accepted, for tests and diagnostics */
	uint32_t addr_len;
	char addr[AGENT_ADDR_MAX];
	char rbuf[WIRE_MAX_MSG];
	char sbuf[WIRE_MAX_MSG];
	struct wire_item req[WIRE_MAX_ITEMS];
	struct batch b;
};

static __thread int in_cb;

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

uint32_t yank__run_local(struct local *l, uint32_t rec, uint64_t gen, int32_t *err)
{
	uint32_t st = WS_RAN;
	yank__local_read_lock();
	struct local_rec *r = yank__local_get(l, rec, gen);
	if (!r) {
		st = WS_GONE;
	} else if (r->kind == REC_CB) {
		run_callback(r);
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

static int handle_item(struct agent *a, struct batch *b, const struct wire_item *in)
{
	if (b->n == WIRE_MAX_ITEMS || b->nfds == WIRE_MAX_FDS) {
		int r = flush(a, b, 1);
		if (r < 0)
			return r;
	}
	struct wire_item *out = &b->items[b->n++];
	*out = (struct wire_item){ in->idx, in->gen, WS_GONE, 0 };
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
		for (uint32_t i = 0; i < m.n && r == 0; i++)
			r = handle_item(a, b, &m.items[i]);
		if (r == 0)
			r = flush(a, b, 0);
		release_held(a, b);
		if (r < 0)
			return;
	}
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	for (;;) {
		struct pollfd p[2] = { { a->lfd, POLLIN, 0 }, { a->efd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int c = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			/* Out of fds, the connection stays pending and poll would
			 * report it again at once: do not spin on it. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				yank__nap(10000);
			continue;
		}
		__atomic_add_fetch(&a->connections, 1, __ATOMIC_RELAXED);
		if (yank__peer_allowed(c, a->cfg.uid, a->cfg.use_group, a->cfg.group))
			serve(a, c);
		else
			send_error(c, -EACCES);
		close(c);
	}
	return NULL;
}

static int listen_abstract(struct agent *a)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = yank__now_ns() ^ ((uint64_t)getpid() << 32);
	int n = snprintf(a->addr, sizeof(a->addr), "yank/%d/%016llx", (int)yank__self()->pid,
			 (unsigned long long)rnd);
	a->addr_len = (uint32_t)n;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path + 1, a->addr, a->addr_len);
	a->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->lfd < 0)
		return -errno;
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + a->addr_len);
	if (bind(a->lfd, (struct sockaddr *)&sa, sl) < 0 || listen(a->lfd, 128) < 0)
		return -errno;
	return 0;
}

int yank__agent_start(const struct agent_cfg *cfg, struct agent **out)
{
	struct agent *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->efd = -1;
	int r = listen_abstract(a);
	if (r == 0) {
		a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (a->efd < 0)
			r = -errno;
	}
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
		if (a->lfd >= 0)
			close(a->lfd);
		if (a->efd >= 0)
			close(a->efd);
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

void yank__agent_stop(struct agent *a)
{
	if (!a)
		return;
	__atomic_store_n(&a->stopping, 1, __ATOMIC_RELEASE);
	uint64_t one = 1;
	/* A fresh eventfd counter cannot overflow: this write always lands. */
	(void)!write(a->efd, &one, sizeof(one));
	pthread_join(a->th, NULL);
	close(a->lfd);
	close(a->efd);
	free(a);
}

void yank__agent_forget(struct agent *a)
{
	if (!a)
		return;
	close(a->lfd);
	close(a->efd);
	free(a);
}

unsigned long yank__agent_connections(const struct agent *a)
{
	return a ? __atomic_load_n(&a->connections, __ATOMIC_RELAXED) : 0;
}

const char *yank__agent_addr(const struct agent *a, uint32_t *len)
{
	*len = a->addr_len;
	return a->addr;
}
