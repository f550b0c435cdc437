/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl's QMP server session (SPEC §6): arbitrary bytes as the input
 * stream, against a fake registry that never touches shared memory.
 *
 * Every reply is checked as a QMP client would read it: one line, one
 * JSON object, exactly one of "QMP" (first, once), "return" or "error",
 * and an error carries a known class and a description.  The backend
 * checks that nothing the library would reject is ever passed to a yank.
 * A write error ends the session: no reply may follow it.
 *
 * Each input is fed four ways: whole, in chunks whose sizes derive from
 * the input, one byte at a time, and whole with the writer failing
 * part-way.  An input that starts with 0x01 is instead fed once up to its
 * first NUL, and what follows that is repeated past YC_QMP_MAX_REQUEST:
 * the oversize path, from a small corpus file.
 *
 * The whole, chunked and bytewise runs must give the same replies, byte
 * for byte: a stream's answers must not depend on how read(2) happened to
 * cut it (yc_qmp_feed() promises as much).
 *
 * Two more properties, each an abort() when broken:
 * - One reply per value, at once.  An oracle written apart from the
 *   server (recursive descent over RFC 8259, not a state machine) finds
 *   the longest prefix of the input made of well-formed values and where
 *   each one ends.  Fed a byte at a time, the session must have answered
 *   exactly the values that ended so far after every byte of that prefix:
 *   not one fewer (a client waiting forever) and not one more.  Values
 *   Jansson refuses (1e400, \u0000, duplicate keys) count like any other.
 * - No reply left pending.  After any input, "\n", a control byte and
 *   "\n" resynchronise the session (qmplex.c's rule: the control byte is a
 *   bad token, answered once, and drops the rest of its line); then one
 *   request, without a newline, must get exactly one reply, its own.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "fuzz.h"
#include "qmp.h"

struct sink {
	int lines;      /* the greeting included */
	size_t last_at; /* where the latest reply starts in the log */
	int fail_after; /* the write after this many lines fails; -1: never */
	bool failed;
	char *log;      /* every reply, to compare the ways of feeding */
	size_t log_len, log_cap;
};

static void check_error(json_t *err)
{
	static const char *const classes[] = { "GenericError", "CommandNotFound",
					       "DeviceNotFound" };
	json_t *cls = json_object_get(err, "class"), *desc = json_object_get(err, "desc");
	bool known = false;

	FUZZ_ASSERT(json_is_object(err) && json_object_size(err) == 2);
	FUZZ_ASSERT(json_is_string(cls) && json_is_string(desc));
	FUZZ_ASSERT(json_string_length(desc) > 0);
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		known |= !strcmp(json_string_value(cls), classes[i]);
	FUZZ_ASSERT(known);
}

static int sink_write(void *opaque, const char *line, size_t len)
{
	struct sink *s = opaque;
	json_error_t jerr;
	json_t *reply;
	size_t kinds;

	/* Nothing may be answered once a write has failed. */
	FUZZ_ASSERT(!s->failed);
	FUZZ_ASSERT(len > 1 && memchr(line, '\n', len) == line + len - 1);
	reply = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
	FUZZ_ASSERT(reply && json_is_object(reply));
	kinds = !!json_object_get(reply, "QMP") + !!json_object_get(reply, "return") +
		!!json_object_get(reply, "error");
	FUZZ_ASSERT(kinds == 1);
	FUZZ_ASSERT(json_object_size(reply) == 1 + !!json_object_get(reply, "id"));
	/* The greeting comes first and only first. */
	FUZZ_ASSERT(!!json_object_get(reply, "QMP") == (s->lines == 0));
	if (json_object_get(reply, "error"))
		check_error(json_object_get(reply, "error"));
	json_decref(reply);

	if (s->log_len + len > s->log_cap) {
		size_t cap = (s->log_len + len) * 2;
		char *l = realloc(s->log, cap);

		FUZZ_ASSERT(l != NULL);
		s->log = l;
		s->log_cap = cap;
	}
	s->last_at = s->log_len;
	memcpy(s->log + s->log_len, line, len);
	s->log_len += len;
	s->lines++;
	if (s->fail_after >= 0 && s->lines > s->fail_after) {
		s->failed = true;
		return -EPIPE;
	}
	return 0;
}

