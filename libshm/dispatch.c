/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Carrying out a yank.  First every listed instance is looked up in a
 * consistent copy of its slot; one missing means -ENOENT and nothing done.
 * Then the records of the listed instances are gathered, grouped by owner,
 * and each owner is contacted once: this process's own records are run
 * here, other owners get one request on one connection to their agent, all
 * sent before any answer is awaited.  An owner whose agent does not answer
 * in time has its fds taken with pidfd_getfd instead.  Every received fd
 * is checked against the socket identity recorded at registration before
 * it is shut down, and closed right after.  No registry lock is taken.
 */
#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "audit.h"
#include "dispatch.h"
#include "handle.h"
#include "handoff.h"
#include "internal.h"
#include "owner.h"
#include "registry.h"
#include "wire.h"

struct item {
	struct rec_view rv;
	uint32_t pos; /* in the caller's list */
};

enum { O_WAIT, O_CONNECT, O_DONE, O_FALLBACK };

/* A full backlog is load, not a dead agent: retry this often until the deadline. */
#define CONNECT_RETRY_NS 2000000u
/* Refused: nobody listens, or an agent is making its listener again after
 * its host closed it (microseconds).  Look again for this long. */
#define REFUSED_GRACE_NS 50000000u

struct owner {
	struct proc_view pv;
	uint32_t proc;
	uint64_t proc_gen;
	int found; /* pv is valid */
	int conn;
	int state;
	uint32_t *ord;  /* item indices, in execution order */
	uint32_t n;     /* items */
	uint32_t sent;  /* items sent in requests so far */
	uint32_t cur;   /* items answered so far */
	uint64_t deadline; /* for the next answer, or (O_CONNECT) for connecting */
	uint64_t retry_at; /* O_CONNECT: when to try again */
	int reconnect;     /* reset before any answer: its listener is being made again */
	uint64_t refused_until; /* O_CONNECT: retry a refusal until then */
	int forbidden;     /* its uid may not be acted on through this registry */
	enum yank_failure_kind why; /* for the fallback */
	int why_err;
};

struct job {
	struct yank_registry *reg;
	const struct yank_instance *list;
	const char *const *ns;
	struct inst_view *views;
	struct item *items;
	uint32_t nitems;
	struct owner *owners;
	uint32_t nowners;
	uint32_t *ord; /* owners' item orders, one block */
	struct yank_failure *fail;
	size_t nfail, capfail;
	int nomem;
	uint32_t pos_fail[AUDIT_ITEMS], pos_kind[AUDIT_ITEMS]; /* for the audit */
	char buf[WIRE_MAX_MSG];
	struct wire_item witems[WIRE_MAX_ITEMS];
};

static void add_failure(struct job *j, const struct item *it, const struct owner *o,
			enum yank_failure_kind kind, int err)
{
	if (j->nfail == j->capfail) {
		size_t cap = j->capfail ? j->capfail * 2 : 8;
		struct yank_failure *f = realloc(j->fail, cap * sizeof(*f));
		if (!f) {
			j->nomem = 1;
			return;
		}
		j->fail = f;
		j->capfail = cap;
	}
	const struct yank_instance *in = &j->list[it->pos];
	const char *ns = j->ns && j->ns[it->pos] && *j->ns[it->pos] ? j->ns[it->pos] : NULL;
	char *name = NULL, *nsc = NULL;
	if ((in->name && !(name = strdup(in->name))) || (ns && !(nsc = strdup(ns)))) {
		free(name);
		j->nomem = 1;
		return;
	}
	if (it->pos < AUDIT_ITEMS && !j->pos_fail[it->pos]++)
		j->pos_kind[it->pos] = kind;
	j->fail[j->nfail++] = (struct yank_failure){
		.type = in->type,
		.name = name,
		.pid = o->pv.pid,
		.fd = it->rv.kind == REC_FD ? it->rv.fd : -1,
		.kind = kind,
		.err = err,
		.ns = nsc,
	};
}

/* ---- gathering ---- */

struct pos_key {
	uint32_t inst;
	uint32_t pos;
};

static int cmp_key(const void *a, const void *b)
{
	const struct pos_key *x = a, *y = b;
	if (x->inst != y->inst)
		return x->inst < y->inst ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Execution order: list order, and within an instance newest record first. */
static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->rv.order > y->rv.order ? -1 : x->rv.order < y->rv.order;
}

