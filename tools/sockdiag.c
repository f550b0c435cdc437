/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * sock_diag, the only place yankctl speaks NETLINK_SOCK_DIAG for socket
 * state.  What it costs (measured): a dump of the TCP tables walks every
 * bucket of the established hash, about 2 ms however few sockets there
 * are and some 18 ms with 10,000; an exact lookup by the socket's
 * addresses, ports and cookie costs about 5 us at any size.  So a socket
 * is found once by its inode in a dump, and looked up exactly afterwards,
 * unless so many are wanted that one dump is cheaper.  Unix sockets are
 * looked up by inode directly, no dump needed.
 *
 * Everything the kernel sends is checked before use: message and attribute
 * lengths, sequence numbers (a late answer to a request that timed out is
 * dropped), and a truncated datagram is an error.  Every receive is
 * bounded by SO_RCVTIMEO and a deadline for the whole request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "sockdiag.h"

/* TCP states, as the kernel numbers them (netinet/tcp.h clashes with linux/tcp.h). */
#define ST_LISTEN 10
#define ST_TIME_WAIT 6
#define ST_NEW_SYN_RECV 12

/* What an exact lookup costs until one was timed here, in nanoseconds. */
#define LOOKUP_NS_GUESS 5000

#define BUF_SIZE 65536

struct entry {
	uint32_t ino;
	uint8_t family;   /* 0 until found */
	uint8_t fresh;    /* found in this call: result holds it */
	uint64_t retry_ms; /* not found: look again from then on */
	struct inet_diag_sockid id; /* TCP: how to look it up exactly */
	struct yc_sock_sample res;
	struct yc_sock_addr addr;
};

