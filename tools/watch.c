/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl watch: sample the sockets of every instance every interval,
 * print a line whenever an instance's verdict changes, and, only when told
 * to with --yank or --yank-all, yank an instance once it has been stalled
 * for the stall time of watching it, once per stall.
 *
 * Memory follows what is registered now: the history is the previous
 * sample of each socket still registered and the state of each instance
 * still there, both rebuilt every round; whatever went away is dropped.
 * SIGINT and SIGTERM are taken through a signalfd, so that every wait is
 * a bounded poll(2) and an interrupted round is never half-printed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd.h"
#include "host.h"
#include "qmp.h"
#include "stalls.h"

#define DEFAULT_STALL_MS 30000
#define DEFAULT_INTERVAL_MS 1000

/* What watch remembers of one instance between rounds. */
struct inst_state {
	uint64_t src_key, order;
	char spelling[1100];  /* as on the command line, for the line saying it is gone */
	char user[64];
	enum yc_verdict shown; /* the verdict last printed */
	uint64_t stall_since;  /* a yankable episode began then (monotonic ms), or 0 */
	bool yanked;           /* and it was yanked */
};

struct watch {
	const struct yc_args *a;
	uint32_t stall_ms, interval_ms;
	struct yc_diag *diag;
	struct yc_stall_view view;  /* the last round's sockets and their samples */
	struct inst_state *st;      /* sorted by (src_key, order) */
	size_t n_st;
	bool host;
	int code;                   /* exit status so far */
	bool out_failed;
};

/* ISO 8601, UTC, with milliseconds: when the line's evidence was taken. */
static char *wall_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return buf;
}

