/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The stall rules (verdict.h).  Everything here is a pure function of its
 * arguments: the samples carry the time they were taken.
 *
 * Why these signals (measured on loopback): data pending alone is not a
 * stall, since a healthy bulk sender keeps megabytes queued; last_ack_recv
 * is not progress under a zero window, since the peer's kernel answers
 * window probes; retransmits stay 0 on loopback.  What separates a peer
 * that stopped reading from a busy one is bytes_acked standing still while
 * the window is shut (or the timers back off).  A request whose answer
 * never comes looks idle to TCP; only the owner's thread blocked in a read
 * of that fd tells it apart, and that is the "waiting" verdict.
 */
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "verdict.h"

static int pending(const struct yc_sock_sample *s)
{
	return s->notsent > 0 || s->unacked > 0;
}

static int send_blocked(const struct yc_sock_sample *s)
{
	return (s->have_snd_wnd && s->snd_wnd == 0) || s->retransmits > 0 || s->backoff > 0;
}

static struct yc_judgement judged(enum yc_verdict v)
{
	return (struct yc_judgement){ v, 0, 0 };
}

static struct yc_judgement aged(enum yc_verdict v, uint64_t age_ms)
{
	return (struct yc_judgement){ v, 1, age_ms };
}

static struct yc_judgement judge_tcp(const struct yc_sock_sample *a, const struct yc_sock_sample *b)
{
	if (!a->have_info || !b->have_info)
		return judged(YC_V_UNKNOWN);
	/* A listener moves no data of its own: nothing to stall. */
	if (b->state == TCP_LISTEN)
		return judged(YC_V_IDLE);
	if (pending(a) && pending(b) && a->bytes_acked == b->bytes_acked && send_blocked(a) &&
	    send_blocked(b)) {
		/* With the window shut no data goes out, so the last send is
		 * when it shut; a retransmission counts as a send, so then the
		 * silence of the peer's ACKs is the measure. */
		if (b->have_snd_wnd && b->snd_wnd == 0)
			return aged(YC_V_STALLED, b->last_data_sent_ms);
		return aged(YC_V_STALLED, b->last_ack_recv_ms);
	}
	if (a->reader_blocked && b->reader_blocked && a->bytes_received == b->bytes_received &&
	    a->rqueue == 0 && b->rqueue == 0)
		return aged(YC_V_WAITING, b->last_data_recv_ms);
	if (a->bytes_acked != b->bytes_acked || a->bytes_received != b->bytes_received)
		return judged(YC_V_OK);
	return judged(YC_V_IDLE);
}

static struct yc_judgement judge_unix(const struct yc_sock_sample *a,
				      const struct yc_sock_sample *b)
{
	if (b->state == TCP_LISTEN)
		return judged(YC_V_IDLE);
	if (a->wqueue > 0 && b->wqueue > 0 && a->have_peer && b->have_peer &&
	    a->peer_ino == b->peer_ino && a->peer_rqueue == b->peer_rqueue)
		return judged(YC_V_STALLED);
	if (a->reader_blocked && b->reader_blocked && a->rqueue == 0 && b->rqueue == 0)
		return judged(YC_V_WAITING);
	if (a->rqueue != b->rqueue || a->wqueue != b->wqueue ||
	    a->have_peer != b->have_peer || a->peer_rqueue != b->peer_rqueue)
		return judged(YC_V_OK);
	return judged(YC_V_IDLE);
}

struct yc_judgement yc_judge(const struct yc_sock_sample *a, const struct yc_sock_sample *b)
{
	if (a->status != YC_SOCK_FOUND || b->status != YC_SOCK_FOUND || a->family != b->family)
		return judged(YC_V_UNKNOWN);
	switch (b->family) {
	case AF_INET:
	case AF_INET6:
		return judge_tcp(a, b);
	case AF_UNIX:
		return judge_unix(a, b);
	}
	return judged(YC_V_UNKNOWN);
}

struct yc_judgement yc_judgement_worse(struct yc_judgement x, struct yc_judgement y)
{
	if (x.v != y.v)
		return x.v > y.v ? x : y;
	if (x.age_known != y.age_known)
		return x.age_known ? x : y;
	return x.age_ms >= y.age_ms ? x : y;
}

static const char *const names[] = {
	[YC_V_NONE] = "-",       [YC_V_UNKNOWN] = "unknown", [YC_V_IDLE] = "idle",
	[YC_V_OK] = "ok",        [YC_V_WAITING] = "waiting", [YC_V_STALLED] = "stalled",
};

const char *yc_verdict_name(enum yc_verdict v)
{
	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

int yc_verdict_parse(const char *s, enum yc_verdict *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i], s)) {
			*out = (enum yc_verdict)i;
			return 0;
		}
	return -1;
}

char *yc_format_age(uint64_t ms, char *buf, size_t size)
{
	unsigned long long v = ms;

	if (v < 1000)
		snprintf(buf, size, "%llums", v);
	else if (v < 120ull * 1000)
		snprintf(buf, size, "%llus", v / 1000);
	else if (v < 120ull * 60 * 1000)
		snprintf(buf, size, "%llum", v / (60 * 1000));
	else if (v < 48ull * 3600 * 1000)
		snprintf(buf, size, "%lluh", v / (3600 * 1000));
	else
		snprintf(buf, size, "%llud", v / (24 * 3600 * 1000));
	return buf;
}

char *yc_verdict_cell(struct yc_judgement j, char *buf, size_t size)
{
	char age[32];

	if ((j.v == YC_V_STALLED || j.v == YC_V_WAITING) && j.age_known)
		snprintf(buf, size, "%s %s", yc_verdict_name(j.v),
			 yc_format_age(j.age_ms, age, sizeof(age)));
	else
		snprintf(buf, size, "%s", yc_verdict_name(j.v));
	return buf;
}

const char *yc_sock_state_name(int family, int state)
{
	static const char *const tcp[] = {
		[TCP_ESTABLISHED] = "established", [TCP_SYN_SENT] = "syn-sent",
		[TCP_SYN_RECV] = "syn-recv",       [TCP_FIN_WAIT1] = "fin-wait-1",
		[TCP_FIN_WAIT2] = "fin-wait-2",    [TCP_TIME_WAIT] = "time-wait",
		[TCP_CLOSE] = "close",             [TCP_CLOSE_WAIT] = "close-wait",
		[TCP_LAST_ACK] = "last-ack",       [TCP_LISTEN] = "listen",
		[TCP_CLOSING] = "closing",
	};

	/* Unix sockets keep their state in the same TCP_* numbers. */
	if (family == AF_UNIX) {
		switch (state) {
		case TCP_ESTABLISHED:
			return "connected";
		case TCP_LISTEN:
			return "listening";
		case TCP_CLOSE:
			return "unconnected";
		case TCP_SYN_SENT:
			return "connecting";
		}
		return "unknown";
	}
	if (state > 0 && (size_t)state < sizeof(tcp) / sizeof(tcp[0]) && tcp[state])
		return tcp[state];
	return "unknown";
}
