/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Finding another process's connected stream sockets.  Socket fds are
 * read from /proc/PID/fd ("socket:[INODE]"), and inodes mapped to
 * connections through /proc/PID/net/{tcp,tcp6,unix}, which show the
 * process's network namespace rather than ours.  A Unix socket's peer is
 * not in /proc/net/unix; one sock_diag dump gives it (in our namespace:
 * a peer it cannot see is shown as "unix:-").  Everything read is
 * bounded by the tables' sizes; nothing here acts on a socket.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "output.h"
#include "sockets.h"

#define TCP_ESTABLISHED_ST 0x01
#define TCP_LISTEN_ST 0x0a
#define UNIX_STREAM 1
#define UNIX_CONNECTED 3 /* SS_CONNECTED */

struct fdino {
	int fd;
	unsigned long ino;
};

struct conn {
	unsigned long ino, peer_ino;
	unsigned int lport;
	int unix_sock;
	char addr[160]; /* TCP: the remote end; Unix: the socket's own path, or "" */
};

struct table {
	struct conn *c;
	size_t n, cap;
	unsigned int *listen; /* local ports in LISTEN */
	size_t nlisten, caplisten;
};

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, nc * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

/* The socket fds of @pid, with their inodes. */
static int socket_fds(pid_t pid, struct fdino **out, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : errno == EACCES ? -EPERM : -errno;
	struct fdino *v = NULL;
	size_t cap = 0, k = 0;
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		char link[64], *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name)
			continue;
		ssize_t len = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue; /* closed meanwhile */
		link[len] = '\0';
		unsigned long ino;
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		r = grow((void **)&v, &cap, k, sizeof(*v));
		if (r == 0)
			v[k++] = (struct fdino){ (int)fd, ino };
	}
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

static void tcp_addr(const char *hex, int v6, unsigned int port, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (v6) {
		struct in6_addr a;
		uint32_t w[4];
		if (sscanf(hex, "%8x%8x%8x%8x", &w[0], &w[1], &w[2], &w[3]) == 4) {
			/* The kernel prints each 32-bit word as it lies in memory. */
			memcpy(&a, w, sizeof(a));
			inet_ntop(AF_INET6, &a, host, sizeof(host));
		}
		snprintf(out, size, "tcp6:[%s]:%u", host, port);
		return;
	}
	struct in_addr a;
	uint32_t w;
	if (sscanf(hex, "%8x", &w) == 1) {
		a.s_addr = w;
		inet_ntop(AF_INET, &a, host, sizeof(host));
	}
	snprintf(out, size, "tcp:%s:%u", host, port);
}

static int add_listen(struct table *t, unsigned int port)
{
	int r = grow((void **)&t->listen, &t->caplisten, t->nlisten, sizeof(*t->listen));
	if (r == 0)
		t->listen[t->nlisten++] = port;
	return r;
}

/* A zeroed connection at the end of @t for socket inode @ino, or NULL. */
static struct conn *new_conn(struct table *t, unsigned long ino)
{
	if (grow((void **)&t->c, &t->cap, t->n, sizeof(*t->c)) < 0)
		return NULL;
	struct conn *c = &t->c[t->n++];
	memset(c, 0, sizeof(*c));
	c->ino = ino;
	return c;
}

/* One line of /proc/PID/net/tcp or tcp6. */
static int tcp_line(struct table *t, const char *line, int v6)
{
	char laddr[40], raddr[40];
	unsigned int lport, rport, st;
	unsigned long ino;
	if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
		   laddr, &lport, raddr, &rport, &st, &ino) != 6)
		return 0;
	if (st == TCP_LISTEN_ST)
		return add_listen(t, lport);
	if (st != TCP_ESTABLISHED_ST || !ino)
		return 0;
	struct conn *c = new_conn(t, ino);
	if (!c)
		return -ENOMEM;
	c->lport = lport;
	tcp_addr(raddr, v6, rport, c->addr, sizeof(c->addr));
	return 0;
}

/* One line of /proc/PID/net/unix: "Num RefCount Protocol Flags Type St Inode [Path]". */
static int unix_line(struct table *t, const char *line)
{
	unsigned int type, st;
	unsigned long ino;
	int end = 0;
	if (sscanf(line, "%*x: %*x %*x %*x %x %x %lu%n", &type, &st, &ino, &end) != 3)
		return 0;
	if (type != UNIX_STREAM || st != UNIX_CONNECTED)
		return 0;
	struct conn *c = new_conn(t, ino);
	if (!c)
		return -ENOMEM;
	c->unix_sock = 1;
	const char *p = line + end;
	while (*p == ' ')
		p++;
	snprintf(c->addr, sizeof(c->addr), "%.*s", (int)strcspn(p, "\n"), p);
	return 0;
}

static int read_table(pid_t pid, const char *name, struct table *t)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, name);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno; /* no IPv6, say */
	int r = 0;
	int is_unix = !strcmp(name, "unix"), v6 = !strcmp(name, "tcp6");
	if (!fgets(line, sizeof(line), f)) /* the header */
		line[0] = '\0';
	while (r == 0 && fgets(line, sizeof(line), f))
		r = is_unix ? unix_line(t, line) : tcp_line(t, line, v6);
	fclose(f);
	return r;
}

static struct conn *find_conn(struct table *t, unsigned long ino)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->c[i].ino == ino)
			return &t->c[i];
	return NULL;
}

