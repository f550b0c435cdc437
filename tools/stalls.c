/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The sockets behind the fd records, sampled and judged (stalls.h).
 *
 * A sample has two sources.  sock_diag gives the kernel's view of the
 * socket, in our network namespace only: an owner whose /proc/PID/ns/net
 * is another is reported as such and not looked up (a socket with the
 * same inode number there would be someone else's).  And
 * /proc/PID/task/TID/syscall tells whether a thread of the owner is
 * blocked reading that fd: a read(2), readv(2), recvfrom(2), recvmsg(2)
 * or recvmmsg(2) whose first argument is its number.  A thread in
 * poll(2), select(2) or epoll_wait(2) does not count: those name no fd in
 * their arguments, and an event loop waiting on every socket of an idle
 * program is exactly what should not be called hung.  Reading that file
 * needs the ptrace permission over the owner; without it no thread is
 * seen blocked and the verdict is never "waiting".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "host.h"
#include "recsock.h"
#include "stalls.h"

/* The system calls that read from the fd in their first argument. */
static bool read_syscall(long nr)
{
	switch (nr) {
	case SYS_read:
	case SYS_readv:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
#ifdef SYS_recv
	case SYS_recv:
#endif
#ifdef SYS_recvmmsg_time64
	case SYS_recvmmsg_time64:
#endif
		return true;
	}
	return false;
}

void yc_stalls_free(struct yc_stall_view *v)
{
	free(v->socks);
	free(v->first);
	free(v->count);
	free(v->inst);
	free(v->decider);
	memset(v, 0, sizeof(*v));
}

/* The instance of @src with registration order @order: its index, or SIZE_MAX. */
static size_t by_order(const struct yc_stall_src *src, uint64_t order)
{
	size_t lo = 0, hi = src->n;

	/* yank_query() returns them oldest first, so sorted by order. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (src->info[mid].order == order)
			return mid;
		if (src->info[mid].order < order)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

int yc_stalls_collect(const struct yc_stall_src *src, size_t nsrc, struct yc_stall_view *v)
{
	size_t total = 0, cap = 0, base = 0;

	memset(v, 0, sizeof(*v));
	for (size_t s = 0; s < nsrc; s++)
		total += src[s].n;
	v->n_inst = total;
	v->first = calloc(total + 1, sizeof(*v->first));
	v->count = calloc(total + 1, sizeof(*v->count));
	v->inst = calloc(total + 1, sizeof(*v->inst));
	v->decider = calloc(total + 1, sizeof(*v->decider));
	if (!v->first || !v->count || !v->inst || !v->decider) {
		yc_stalls_free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < total; i++)
		v->decider[i] = SIZE_MAX;
	for (size_t s = 0; s < nsrc; base += src[s].n, s++) {
		struct yank__recsock *rs = NULL;
		size_t nrs = 0, fds = 0;

		for (size_t i = 0; i < src[s].n; i++)
			fds += src[s].info[i].n_fds;
		/* Nothing to read: list stays as cheap as it was without sockets. */
		if (!fds || !src[s].reg || yank__recsock_list(src[s].reg, &rs, &nrs) < 0)
			continue;
		if (v->n_socks + nrs > cap) {
			size_t nc = v->n_socks + nrs + 16;
			struct yc_stall_sock *ns = realloc(v->socks, nc * sizeof(*ns));

			if (!ns) {
				free(rs);
				yc_stalls_free(v);
				return -ENOMEM;
			}
			v->socks = ns;
			cap = nc;
		}
		/* Both lists are in instance order: the sockets come out grouped. */
		for (size_t k = 0; k < nrs; k++) {
			size_t i = by_order(&src[s], rs[k].order);

			if (i == SIZE_MAX)
				continue; /* registered after the query */
			struct yc_stall_sock *so = &v->socks[v->n_socks];
			memset(so, 0, sizeof(*so));
			so->inst = base + i;
			so->src_key = src[s].key;
			so->order = rs[k].order;
			so->pid = rs[k].pid;
			so->fd = rs[k].fd;
			so->ino = rs[k].ino;
			so->a.reader_syscall = so->b.reader_syscall = -1;
			if (!v->count[base + i]++)
				v->first[base + i] = v->n_socks;
			v->n_socks++;
		}
		free(rs);
	}
	return 0;
}

/* Our own network namespace's inode, read once. */
static uint64_t own_netns(void)
{
	static uint64_t ino;
	struct stat st;

	if (!ino && stat("/proc/self/ns/net", &st) == 0)
		ino = st.st_ino;
	return ino;
}

