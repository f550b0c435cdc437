/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * User and group names, for diagnostics only ("owned by uid 1000
 * (alice)").  In a file of its own, holding nothing else: a statically
 * linked program, whose glibc cannot load NSS modules safely, defines
 * these two itself and this member of libyank.a is then never linked in
 * (yankctl asks getent(1) instead).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>

#include "internal.h"

int yank__user_name(uid_t uid, char *out, size_t len)
{
	char buf[1024];
	struct passwd pw, *found = NULL;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || !found)
		return -ENOENT;
	snprintf(out, len, "%s", found->pw_name);
	return 0;
}

int yank__group_name(gid_t gid, char *out, size_t len)
{
	char buf[1024];
	struct group gr, *found = NULL;

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &found) != 0 || !found)
		return -ENOENT;
	snprintf(out, len, "%s", found->gr_name);
	return 0;
}