/* ---- the fake registry ---- */

static const char long_name[] =
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";

/* What a hostile or damaged segment could make yank_query() return. */
static const struct yank_instance_info registry[] = {
	{ .type = YANK_CHARDEV, .name = "c0", .pid = 100, .n_fds = 1, .n_callbacks = 0, .owner_alive = 1, .order = 1 },
	{ .type = YANK_BLOCK_NODE, .name = "disk0", .pid = 100, .n_fds = 0, .n_callbacks = 2, .owner_alive = 1, .order = 2 },
	{ .type = YANK_MIGRATION, .name = NULL, .pid = 101, .n_fds = 0, .n_callbacks = 1, .owner_alive = 1, .order = 3 },
	{ .type = YANK_CHARDEV, .name = "\xff\xfe not utf-8 \xc0\x80", .pid = 102, .n_fds = 1, .n_callbacks = 0, .owner_alive = 0, .order = 4 },
	{ .type = YANK_CHARDEV, .name = "ctl\x01\x1f\x7f", .pid = 102, .n_fds = 1, .n_callbacks = 0, .owner_alive = 0, .order = 5 },
	{ .type = YANK_BLOCK_NODE, .name = long_name, .pid = 103, .n_fds = 0, .n_callbacks = 0, .owner_alive = 1, .order = 6 },
	{ .type = (enum yank_type)7, .name = "unknown-type", .pid = 103, .n_fds = 0, .n_callbacks = 0, .owner_alive = 1, .order = 7 },
	{ .type = YANK_BLOCK_NODE, .name = NULL, .pid = 104, .n_fds = 0, .n_callbacks = 0, .owner_alive = 1, .order = 8 },
};

struct fake {
	int queries;
	struct yank_instance_info *out; /* handed out and not yet returned */
	struct yank_failure *failures;
};

static int fake_query(void *ctx, struct yank_instance_info **out, size_t *n)
{
	struct fake *f = ctx;

	FUZZ_ASSERT(f->out == NULL);
	/* Now and then the registry is unavailable. */
	if (++f->queries % 4 == 0)
		return -EPROTO;
	f->out = malloc(sizeof(registry));
	if (!f->out)
		return -ENOMEM;
	memcpy(f->out, registry, sizeof(registry));
	*out = f->out;
	*n = sizeof(registry) / sizeof(registry[0]);
	return 0;
}

static void fake_query_done(void *ctx, struct yank_instance_info *info, size_t n)
{
	struct fake *f = ctx;

	FUZZ_ASSERT(info == f->out && n == sizeof(registry) / sizeof(registry[0]));
	free(f->out);
	f->out = NULL;
}

/*
 * The instance names steer the outcome: "missing..." is not found,
 * "locked..." times out, and "failN..." fails with records whose first
 * err is N (any int: an agent's reply is untrusted, see wire.c).
 */
static int fake_yank(void *ctx, const struct yank_instance *list, size_t n,
		     struct yank_failure **failures, size_t *n_failures)
{
	struct fake *f = ctx;
	int r = 0;

	FUZZ_ASSERT(f->failures == NULL);
	FUZZ_ASSERT(n == 0 || list != NULL);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(yank_check_instance(&list[i]) == 0);
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = list[i].name ? list[i].name : "";

		if (!strncmp(name, "missing", 7))
			r = -ENOENT;
		else if (!strncmp(name, "locked", 6))
			r = -ETIMEDOUT;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = list[i].name ? list[i].name : "";
		size_t count = strlen(name) % 20;