static int gather(struct job *j, size_t n)
{
	struct seg *s = &j->reg->seg;
	struct pos_key *keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	size_t nrec_total = 0;
	for (size_t i = 0; i < n; i++) {
		keys[i] = (struct pos_key){ j->views[i].idx, (uint32_t)i };
		nrec_total += j->views[i].n_fds + j->views[i].n_cbs + j->views[i].n_pxs;
	}
	qsort(keys, n, sizeof(*keys), cmp_key);
	size_t cap = nrec_total + 16;
	j->items = malloc(cap * sizeof(*j->items));
	if (!j->items) {
		free(keys);
		return -ENOMEM;
	}
	uint32_t hwm = seg_hwm(&s->hdr->rec_hwm, s->cap_rec);
	for (uint32_t r = 0; r < hwm; r++) {
		if (__atomic_load_n(&s->recs[r].h.state, __ATOMIC_RELAXED) != SLOT_LIVE &&
		    !(__atomic_load_n(&s->recs[r].h.seq, __ATOMIC_RELAXED) & 1))
			continue;
		struct rec_view rv;
		if (yank__read_rec(s, r, &rv) < 0)
			continue;
		/* Find the first key for this instance, then every listing of it. */
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (keys[mid].inst < rv.inst)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < n && keys[lo].inst == rv.inst; lo++) {
			if (j->views[keys[lo].pos].gen != rv.inst_gen)
				continue;
			if (j->nitems == cap) {
				cap *= 2;
				struct item *ni = realloc(j->items, cap * sizeof(*ni));
				if (!ni) {
					free(keys);
					return -ENOMEM;
				}
				j->items = ni;
			}
			j->items[j->nitems++] = (struct item){ rv, keys[lo].pos };
		}
	}
	free(keys);
	qsort(j->items, j->nitems, sizeof(*j->items), cmp_item);
	return 0;
}

static struct owner *owner_of(struct job *j, const struct inst_view *v)
{
	for (uint32_t i = 0; i < j->nowners; i++)
		if (j->owners[i].proc == v->proc && j->owners[i].proc_gen == v->proc_gen)
			return &j->owners[i];
	struct owner *o = &j->owners[j->nowners++];
	memset(o, 0, sizeof(*o));
	o->proc = v->proc;
	o->proc_gen = v->proc_gen;
	o->conn = -1;
	o->found = yank__read_proc(&j->reg->seg, v->proc, &o->pv) == 0 && o->pv.gen == v->proc_gen;
	return o;
}

static int group_by_owner(struct job *j)
{
	j->owners = calloc(j->nitems ? j->nitems : 1, sizeof(*j->owners));
	uint32_t *slot_owner = malloc((j->nitems + 1) * sizeof(uint32_t));
	uint32_t *ord = malloc((j->nitems + 1) * sizeof(uint32_t));
	j->ord = ord;
	if (!j->owners || !slot_owner || !ord) {
		free(slot_owner);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < j->nitems; i++) {
		struct owner *o = owner_of(j, &j->views[j->items[i].pos]);
		slot_owner[i] = (uint32_t)(o - j->owners);
		o->n++;
	}
	/* Each owner gets a contiguous run of ord[], in execution order. */
	uint32_t at = 0;
	for (uint32_t k = 0; k < j->nowners; k++) {
		j->owners[k].ord = ord + at;
		at += j->owners[k].n;
		j->owners[k].n = 0;
	}
	for (uint32_t i = 0; i < j->nitems; i++) {
		struct owner *o = &j->owners[slot_owner[i]];
		o->ord[o->n++] = i;
	}
	free(slot_owner);
	return 0;
}

/* ---- acting ---- */

/* What a proxied function's answer means: gone there, silent, or failed. */
static enum yank_failure_kind proxy_failure(int err)
{
	if (err == -ENOENT)
		return YANK_FAIL_VANISHED;
	return err == -ETIMEDOUT ? YANK_FAIL_NO_AGENT : YANK_FAIL_PROXY;
}

