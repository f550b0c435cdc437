/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * QMP input has no framing, and a session must answer each value as soon
 * as its last byte is read, so something has to know where a value ends
 * before any JSON parser sees it.  This lexer, as strict as RFC 8259 (and
 * QEMU's json-lexer), splits the stream into tokens and counts brackets:
 * it knows where each top-level value ends (a number or literal: at the
 * byte after it, which could have continued it) and sees a bad token the
 * moment it arrives.  Whether the grammar between tokens holds is left to
 * the session's JSON parser, once the value is whole: that calls for no
 * skipping, so the lexer need not know.
 *
 * Resynchronisation: a byte that no well-formed value can have at that
 * point (a bad token, a control byte in a string, a closer that matches
 * nothing, a comma or colon outside a value, nesting too deep) abandons the
 * value being received and drops input up to and including the next
 * newline.  It is reported once, unless it comes right after a value that
 * was answered with an error, on the same line with only whitespace
 * between: then that error answers for both.  So a line of garbage
 * followed by a valid line gets two replies.  Nothing depends on how
 * read(2) cut the bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmplex.h"

enum lex_state {
	LEX_IDLE,    /* between tokens, inside a value or between values */
	LEX_STRING,  /* inside a string */
	LEX_ESCAPE,  /* after a backslash in a string */
	LEX_UNICODE, /* in the hex digits of a \u escape */
	LEX_WORD,    /* in a number or a literal */
	LEX_SKIP,    /* after a mistake: dropping input up to a newline */
};

/* How far a number has got; only the four marked states may end one. */
enum num_state {
	NUM_BAD,   /* cannot be a number any more */
	NUM_START, /* nothing yet */
	NUM_MINUS, /* "-" */
	NUM_ZERO,  /* "0" or "-0", which no digit may follow (ends) */
	NUM_INT,   /* more integer digits (ends) */
	NUM_DOT,   /* the ".", which needs a digit */
	NUM_FRAC,  /* fraction digits (ends) */
	NUM_E,     /* "e" or "E" */
	NUM_ESIGN, /* the exponent's sign */
	NUM_EXP,   /* exponent digits (ends) */
};

/* The lexer, and the top-level value being received. */
struct yc_qmp_lexer {
	yc_qmp_value_fn *value;
	yc_qmp_lex_error_fn *error;
	void *opaque;

	enum lex_state state;
	enum num_state num;
	const char *literal; /* the literal the current word spells; NULL: a number */
	size_t word_len;     /* bytes of the current word so far */
	unsigned int hex;    /* hex digits still due in a \u escape */
	bool oversize;       /* already answered as too large: drop its bytes */
	bool shared_error;   /* the last value, on this line, got an error reply */
	unsigned int depth;
	char stack[YC_QMP_MAX_DEPTH];
	char *buf;
	size_t len, cap;
};

struct yc_qmp_lexer *yc_qmp_lexer_new(yc_qmp_value_fn *value, yc_qmp_lex_error_fn *error,
				      void *opaque)
{
	struct yc_qmp_lexer *lx = calloc(1, sizeof(*lx));

	if (!lx)
		return NULL;
	lx->value = value;
	lx->error = error;
	lx->opaque = opaque;
	return lx;
}

void yc_qmp_lexer_free(struct yc_qmp_lexer *lx)
{
	if (!lx)
		return;
	free(lx->buf);
	free(lx);
}

/* Forget the value being received; keep the lexer state to the caller. */
static void value_reset(struct yc_qmp_lexer *lx)
{
	lx->oversize = false;
	lx->depth = 0;
	lx->word_len = 0;
	lx->len = 0;
	/* Do not sit on the memory of one huge request. */
	if (lx->cap > 65536) {
		free(lx->buf);
		lx->buf = NULL;
		lx->cap = 0;
	}
}

/*
 * A byte that no well-formed value can have here: abandon the value being
 * received and drop the rest of the line (@c itself may be its newline).
 * Reported once, unless the value just before, on this line, was answered
 * with an error already, or this value was (it is too large).
 */
__attribute__((format(printf, 3, 4))) static int mistake(struct yc_qmp_lexer *lx, unsigned char c,
							  const char *fmt, ...)
{
	bool silent = lx->oversize || lx->shared_error;
	char why[160];
	va_list ap;

	value_reset(lx);
	lx->state = c == '\n' ? LEX_IDLE : LEX_SKIP;
	lx->shared_error = false;
	if (silent)
		return 0;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return lx->error(lx->opaque, why);
}

static int append(struct yc_qmp_lexer *lx, unsigned char c)
{
	if (lx->oversize)
		return 0;
	if (lx->len == YC_QMP_MAX_REQUEST) {
		char why[64];

		lx->oversize = true;
		lx->len = 0;
		snprintf(why, sizeof(why), "request larger than %d bytes", YC_QMP_MAX_REQUEST);
		return lx->error(lx->opaque, why);
	}
	if (lx->len == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 4096;
		char *b;

		if (cap > YC_QMP_MAX_REQUEST)
			cap = YC_QMP_MAX_REQUEST;
		b = realloc(lx->buf, cap);
		if (!b)
			return -ENOMEM;
		lx->buf = b;
		lx->cap = cap;
	}
	lx->buf[lx->len++] = (char)c;
	return 0;
}

/*
 * The top-level value in lx->buf is complete: hand it over, unless it was
 * answered already when it crossed the size limit.  Whether its answer
 * was an error decides whether a mistake right after it shares it.
 */
static int complete(struct yc_qmp_lexer *lx)
{
	int r = 0;

	if (!lx->oversize)
		r = lx->value(lx->opaque, lx->buf, lx->len);
	lx->shared_error = lx->oversize || r > 0;
	value_reset(lx);
	return r < 0 ? r : 0;
}

/* A token ended well: a top-level one is a whole value. */
static int token_done(struct yc_qmp_lexer *lx)
{
	lx->shared_error = false;
	return lx->depth ? 0 : complete(lx);
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A byte that can continue a number or literal; any other ends it. */
static bool is_word_byte(unsigned char c)
{
	return !is_space(c) && !strchr("{}[],:\"", c);
}

/* One more byte of a number, as RFC 8259 spells numbers. */
static enum num_state num_next(enum num_state s, unsigned char c)
{
	bool e = c == 'e' || c == 'E';

	switch (s) {
	case NUM_START:
		if (c == '-')
			return NUM_MINUS;
		return c == '0' ? NUM_ZERO : is_digit(c) ? NUM_INT : NUM_BAD;
	case NUM_MINUS:
		return c == '0' ? NUM_ZERO : is_digit(c) ? NUM_INT : NUM_BAD;
	case NUM_ZERO:
		return c == '.' ? NUM_DOT : e ? NUM_E : NUM_BAD;
	case NUM_INT:
		return c == '.' ? NUM_DOT : e ? NUM_E : is_digit(c) ? NUM_INT : NUM_BAD;
	case NUM_DOT:
		return is_digit(c) ? NUM_FRAC : NUM_BAD;
	case NUM_FRAC:
		return e ? NUM_E : is_digit(c) ? NUM_FRAC : NUM_BAD;
	case NUM_E:
		return c == '+' || c == '-' ? NUM_ESIGN : is_digit(c) ? NUM_EXP : NUM_BAD;
	case NUM_ESIGN:
	case NUM_EXP:
		return is_digit(c) ? NUM_EXP : NUM_BAD;
	case NUM_BAD:
		break;
	}
	return NUM_BAD;
}

static bool word_complete(const struct yc_qmp_lexer *lx)
{
	if (lx->literal)
		return !lx->literal[lx->word_len];
	return lx->num == NUM_ZERO || lx->num == NUM_INT || lx->num == NUM_FRAC ||
	       lx->num == NUM_EXP;
}

/*
 * The current word (and @c, if it is >= 0) for a message, printable ASCII
 * only: it is neither text nor necessarily UTF-8.
 */
static const char *word_text(const struct yc_qmp_lexer *lx, int c, char *out, size_t size)
{
	/* The bytes of an oversized value are gone; it is not answered anyway. */
	size_t n = lx->oversize || lx->word_len > lx->len ? 0 : lx->word_len, o = 0;
	const unsigned char *w = n ? (const unsigned char *)lx->buf + lx->len - n : NULL;
	for (size_t i = 0; i <= n && o + 8 < size; i++) {
		int b = i < n ? w[i] : c;

		if (b < 0)
			break;
		if (b > 0x20 && b < 0x7f)
			out[o++] = (char)b;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", b);
	}
	if (o + 8 >= size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o] = '\0';
	return out;
}

/* A word ends at the byte after it, which is then read for itself. */
static int lex_idle(struct yc_qmp_lexer *lx, unsigned char c);

static int word_start(struct yc_qmp_lexer *lx, unsigned char c)
{
	char text[16];

	lx->literal = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : NULL;
	lx->num = lx->literal ? NUM_BAD : num_next(NUM_START, c);
	if (!lx->literal && lx->num == NUM_BAD)
		return mistake(lx, c, "invalid token '%s'", word_text(lx, c, text, sizeof(text)));
	lx->state = LEX_WORD;
	lx->word_len = 1;
	return append(lx, c);
}

static int lex_word(struct yc_qmp_lexer *lx, unsigned char c)
{
	char text[48];
	int r;

	if (is_word_byte(c)) {
		bool ok;

		if (lx->literal) {
			unsigned char want = (unsigned char)lx->literal[lx->word_len];

			ok = want && c == want;
		} else {
			lx->num = num_next(lx->num, c);
			ok = lx->num != NUM_BAD;
		}
		if (!ok)
			return mistake(lx, c, "invalid token '%s'",
				       word_text(lx, c, text, sizeof(text)));
		lx->word_len++;
		return append(lx, c);
	}
	if (!word_complete(lx))
		return mistake(lx, c, "invalid token '%s'", word_text(lx, -1, text, sizeof(text)));
	lx->state = LEX_IDLE;
	lx->word_len = 0;
	r = token_done(lx);
	if (r < 0)
		return r;
	return lex_idle(lx, c);
}

static int open_container(struct yc_qmp_lexer *lx, unsigned char c)
{
	if (lx->depth == YC_QMP_MAX_DEPTH)
		return mistake(lx, c, "nesting deeper than %d levels", YC_QMP_MAX_DEPTH);
	lx->stack[lx->depth++] = (char)c;
	lx->shared_error = false;
	return append(lx, c);
}

static int close_container(struct yc_qmp_lexer *lx, unsigned char c)
{
	int r;

	if (!lx->depth || lx->stack[lx->depth - 1] != (c == '}' ? '{' : '['))
		return mistake(lx, c, "unexpected '%c'", c);
	lx->depth--;
	r = append(lx, c);
	if (r < 0 || lx->depth)
		return r;
	return complete(lx);
}

/* One byte between tokens, inside a value or between values. */
static int lex_idle(struct yc_qmp_lexer *lx, unsigned char c)
{
	if (is_space(c)) {
		if (c == '\n')
			lx->shared_error = false;
		return lx->depth ? append(lx, c) : 0;
	}
	switch (c) {
	case '{':
	case '[':
		return open_container(lx, c);
	case '}':
	case ']':
		return close_container(lx, c);
	case ',':
	case ':':
		/* The JSON parser checks where they stand, once the value is whole. */
		if (!lx->depth)
			return mistake(lx, c, "unexpected '%c'", c);
		return append(lx, c);
	case '"':
		lx->state = LEX_STRING;
		return append(lx, c);
	}
	return word_start(lx, c);
}

static int lex_string(struct yc_qmp_lexer *lx, unsigned char c)
{
	int r;

	/* A newline here is an unterminated string, and the line is over. */
	if (c < 0x20)
		return mistake(lx, c, "control character 0x%02x in a string", c);
	r = append(lx, c);
	if (r < 0)
		return r;
	if (c == '\\')
		lx->state = LEX_ESCAPE;
	if (c != '"')
		return 0;
	lx->state = LEX_IDLE;
	return token_done(lx);
}

static int lex_escape(struct yc_qmp_lexer *lx, unsigned char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		lx->state = LEX_STRING;
		return append(lx, c);
	case 'u':
		lx->state = LEX_UNICODE;
		lx->hex = 4;
		return append(lx, c);
	}
	if (c > 0x20 && c < 0x7f)
		return mistake(lx, c, "invalid escape '\\%c' in a string", c);
	return mistake(lx, c, "invalid escape (byte 0x%02x) in a string", c);
}

static int lex_unicode(struct yc_qmp_lexer *lx, unsigned char c)
{
	/* Which code points are allowed is the JSON parser's to say. */
	if (!is_hex(c))
		return mistake(lx, c, "invalid \\u escape in a string");
	if (--lx->hex == 0)
		lx->state = LEX_STRING;
	return append(lx, c);
}

static int lex(struct yc_qmp_lexer *lx, unsigned char c)
{
	switch (lx->state) {
	case LEX_IDLE:
		return lex_idle(lx, c);
	case LEX_STRING:
		return lex_string(lx, c);
	case LEX_ESCAPE:
		return lex_escape(lx, c);
	case LEX_UNICODE:
		return lex_unicode(lx, c);
	case LEX_WORD:
		return lex_word(lx, c);
	case LEX_SKIP:
		if (c == '\n')
			lx->state = LEX_IDLE;
		return 0;
	}
	return 0;
}

int yc_qmp_lexer_feed(struct yc_qmp_lexer *lx, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		int r = lex(lx, p[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

int yc_qmp_lexer_eof(struct yc_qmp_lexer *lx)
{
	int r;

	switch (lx->state) {
	case LEX_SKIP:
		lx->state = LEX_IDLE;
		return 0;
	case LEX_WORD:
		if (!word_complete(lx))
			break;
		lx->state = LEX_IDLE;
		lx->word_len = 0;
		r = token_done(lx);
		if (r < 0 || !lx->depth)
			return r;
		break;
	case LEX_IDLE:
		if (!lx->depth)
			return 0;
		break;
	case LEX_STRING:
	case LEX_ESCAPE:
	case LEX_UNICODE:
		break;
	}
	return mistake(lx, '\n', "premature end of input");
}
