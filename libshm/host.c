/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The registries of every user on this host.  Each user's default
 * registry is /yank-<uid>; root, the operator, looks at them all.  Only
 * names in exactly that form count (decimal, no leading zero), so that
 * a file such as yank-0100 or yank-1x cannot pose as somebody's registry;
 * each is then opened with that user's trust rule (yank_open_user).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yank.h>

#include "internal.h"

#define SHM_DIR "/dev/shm"
#define SCAN_MAX 1000000 /* directory entries looked at */

/* "yank-<uid>" in canonical decimal: 1 and *uid, or 0. */
static int user_of(const char *name, uid_t *uid)
{
	if (strncmp(name, "yank-", 5))
		return 0;
	const char *p = name + 5;
	if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 10)
		return 0;
	unsigned long long v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v >= (uid_t)-1)
		return 0;
	*uid = (uid_t)v;
	return 1;
}

static int cmp_uid(const void *a, const void *b)
{
	const struct yank_host_registry *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The uids that have a registry file, sorted. */
static int scan(struct yank_host_registry **out, size_t *n)
{
	int dfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = -errno;
		close(dfd);
		return e;
	}
	struct yank_host_registry *v = NULL;
	size_t len = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	for (long k = 0; k < SCAN_MAX && (de = readdir(d)); k++) {
		uid_t uid;
		if (!user_of(de->d_name, &uid))
			continue;
		if (len == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct yank_host_registry *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		memset(&v[len], 0, sizeof(v[len]));
		v[len].uid = uid;
		snprintf(v[len].segment, sizeof(v[len].segment), "/yank-%u", (unsigned)uid);
		len++;
	}
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	if (len)
		qsort(v, len, sizeof(*v), cmp_uid);
	*out = v;
	*n = len;
	return 0;
}

YANK_PUBLIC int yank_open_host(const struct yank_open_opts *opts, struct yank_host_registry **out,
			       size_t *n)
{
	if (!out || !n)
		return -EINVAL;
	struct yank_host_registry *v = NULL;
	size_t len = 0;
	int c = yank__cancel_off();
	int r = scan(&v, &len);
	yank__cancel_restore(c);
	if (r < 0)
		return r;
	size_t kept = 0;
	for (size_t i = 0; i < len; i++) {
		struct yank_host_registry *h = &v[i];
		h->err = yank_open_user(h->uid, opts, &h->reg);
		/* Gone between the scan and the open: it never was. */
		if (h->err == -ENOENT)
			continue;
		if (h->err < 0) {
			h->reg = NULL;
			snprintf(h->detail, sizeof(h->detail), "%s", yank_error_detail());
		}
		v[kept++] = *h;
	}
	*out = v;
	*n = kept;
	return 0;
}

YANK_PUBLIC void yank_close_host(struct yank_host_registry *list, size_t n)
{
	if (!list)
		return;
	int c = yank__cancel_off();
	for (size_t i = 0; i < n; i++)
		yank_close(list[i].reg);
	free(list);
	yank__cancel_restore(c);
}