static int cmp_sock(const struct yc_stall_sock *x, const struct yc_stall_sock *y)
{
	if (x->src_key != y->src_key)
		return x->src_key < y->src_key ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/*
 * Hand each socket still registered its previous sample.  Both views are
 * sorted by (registry, instance order, fd): one merge.  A socket whose
 * record now names another inode or owner is a new socket.
 */
static void carry(const struct yc_stall_view *old, struct yc_stall_view *nv)
{
	size_t i = 0, k = 0;

	while (i < old->n_socks && k < nv->n_socks) {
		int c = cmp_sock(&old->socks[i], &nv->socks[k]);

		if (c < 0) {
			i++;
		} else if (c > 0) {
			k++;
		} else {
			if (old->socks[i].ino == nv->socks[k].ino &&
			    old->socks[i].pid == nv->socks[k].pid) {
				nv->socks[k].b = old->socks[i].b;
				nv->socks[k].addr = old->socks[i].addr;
			}
			i++;
			k++;
		}
	}
}

static struct inst_state *find_state(struct inst_state *st, size_t n, uint64_t key,
				     uint64_t order)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (st[mid].src_key == key && st[mid].order == order)
			return &st[mid];
		if (st[mid].src_key < key || (st[mid].src_key == key && st[mid].order < order))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void put(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
}

static const char *syscall_name(int nr)
{
	switch (nr) {
	case SYS_read:
		return "read";
	case SYS_readv:
		return "readv";
	case SYS_recvfrom:
		return "recvfrom";
	case SYS_recvmsg:
		return "recvmsg";
	case SYS_recvmmsg:
		return "recvmmsg";
	}
	return "recv";
}

/* The socket figures the verdict rests on, as a JSON object. */
static json_t *evidence(const struct yc_stall_sock *s)
{
	const struct yc_sock_sample *b = &s->b, *a = &s->a;
	bool tcp = b->family == AF_INET || b->family == AF_INET6;
	json_t *o = json_object();

	if (!o)
		return NULL;
	put(o, "fd", json_integer(s->fd));
	if (b->status != YC_SOCK_FOUND) {
		put(o, "state",
		    json_string(b->status == YC_SOCK_OTHER_NETNS ? "other-netns" : "unknown"));
		return o;
	}
	put(o, "local", s->addr.local[0] ? yc_json_name(s->addr.local) : json_null());
	put(o, "peer", s->addr.peer[0] ? yc_json_name(s->addr.peer) : json_null());
	switch (s->j.v) {
	case YC_V_STALLED:
		if (tcp) {
			put(o, "notsent", json_integer(b->notsent));
			put(o, "unacked", json_integer(b->unacked));
			put(o, "snd_wnd", b->have_snd_wnd ? json_integer(b->snd_wnd) : json_null());
			put(o, "retransmits", json_integer(b->retransmits));
			put(o, "backoff", json_integer(b->backoff));
			put(o, "bytes_acked", json_integer((json_int_t)b->bytes_acked));
			put(o, "last_data_sent_ms", json_integer(b->last_data_sent_ms));
		} else {
			put(o, "wqueue", json_integer(b->wqueue));
			put(o, "peer_rqueue", json_integer(b->peer_rqueue));
		}
		break;
	case YC_V_WAITING:
		put(o, "syscall", json_string(syscall_name(b->reader_syscall)));
		put(o, "rqueue", json_integer(b->rqueue));
		if (tcp)
			put(o, "last_data_recv_ms", json_integer(b->last_data_recv_ms));
		break;
	case YC_V_OK:
	case YC_V_IDLE:
		if (tcp) {
			put(o, "bytes_acked", json_integer((json_int_t)b->bytes_acked));
			put(o, "bytes_acked_before", json_integer((json_int_t)a->bytes_acked));
			put(o, "bytes_received", json_integer((json_int_t)b->bytes_received));
			put(o, "bytes_received_before", json_integer((json_int_t)a->bytes_received));
		} else {
			put(o, "rqueue", json_integer(b->rqueue));
			put(o, "wqueue", json_integer(b->wqueue));
			put(o, "peer_rqueue", b->have_peer ? json_integer(b->peer_rqueue) : json_null());
		}
		break;
	default:
		break;
	}
	return o;
}

/* "key=value ..." of an evidence object, for the human line. */
static void evidence_words(FILE *f, json_t *ev)
{
	const char *k;
	json_t *v;

	json_object_foreach(ev, k, v)
	{
		if (json_is_string(v)) {
			char esc[400];

			fprintf(f, " %s=%s", k, yc_escape(json_string_value(v), esc, sizeof(esc)));
		} else if (json_is_integer(v)) {
			fprintf(f, " %s=%lld", k, (long long)json_integer_value(v));
		} else {
			fprintf(f, " %s=-", k);
		}
	}
}

/* One line: a change of verdict, or a yank.  @ev is consumed (NULL: none). */
static void say(struct watch *w, const struct inst_state *is, const char *verdict,
		const char *previous, json_t *ev, bool yanked)
{
	char when[64];

	wall_time(when, sizeof(when));
	if (w->a->json) {
		json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:o, s:o}", "time", when, "instance",
				      yc_json_name(is->spelling), "verdict", verdict, "previous",
				      previous ? json_string(previous) : json_null(), "evidence",
				      ev ? ev : json_null(), "action",
				      yanked ? json_string("yanked") : json_null());
		if (o && w->host)
			json_object_set_new(o, "user", yc_json_name(is->user));
		yc_json_line(stdout, o);
	} else {
		char esc[320];

		printf("%s %s", when, is->spelling);
		if (w->host)
			printf(" (user %s)", yc_escape(is->user, esc, sizeof(esc)));
		if (yanked)
			printf(" yanked: %s", verdict);
		else if (previous)
			printf(" %s (was %s)", verdict, previous);
		else
			printf(" %s", verdict);
		if (ev) {
			fputc(':', stdout);
			evidence_words(stdout, ev);
		}
		fputc('\n', stdout);
		json_decref(ev);
	}
	if (fflush(stdout) != 0)
		w->out_failed = true;
}

static bool listed(const struct watch *w, const struct yank_instance_info *in)
{
	if (w->a->yank_all)
		return true;
	struct yank_instance have = { in->type, in->name };

	for (size_t i = 0; i < w->a->n_instances; i++)
		if (yc_same_instance(w->a->ns ? w->a->ns[i] : NULL, &w->a->instances[i], in->ns,
				     &have))
			return true;
	return false;
}

