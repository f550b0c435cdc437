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
 * Each input is fed three ways: whole, in chunks whose sizes derive from
 * the input, and whole with the writer failing part-way.  An input that
 * starts with 0x01 is instead fed once up to its first NUL, and what
 * follows that is repeated past YC_QMP_MAX_REQUEST: the oversize path,
 * from a small corpus file.
 *
 * The whole and chunked runs must give the same replies, byte for byte:
 * a stream's answers must not depend on how read(2) happened to cut it
 * (yc_qmp_feed() promises as much).
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
	int lines;
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
	{ YANK_CHARDEV, "c0", 100, 1, 0, 1, 1 },
	{ YANK_BLOCK_NODE, "disk0", 100, 0, 2, 1, 2 },
	{ YANK_MIGRATION, NULL, 101, 0, 1, 1, 3 },
	{ YANK_CHARDEV, "\xff\xfe not utf-8 \xc0\x80", 102, 1, 0, 0, 4 },
	{ YANK_CHARDEV, "ctl\x01\x1f\x7f", 102, 1, 0, 0, 5 },
	{ YANK_BLOCK_NODE, long_name, 103, 0, 0, 1, 6 },
	{ (enum yank_type)7, "unknown-type", 103, 0, 0, 1, 7 },
	{ YANK_BLOCK_NODE, NULL, 104, 0, 0, 1, 8 },
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

/* ---- sessions ---- */

enum feed_mode { FEED_WHOLE, FEED_CHUNKS, FEED_FAILING, FEED_HUGE };

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

static void session(const uint8_t *data, size_t size, enum feed_mode mode, uint32_t seed,
		    struct sink *out)
{
	struct fake f = { 0 };
	const struct yc_qmp_backend be = { &f, "/yank-fuzz", fake_query, fake_query_done,
					   fake_yank, fake_yank_done };
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
	} else if (r == 0) {
		r = yc_qmp_feed(q, data, size);
	}
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink whole, chunked;
	uint32_t seed = 2166136261u;

	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	if (size >= 2 && data[0] == 0x01) {
		session(data, size, FEED_HUGE, seed, NULL);
		return 0;
	}
	session(data, size, FEED_WHOLE, seed, &whole);
	session(data, size, FEED_CHUNKS, seed, &chunked);
	session(data, size, FEED_FAILING, seed, NULL);
	FUZZ_ASSERT(whole.log_len == chunked.log_len);
	FUZZ_ASSERT(!whole.log_len || !memcmp(whole.log, chunked.log, whole.log_len));
	free(whole.log);
	free(chunked.log);
	return 0;
}