		if (strncmp(name, "fail", 4))
			continue;
		r = -EIO;
		f->failures = calloc(count ? count : 1, sizeof(*f->failures));
		if (!f->failures)
			return -ENOMEM;
		for (size_t k = 0; k < count; k++) {
			struct yank_failure *fl = &f->failures[k];

			fl->type = list[i].type;
			fl->name = list[i].name ? strdup(list[i].name) : NULL;
			fl->pid = (pid_t)(100 + k);
			fl->fd = (int)(k % 3) - 1;
			fl->kind = (enum yank_failure_kind)(k % 9);
			fl->err = k ? -(int)(k * 7 % 140) : (int)strtol(name + 4, NULL, 10);
		}
		*failures = f->failures;
		*n_failures = count;
	}
	return r;
}

static void fake_yank_done(void *ctx, struct yank_failure *failures, size_t n)
{
	struct fake *f = ctx;

	FUZZ_ASSERT(failures == f->failures);
	for (size_t i = 0; failures && i < n; i++)
		free((char *)failures[i].name);
	free(failures);
	f->failures = NULL;
}

/* ---- the oracle: well-formed values, by recursive descent ---- */

struct oracle {
	const uint8_t *p;
	size_t n, i;
};

static int peek(const struct oracle *o)
{
	return o->i < o->n ? o->p[o->i] : -1;
}

static bool o_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* What may follow a number or literal without running into it. */
static bool o_ends_word(int c)
{
	return c < 0 || o_space(c) || (c && strchr("{}[],:\"", c));
}

static void o_skip_space(struct oracle *o)
{
	while (o_space(peek(o)))
		o->i++;
}

static bool o_digits(struct oracle *o)
{
	size_t start = o->i;

	while (peek(o) >= '0' && peek(o) <= '9')
		o->i++;
	return o->i > start;
}

static bool o_number(struct oracle *o)
{
	if (peek(o) == '-')
		o->i++;
	if (peek(o) == '0')
		o->i++;
	else if (!o_digits(o))
		return false;
	if (peek(o) == '.') {
		o->i++;
		if (!o_digits(o))
			return false;
	}
	if (peek(o) == 'e' || peek(o) == 'E') {
		o->i++;
		if (peek(o) == '+' || peek(o) == '-')
			o->i++;
		if (!o_digits(o))
			return false;
	}
	return true;
}

static bool o_literal(struct oracle *o, const char *word)
{
	size_t len = strlen(word);

	if (o->n - o->i < len || memcmp(o->p + o->i, word, len))
		return false;
	o->i += len;
	return true;
}