/* Is @pid in another network namespace?  Unknown (no permission, gone) counts as ours. */
static bool other_netns(pid_t pid)
{
	char path[48];
	struct stat st;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return stat(path, &st) == 0 && own_netns() && st.st_ino != own_netns();
}

/* A thread of some owner blocked reading an fd. */
struct reader {
	pid_t pid;
	int fd;
	int nr;
};

struct readers {
	struct reader *r;
	size_t n, cap;
};

/* "NR ARG0 ARG1 ... SP PC" of a thread in a system call; "running" or "-1 ..." otherwise. */
static int thread_reads(int dirfd, const char *tid, pid_t pid, struct readers *rd)
{
	char path[300], buf[256];
	snprintf(path, sizeof(path), "%s/syscall", tid);
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long nr = strtol(buf, &end, 10);
	if (end == buf || *end != ' ' || !read_syscall(nr))
		return 0;
	unsigned long long arg0 = strtoull(end + 1, &end, 16);
	if (arg0 > INT32_MAX)
		return 0;
	if (rd->n == rd->cap) {
		size_t nc = rd->cap ? 2 * rd->cap : 16;
		struct reader *nr_ = realloc(rd->r, nc * sizeof(*nr_));
		if (!nr_)
			return -ENOMEM;
		rd->r = nr_;
		rd->cap = nc;
	}
	rd->r[rd->n++] = (struct reader){ pid, (int)arg0, (int)nr };
	return 0;
}

