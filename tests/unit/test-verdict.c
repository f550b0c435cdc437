/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The stall rules (tools/verdict.c) over made-up pairs of samples, shaped
 * after what was measured on loopback: a peer that never reads (window
 * shut, backoff growing, bytes_acked still), a stopped peer, a request
 * never answered, an idle connection, a healthy bulk transfer with
 * megabytes queued.  Pure functions: no sockets, no clock.
 */
#include <criterion/criterion.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "testutil.h"
#include "verdict.h"

TestSuite(verdict, .timeout = 10);

/* An established TCP socket with tcp_info, nothing pending, taken at @t. */
static struct yc_sock_sample tcp(uint64_t t)
{
	struct yc_sock_sample s;

	memset(&s, 0, sizeof(s));
	s.t_ms = t;
	s.status = YC_SOCK_FOUND;
	s.family = AF_INET;
	s.state = TCP_ESTABLISHED;
	s.have_info = 1;
	s.have_snd_wnd = 1;
	s.snd_wnd = 65536;
	s.reader_syscall = -1;
	s.bytes_acked = 1000;
	s.bytes_received = 500;
	return s;
}

static struct yc_sock_sample unix_sock(uint64_t t)
{
	struct yc_sock_sample s;

	memset(&s, 0, sizeof(s));
	s.t_ms = t;
	s.status = YC_SOCK_FOUND;
	s.family = AF_UNIX;
	s.state = TCP_ESTABLISHED;
	s.have_peer = 1;
	s.peer_ino = 4242;
	s.reader_syscall = -1;
	return s;
}

/* The peer stopped reading: its window is shut, our queue full, nothing acknowledged. */
static void never_read(struct yc_sock_sample *a, struct yc_sock_sample *b)
{
	*a = tcp(1000);
	*b = tcp(1200);
	a->notsent = b->notsent = 3782144;
	a->wqueue = b->wqueue = 3782144;
	a->snd_wnd = b->snd_wnd = 0;
	a->backoff = 3;
	b->backoff = 4;
	a->bytes_acked = b->bytes_acked = 128513;
	a->last_data_sent_ms = 10812;
	b->last_data_sent_ms = 11012;
	a->last_ack_recv_ms = 100;
	b->last_ack_recv_ms = 300;
}

Test(verdict, peer_that_never_reads_is_stalled_since_the_last_send)
{
	struct yc_sock_sample a, b;

	never_read(&a, &b);
	struct yc_judgement j = yc_judge(&a, &b);
	cr_assert_eq(j.v, YC_V_STALLED, "verdict %s", yc_verdict_name(j.v));
	cr_assert(j.age_known);
	/* Window probes are answered, so last_ack_recv is no measure here. */
	cr_assert_eq(j.age_ms, 11012);
}

Test(verdict, backoff_without_a_shut_window_is_stalled_since_the_last_ack)
{
	struct yc_sock_sample a = tcp(0), b = tcp(1000);

	/* A peer that vanished: nothing acknowledged, retransmissions backing off. */
	a.unacked = b.unacked = 4096;
	a.retransmits = 2;
	b.retransmits = 3;
	a.backoff = 2;
	b.backoff = 3;
	a.last_ack_recv_ms = 6000;
	b.last_ack_recv_ms = 7000;
	b.last_data_sent_ms = 5;
	struct yc_judgement j = yc_judge(&a, &b);
	cr_assert_eq(j.v, YC_V_STALLED);
	cr_assert_eq(j.age_ms, 7000);
}

Test(verdict, acknowledged_progress_is_never_stalled)
{
	struct yc_sock_sample a, b;

	never_read(&a, &b);
	b.bytes_acked += 1; /* the peer read one byte meanwhile */
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_OK);
}

