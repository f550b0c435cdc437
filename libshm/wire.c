/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * msgpack encoding and decoding of agent messages.  The only file that
 * includes <msgpack.h>.  Every message is untrusted: it is size-capped by
 * the caller, walked once without allocating (msgpack-c allocates for an
 * array from its declared count before a single element arrives, so a
 * five-byte message could ask for half a gigabyte), then unpacked, and
 * every field is type- and range-checked.  Unknown and duplicate keys are
 * refused.
 */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "wire.h"

#define MAX_DEPTH 4

struct outbuf {
	char *p;
	size_t cap, len;
	int overflow;
};

static int out_write(void *data, const char *buf, size_t len)
{
	struct outbuf *o = data;
	if (o->overflow || len > o->cap - o->len) {
		o->overflow = 1;
		return -1;
	}
	memcpy(o->p + o->len, buf, len);
	o->len += len;
	return 0;
}

static void pack_key(msgpack_packer *pk, const char *k)
{
	size_t n = strlen(k);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, k, n);
}

static const char *op_name(enum wire_op op)
{
	switch (op) {
	case WIRE_YANK:
		return "yank";
	case WIRE_RES:
		return "res";
	case WIRE_DONE:
		return "done";
	case WIRE_ERR:
		return "err";
	}
	return NULL;
}

int yank__wire_encode(const struct wire_msg *m, char *buf, size_t cap, size_t *len)
{
	const char *op = op_name(m->op);
	if (!op || m->n > WIRE_MAX_ITEMS)
		return -EINVAL;
	struct outbuf o = { buf, cap, 0, 0 };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &o, out_write);
	int has_items = m->op == WIRE_YANK || m->op == WIRE_RES;
	msgpack_pack_map(&pk, 2 + (has_items ? 2 : 0) + (m->op == WIRE_RES) + (m->op == WIRE_ERR));
	pack_key(&pk, "v");
	msgpack_pack_uint32(&pk, WIRE_VERSION);
	pack_key(&pk, "op");
	pack_key(&pk, op);
	if (has_items) {
		pack_key(&pk, "recs");
		msgpack_pack_array(&pk, m->n);
		for (uint32_t i = 0; i < m->n; i++) {
			const struct wire_item *it = &m->items[i];
			msgpack_pack_array(&pk, m->op == WIRE_YANK ? 2 : 4);
			msgpack_pack_uint32(&pk, it->idx);
			msgpack_pack_uint64(&pk, it->gen);
			if (m->op == WIRE_RES) {
				msgpack_pack_uint32(&pk, it->status);
				msgpack_pack_int32(&pk, it->err);
			}
		}
	}
	if (m->op == WIRE_RES) {
		pack_key(&pk, "more");
		if (m->more)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
	}
	if (has_items) {
		pack_key(&pk, "dl");
		msgpack_pack_uint64(&pk, m->deadline);
	}
	if (m->op == WIRE_ERR) {
		pack_key(&pk, "errno");
		msgpack_pack_int32(&pk, m->err);
	}
	if (o.overflow)
		return -EMSGSIZE;
	*len = o.len;
	return 0;
}

/* ---- pre-walk: structure and sizes, without allocating ---- */

struct walk {
	const unsigned char *p;
	size_t left;
};

static int take(struct walk *w, size_t n)
{
	if (n > w->left)
		return -1;
	w->p += n;
	w->left -= n;
	return 0;
}

static int be(struct walk *w, size_t n, uint64_t *v)
{
	if (n > w->left)
		return -1;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | w->p[i];
	w->p += n;
	w->left -= n;
	return 0;
}

static int walk_value(struct walk *w, int depth);

static int walk_items(struct walk *w, uint64_t count, int per, int depth)
{
	/* Every element needs at least one byte: a count beyond that is a lie. */
	if (depth >= MAX_DEPTH || count > w->left / (size_t)per)
		return -1;
	for (uint64_t i = 0; i < count * (uint64_t)per; i++)
		if (walk_value(w, depth + 1) < 0)
			return -1;
	return 0;
}

static int walk_value(struct walk *w, int depth)
{
	uint64_t n;
	if (w->left == 0)
		return -1;
	unsigned char b = *w->p;
	take(w, 1);
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if ((b & 0xe0) == 0xa0)
		return take(w, b & 0x1f);
	if ((b & 0xf0) == 0x90)
		return walk_items(w, b & 0x0f, 1, depth);
	if ((b & 0xf0) == 0x80)
		return walk_items(w, b & 0x0f, 2, depth);
	switch (b) {
	case 0xcc: case 0xd0: return take(w, 1);
	case 0xcd: case 0xd1: return take(w, 2);
	case 0xce: case 0xd2: case 0xca: return take(w, 4);
	case 0xcf: case 0xd3: case 0xcb: return take(w, 8);
	case 0xd9: case 0xc4: return be(w, 1, &n) < 0 ? -1 : take(w, n);
	case 0xda: case 0xc5: return be(w, 2, &n) < 0 ? -1 : take(w, n);
	case 0xdb: case 0xc6: return be(w, 4, &n) < 0 ? -1 : take(w, n);
	case 0xdc: return be(w, 2, &n) < 0 ? -1 : walk_items(w, n, 1, depth);
	case 0xdd: return be(w, 4, &n) < 0 ? -1 : walk_items(w, n, 1, depth);
	case 0xde: return be(w, 2, &n) < 0 ? -1 : walk_items(w, n, 2, depth);
	case 0xdf: return be(w, 4, &n) < 0 ? -1 : walk_items(w, n, 2, depth);
	default: return -1; /* ext types and the reserved byte: never ours */
	}
}