static void settle(struct job *j, struct owner *o, const struct item *it, uint32_t st, int err)
{
	if (st == WS_RAN || st == WS_GONE)
		return;
	if (it->rv.kind == REC_PX)
		add_failure(j, it, o, proxy_failure(err), err);
	else if (err == -ESTALE || err == -EBADF)
		add_failure(j, it, o, YANK_FAIL_STALE, err);
	else
		add_failure(j, it, o, YANK_FAIL_SHUTDOWN, err);
}

static int is_self(const struct job *j, const struct owner *o)
{
	const struct yank_registry *reg = j->reg;
	return reg->have_proc && reg->local && o->proc == reg->proc && o->proc_gen == reg->proc_gen;
}

static void run_self(struct job *j, struct owner *o)
{
	/* What another owner's agent would be given: one agent timeout. */
	uint64_t deadline = yank__now_ns() + (uint64_t)j->reg->agent_ms * 1000000u;
	for (uint32_t k = 0; k < o->n; k++) {
		const struct item *it = &j->items[o->ord[k]];
		int32_t err = 0;
		uint32_t st = yank__run_local(j->reg->local, it->rv.idx, it->rv.gen, deadline, &err);
		settle(j, o, it, st, err);
	}
	o->cur = o->n;
	o->state = O_DONE;
}

static int send_request(struct job *j, struct owner *o)
{
	uint32_t k = 0;
	for (; k < WIRE_MAX_ITEMS && o->sent + k < o->n; k++) {
		const struct item *it = &j->items[o->ord[o->sent + k]];
		j->witems[k] = (struct wire_item){ it->rv.idx, it->rv.gen, 0, 0 };
	}
	uint64_t deadline = yank__now_ns() + (uint64_t)j->reg->agent_ms * 1000000u;
	struct wire_msg m = { .op = WIRE_YANK, .n = k, .items = j->witems, .deadline = deadline };
	size_t len;
	int r = yank__wire_encode(&m, j->buf, sizeof(j->buf), &len);
	if (r == 0)
		r = yank__send(o->conn, j->buf, len, NULL, 0);
	if (r == 0) {
		o->sent += k;
		o->deadline = deadline;
	}
	return r;
}

static void to_fallback(struct owner *o, enum yank_failure_kind why, int err)
{
	if (o->conn >= 0)
		close(o->conn);
	o->conn = -1;
	o->state = O_FALLBACK;
	o->why = why;
	o->why_err = err;
}

static int other_pidns(uint64_t ino)
{
	uint64_t mine;
	return ino && (mine = yank__self_pidns()) != 0 && mine != ino;
}

/*
 * Connect to @o's agent and send the first request.  The agent must be the
 * one recorded: its listener's SO_PEERCRED names the owner's pid (when its
 * pid namespace is ours) and uid.  Anything else, a squatter or another
 * image, never gets to say "done".
 */
static void connect_owner(struct job *j, struct owner *o)
{
	int r = yank__agent_connect(o->pv.agent, o->pv.agent_len, &o->conn);
	uint64_t now = yank__now_ns();
	int refused = r == -ECONNREFUSED || r == -ENOENT;
	if (refused && !o->refused_until)
		o->refused_until = yank__owner_alive(o->pv.pid, o->pv.start_time) ?
					   now + REFUSED_GRACE_NS : 1;
	if (r == -EAGAIN || (refused && (o->reconnect || now < o->refused_until))) {
		o->conn = -1;
		o->state = O_CONNECT;
		o->retry_at = now + CONNECT_RETRY_NS;
		return;
	}
	if (r == 0) {
		r = yank__peer_is(o->conn, o->pv.pid, o->pv.uid);
		/* Pids compare only within one pid namespace.  Which one is ours
		 * costs a lookup in /proc, so it is asked only when they differ. */
		if (r == -ESRCH && other_pidns(o->pv.pidns_ino))
			r = yank__peer_is(o->conn, 0, o->pv.uid);
		if (r == -EPERM || r == -ESRCH) {
			to_fallback(o, YANK_FAIL_OWNER_GONE, -EPERM);
			return;
		}
	}
	o->state = O_WAIT;
	if (r == 0)
		r = send_request(j, o);
	if ((r == -EPIPE || r == -ECONNRESET) && o->conn >= 0) {
		/* An agent that refuses us answers and closes before reading our
		 * request: its answer may still be queued, so wait for it. */
		o->deadline = yank__now_ns() + (uint64_t)j->reg->agent_ms * 1000000u;
		return;
	}
	if (r < 0)
		to_fallback(o, YANK_FAIL_NO_AGENT, r);
}