Test(verdict, healthy_bulk_with_megabytes_queued_is_ok)
{
	struct yc_sock_sample a = tcp(0), b = tcp(200);

	a.wqueue = b.wqueue = 4190965;
	a.notsent = b.notsent = 3339633;
	a.unacked = b.unacked = 851332;
	a.snd_wnd = b.snd_wnd = 3798016;
	a.bytes_acked = 2980000000ull;
	b.bytes_acked = 3100000000ull;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_OK);
	/* Even a moment with nothing acknowledged is no stall while the window is open. */
	b.bytes_acked = a.bytes_acked;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_IDLE);
}

Test(verdict, a_stall_must_hold_in_both_samples)
{
	struct yc_sock_sample a, b;

	never_read(&a, &b);
	a.snd_wnd = 1000;
	a.backoff = 0; /* the window shut only between the samples */
	cr_assert_neq(yc_judge(&a, &b).v, YC_V_STALLED);
	never_read(&a, &b);
	a.notsent = 0;
	a.wqueue = 0; /* nothing pending at first */
	cr_assert_neq(yc_judge(&a, &b).v, YC_V_STALLED);
	never_read(&a, &b);
	b.have_snd_wnd = 0; /* an old kernel: the window is unknown, not zero */
	b.backoff = 0;
	cr_assert_neq(yc_judge(&a, &b).v, YC_V_STALLED);
}

Test(verdict, blocked_reader_with_nothing_received_is_waiting)
{
	struct yc_sock_sample a = tcp(0), b = tcp(200);

	a.reader_blocked = b.reader_blocked = 1;
	a.last_data_recv_ms = 11104;
	b.last_data_recv_ms = 11304;
	struct yc_judgement j = yc_judge(&a, &b);
	cr_assert_eq(j.v, YC_V_WAITING, "verdict %s", yc_verdict_name(j.v));
	cr_assert(j.age_known);
	cr_assert_eq(j.age_ms, 11304);
	/* Our own request being acknowledged meanwhile changes nothing. */
	b.bytes_acked += 9;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_WAITING);
}

Test(verdict, waiting_needs_the_reader_in_both_samples_and_nothing_received)
{
	struct yc_sock_sample a = tcp(0), b = tcp(200);

	b.reader_blocked = 1;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_IDLE);
	a.reader_blocked = 1;
	b.bytes_received += 100;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_OK);
	b.bytes_received = a.bytes_received;
	b.rqueue = 10; /* data waits to be read: the reader is not starved */
	cr_assert_neq(yc_judge(&a, &b).v, YC_V_WAITING);
}

Test(verdict, idle_is_idle)
{
	struct yc_sock_sample a = tcp(0), b = tcp(200);

	cr_assert_eq(yc_judge(&a, &b).v, YC_V_IDLE);
	cr_assert_eq(yc_judge(&a, &b).age_known, 0);
}

Test(verdict, stalled_outranks_waiting)
{
	struct yc_sock_sample a, b;

	never_read(&a, &b);
	a.reader_blocked = b.reader_blocked = 1;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_STALLED);
}

Test(verdict, a_listener_is_idle)
{
	struct yc_sock_sample a, b;

	never_read(&a, &b);
	a.state = b.state = TCP_LISTEN;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_IDLE);
}

Test(verdict, what_was_not_seen_twice_is_unknown)
{
	struct yc_sock_sample a, b;

	never_read(&a, &b);
	b.status = YC_SOCK_UNKNOWN;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_UNKNOWN);
	never_read(&a, &b);
	a.status = b.status = YC_SOCK_OTHER_NETNS;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_UNKNOWN);
	never_read(&a, &b);
	b.family = AF_INET6;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_UNKNOWN);
	never_read(&a, &b);
	b.have_info = 0;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_UNKNOWN);
}

