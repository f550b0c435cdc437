/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The agent's message parser (SPEC §4, §9): untrusted bytes into
 * yank__wire_decode().  Beyond "never crash, never allocate from a count
 * nobody sent", every message it accepts must be well-formed by its own
 * rules and must survive a round trip: encode what was decoded, decode
 * that again, and get the same message and, encoded once more, the same
 * bytes.
 */
#include <errno.h>
#include <string.h>

#include <yank.h>

#include "fuzz.h"
#include "wire.h"

static void check_msg(const struct wire_msg *m)
{
	FUZZ_ASSERT(m->op >= WIRE_YANK && m->op <= WIRE_ERR);
	FUZZ_ASSERT(m->n <= WIRE_MAX_ITEMS);
	FUZZ_ASSERT(m->more == 0 || m->more == 1);
	if (m->op == WIRE_DONE || m->op == WIRE_ERR)
		FUZZ_ASSERT(m->n == 0);
	if (m->op == WIRE_ERR)
		FUZZ_ASSERT(m->err < 0);
	else
		FUZZ_ASSERT(m->err == 0);
	if (m->op != WIRE_RES)
		FUZZ_ASSERT(m->more == 0);
	if (m->op != WIRE_YANK && m->op != WIRE_RES)
		FUZZ_ASSERT(m->deadline == 0);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct wire_item *it = &m->items[i];

		if (m->op == WIRE_YANK) {
			FUZZ_ASSERT(it->status == 0 && it->err == 0);
		} else {
			FUZZ_ASSERT(it->status <= WS_FAILED);
		}
	}
}

static int same_msg(const struct wire_msg *a, const struct wire_msg *b)
{
	if (a->op != b->op || a->n != b->n || a->more != b->more || a->err != b->err ||
	    a->deadline != b->deadline)
		return 0;
	for (uint32_t i = 0; i < a->n; i++) {
		const struct wire_item *x = &a->items[i], *y = &b->items[i];

		if (x->idx != y->idx || x->gen != y->gen || x->status != y->status ||
		    x->err != y->err)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_item items[WIRE_MAX_ITEMS], items2[WIRE_MAX_ITEMS];
	static char out[WIRE_MAX_MSG], out2[WIRE_MAX_MSG];
	struct wire_msg m = { .items = items }, m2 = { .items = items2 };
	size_t len, len2;
	int r;

	r = yank__wire_decode((const char *)data, size, &m);
	FUZZ_ASSERT(r == 0 || r == -EPROTO || r == -EPROTONOSUPPORT);
	if (r < 0)
		return 0;
	check_msg(&m);

	/*
	 * The caller (dispatch.c) turns a WIRE_ERR and each failed record's
	 * err into a yank_failure, which yankctl and yank_strerror() words.
	 */
	if (m.op == WIRE_ERR)
		FUZZ_ASSERT(yank_strerror(m.err) != NULL);
	for (uint32_t i = 0; i < m.n; i++)
		FUZZ_ASSERT(yank_strerror(m.items[i].err) != NULL);

	/* Anything the agent accepts, the library must be able to send. */
	r = yank__wire_encode(&m, out, sizeof(out), &len);
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(len > 0 && len <= sizeof(out));
	r = yank__wire_decode(out, len, &m2);
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(same_msg(&m, &m2));
	r = yank__wire_encode(&m2, out2, sizeof(out2), &len2);
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(len2 == len && memcmp(out, out2, len) == 0);
	return 0;
}