/*
 * May we act on processes of @uid through this registry?  Its records
 * name processes, and whoever can write it names them: a user must not be
 * able to point root's yank at a process of root's or of a third user.
 * So: the file owner's processes, any member's but root's in a group
 * registry, and a non-root yanker's own (it could act on those anyway).
 */
int yank__uid_allowed(const struct yank_registry *reg, uint32_t uid)
{
	if (uid == reg->seg.file_uid)
		return 1;
	if (reg->seg.file_group && uid != 0)
		return 1;
	return reg->uid != 0 && uid == reg->uid;
}

static void start_owner(struct job *j, struct owner *o)
{
	if (!o->found) {
		to_fallback(o, YANK_FAIL_OWNER_GONE, -ESRCH);
		return;
	}
	if (!yank__uid_allowed(j->reg, o->pv.uid)) {
		o->forbidden = 1;
		to_fallback(o, YANK_FAIL_FALLBACK, -EPERM);
		return;
	}
	if (o->pv.agent_len == 0) {
		to_fallback(o, YANK_FAIL_NO_AGENT, -ENOTCONN);
		return;
	}
	o->deadline = yank__now_ns() + (uint64_t)j->reg->agent_ms * 1000000u;
	connect_owner(j, o);
}

static int last_to_answer(const struct job *j, const struct owner *o)
{
	for (uint32_t k = 0; k < j->nowners; k++) {
		const struct owner *p = &j->owners[k];
		if (p != o && (p->state == O_WAIT || p->state == O_CONNECT))
			return 0;
	}
	return 1;
}

/* One reply from @o's agent: act on each record it answers. */
static int take_reply(struct job *j, struct owner *o)
{
	int fds[WIRE_MAX_FDS], nfds = 0;
	size_t len;
	int r = yank__recv(o->conn, j->buf, sizeof(j->buf), &len, fds, WIRE_MAX_FDS, &nfds, 0);
	if (r == -ETIMEDOUT)
		return 0; /* spurious wake-up */
	if (r < 0)
		return r;
	struct wire_msg m = { .items = j->witems };
	r = yank__wire_decode(j->buf, len, &m);
	if (r == 0 && m.op == WIRE_ERR)
		r = m.err;
	else if (r == 0 && m.op != WIRE_RES)
		r = -EPROTO;
	int want = 0;
	for (uint32_t k = 0; r == 0 && k < m.n; k++) {
		const struct item *it = o->cur + k < o->sent ? &j->items[o->ord[o->cur + k]] : NULL;
		if (!it || m.items[k].idx != it->rv.idx || m.items[k].gen != it->rv.gen)
			r = -EPROTO;
		else if (m.items[k].status == WS_FD && it->rv.kind != REC_FD)
			r = -EPROTO;
		want += m.items[k].status == WS_FD;
	}
	if (r == 0 && want != nfds)
		r = -EPROTO;
	if (r < 0) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return r;
	}
	int fi = 0;
	for (uint32_t k = 0; k < m.n; k++) {
		const struct item *it = &j->items[o->ord[o->cur++]];
		uint32_t st = m.items[k].status;
		int err = m.items[k].err;
		if (st == WS_FD && yank__now_ns() > m.deadline) {
			/* Past the deadline the agent gave, it no longer counts this
			 * fd in flight: its owner may have unregistered it (rule 6). */
			close(fds[fi++]);
			add_failure(j, it, o, YANK_FAIL_NO_AGENT, -ETIMEDOUT);
			continue;
		}
		if (st == WS_FD) {
			err = yank__shutdown_verified(fds[fi], it->rv.dev, it->rv.ino);
			close(fds[fi++]);
			st = err ? WS_FAILED : WS_RAN;
		}
		settle(j, o, it, st, err);
	}
	if (nfds) {
		/* The threads these shutdowns woke are what the operator is
		 * waiting for.  Woken onto this CPU they would queue behind the
		 * rest of our work (the agent's done, the audit, exit): let them
		 * run first.  While other owners are still to answer, our wait
		 * for them lets them run anyway. */
		if (last_to_answer(j, o))
			sched_yield();
		/* Tell the agent its fds are no longer in flight (rule 6). */
		struct wire_msg d = { .op = WIRE_DONE };
		size_t dl;
		if (yank__wire_encode(&d, j->buf, sizeof(j->buf), &dl) == 0)
			yank__send(o->conn, j->buf, dl, NULL, 0);
	}
	o->deadline = yank__now_ns() + (uint64_t)j->reg->agent_ms * 1000000u;
	if (!m.more && o->cur == o->sent) {
		if (o->sent == o->n) {
			close(o->conn);
			o->conn = -1;
			o->state = O_DONE;
		} else if ((r = send_request(j, o)) < 0) {
			return r;
		}
	}
	return 0;
}