/* ---- field checks ---- */

static int key_is(const msgpack_object *k, const char *s)
{
	size_t n = strlen(s);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, s, n) == 0;
}

static int get_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
		return -1;
	*out = o->via.u64;
	return 0;
}

static int get_int32(const msgpack_object *o, int32_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX) {
		*out = (int32_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= INT32_MIN) {
		*out = (int32_t)o->via.i64;
		return 0;
	}
	return -1;
}

/* A negated errno: -4095..-1, and 0 too where "no error" is allowed. */
static int get_errno(const msgpack_object *o, int zero_ok, int32_t *out)
{
	if (get_int32(o, out) < 0 || *out > 0 || *out < -4095 || (!zero_ok && *out == 0))
		return -1;
	return 0;
}

static int parse_op(const msgpack_object *o, enum wire_op *op)
{
	static const enum wire_op ops[] = { WIRE_YANK, WIRE_RES, WIRE_DONE, WIRE_ERR };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (key_is(o, op_name(ops[i]))) {
			*op = ops[i];
			return 0;
		}
	return -1;
}

static int parse_items(const msgpack_object *o, int width, struct wire_msg *m)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > WIRE_MAX_ITEMS)
		return -1;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != (uint32_t)width)
			return -1;
		const msgpack_object *f = e->via.array.ptr;
		struct wire_item *it = &m->items[i];
		uint64_t v;
		memset(it, 0, sizeof(*it));
		if (get_uint(&f[0], UINT32_MAX, &v) < 0)
			return -1;
		it->idx = (uint32_t)v;
		if (get_uint(&f[1], UINT64_MAX, &it->gen) < 0)
			return -1;
		if (width == 4) {
			if (get_uint(&f[2], WS_FAILED, &v) < 0 || get_errno(&f[3], 1, &it->err) < 0)
				return -1;
			it->status = (uint32_t)v;
		}
	}
	m->n = o->via.array.size;
	return 0;
}

enum { K_V = 1, K_OP = 2, K_RECS = 4, K_MORE = 8, K_ERRNO = 16, K_DL = 32 };

static int parse_map(const msgpack_object *root, struct wire_msg *m)
{
	if (root->type != MSGPACK_OBJECT_MAP || root->via.map.size > 6)
		return -EPROTO;
	const msgpack_object *recs = NULL;
	unsigned seen = 0;
	uint64_t version = 0;
	/* The version first: a newer peer may use keys we do not know. */
	for (uint32_t i = 0; i < root->via.map.size; i++)
		if (key_is(&root->via.map.ptr[i].key, "v") &&
		    get_uint(&root->via.map.ptr[i].val, UINT32_MAX, &version) == 0 &&
		    version != WIRE_VERSION)
			return -EPROTONOSUPPORT;
	for (uint32_t i = 0; i < root->via.map.size; i++) {
		const msgpack_object *k = &root->via.map.ptr[i].key;
		const msgpack_object *v = &root->via.map.ptr[i].val;
		unsigned bit = key_is(k, "v")	    ? K_V
			       : key_is(k, "op")    ? K_OP
			       : key_is(k, "recs")  ? K_RECS
			       : key_is(k, "more")  ? K_MORE
			       : key_is(k, "errno") ? K_ERRNO
			       : key_is(k, "dl")    ? K_DL
						    : 0;
		if (!bit || (seen & bit))
			return -EPROTO;
		seen |= bit;
		if (bit == K_V && get_uint(v, UINT32_MAX, &version) < 0)
			return -EPROTO;
		if (bit == K_OP && parse_op(v, &m->op) < 0)
			return -EPROTO;
		if (bit == K_RECS)
			recs = v;
		if (bit == K_MORE) {
			if (v->type != MSGPACK_OBJECT_BOOLEAN)
				return -EPROTO;
			m->more = v->via.boolean;
		}
		if (bit == K_ERRNO && get_errno(v, 0, &m->err) < 0)
			return -EPROTO;
		if (bit == K_DL && get_uint(v, UINT64_MAX, &m->deadline) < 0)
			return -EPROTO;
	}
	if (!(seen & K_V) || !(seen & K_OP))
		return -EPROTO;
	unsigned want = K_V | K_OP;
	if (m->op == WIRE_YANK)
		want |= K_RECS | K_DL;
	else if (m->op == WIRE_RES)
		want |= K_RECS | K_MORE | K_DL;
	else if (m->op == WIRE_ERR)
		want |= K_ERRNO;
	if (seen != want)
		return -EPROTO;
	if (recs && parse_items(recs, m->op == WIRE_YANK ? 2 : 4, m) < 0)
		return -EPROTO;
	return 0;
}

int yank__wire_decode(const char *buf, size_t len, struct wire_msg *m)
{
	if (len == 0 || len > WIRE_MAX_MSG)
		return -EPROTO;
	struct walk w = { (const unsigned char *)buf, len };
	if (walk_value(&w, 0) < 0 || w.left != 0)
		return -EPROTO;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	int r = -EPROTO;
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
		struct wire_item *items = m->items;
		memset(m, 0, sizeof(*m));
		m->items = items;
		r = parse_map(&up.data, m);
	}
	msgpack_unpacked_destroy(&up);
	return r;
}