/* Yank @in, found in @reg: true when it was carried out. */
static bool yank_now(struct watch *w, yank_registry *reg, const struct yank_instance_info *in,
		     const char *spelling)
{
	struct yank_instance inst = { in->type, in->name };
	struct yank_failure *fl = NULL;
	size_t nf = 0;
	int r = yank_yank_detailed(reg, &inst, 1, &fl, &nf);

	if (r == 0 || r == -EIO) {
		yc_print_failures(stderr, fl, nf);
		if (r == -EIO)
			w->code = YC_EXIT_PARTIAL;
	} else {
		char esc[320];

		fprintf(stderr, "yankctl: watch: %s: %s\n", yc_escape(spelling, esc, sizeof(esc)),
			yank_strerror(r));
	}
	yank_failures_free(fl, nf);
	return r == 0 || r == -EIO;
}

/* One instance after a round: print what changed, yank when due. */
static void decide(struct watch *w, const struct yc_scope *sc, size_t s, size_t i, size_t gi,
		   struct inst_state *is, const struct inst_state *old, uint64_t now)
{
	const struct yank_instance_info *in = &sc->src[s].info[i];
	const struct yc_stall_view *v = &w->view;
	struct yc_judgement j = v->inst[gi];
	size_t d = v->decider[gi];
	bool judged = false;

	for (size_t k = v->first[gi]; k < v->first[gi] + v->count[gi]; k++)
		judged |= v->socks[k].have_a;
	if (old)
		*is = *old;
	else
		is->shown = YC_V_NONE;
	is->src_key = sc->src[s].key;
	is->order = in->order;
	yc_format_instance(in->type, in->name, is->spelling, sizeof(is->spelling));
	snprintf(is->user, sizeof(is->user), "%s", sc->user[s]);
	if (!judged)
		return; /* seen once: nothing to compare yet */
	if (j.v != is->shown) {
		say(w, is, yc_verdict_name(j.v), is->shown == YC_V_NONE ? NULL : yc_verdict_name(is->shown),
		    d != SIZE_MAX ? evidence(&v->socks[d]) : NULL, false);
		is->shown = j.v;
	}
	bool yankable = j.v == YC_V_STALLED || (j.v == YC_V_WAITING && w->a->waiting);
	if (!yankable) {
		is->stall_since = 0;
		is->yanked = false;
		return;
	}
	/* The episode began at the earlier sample of the first pair that showed it. */
	if (!is->stall_since)
		is->stall_since = d != SIZE_MAX && v->socks[d].a.t_ms ? v->socks[d].a.t_ms : now;
	if (is->yanked || !(w->a->yank_listed || w->a->yank_all) || !listed(w, in) ||
	    now - is->stall_since < w->stall_ms || !sc->src[s].reg)
		return;
	is->yanked = true;
	if (yank_now(w, sc->src[s].reg, in, is->spelling))
		say(w, is, yc_verdict_name(j.v), yc_verdict_name(j.v),
		    d != SIZE_MAX ? evidence(&v->socks[d]) : NULL, true);
}