/*
 * Reset before it answered anything: the listener we reached was closed
 * under its agent (by a host that closed every fd, say), and the agent is
 * listening again on the same path.  Nothing was done for this request on
 * either side, so asking once more is safe; within the same deadline.
 */
static void again(struct owner *o)
{
	close(o->conn);
	o->conn = -1;
	o->sent = 0;
	o->reconnect = 1;
	o->state = O_CONNECT;
	o->retry_at = yank__now_ns();
}

static void wait_owners(struct job *j)
{
	struct pollfd *p = malloc((j->nowners + 1) * sizeof(*p));
	uint32_t *map = malloc((j->nowners + 1) * sizeof(*map));
	for (;;) {
		uint32_t np = 0;
		uint64_t now = yank__now_ns(), first = UINT64_MAX;
		for (uint32_t k = 0; k < j->nowners; k++) {
			struct owner *o = &j->owners[k];
			if (o->state == O_CONNECT && now >= o->retry_at)
				connect_owner(j, o);
			if (o->state == O_CONNECT) {
				if (now >= o->deadline)
					to_fallback(o, YANK_FAIL_NO_AGENT, -EAGAIN);
				else if (o->retry_at < first)
					first = o->retry_at;
				continue;
			}
			if (o->state != O_WAIT)
				continue;
			if (now >= o->deadline) {
				to_fallback(o, YANK_FAIL_NO_AGENT, -ETIMEDOUT);
				continue;
			}
			if (o->deadline < first)
				first = o->deadline;
			if (p && map) {
				p[np] = (struct pollfd){ o->conn, POLLIN, 0 };
				map[np++] = k;
			}
		}
		if (first == UINT64_MAX)
			break;
		if (!p || !map) {
			/* No memory to wait on them: take their fds directly instead. */
			for (uint32_t k = 0; k < j->nowners; k++)
				if (j->owners[k].state == O_WAIT || j->owners[k].state == O_CONNECT)
					to_fallback(&j->owners[k], YANK_FAIL_NO_AGENT, -ENOMEM);
			break;
		}
		int ms = (int)((first - now + 999999) / 1000000);
		if (poll(p, np, ms) <= 0)
			continue;
		for (uint32_t i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			struct owner *o = &j->owners[map[i]];
			int r = take_reply(j, o);
			if (r == -EACCES)
				to_fallback(o, YANK_FAIL_FALLBACK, r);
			else if (r == -ECONNRESET && o->cur == 0 && !o->reconnect)
				again(o);
			else if (r == -ECONNRESET)
				to_fallback(o, YANK_FAIL_OWNER_GONE, r);
			else if (r < 0)
				to_fallback(o, YANK_FAIL_PROTOCOL, r);
		}
	}
	free(p);
	free(map);
}