struct yc_diag {
	int fd;
	uint32_t seq, timeout_ms;
	char *buf;
	struct entry *e;
	size_t n;
	uint64_t dump_ns;   /* what the last dump of both TCP tables took */
	uint64_t lookup_ns; /* what an exact TCP lookup takes, on average */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Is one dump of the tables cheaper than @n exact lookups?  By what both cost here. */
static bool dump_cheaper(const struct yc_diag *d, size_t n)
{
	uint64_t each = d->lookup_ns ? d->lookup_ns : LOOKUP_NS_GUESS;

	return d->dump_ns && (uint64_t)n * each > d->dump_ns;
}

uint64_t yc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int yc_diag_open(uint32_t timeout_ms, struct yc_diag **out)
{
	struct yc_diag *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->timeout_ms = timeout_ms ? timeout_ms : 1000;
	struct timeval tv = { d->timeout_ms / 1000, (long)(d->timeout_ms % 1000) * 1000 };
	d->buf = malloc(BUF_SIZE);
	d->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	/* Without its receive timeout a request could wait for ever. */
	if (!d->buf || d->fd < 0 ||
	    setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		int r = d->buf ? -errno : -ENOMEM;

		if (d->fd >= 0)
			close(d->fd);
		free(d->buf);
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

void yc_diag_close(struct yc_diag *d)
{
	if (!d)
		return;
	close(d->fd);
	free(d->buf);
	free(d->e);
	free(d);
}

static struct entry *find(struct yc_diag *d, uint32_t ino)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->e[mid].ino == ino)
			return &d->e[mid];
		if (d->e[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Each reply message, with the request's context; a non-zero return stops the receive. */
typedef int reply_fn(struct yc_diag *d, const struct nlmsghdr *h, void *ctx);

/*
 * Send one request and receive its answer: every message of a dump up to
 * NLMSG_DONE, or the one reply (or error) of an exact request.  0, or a
 * negative errno: the kernel's (-ENOENT: no such socket), -ETIMEDOUT,
 * -EMSGSIZE for a datagram larger than our buffer.
 */
static int transact(struct yc_diag *d, struct nlmsghdr *req, int dump, reply_fn *fn, void *ctx)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint64_t deadline = yc_now_ms() + d->timeout_ms;

	req->nlmsg_seq = ++d->seq;
	req->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
	if (sendto(d->fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		struct iovec iov = { d->buf, BUF_SIZE };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(d->fd, &mh, 0);

		if (n < 0 && errno == EINTR && yc_now_ms() < deadline)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		size_t len = (size_t)n;
		for (const struct nlmsghdr *h = (const void *)d->buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != d->seq)
				continue; /* an answer to an earlier request that timed out */
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				return e->error < 0 ? e->error : 0;
			}
			int r = fn(d, h, ctx);
			if (r)
				return r < 0 ? r : 0;
			if (!dump)
				return 0;
		}
		if (yc_now_ms() >= deadline)
			return -ETIMEDOUT;
	}
}

/* Attributes after a message's fixed part: calls @fn for each well-formed one. */
static void each_attr(const struct nlmsghdr *h, size_t fixed,
		      void (*fn)(unsigned short type, const void *data, size_t len, void *ctx),
		      void *ctx)
{
	size_t off = NLMSG_LENGTH(fixed);

	if (h->nlmsg_len < off)
		return;
	size_t left = h->nlmsg_len - NLMSG_ALIGN(off);
	const struct rtattr *a = (const void *)((const char *)h + NLMSG_ALIGN(off));
	while (left >= sizeof(*a) && a->rta_len >= sizeof(*a) && a->rta_len <= left) {
		fn(a->rta_type, RTA_DATA(a), a->rta_len - RTA_LENGTH(0), ctx);
		size_t step = RTA_ALIGN(a->rta_len);
		if (step >= left)
			break;
		left -= step;
		a = (const void *)((const char *)a + step);
	}
}

/* ---- TCP ---- */

static void fmt_inet(int family, const __be32 *addr, __be16 port, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family, addr, host, sizeof(host));
	snprintf(out, size, family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, ntohs(port));
}

static void tcp_attr(unsigned short type, const void *data, size_t len, void *ctx)
{
	struct yc_sock_sample *s = ctx;
	struct tcp_info ti;

	if (type != INET_DIAG_INFO)
		return;
	/* An older kernel sends a shorter struct: what it lacks stays zero. */
	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, data, len < sizeof(ti) ? len : sizeof(ti));
	s->have_info = len >= offsetof(struct tcp_info, tcpi_notsent_bytes) + 4;
	s->have_snd_wnd = len >= offsetof(struct tcp_info, tcpi_snd_wnd) + 4;
	s->retransmits = ti.tcpi_retransmits;
	s->backoff = ti.tcpi_backoff;
	s->notsent = ti.tcpi_notsent_bytes;
	s->snd_wnd = ti.tcpi_snd_wnd;
	s->last_data_recv_ms = ti.tcpi_last_data_recv;
	s->last_data_sent_ms = ti.tcpi_last_data_sent;
	s->last_ack_recv_ms = ti.tcpi_last_ack_recv;
	s->bytes_acked = ti.tcpi_bytes_acked;
	s->bytes_received = ti.tcpi_bytes_received;
}

/* One inet_diag_msg into @e, when it is the socket @e wants. */
static int take_tcp(struct entry *e, const struct nlmsghdr *h)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->idiag_inode != e->ino)
		return -ENOENT;
	memset(&e->res, 0, sizeof(e->res));
	e->res.status = YC_SOCK_FOUND;
	e->res.family = m->idiag_family;
	e->res.state = m->idiag_state;
	e->res.rqueue = m->idiag_rqueue;
	e->res.wqueue = m->idiag_wqueue;
	e->res.reader_syscall = -1;
	each_attr(h, sizeof(*m), tcp_attr, &e->res);
	/* The send queue is what is not acknowledged yet, sent or not
	 * (a listener's is its backlog: nothing was sent). */
	if (m->idiag_state != ST_LISTEN && m->idiag_wqueue > e->res.notsent)
		e->res.unacked = m->idiag_wqueue - e->res.notsent;
	fmt_inet(m->idiag_family, m->id.idiag_src, m->id.idiag_sport, e->addr.local,
		  sizeof(e->addr.local));
	if (m->idiag_state == ST_LISTEN)
		e->addr.peer[0] = '\0';
	else
		fmt_inet(m->idiag_family, m->id.idiag_dst, m->id.idiag_dport, e->addr.peer,
			 sizeof(e->addr.peer));
	e->id = m->id;
	e->family = m->idiag_family;
	e->fresh = 1;
	return 0;
}

static int dump_tcp_one(struct yc_diag *d, const struct nlmsghdr *h, void *ctx)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	(void)ctx;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return 0;
	struct entry *e = m->idiag_inode ? find(d, m->idiag_inode) : NULL;
	if (e)
		take_tcp(e, h);
	return 0;
}