static bool o_string(struct oracle *o)
{
	o->i++;
	while (o->i < o->n) {
		int c = o->p[o->i++];

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		c = peek(o);
		o->i++;
		if (c == 'u') {
			for (int k = 0; k < 4; k++, o->i++) {
				if (peek(o) < 0 || !strchr("0123456789abcdefABCDEF", peek(o)) ||
				    !peek(o))
					return false;
			}
		} else if (c <= 0 || !strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
	return false;
}

static bool o_value(struct oracle *o, int depth);

/* An object or array; each round consumes input, so o->n rounds bound it. */
static bool o_container(struct oracle *o, int depth)
{
	bool object = peek(o) == '{';
	int close = object ? '}' : ']';

	if (depth == YC_QMP_MAX_DEPTH)
		return false;
	o->i++;
	o_skip_space(o);
	if (peek(o) == close) {
		o->i++;
		return true;
	}
	for (size_t round = 0; round <= o->n; round++) {
		if (object) {
			if (peek(o) != '"' || !o_string(o))
				return false;
			o_skip_space(o);
			if (peek(o) != ':')
				return false;
			o->i++;
			o_skip_space(o);
		}
		if (!o_value(o, depth + 1))
			return false;
		o_skip_space(o);
		if (peek(o) == close) {
			o->i++;
			return true;
		}
		if (peek(o) != ',')
			return false;
		o->i++;
		o_skip_space(o);
	}
	return false;
}

static bool o_value(struct oracle *o, int depth)
{
	int c = peek(o);

	if (c == '{' || c == '[')
		return o_container(o, depth);
	if (c == '"')
		return o_string(o);
	if (!o_literal(o, "true") && !o_literal(o, "false") && !o_literal(o, "null") &&
	    !o_number(o))
		return false;
	return o_ends_word(peek(o));
}

/*
 * The well-formed values the input starts with: @done[k] is the index of
 * the byte after which value k must have been answered (a number or
 * literal needs the byte after it; @size means at end of input).
 * Returns how many there are; *scalar_last says whether the last one is a
 * number or literal, whose final byte may also start a mistake.
 */
static size_t oracle_values(const uint8_t *data, size_t size, size_t *done, bool *scalar_last)
{
	struct oracle o = { data, size, 0 };
	size_t n = 0;

	*scalar_last = false;
	while (n < size) {
		size_t start;

		o_skip_space(&o);
		start = o.i;
		if (start == size || !o_value(&o, 0))
			break;
		*scalar_last = data[start] != '{' && data[start] != '[' && data[start] != '"';
		done[n++] = *scalar_last ? o.i : o.i - 1;
	}
	return n;
}

/* ---- sessions ---- */

enum feed_mode { FEED_WHOLE, FEED_CHUNKS, FEED_BYTES, FEED_FAILING, FEED_HUGE };

static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * @data up to its first NUL once, then what follows repeated past the
 * request limit.  A pattern that keeps completing requests gets nowhere
 * near the limit, only slower: stop once it has been answered a lot.
 */
static int feed_huge(struct yc_qmp *q, const struct sink *s, const uint8_t *data, size_t size)
{
	static char block[4096];
	const uint8_t *nul = memchr(data, 0, size), *pat = data;
	size_t plen = size, total = 0;
	int r = 0;

	if (nul) {
		r = yc_qmp_feed(q, data, (size_t)(nul - data));
		pat = nul + 1;
		plen = size - (size_t)(pat - data);
	}
	if (r < 0 || plen == 0)
		return r;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (char)pat[i % plen];
	while (r == 0 && total <= YC_QMP_MAX_REQUEST + sizeof(block) && s->lines < 64) {
		r = yc_qmp_feed(q, block, sizeof(block));
		total += sizeof(block);
	}
	return r;
}

/*
 * A byte at a time, checking after each byte of the well-formed prefix
 * that exactly the values that ended so far have been answered.
 */
static int feed_bytes(struct yc_qmp *q, const struct sink *s, const uint8_t *data, size_t size)
{
	size_t *done = malloc((size + 1) * sizeof(*done));
	size_t n, k = 0;
	bool scalar_last;
	int r = 0;

	FUZZ_ASSERT(done != NULL);
	n = oracle_values(data, size, done, &scalar_last);
	for (size_t i = 0; r == 0 && i < size; i++) {
		r = yc_qmp_feed(q, data + i, 1);
		while (k < n && done[k] <= i)
			k++;
		if (r < 0 || n == 0 || i > done[n - 1])
			continue;
		/* The byte that ends a trailing number may be a mistake too. */
		if (i == done[n - 1] && scalar_last)
			FUZZ_ASSERT((size_t)(s->lines - 1) >= k);
		else
			FUZZ_ASSERT((size_t)(s->lines - 1) == k);
	}
	if (r == 0 && n && done[n - 1] == size) {
		r = yc_qmp_eof(q);
		FUZZ_ASSERT(r < 0 || (size_t)(s->lines - 1) == n);
	}
	free(done);
	return r;
}

static json_t *last_reply(const struct sink *s)
{
	json_t *reply = json_loadb(s->log + s->last_at, s->log_len - s->last_at, 0, NULL);

	FUZZ_ASSERT(reply != NULL);
	return reply;
}

/*
 * Whatever came before, "\n", a control byte and "\n" bring the session
 * back in step, and the next request is answered at once, exactly once.
 */
static int probe(struct yc_qmp *q, const struct sink *s)
{
	static const char req[] = "{\"execute\":\"query-yank\",\"id\":\"fuzz-probe\"}";
	int before = s->lines, r;
	json_t *reply;

	r = yc_qmp_feed(q, "\n", 1);
	if (r < 0)
		return r;
	/* It may end a number, or a string as a mistake. */
	FUZZ_ASSERT(s->lines - before <= 1);
	before = s->lines;
	r = yc_qmp_feed(q, "\x01", 1);
	if (r < 0)
		return r;
	FUZZ_ASSERT(s->lines == before + 1);
	reply = last_reply(s);
	FUZZ_ASSERT(!strncmp(json_string_value(json_object_get(json_object_get(reply, "error"),
							       "desc")),
			     "JSON parse error, ", 18));
	json_decref(reply);
	r = yc_qmp_feed(q, "\n", 1);
	if (r < 0)
		return r;
	FUZZ_ASSERT(s->lines == before + 1);
	r = yc_qmp_feed(q, req, sizeof(req) - 1);
	if (r < 0)
		return r;
	FUZZ_ASSERT(s->lines == before + 2);
	reply = last_reply(s);
	FUZZ_ASSERT(json_is_string(json_object_get(reply, "id")));
	FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(reply, "id")), "fuzz-probe"));
	json_decref(reply);
	r = yc_qmp_eof(q);
	FUZZ_ASSERT(r < 0 || s->lines == before + 2);
	return r;
}