static int round_once(struct watch *w, bool first)
{
	struct yc_scope sc;
	struct yc_stall_view nv;
	int r = yc_scope_open(w->a, !first, &sc);

	if (r < 0 && r != -ENOENT) {
		yc_scope_close(&sc);
		/* At the start the registry must be readable; later it may come back. */
		return first ? r : 0;
	}
	for (size_t s = 0; first && sc.host && s < sc.n; s++)
		if (sc.err[s])
			fprintf(stderr, "yankctl: segment /yank-%u (user %s): %s%s%s\n",
				(unsigned)sc.uid[s], sc.user[s], yank_strerror(sc.err[s]),
				sc.detail[s][0] ? ": " : "", sc.detail[s]);
	r = yc_stalls_collect(sc.src, sc.n, &nv);
	if (r < 0) {
		yc_scope_close(&sc);
		return r;
	}
	carry(&w->view, &nv);
	yc_stalls_free(&w->view);
	w->view = nv;
	if (w->view.n_socks && yc_stalls_observe(&w->view, w->diag) == -ETIMEDOUT)
		fprintf(stderr, "yankctl: watch: sock_diag did not answer in time\n");
	yc_stalls_judge(&w->view);

	uint64_t now = yc_now_ms();
	struct inst_state *st = calloc(w->view.n_inst + 1, sizeof(*st));
	bool *kept = calloc(w->n_st + 1, sizeof(*kept));
	size_t n_st = 0, gi = 0;
	if (!st || !kept) {
		free(st);
		free(kept);
		yc_scope_close(&sc);
		return -ENOMEM;
	}
	for (size_t s = 0; s < sc.n; s++)
		for (size_t i = 0; i < sc.src[s].n; i++, gi++) {
			if (!w->view.count[gi])
				continue; /* no fd record: nothing to watch */
			struct inst_state *old =
				find_state(w->st, w->n_st, sc.src[s].key, sc.src[s].info[i].order);
			if (old)
				kept[old - w->st] = true;
			decide(w, &sc, s, i, gi, &st[n_st++], old, now);
		}
	for (size_t k = 0; k < w->n_st; k++)
		if (!kept[k] && w->st[k].shown != YC_V_NONE)
			say(w, &w->st[k], "gone", yc_verdict_name(w->st[k].shown), NULL, false);
	free(kept);
	free(w->st);
	w->st = st;
	w->n_st = n_st;
	yc_scope_close(&sc);
	return 0;
}

int yc_cmd_watch(const struct yc_args *a)
{
	struct watch w = { .a = a, .code = YC_EXIT_OK };
	sigset_t sigs;
	int r;

	w.stall_ms = a->stall_ms ? a->stall_ms : DEFAULT_STALL_MS;
	w.interval_ms = a->interval_ms ? a->interval_ms : DEFAULT_INTERVAL_MS;
	w.host = yc_host_scope(a);
	r = yc_diag_open(a->timeout_ms ? a->timeout_ms : YC_DIAG_TIMEOUT_MS, &w.diag);
	if (r < 0) {
		fprintf(stderr, "yankctl: watch: sock_diag: %s\n", strerror(-r));
		return YC_EXIT_UNAVAILABLE;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	/* A shell starts background jobs with SIGINT ignored, and an ignored
	 * signal never reaches a signalfd: take them back (blocked, they stay
	 * pending until read). */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "yankctl: watch: signalfd: %s\n", strerror(errno));
		yc_diag_close(w.diag);
		return YC_EXIT_UNAVAILABLE;
	}

	uint64_t start = yc_now_ms(), next = start;
	uint64_t end = a->for_ms ? start + a->for_ms : UINT64_MAX;
	bool first = true, stop = false;
	while (!stop) {
		r = round_once(&w, first);
		if (r < 0) {
			if (r == -ENOMEM)
				fprintf(stderr, "yankctl: watch: %s\n", strerror(ENOMEM));
			w.code = yc_exit_code(r) == YC_EXIT_OK ? YC_EXIT_UNAVAILABLE : yc_exit_code(r);
			break;
		}
		first = false;
		if (w.out_failed)
			break;
		uint64_t now = yc_now_ms();
		if (now >= end)
			break;
		while (next <= now)
			next += w.interval_ms;
		/* Until the next round, the end, or a signal; each poll bounded. */
		for (;;) {
			now = yc_now_ms();
			uint64_t until = next < end ? next : end;
			if (now >= until)
				break;
			struct pollfd p = { sfd, POLLIN, 0 };
			uint64_t left = until - now;
			int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
			if (n > 0) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					stop = true;
					break;
				}
			}
		}
	}
	/* Left blocked: a second signal must not kill us on the way out. */
	close(sfd);
	yc_stalls_free(&w.view);
	free(w.st);
	yc_diag_close(w.diag);
	return w.code;
}