/* The agent did not (fully) answer: take the remaining fds with pidfd_getfd. */
static void fallback(struct job *j, struct owner *o)
{
	int pidfd = -1, perr = 0;
	uint64_t my_ns = yank__self_pidns();
	if (!o->found)
		perr = -ESRCH;
	else if (o->forbidden)
		perr = -EPERM;
	else if (o->pv.pidns_ino && my_ns && o->pv.pidns_ino != my_ns)
		perr = -EXDEV; /* its pid means nothing in our namespace */
	else
		perr = yank__pidfd_open(o->pv.pid, o->pv.start_time, &pidfd);
	/* The process pinned must be of the uid recorded: the record is the
	 * word of whoever can write the segment, the kernel's is not. */
	uid_t euid;
	if (perr == 0 && (yank__proc_euid(o->pv.pid, &euid) < 0 || euid != o->pv.uid)) {
		close(pidfd);
		pidfd = -1;
		perr = -EPERM;
	}
	for (; o->cur < o->n; o->cur++) {
		const struct item *it = &j->items[o->ord[o->cur]];
		if (perr == -ESRCH) {
			add_failure(j, it, o, YANK_FAIL_OWNER_GONE, perr);
			continue;
		}
		if (it->rv.kind == REC_CB) {
			add_failure(j, it, o, YANK_FAIL_CALLBACK, o->why_err);
			continue;
		}
		if (it->rv.kind == REC_PX) {
			/* Only its proxy can reach the system behind: nothing to take. */
			add_failure(j, it, o, YANK_FAIL_NO_AGENT, o->why_err);
			continue;
		}
		if (perr < 0) {
			add_failure(j, it, o, YANK_FAIL_FALLBACK, perr);
			continue;
		}
		int fd;
		int r = yank__pidfd_getfd(pidfd, it->rv.fd, &fd);
		if (r == 0) {
			r = yank__shutdown_verified(fd, it->rv.dev, it->rv.ino);
			close(fd);
			settle(j, o, it, r ? WS_FAILED : WS_RAN, r);
		} else if (r == -EBADF) {
			add_failure(j, it, o, YANK_FAIL_STALE, r);
		} else if (r == -ESRCH) {
			add_failure(j, it, o, YANK_FAIL_OWNER_GONE, r);
		} else {
			add_failure(j, it, o, YANK_FAIL_FALLBACK, r);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	o->state = O_DONE;
}

static void job_free(struct job *j)
{
	free(j->ord);
	free(j->owners);
	free(j->items);
	free(j->views);
}

static void audit(struct job *j, size_t n, int r)
{
	struct audit_input in = {
		.segment = j->reg->seg.name,
		.list = j->list,
		.ns = j->ns,
		.n = n,
		.result = r,
		.failures = (uint32_t)j->nfail,
		.pos_fail = j->pos_fail,
		.pos_kind = j->pos_kind,
	};
	yank__audit_record(&j->reg->seg, &in);
}

int yank__yank(struct yank_registry *reg, const char *const *ns, const struct yank_instance *list,
	       size_t n, struct yank_failure **out, size_t *n_out)
{
	/* Only the bookkeeping is zeroed: the buffers are written before they
	 * are read, and zeroing them would fault in 20-odd fresh pages. */
	struct job *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	memset(j, 0, offsetof(struct job, buf));
	j->reg = reg;
	j->list = list;
	j->ns = ns;
	j->views = calloc(n ? n : 1, sizeof(*j->views));
	struct inst_key *keys = malloc((n ? n : 1) * sizeof(*keys));
	int r = j->views && keys ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *name = list[i].name ? list[i].name : "";
		const char *space = ns && ns[i] ? ns[i] : "";
		keys[i] = inst_key_ns(space, strlen(space), (uint32_t)list[i].type, name,
				      strlen(name));
	}
	if (r == 0)
		r = yank__lookup_all(&reg->seg, keys, n, j->views, NULL);
	if (r == -ENOENT)
		yank__audit_not_found(&reg->seg);
	free(keys);
	if (r == 0)
		r = gather(j, n);
	if (r == 0)
		r = group_by_owner(j);
	if (r == 0) {
		FAULT("yank.validated");
		for (uint32_t k = 0; k < j->nowners; k++)
			if (!is_self(j, &j->owners[k]))
				start_owner(j, &j->owners[k]);
		for (uint32_t k = 0; k < j->nowners; k++)
			if (is_self(j, &j->owners[k]))
				run_self(j, &j->owners[k]);
		wait_owners(j);
		for (uint32_t k = 0; k < j->nowners; k++)
			if (j->owners[k].state == O_FALLBACK)
				fallback(j, &j->owners[k]);
		r = j->nomem ? -ENOMEM : j->nfail ? -EIO : 0;
		audit(j, n, r == -ENOMEM ? -EIO : r);
	}
	job_free(j);
	if (out && (r == 0 || r == -EIO)) {
		*out = j->fail;
		*n_out = j->nfail;
	} else {
		yank_failures_free(j->fail, j->nfail);
	}
	free(j);
	return r;
}