/* Every thread of @pid that is blocked reading some fd. */
static int owner_reads(pid_t pid, struct readers *rd)
{
	char path[48];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			r = thread_reads(dirfd(d), e->d_name, pid, rd);
	closedir(d);
	return r;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static int cmp_reader(const void *a, const void *b)
{
	const struct reader *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/*
 * Mark the sockets some thread of their owner is blocked reading.  Only
 * owners of a socket with nothing unread are asked: with data waiting, a
 * reader would not stay blocked, and the verdict could not be "waiting".
 */
static int mark_readers(struct yc_stall_view *v)
{
	pid_t *pids = malloc((v->n_socks + 1) * sizeof(*pids));
	struct readers rd = { 0 };
	size_t np = 0;
	int r = 0;

	if (!pids)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_socks; i++) {
		const struct yc_sock_sample *s = &v->socks[i].b;

		if (s->status == YC_SOCK_FOUND && s->rqueue == 0 && v->socks[i].pid > 0)
			pids[np++] = v->socks[i].pid;
	}
	qsort(pids, np, sizeof(*pids), cmp_pid);
	for (size_t i = 0; r == 0 && i < np; i++)
		if (i == 0 || pids[i] != pids[i - 1])
			r = owner_reads(pids[i], &rd);
	/* A thread per connection is common: find each socket's reader by search. */
	if (rd.n)
		qsort(rd.r, rd.n, sizeof(*rd.r), cmp_reader);
	for (size_t i = 0; i < v->n_socks; i++) {
		struct yc_stall_sock *so = &v->socks[i];
		struct reader key = { so->pid, so->fd, 0 };
		const struct reader *k = rd.n ? bsearch(&key, rd.r, rd.n, sizeof(*rd.r), cmp_reader)
					      : NULL;

		if (k) {
			so->b.reader_blocked = 1;
			so->b.reader_syscall = k->nr;
		}
	}
	free(rd.r);
	free(pids);
	return r;
}

int yc_stalls_observe(struct yc_stall_view *v, struct yc_diag *d)
{
	uint64_t *inos = malloc((v->n_socks + 1) * sizeof(*inos));
	struct yc_sock_sample *out = malloc((v->n_socks + 1) * sizeof(*out));
	struct yc_sock_addr *addr = malloc((v->n_socks + 1) * sizeof(*addr));
	bool *foreign = calloc(v->n_socks + 1, sizeof(*foreign));
	int r = -ENOMEM;

	if (!inos || !out || !addr || !foreign)
		goto out;
	/* Owners are few: ask each once whether it is in our namespace. */
	pid_t last = 0;
	bool last_foreign = false;
	for (size_t i = 0; i < v->n_socks; i++) {
		if (i == 0 || v->socks[i].pid != last) {
			last = v->socks[i].pid;
			last_foreign = other_netns(last);
		}
		foreign[i] = last_foreign;
		/* Inode 0 is never a socket's: nothing is looked up for it. */
		inos[i] = foreign[i] ? 0 : v->socks[i].ino;
	}
	r = yc_diag_sample(d, inos, v->n_socks, out, addr);
	for (size_t i = 0; i < v->n_socks; i++) {
		struct yc_stall_sock *so = &v->socks[i];

		so->have_a = so->b.t_ms != 0;
		so->a = so->b;
		so->b = out[i];
		so->addr = addr[i];
		if (foreign[i])
			so->b.status = YC_SOCK_OTHER_NETNS;
	}
	int rr = mark_readers(v);
	if (r == 0)
		r = rr;
out:
	free(inos);
	free(out);
	free(addr);
	free(foreign);
	return r;
}

void yc_stalls_judge(struct yc_stall_view *v)
{
	for (size_t i = 0; i < v->n_inst; i++) {
		struct yc_judgement best = { YC_V_NONE, 0, 0 };

		v->decider[i] = SIZE_MAX;
		for (size_t k = v->first[i]; k < v->first[i] + v->count[i]; k++) {
			struct yc_stall_sock *so = &v->socks[k];

			so->j = so->have_a ? yc_judge(&so->a, &so->b)
					   : (struct yc_judgement){ YC_V_UNKNOWN, 0, 0 };
			struct yc_judgement w = yc_judgement_worse(best, so->j);
			if (v->decider[i] == SIZE_MAX || w.v != best.v || w.age_ms != best.age_ms ||
			    w.age_known != best.age_known)
				v->decider[i] = k;
			best = w;
		}
		v->inst[i] = best;
	}
}

/* ---- list ---- */

/* @s as a JSON string: escaped for a terminal first (yc_escape), then for JSON. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void put_num(FILE *f, const char *name, bool have, unsigned long long v)
{
	if (have)
		fprintf(f, ", \"%s\": %llu", name, v);
	else
		fprintf(f, ", \"%s\": null", name);
}

static const char *family_name(int family)
{
	switch (family) {
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	case AF_UNIX:
		return "unix";
	}
	return NULL;
}

int yc_sock_json(FILE *f, const struct yc_stall_sock *s)
{
	const struct yc_sock_sample *b = &s->b;
	bool found = b->status == YC_SOCK_FOUND;
	bool tcp = found && (b->family == AF_INET || b->family == AF_INET6);
	bool info = tcp && b->have_info;
	const char *fam = found ? family_name(b->family) : NULL;

	fprintf(f, "{\"fd\": %d, \"family\": ", s->fd);
	if (fam)
		put_str(f, fam);
	else
		fputs("null", f);
	fputs(", \"state\": ", f);
	put_str(f, b->status == YC_SOCK_OTHER_NETNS ? "other-netns"
		   : found			    ? yc_sock_state_name(b->family, b->state)
						    : "unknown");
	fputs(", \"local\": ", f);
	if (found && s->addr.local[0])
		put_str(f, s->addr.local);
	else
		fputs("null", f);
	fputs(", \"peer\": ", f);
	if (found && s->addr.peer[0])
		put_str(f, s->addr.peer);
	else
		fputs("null", f);
	put_num(f, "notsent", info, b->notsent);
	put_num(f, "unacked", info, b->unacked);
	put_num(f, "snd_wnd", info && b->have_snd_wnd, b->snd_wnd);
	put_num(f, "bytes_acked", info, b->bytes_acked);
	put_num(f, "retransmits", info, b->retransmits);
	put_num(f, "backoff", info, b->backoff);
	put_num(f, "last_data_recv_ms", info, b->last_data_recv_ms);
	put_num(f, "last_data_sent_ms", info, b->last_data_sent_ms);
	put_num(f, "rqueue", found, b->rqueue);
	put_num(f, "wqueue", found, b->wqueue);
	fprintf(f, ", \"verdict\": \"%s\"}", yc_verdict_name(s->j.v));
	return ferror(f) ? -EIO : 0;
}

static const char *verdict_cell(void *ctx, size_t i, char *buf, size_t size)
{
	const struct yc_stall_view *v = ctx;

	return yc_verdict_cell(v->inst[i], buf, size);
}

static int sockets_member(void *ctx, FILE *f, size_t i)
{
	const struct yc_stall_view *v = ctx;

	fputs(", \"sockets\": [", f);
	for (size_t k = v->first[i]; k < v->first[i] + v->count[i]; k++) {
		if (k > v->first[i])
			fputs(", ", f);
		int r = yc_sock_json(f, &v->socks[k]);
		if (r < 0)
			return r;
	}
	fputc(']', f);
	return 0;
}

/* Sleep @ms, whatever signals come (list has no handlers that should cut it short). */
static void nap_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int yc_list_print(const struct yc_args *a, FILE *f, const struct yc_stall_src *src, size_t nsrc,
		  const struct yank_instance_info *info, const struct yc_user *users, size_t n)
{
	struct yc_stall_view v;
	struct yc_diag *d = NULL;
	uint32_t sample_ms = a->have_sample ? a->sample_ms : YC_SAMPLE_DEFAULT_MS;
	int r;

	if (!sample_ms)
		return a->json ? yc_print_list_json(f, info, users, n)
			       : yc_print_list(f, info, users, n);
	r = yc_stalls_collect(src, nsrc, &v);
	if (r < 0)
		return r;
	if (v.n_socks) {
		r = yc_diag_open(a->timeout_ms ? a->timeout_ms : YC_DIAG_TIMEOUT_MS, &d);
		if (r == 0) {
			r = yc_stalls_observe(&v, d);
			if (r == 0) {
				nap_ms(sample_ms);
				r = yc_stalls_observe(&v, d);
			}
			yc_diag_close(d);
		}
		/* The list still matters more than the sockets: say why they are unknown. */
		if (r < 0)
			fprintf(stderr, "yankctl: list: socket state: %s\n", strerror(-r));
	}
	yc_stalls_judge(&v);
	struct yc_list_extra x = { verdict_cell, sockets_member, &v };
	r = a->json ? yc_print_list_json_with(f, info, users, n, &x)
		    : yc_print_list_with(f, info, users, n, &x);
	yc_stalls_free(&v);
	return r;
}

/* ---- the registries of a command line ---- */

static int scope_alloc(struct yc_scope *sc, size_t n)
{
	sc->n = n;
	sc->src = calloc(n + 1, sizeof(*sc->src));
	sc->user = calloc(n + 1, sizeof(*sc->user));
	sc->uid = calloc(n + 1, sizeof(*sc->uid));
	sc->err = calloc(n + 1, sizeof(*sc->err));
	sc->detail = calloc(n + 1, sizeof(*sc->detail));
	return sc->src && sc->user && sc->uid && sc->err && sc->detail ? 0 : -ENOMEM;
}

/* Query source @i: its instances, or the error that leaves it empty. */
static void scope_query(struct yc_scope *sc, size_t i)
{
	struct yank_instance_info *info = NULL;
	size_t n = 0;

	if (!sc->src[i].reg)
		return;
	int r = yank_query(sc->src[i].reg, &info, &n);
	if (r < 0) {
		sc->err[i] = r;
		return;
	}
	sc->src[i].info = info;
	sc->src[i].n = n;
}

int yc_scope_open(const struct yc_args *a, bool quiet, struct yc_scope *sc)
{
	struct yank_open_opts o;
	int r;

	memset(sc, 0, sizeof(*sc));
	yc_open_opts(a, &o);
	sc->host = yc_host_scope(a);
	if (sc->host) {
		r = yank_open_host(&o, &sc->regs, &sc->n_regs);
		if (r < 0)
			return r;
		if (scope_alloc(sc, sc->n_regs) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < sc->n; i++) {
			sc->src[i] = (struct yc_stall_src){ sc->regs[i].reg, NULL, 0, sc->regs[i].uid };
			sc->uid[i] = sc->regs[i].uid;
			yc_user_name(sc->uid[i], sc->user[i], sizeof(sc->user[i]));
			sc->err[i] = sc->regs[i].reg ? 0 : sc->regs[i].err;
			snprintf(sc->detail[i], sizeof(sc->detail[i]), "%s", sc->regs[i].detail);
			scope_query(sc, i);
		}
		return 0;
	}
	if (scope_alloc(sc, 1) < 0)
		return -ENOMEM;
	sc->uid[0] = a->have_user ? a->user : geteuid();
	yc_user_name(sc->uid[0], sc->user[0], sizeof(sc->user[0]));
	r = a->have_user ? yank_open_user(a->user, &o, &sc->reg)
			 : yank_open_existing(a->segment, &o, &sc->reg);
	if (r < 0) {
		sc->reg = NULL;
		sc->err[0] = r;
		snprintf(sc->detail[0], sizeof(sc->detail[0]), "%s", yank_error_detail());
		if (r != -ENOENT && !quiet)
			yc_open_error_line(a, r);
		return r;
	}
	sc->src[0].reg = sc->reg;
	scope_query(sc, 0);
	return 0;
}

void yc_scope_close(struct yc_scope *sc)
{
	for (size_t i = 0; sc->src && i < sc->n; i++)
		yank_query_free((struct yank_instance_info *)sc->src[i].info, sc->src[i].n);
	free(sc->src);
	free(sc->user);
	free(sc->uid);
	free(sc->err);
	free(sc->detail);
	if (sc->host)
		yank_close_host(sc->regs, sc->n_regs);
	else
		yank_close(sc->reg);
	memset(sc, 0, sizeof(*sc));
}