static void session(const uint8_t *data, size_t size, enum feed_mode mode, uint32_t seed,
		    struct sink *out)
{
	struct fake f = { 0 };
	const struct yc_qmp_backend be = { &f, "/yank-fuzz", fake_query, fake_query_done,
					   fake_yank, fake_yank_done, NULL };
	struct sink s = { .fail_after = mode == FEED_FAILING ? (int)(seed % 6) : -1 };
	struct yc_qmp *q = yc_qmp_new(&be, sink_write, &s);
	bool greeted;
	int r;

	FUZZ_ASSERT(q != NULL);
	r = yc_qmp_greet(q);
	/* A failed greeting ends the session too, but only by the caller. */
	greeted = r == 0;
	if (mode == FEED_HUGE) {
		if (r == 0)
			r = feed_huge(q, &s, data + 1, size - 1);
	} else if (mode == FEED_CHUNKS) {
		uint32_t x = seed | 1;
		size_t max = seed & 0x100 ? 3 : 40;

		for (size_t off = 0; r == 0 && off < size;) {
			size_t n = 1 + next_rand(&x) % max;

			if (n > size - off)
				n = size - off;
			r = yc_qmp_feed(q, data + off, n);
			off += n;
		}
	} else if (mode == FEED_BYTES) {
		if (r == 0)
			r = feed_bytes(q, &s, data, size);
	} else if (r == 0) {
		r = yc_qmp_feed(q, data, size);
	}
	/* Only a stream shorter than a request can be sure to resynchronise. */
	if (r == 0 && mode != FEED_HUGE && mode != FEED_FAILING && size < YC_QMP_MAX_REQUEST)
		r = probe(q, &s);
	if (r == 0)
		r = yc_qmp_eof(q);
	FUZZ_ASSERT(r == 0 || (r == -EPIPE && s.failed));
	if (r < 0 && greeted) {
		/* A dead session stays dead, and silent. */
		FUZZ_ASSERT(yc_qmp_feed(q, "{}\n", 3) == r);
		FUZZ_ASSERT(yc_qmp_eof(q) == r);
	}
	yc_qmp_free(q);
	FUZZ_ASSERT(f.out == NULL && f.failures == NULL);
	if (out)
		*out = s;
	else
		free(s.log);
}

static void same_replies(const struct sink *a, const struct sink *b)
{
	FUZZ_ASSERT(a->log_len == b->log_len);
	FUZZ_ASSERT(!a->log_len || !memcmp(a->log, b->log, a->log_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink whole, chunked, bytes;
	uint32_t seed = 2166136261u;

	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	if (size >= 2 && data[0] == 0x01) {
		session(data, size, FEED_HUGE, seed, NULL);
		return 0;
	}
	session(data, size, FEED_WHOLE, seed, &whole);
	session(data, size, FEED_CHUNKS, seed, &chunked);
	session(data, size, FEED_BYTES, seed, &bytes);
	session(data, size, FEED_FAILING, seed, NULL);
	same_replies(&whole, &chunked);
	same_replies(&whole, &bytes);
	free(whole.log);
	free(chunked.log);
	free(bytes.log);
	return 0;
}
