/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The framing of QMP input, apart from what the values mean: QMP sends
 * JSON values back to back with no framing, so where one ends and whether
 * a byte can belong to one at all is a lexer's question, the same one
 * QEMU's json-lexer and json-streamer answer.  The QMP session (qmp.c)
 * answers what the lexer hands it; the lexer does no I/O and knows
 * nothing of QMP commands or Jansson.
 */
#ifndef YANKCTL_QMPLEX_H
#define YANKCTL_QMPLEX_H

#include <stddef.h>

/* A request larger than this is answered with one error and discarded. */
#define YC_QMP_MAX_REQUEST (1024 * 1024)
/* Deeper nesting than any QMP command needs is treated as malformed. */
#define YC_QMP_MAX_DEPTH 64

/*
 * A complete top-level value: @len bytes at @text, no NUL after them,
 * every token valid and every bracket matched.  Returns a negative errno
 * to stop the lexer (the feed returns it), 0 when the value was answered,
 * or 1 when it was answered with an error: a mistake later on its line
 * then shares that error instead of getting its own.
 */
typedef int yc_qmp_value_fn(void *opaque, const char *text, size_t len);

/*
 * A framing error, @why completing "JSON parse error, ...": a byte no
 * well-formed value can have there, a value past YC_QMP_MAX_REQUEST, or
 * input ending inside a value.  Not called for a mistake whose value, or
 * the value before it on its line, was already answered with an error.
 * Returns 0 or a negative errno, which stops the lexer.
 */
typedef int yc_qmp_lex_error_fn(void *opaque, const char *why);

struct yc_qmp_lexer;

/*
 * A lexer at the start of a stream, calling @value and @error with
 * @opaque.  NULL without memory.
 */
struct yc_qmp_lexer *yc_qmp_lexer_new(yc_qmp_value_fn *value, yc_qmp_lex_error_fn *error,
				      void *opaque);
void yc_qmp_lexer_free(struct yc_qmp_lexer *lx);

/*
 * Consume @len bytes, calling back for every value or mistake they
 * complete, in order, before returning; what they leave unfinished waits
 * for the next call, so the calls depend only on the bytes, never on how
 * they were split.  Returns 0, a callback's error, or -ENOMEM; after an
 * error the lexer must not be fed again.
 */
int yc_qmp_lexer_feed(struct yc_qmp_lexer *lx, const void *data, size_t len);

/* End of input: complete a trailing number or literal, or report the rest. */
int yc_qmp_lexer_eof(struct yc_qmp_lexer *lx);

#endif
