/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one UTF-8 decoder of the project: the library checks instance names
 * with it, and yankctl escapes and measures what it prints with it, so the
 * two can never disagree on what a valid name is.  Header-only: yankctl
 * links libyank statically and would otherwise need an exported symbol.
 */
#ifndef YANK_UTF8_H
#define YANK_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * The length of the valid UTF-8 sequence at @s (@len bytes readable), and
 * its code point in *cp; 0 for an invalid one: a stray continuation byte,
 * an overlong form, a surrogate, past U+10FFFF, or cut short.
 */
static inline size_t yank__utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
	if (!len)
		return 0;
	uint32_t c = s[0], v, min;
	size_t n;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, v = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 3, v = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* C0, DEL and C1: control characters, never part of a name, never printed raw. */
static inline int yank__utf8_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

#endif