Test(verdict, unix_full_queue_the_peer_does_not_drain_is_stalled)
{
	struct yc_sock_sample a = unix_sock(0), b = unix_sock(200);

	a.wqueue = b.wqueue = 238336;
	a.peer_rqueue = b.peer_rqueue = 233152;
	struct yc_judgement j = yc_judge(&a, &b);
	cr_assert_eq(j.v, YC_V_STALLED);
	cr_assert_eq(j.age_known, 0, "Unix sockets have no timers");
	b.peer_rqueue -= 4096; /* the peer read some */
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_OK);
	b.peer_rqueue = a.peer_rqueue;
	b.peer_ino = 4343; /* another peer: not the same queue */
	cr_assert_neq(yc_judge(&a, &b).v, YC_V_STALLED);
	b.peer_ino = a.peer_ino;
	a.wqueue = 0;
	cr_assert_neq(yc_judge(&a, &b).v, YC_V_STALLED);
}

Test(verdict, unix_waiting_and_idle)
{
	struct yc_sock_sample a = unix_sock(0), b = unix_sock(200);

	cr_assert_eq(yc_judge(&a, &b).v, YC_V_IDLE);
	a.reader_blocked = b.reader_blocked = 1;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_WAITING);
	b.rqueue = 5;
	cr_assert_eq(yc_judge(&a, &b).v, YC_V_OK);
}

Test(verdict, the_instance_takes_the_most_urgent_socket)
{
	struct yc_judgement idle = { YC_V_IDLE, 0, 0 }, ok = { YC_V_OK, 0, 0 };
	struct yc_judgement st1 = { YC_V_STALLED, 1, 5000 }, st2 = { YC_V_STALLED, 1, 45000 };
	struct yc_judgement wt = { YC_V_WAITING, 1, 90000 }, none = { YC_V_NONE, 0, 0 };

	cr_assert_eq(yc_judgement_worse(none, idle).v, YC_V_IDLE);
	cr_assert_eq(yc_judgement_worse(idle, ok).v, YC_V_OK);
	cr_assert_eq(yc_judgement_worse(wt, st1).v, YC_V_STALLED);
	cr_assert_eq(yc_judgement_worse(st1, st2).age_ms, 45000);
	cr_assert_eq(yc_judgement_worse(st2, st1).age_ms, 45000);
}

Test(verdict, words)
{
	char buf[64];
	enum yc_verdict v;

	cr_assert_str_eq(yc_verdict_cell((struct yc_judgement){ YC_V_STALLED, 1, 45000 }, buf,
					 sizeof(buf)),
			 "stalled 45s");
	cr_assert_str_eq(yc_verdict_cell((struct yc_judgement){ YC_V_WAITING, 0, 0 }, buf,
					 sizeof(buf)),
			 "waiting");
	cr_assert_str_eq(yc_verdict_cell((struct yc_judgement){ YC_V_OK, 1, 7 }, buf, sizeof(buf)),
			 "ok");
	cr_assert_str_eq(yc_verdict_cell((struct yc_judgement){ YC_V_NONE, 0, 0 }, buf,
					 sizeof(buf)),
			 "-");
	cr_assert_str_eq(yc_format_age(850, buf, sizeof(buf)), "850ms");
	cr_assert_str_eq(yc_format_age(119999, buf, sizeof(buf)), "119s");
	cr_assert_str_eq(yc_format_age(720000, buf, sizeof(buf)), "12m");
	cr_assert_str_eq(yc_format_age(3ull * 3600 * 1000, buf, sizeof(buf)), "3h");
	cr_assert_str_eq(yc_format_age(50ull * 3600 * 1000, buf, sizeof(buf)), "2d");
	for (int i = YC_V_NONE; i <= YC_V_STALLED; i++) {
		cr_assert_eq(yc_verdict_parse(yc_verdict_name((enum yc_verdict)i), &v), 0);
		cr_assert_eq((int)v, i);
	}
	cr_assert_eq(yc_verdict_parse("hung", &v), -1);
	cr_assert_str_eq(yc_sock_state_name(AF_INET, TCP_ESTABLISHED), "established");
	cr_assert_str_eq(yc_sock_state_name(AF_INET6, TCP_LISTEN), "listen");
	cr_assert_str_eq(yc_sock_state_name(AF_UNIX, TCP_ESTABLISHED), "connected");
	cr_assert_str_eq(yc_sock_state_name(AF_INET, 99), "unknown");
}