static int dump_tcp(struct yc_diag *d, int family)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY },
		.r = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_ext = 1 << (INET_DIAG_INFO - 1),
		       /* Time-wait and request sockets have no inode: no fd of anyone's. */
		       .idiag_states = ~(1u << ST_TIME_WAIT | 1u << ST_NEW_SYN_RECV) },
	};

	return transact(d, &req.h, 1, dump_tcp_one, NULL);
}

static int exact_tcp_one(struct yc_diag *d, const struct nlmsghdr *h, void *ctx)
{
	(void)d;
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return -EPROTO;
	return take_tcp(ctx, h) < 0 ? -ENOENT : 1;
}

/* The socket by its addresses, ports and cookie: -ENOENT once it is gone. */
static int exact_tcp(struct yc_diag *d, struct entry *e)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY },
		.r = { .sdiag_family = e->family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_ext = 1 << (INET_DIAG_INFO - 1), .idiag_states = ~0u, .id = e->id },
	};

	return transact(d, &req.h, 0, exact_tcp_one, e);
}

/* ---- Unix ---- */

struct unix_reply {
	uint32_t ino;
	int state, found, have_rqlen, have_peer;
	uint32_t rqueue, wqueue, peer;
	char name[128];
};

static void unix_attr(unsigned short type, const void *data, size_t len, void *ctx)
{
	struct unix_reply *u = ctx;

	if (type == UNIX_DIAG_RQLEN && len >= sizeof(struct unix_diag_rqlen)) {
		const struct unix_diag_rqlen *q = data;

		u->rqueue = q->udiag_rqueue;
		u->wqueue = q->udiag_wqueue;
		u->have_rqlen = 1;
	} else if (type == UNIX_DIAG_PEER && len >= sizeof(uint32_t)) {
		memcpy(&u->peer, data, sizeof(u->peer));
		u->have_peer = u->peer != 0;
	} else if (type == UNIX_DIAG_NAME && len > 0) {
		/* Abstract names start with a NUL, shown as '@' (ss does so too). */
		char raw[110];
		size_t n = len < sizeof(raw) - 1 ? len : sizeof(raw) - 1;

		memcpy(raw, data, n);
		raw[n] = '\0';
		if (raw[0] == '\0') {
			raw[0] = '@';
			for (size_t i = 1; i < n; i++)
				if (!raw[i])
					raw[i] = '@';
		}
		yc_escape(raw, u->name, sizeof(u->name));
	}
}

static int exact_unix_one(struct yc_diag *d, const struct nlmsghdr *h, void *ctx)
{
	struct unix_reply *u = ctx;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	(void)d;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	if (m->udiag_ino != u->ino)
		return -ENOENT;
	u->found = 1;
	u->state = m->udiag_state;
	each_attr(h, sizeof(*m), unix_attr, u);
	return 1;
}

static int exact_unix(struct yc_diag *d, uint32_t ino, struct unix_reply *u)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = ino,
		       .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN,
		       .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
	};

	memset(u, 0, sizeof(*u));
	u->ino = ino;
	int r = transact(d, &req.h, 0, exact_unix_one, u);
	return r < 0 ? r : u->found ? 0 : -ENOENT;
}

/* The socket and its peer, by inode: -ENOENT when it is no Unix socket of ours. */
static int sample_unix(struct yc_diag *d, struct entry *e)
{
	struct unix_reply u, p;
	int r = exact_unix(d, e->ino, &u);

	if (r < 0)
		return r;
	memset(&e->res, 0, sizeof(e->res));
	e->res.status = YC_SOCK_FOUND;
	e->res.family = AF_UNIX;
	e->res.state = (uint8_t)u.state;
	e->res.rqueue = u.rqueue;
	e->res.wqueue = u.wqueue;
	e->res.reader_syscall = -1;
	snprintf(e->addr.local, sizeof(e->addr.local), "%s", u.name);
	e->addr.peer[0] = '\0';
	if (u.have_peer && exact_unix(d, u.peer, &p) == 0) {
		e->res.have_peer = 1;
		e->res.peer_ino = u.peer;
		e->res.peer_rqueue = p.rqueue;
		snprintf(e->addr.peer, sizeof(e->addr.peer), "%s", p.name);
	}
	e->family = AF_UNIX;
	e->fresh = 1;
	return 0;
}