/* One sock_diag reply: record the peer of a Unix socket we know. */
static void diag_msg(struct table *t, const struct nlmsghdr *h)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	struct conn *c = find_conn(t, m->udiag_ino);
	if (!c || !c->unix_sock)
		return;
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (const struct nlattr *a = (const void *)(m + 1); len >= (int)sizeof(*a);) {
		int al = NLA_ALIGN(a->nla_len);
		if (a->nla_len < sizeof(*a) || a->nla_len > len)
			return;
		if (a->nla_type == UNIX_DIAG_PEER && a->nla_len >= NLA_HDRLEN + sizeof(uint32_t)) {
			uint32_t peer;
			memcpy(&peer, (const char *)a + NLA_HDRLEN, sizeof(peer));
			c->peer_ino = peer;
		}
		len -= al;
		a = (const void *)((const char *)a + al);
	}
}

/* Peers of connected Unix sockets; without sock_diag they stay unknown. */
static void unix_peers(struct table *t)
{
	int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0)
		return;
	struct timeval tv = { 1, 0 }; /* a dump that stalls must not hang yankctl */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		/* unix_diag filters on TCP-style states, where connected is
		 * TCP_ESTABLISHED (1), not /proc's SS_CONNECTED. */
		.r = { .sdiag_family = AF_UNIX, .udiag_states = 1u << 1 /* TCP_ESTABLISHED */,
		       .udiag_show = UDIAG_SHOW_PEER },
	};
	static char buf[32768] __attribute__((aligned(8)));
	int done = send(s, &req, sizeof(req), 0) < 0;
	while (!done) {
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			diag_msg(t, h);
		}
	}
	close(s);
}

static int listened(const struct table *t, unsigned int port)
{
	for (size_t i = 0; i < t->nlisten; i++)
		if (t->listen[i] == port)
			return 1;
	return 0;
}

/*
 * Direction and peer.  TCP: accepted when a socket of the namespace
 * listens on its local port, else connected; the peer is the remote end.
 * Unix: a socket with a path of its own was accepted on that path, and
 * one without connected to its peer's; either way the path shown is the
 * one the connection was made to ("unix:-" when it has none).
 */
static void describe(const struct table *t, const struct conn *c, struct yc_sock *s)
{
	if (!c->unix_sock) {
		s->dir = listened(t, c->lport) ? '<' : '>';
		snprintf(s->peer, sizeof(s->peer), "%s", c->addr);
		return;
	}
	const char *path = c->addr;
	s->dir = *path ? '<' : '>';
	if (!*path && c->peer_ino) {
		for (size_t i = 0; i < t->n; i++)
			if (t->c[i].ino == c->peer_ino && t->c[i].unix_sock)
				path = t->c[i].addr;
	}
	/* A path past the room left is cut: the name stays recognisable. */
	snprintf(s->peer, sizeof(s->peer), "unix:%.*s", (int)sizeof(s->peer) - 6, *path ? path : "-");
}

static int build(pid_t pid, const struct fdino *fds, size_t nfds, struct table *t,
		 struct yc_sock **out, size_t *n)
{
	int r = read_table(pid, "tcp", t);
	if (r == 0)
		r = read_table(pid, "tcp6", t);
	if (r == 0)
		r = read_table(pid, "unix", t);
	if (r < 0)
		return r;
	unix_peers(t);
	struct yc_sock *v = calloc(nfds ? nfds : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < nfds; i++) {
		const struct conn *c = find_conn(t, fds[i].ino);
		if (!c)
			continue;
		v[k].fd = fds[i].fd;
		describe(t, c, &v[k++]);
	}
	*out = v;
	*n = k;
	return 0;
}

static int cmp_fd(const void *a, const void *b)
{
	const struct fdino *x = a, *y = b;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

int yc_list_sockets(pid_t pid, struct yc_sock **out, size_t *n)
{
	struct fdino *fds = NULL;
	size_t nfds = 0;
	int r = socket_fds(pid, &fds, &nfds);
	if (r < 0)
		return r;
	qsort(fds, nfds, sizeof(*fds), cmp_fd);
	struct table t = { 0 };
	r = build(pid, fds, nfds, &t, out, n);
	free(t.c);
	free(t.listen);
	free(fds);
	return r;
}

bool yc_peer_matches(const char *patterns, const char *peer)
{
	if (!patterns)
		return true;
	for (const char *p = patterns; *p;) {
		size_t len = strcspn(p, ",");
		char pat[512];
		if (len && len < sizeof(pat)) {
			memcpy(pat, p, len);
			pat[len] = '\0';
			if (fnmatch(pat, peer, 0) == 0)
				return true;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Printable ASCII stays, anything else is '?': the name must pass the library's check. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

char *yc_sock_name(pid_t pid, const struct yc_sock *s, char *buf, size_t size)
{
	char comm[64];
	yc_owner_comm(pid, comm, sizeof(comm));
	int len = snprintf(buf, size, "%s[%d]#%d%c%s", *comm ? comm : "?", (int)pid, s->fd,
			   s->dir, s->peer);
	if (len < 0)
		buf[0] = '\0';
	printable(buf);
	return buf;
}

int yc_proc_euid(pid_t pid, uid_t *out)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	int r = -EPROTO;
	unsigned long ruid, euid;
	while (r < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %lu %lu", &ruid, &euid) == 2) {
			*out = (uid_t)euid;
			r = 0;
		}
	fclose(f);
	return r;
}

char *yc_ptrace_scope(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	buf[0] = '\0';
	if (!f)
		return buf;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return buf;
}
