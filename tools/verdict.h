/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Is a connection stalled?  The rules, as pure functions over two samples
 * of one socket taken some time apart: no I/O, no clock, no global state,
 * so that they can be tested with made-up samples.  The samples come from
 * sockdiag.c (the kernel's view) and stalls.c (what the owner's threads
 * are blocked in).
 */
#ifndef YANKCTL_VERDICT_H
#define YANKCTL_VERDICT_H

#include <stddef.h>
#include <stdint.h>

/* Whether the kernel showed the socket. */
enum yc_sock_status {
	YC_SOCK_UNKNOWN = 0, /* not found: not TCP or Unix, closed, or not readable */
	YC_SOCK_FOUND,
	YC_SOCK_OTHER_NETNS, /* its owner is in another network namespace than ours */
};

/* One look at one socket. */
struct yc_sock_sample {
	uint64_t t_ms;           /* CLOCK_MONOTONIC when it was taken */
	uint8_t status;          /* enum yc_sock_status */
	uint8_t family;          /* AF_INET, AF_INET6, AF_UNIX; 0 when not found */
	uint8_t state;           /* TCP_ESTABLISHED... or the Unix socket's state */
	uint8_t have_info;       /* TCP: tcp_info came with it */
	uint8_t have_snd_wnd;    /* TCP: the kernel reports the peer's window */
	uint8_t have_peer;       /* Unix: the peer socket was found */
	uint8_t reader_blocked;  /* a thread of the owner is blocked reading this fd */
	uint8_t retransmits;     /* TCP: unrecovered timeouts (tcpi_retransmits) */
	uint8_t backoff;         /* TCP: exponential backoff (tcpi_backoff) */
	int reader_syscall;      /* the system call that thread is in, or -1 */
	uint32_t rqueue, wqueue; /* TCP: unread, and unacknowledged bytes; Unix: see yankctl(1) */
	uint32_t notsent;        /* TCP: bytes written, not sent yet */
	uint32_t unacked;        /* TCP: bytes sent, not acknowledged yet */
	uint32_t snd_wnd;        /* TCP: the window the peer last advertised */
	uint32_t last_data_recv_ms, last_data_sent_ms, last_ack_recv_ms; /* TCP: ago */
	uint64_t bytes_acked;    /* TCP: bytes of ours the peer acknowledged, ever */
	uint64_t bytes_received; /* TCP: bytes received, ever */
	uint32_t peer_ino;       /* Unix: the peer socket's inode */
	uint32_t peer_rqueue;    /* Unix: what waits in the peer's receive queue */
};

/* Ordered: a more urgent verdict compares greater. */
enum yc_verdict {
	YC_V_NONE = 0, /* nothing to judge: the instance has no fd record */
	YC_V_UNKNOWN,  /* the socket could not be seen twice */
	YC_V_IDLE,
	YC_V_OK,
	YC_V_WAITING,
	YC_V_STALLED,
};

struct yc_judgement {
	enum yc_verdict v;
	int age_known;   /* the kernel tells how long it has been so */
	uint64_t age_ms; /* then: how long, by its timers */
};

/*
 * The verdict on a socket sampled as @a and later as @b (b->t_ms >= a->t_ms).
 *  TCP stalled: data pending (notsent or unacked > 0), bytes_acked equal,
 *    and the peer's window zero or retransmits or backoff non-zero, in both
 *    samples.  Age: since data was last sent when the window is shut (no
 *    data goes out then), since an ACK was last received otherwise.
 *  TCP waiting: not stalled, a thread of the owner blocked reading the fd
 *    in both samples, bytes_received equal and nothing unread.  Age: since
 *    data was last received.
 *  Unix stalled: our wqueue > 0 in both, and the same peer with the same
 *    rqueue in both.  Unix waiting: blocked reader and nothing unread in
 *    both.  Unix sockets have no timers: the age is unknown.
 *  Otherwise ok when bytes moved (TCP: bytes_acked or bytes_received; Unix:
 *  a queue changed), idle when nothing did, and unknown when either sample
 *  did not find the socket or their kinds differ.
 */
struct yc_judgement yc_judge(const struct yc_sock_sample *a, const struct yc_sock_sample *b);

/* The more urgent of two judgements; of equal verdicts, the longer known age. */
struct yc_judgement yc_judgement_worse(struct yc_judgement x, struct yc_judgement y);

/* "stalled", "waiting", "ok", "idle", "unknown", or "-" for YC_V_NONE. */
const char *yc_verdict_name(enum yc_verdict v);

/* The verdict by name (as yc_verdict_name() spells it): 0 and *out, or -1. */
int yc_verdict_parse(const char *s, enum yc_verdict *out);

/* A duration as a person reads it: "850ms", "45s", "12m", "3h", "2d". */
char *yc_format_age(uint64_t ms, char *buf, size_t size);

/* A table cell: "stalled 45s", "waiting", "ok", "-". */
char *yc_verdict_cell(struct yc_judgement j, char *buf, size_t size);

/* "established", "syn-sent"..., or for AF_UNIX "connected", "listening"... */
const char *yc_sock_state_name(int family, int state);

#endif
