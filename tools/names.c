/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl's definitions of the two name lookups libyank uses in its
 * diagnostics (libshm/names.c has the NSS ones): linked before libyank.a,
 * they keep glibc's NSS out of the static binary.  Nothing else belongs in
 * this file, or linking it would pull in more than these two.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "getent.h"
#include "internal.h"

/* The first field of a getent line for the decimal id @id. */
static int first_field(const char *db, unsigned long id, char *out, size_t len)
{
	char key[24], line[1024];

	snprintf(key, sizeof(key), "%lu", id);
	int r = yc_getent(db, key, line, sizeof(line));
	if (r < 0)
		return r;
	line[strcspn(line, ":")] = '\0';
	if (!*line)
		return -ENOENT;
	snprintf(out, len, "%s", line);
	return 0;
}

int yank__user_name(uid_t uid, char *out, size_t len)
{
	return first_field("passwd", (unsigned long)uid, out, len);
}

int yank__group_name(gid_t gid, char *out, size_t len)
{
	return first_field("group", (unsigned long)gid, out, len);
}
