/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The agent protocol: one msgpack map per SOCK_SEQPACKET message, with a
 * protocol version.  See docs/PROTOCOL.md.
 */
#ifndef YANK_WIRE_H
#define YANK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_MAX_MSG 65536
#define WIRE_MAX_ITEMS 1024 /* records per message */
#define WIRE_MAX_FDS 253    /* SCM_MAX_FD */

enum wire_op { WIRE_YANK = 1, WIRE_RES, WIRE_DONE, WIRE_ERR };

/* Per-record outcome in a WIRE_RES reply. */
enum wire_status {
	WS_FD = 0,     /* the fd is attached, next in SCM_RIGHTS order */
	WS_RAN = 1,    /* the callback ran */
	WS_GONE = 2,   /* unregistered meanwhile: skipped, not an error */
	WS_FAILED = 3, /* could not be done: err says why */
};

struct wire_item {
	uint32_t idx;
	uint64_t gen;
	uint32_t status;
	int32_t err;
};

struct wire_msg {
	enum wire_op op;
	uint32_t n;              /* items used */
	struct wire_item *items; /* caller's array of WIRE_MAX_ITEMS */
	int more;                /* WIRE_RES: further replies follow */
	uint64_t deadline;       /* CLOCK_MONOTONIC ns.  WIRE_YANK: after it the
				  * yanker no longer waits, so do nothing then.
				  * WIRE_RES: the agent counts the fds attached
				  * as in flight until then; act on none after it */
	int32_t err;             /* WIRE_ERR: negative errno */
};

/* 0 and *len, or -EMSGSIZE. */
int yank__wire_encode(const struct wire_msg *m, char *buf, size_t cap, size_t *len);

/* Untrusted bytes in, a checked message out: 0, -EPROTO, or -EPROTONOSUPPORT. */
int yank__wire_decode(const char *buf, size_t len, struct wire_msg *m);

#endif