/* ---- the map ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The entries for this call's inodes, carrying over what was known of each. */
static int remap(struct yc_diag *d, const uint64_t *ino, size_t n)
{
	uint32_t *u = malloc((n ? n : 1) * sizeof(*u));
	size_t k = 0;

	if (!u)
		return -ENOMEM;
	/* Socket inodes are 32-bit numbers: anything larger is no socket. */
	for (size_t i = 0; i < n; i++)
		if (ino[i] && ino[i] <= UINT32_MAX)
			u[k++] = (uint32_t)ino[i];
	qsort(u, k, sizeof(*u), cmp_u32);
	struct entry *ne = calloc(k ? k : 1, sizeof(*ne));
	if (!ne) {
		free(u);
		return -ENOMEM;
	}
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (m && ne[m - 1].ino == u[i])
			continue;
		const struct entry *old = find(d, u[i]);
		if (old) {
			ne[m] = *old;
		} else {
			ne[m].ino = u[i];
		}
		ne[m].fresh = 0;
		m++;
	}
	free(u);
	free(d->e);
	d->e = ne;
	d->n = m;
	return 0;
}

static int sample_all(struct yc_diag *d)
{
	uint64_t now = yc_now_ms();
	size_t unknown = 0, tcp = 0, v4 = 0;
	int r;

	for (size_t i = 0; i < d->n; i++) {
		struct entry *e = &d->e[i];

		if (!e->family && e->retry_ms <= now)
			unknown++;
		else if (e->family == AF_INET || e->family == AF_INET6)
			tcp++;
		v4 += e->family == AF_INET;
	}
	bool dump = unknown || dump_cheaper(d, tcp);
	uint64_t t0 = now_ns(), looked = 0, spent = 0;
	if (dump) {
		/* Each table only when it may hold a socket we want: a dump walks
		 * every bucket, however few sockets it finds. */
		if (unknown || v4) {
			r = dump_tcp(d, AF_INET);
			if (r < 0)
				return r;
		}
		/* A kernel without IPv6 refuses this one: it has no such sockets either. */
		if (unknown || tcp > v4) {
			r = dump_tcp(d, AF_INET6);
			if (r == -ETIMEDOUT)
				return r;
		}
		d->dump_ns = now_ns() - t0;
	}
	for (size_t i = 0; i < d->n; i++) {
		struct entry *e = &d->e[i];

		if (e->fresh)
			continue;
		if (e->family == AF_INET || e->family == AF_INET6) {
			/* Not in the dump, or the exact lookup failed: closed since.
			 * Found again by the next dump if it is only moved. */
			if (dump) {
				r = -ENOENT;
			} else {
				uint64_t t = now_ns();
				r = exact_tcp(d, e);
				spent += now_ns() - t;
				looked++;
			}
		} else if (e->family == AF_UNIX) {
			r = sample_unix(d, e);
		} else if (e->retry_ms <= now) {
			r = sample_unix(d, e);
		} else {
			continue;
		}
		if (r == -ETIMEDOUT)
			return r;
		if (r < 0) {
			/* Gone, or no TCP or Unix socket: dump for it again later. */
			e->retry_ms = e->family ? now : now + YC_DIAG_RETRY_MS;
			e->family = 0;
		}
	}
	if (looked)
		d->lookup_ns = spent / looked;
	return 0;
}

int yc_diag_sample(struct yc_diag *d, const uint64_t *ino, size_t n, struct yc_sock_sample *out,
		   struct yc_sock_addr *addr)
{
	int r = remap(d, ino, n);

	if (r == 0)
		r = sample_all(d);
	uint64_t now = yc_now_ms();
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = r == 0 && ino[i] <= UINT32_MAX ? find(d, (uint32_t)ino[i])
								       : NULL;

		if (e && e->fresh) {
			out[i] = e->res;
		} else {
			memset(&out[i], 0, sizeof(out[i]));
			out[i].reader_syscall = -1;
		}
		out[i].t_ms = now;
		if (addr) {
			if (e && e->fresh)
				addr[i] = e->addr;
			else
				addr[i].local[0] = addr[i].peer[0] = '\0';
		}
	}
	return r;
}
