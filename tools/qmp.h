/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * A QMP server session for yankctl: greeting, capabilities negotiation,
 * query-yank, yank, query-version and query-commands, answered the way
 * QEMU answers them.
 *
 * The session does no I/O and touches no registry itself: it consumes
 * bytes (yc_qmp_feed) and emits reply lines through a callback, and it
 * reaches the registry only through a backend of function pointers.  A
 * fuzzer can therefore drive it with arbitrary bytes and a fake backend.
 */
#ifndef YANKCTL_QMP_H
#define YANKCTL_QMP_H

#include <stddef.h>

#include <jansson.h>
#include <yank.h>

/* The input limits, YC_QMP_MAX_REQUEST and YC_QMP_MAX_DEPTH. */
#include "qmplex.h"

/*
 * The registry as the session sees it.  Each call returns 0 or a negative
 * errno; a successful query or yank is always followed by the matching
 * *_done call, which releases what it handed out.
 */
struct yc_qmp_backend {
	void *ctx;
	const char *segment; /* for messages; may be NULL */
	int (*query)(void *ctx, struct yank_instance_info **out, size_t *n);
	void (*query_done)(void *ctx, struct yank_instance_info *info, size_t n);
	/* As yank_yank_detailed(): -ENOENT, -EIO with failures, ... */
	int (*yank)(void *ctx, const struct yank_instance *list, size_t n,
		    struct yank_failure **failures, size_t *n_failures);
	void (*yank_done)(void *ctx, struct yank_failure *failures, size_t n);
	/* Optional: the words for an error the backend returned, or NULL
	 * for the generic "registry unavailable" message. */
	const char *(*error_text)(void *ctx, int err);
};

/*
 * Receives one reply: a JSON object and its terminating newline.  Returns
 * 0 or a negative errno (e.g. -EPIPE), which ends the session.
 */
typedef int yc_qmp_write_fn(void *opaque, const char *line, size_t len);

struct yc_qmp;

struct yc_qmp *yc_qmp_new(const struct yc_qmp_backend *be, yc_qmp_write_fn *write, void *opaque);
void yc_qmp_free(struct yc_qmp *q);

/* Send the {"QMP": ...} greeting. */
int yc_qmp_greet(struct yc_qmp *q);

/*
 * Consume @len bytes of the input stream and answer every top-level value
 * that they complete, once each, before returning; a number or literal is
 * complete at the byte after it.  Values need no newline between them,
 * and one that Jansson refuses skips nothing.  A byte that no well-formed
 * value can have (a bad token, a stray closer, ...) is answered with one
 * error (shared with the value just before it on the line, if that got an
 * error) and drops the input up to the next newline, here or in a later
 * call.  The replies depend only on the bytes, never on how they were
 * split between calls.  Returns 0, or the write callback's error, or
 * -ENOMEM.
 */
int yc_qmp_feed(struct yc_qmp *q, const void *data, size_t len);

/* End of input: answer (once) what was left incomplete. */
int yc_qmp_eof(struct yc_qmp *q);

/*
 * Greet, then read @fd with read(2) until end of file, feeding each chunk.
 * Returns 0 at end of input, or the first error (negative errno).
 */
int yc_qmp_serve(struct yc_qmp *q, int fd);

/*
 * {"type": "chardev", "id": NAME} and the like, as QMP spells an instance;
 * bytes of @name that are not UTF-8 become U+FFFD.  NULL without memory.
 */
json_t *yc_qmp_instance_json(enum yank_type type, const char *name);

/* @s as a JSON string, bytes that are not UTF-8 replaced by U+FFFD. */
json_t *yc_json_name(const char *s);

#endif
