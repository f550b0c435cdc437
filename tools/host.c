/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl over every user's registry (see host.h).
 *
 * A registry that cannot be read gets one warning and hides none of the
 * others; the status is 4 only when no registry could be read at all.  A
 * yank validates every name in every registry before anything runs: a
 * name found nowhere is "not found" (2), a name found in two users'
 * registries is ambiguous (1), and in both cases nothing is yanked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "host.h"
#include "internal.h"
#include "output.h"
#include "stalls.h"

struct host {
	struct yank_host_registry *regs;
	size_t n, readable;
	char (*user)[64]; /* each registry's user name, or its uid */
	struct yank_instance_info **info;
	size_t *n_info;
};

bool yc_host_scope(const struct yc_args *a)
{
	const char *env = getenv("YANK_SEGMENT");

	return geteuid() == 0 && !a->segment && !a->have_user && !(env && *env);
}

/*
 * Remembered for the run: yankctl's names come from a getent child (up to
 * 2 s when NSS is slow), and watch asks again every round.  One thread.
 */
void yc_user_name(uid_t uid, char *out, size_t len)
{
	static struct {
		uid_t uid;
		char name[64];
	} seen[16];
	static size_t n_seen;

	for (size_t i = 0; i < n_seen; i++)
		if (seen[i].uid == uid) {
			snprintf(out, len, "%s", seen[i].name);
			return;
		}
	if (yank__user_name(uid, out, len) < 0)
		snprintf(out, len, "%u", (unsigned)uid);
	if (n_seen < sizeof(seen) / sizeof(seen[0]) && strlen(out) < sizeof(seen[0].name)) {
		seen[n_seen].uid = uid;
		snprintf(seen[n_seen++].name, sizeof(seen[0].name), "%s", out);
	}
}

static void host_close(struct host *h)
{
	for (size_t i = 0; h->info && i < h->n; i++)
		yank_query_free(h->info[i], h->n_info[i]);
	free(h->info);
	free(h->n_info);
	free(h->user);
	yank_close_host(h->regs, h->n);
	memset(h, 0, sizeof(*h));
}

/* Open every registry and query it; @quiet: no warnings (QMP). */
static int host_open(struct host *h, const struct yank_open_opts *o, bool quiet)
{
	char esc[1100];

	memset(h, 0, sizeof(*h));
	int r = yank_open_host(o, &h->regs, &h->n);
	if (r < 0) {
		if (!quiet)
			fprintf(stderr, "yankctl: /dev/shm: %s\n", strerror(-r));
		return r;
	}
	h->user = calloc(h->n + 1, sizeof(*h->user));
	h->info = calloc(h->n + 1, sizeof(*h->info));
	h->n_info = calloc(h->n + 1, sizeof(*h->n_info));
	if (!h->user || !h->info || !h->n_info) {
		host_close(h);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->n; i++) {
		struct yank_host_registry *g = &h->regs[i];

		yc_user_name(g->uid, h->user[i], sizeof(h->user[i]));
		if (g->reg && (r = yank_query(g->reg, &h->info[i], &h->n_info[i])) < 0) {
			g->err = r;
			g->detail[0] = '\0';
			yank_close(g->reg);
			g->reg = NULL;
		}
		if (g->reg) {
			h->readable++;
			continue;
		}
		if (quiet)
			continue;
		fprintf(stderr, "yankctl: segment %s (user %s): %s%s%s\n", g->segment,
			yc_escape(h->user[i], esc, sizeof(esc)), yank_strerror(g->err),
			g->detail[0] ? ": " : "", g->detail);
	}
	return 0;
}

/* Status 4 when there were registries and none could be read. */
static int none_readable(const struct host *h)
{
	return h->n && !h->readable;
}

int yc_host_list(const struct yc_args *a, const struct yank_open_opts *o)
{
	struct host h;
	int r = host_open(&h, o, false);

	if (r < 0)
		return YC_EXIT_UNAVAILABLE;
	size_t total = 0, k = 0;
	for (size_t i = 0; i < h.n; i++)
		total += h.n_info[i];
	struct yank_instance_info *all = calloc(total + 1, sizeof(*all));
	struct yc_user *users = calloc(total + 1, sizeof(*users));
	if (!all || !users) {
		free(all);
		free(users);
		host_close(&h);
		fprintf(stderr, "yankctl: list: %s\n", strerror(ENOMEM));
		return YC_EXIT_UNAVAILABLE;
	}
	for (size_t i = 0; i < h.n; i++)
		for (size_t j = 0; j < h.n_info[i]; j++, k++) {
			all[k] = h.info[i][j];
			users[k] = (struct yc_user){ h.regs[i].uid, h.user[i] };
		}
	struct yc_stall_src *src = calloc(h.n + 1, sizeof(*src));
	for (size_t i = 0; src && i < h.n; i++)
		src[i] = (struct yc_stall_src){ h.regs[i].reg, h.info[i], h.n_info[i], h.regs[i].uid };
	r = src ? yc_list_print(a, stdout, src, h.n, all, users, total) : -ENOMEM;
	free(src);
	if (!total && yc_chatty(a))
		printf("nothing is registered, in any user's registry\n");
	if (r < 0)
		fprintf(stderr, "yankctl: list: %s\n", strerror(-r));
	int code = r < 0 || none_readable(&h) ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
	free(all);
	free(users);
	host_close(&h);
	return code;
}

static bool holds(const struct host *h, size_t i, const char *ns, const struct yank_instance *want)
{
	for (size_t j = 0; j < h->n_info[i]; j++) {
		const struct yank_instance_info *in = &h->info[i][j];
		struct yank_instance have = { in->type, in->name };

		if (yc_same_instance(ns, want, in->ns, &have))
			return true;
	}
	return false;
}

/* Which readable registries hold @want: the first in *at, how many returned. */
static size_t find(const struct host *h, const char *ns, const struct yank_instance *want,
		   size_t *at)
{
	size_t found = 0;

	for (size_t i = 0; i < h->n; i++)
		if (holds(h, i, ns, want) && !found++)
			*at = i;
	return found;
}

/* "A and B", "A, B and C": the users whose registries hold @want. */
static void holders(const struct host *h, const char *ns, const struct yank_instance *want,
		    char *out, size_t len)
{
	size_t at, n = find(h, ns, want, &at), seen = 0, used = 0;
	char esc[300];

	out[0] = '\0';
	for (size_t i = 0; i < h->n && used < len; i++) {
		if (!holds(h, i, ns, want))
			continue;
		seen++;
		int w = snprintf(out + used, len - used, "%s%s",
				 seen == 1 ? "" : seen == n ? " and " : ", ",
				 yc_escape(h->user[i], esc, sizeof(esc)));
		used += w > 0 ? (size_t)w : 0;
	}
}

/*
 * Every name in exactly one registry: 0 and @where[i] for each, or the
 * exit status after saying what is wrong.  Nothing has been yanked.
 */
static int resolve(const struct host *h, const struct yc_args *a, size_t *where)
{
	bool ambiguous = false, missing = false;
	json_t *amb = a->json ? json_array() : NULL, *miss = a->json ? json_array() : NULL;
	char inst[1100], users[1024];

	for (size_t i = 0; i < a->n_instances; i++) {
		const struct yank_instance *in = &a->instances[i];
		size_t n = find(h, a->ns[i], in, &where[i]);

		yc_format_instance_ns(a->ns[i], in->type, in->name, inst, sizeof(inst));
		if (n == 1)
			continue;
		if (n == 0) {
			missing = true;
			fprintf(stderr, "yankctl: %s: Instance not found\n", inst);
			if (miss)
				json_array_append_new(miss, yc_qmp_instance_json(in->type, in->name));
			continue;
		}
		ambiguous = true;
		holders(h, a->ns[i], in, users, sizeof(users));
		fprintf(stderr,
			"yankctl: ambiguous: %s is registered by users %s; use --user\n", inst,
			users);
		if (amb)
			json_array_append_new(amb, yc_qmp_instance_json(in->type, in->name));
	}
	if (a->json && (ambiguous || missing)) {
		yc_json_line(stdout, json_pack("{s:O, s:O}", "missing", miss, "ambiguous", amb));
	}
	json_decref(amb);
	json_decref(miss);
	if (ambiguous)
		return YC_EXIT_USAGE;
	if (missing && h->readable < h->n)
		fprintf(stderr, "yankctl: (the registries that could not be read were not "
				"searched)\n");
	return missing ? YC_EXIT_NOT_FOUND : 0;
}

/* Yank, in registry @k, the listed instances that resolved to it. */
static int yank_one(const struct host *h, size_t k, const struct yc_args *a, const size_t *where,
		    struct yank_failure **fl, size_t *nf)
{
	struct yank_instance *sub = calloc(a->n_instances, sizeof(*sub));
	const char **ns = calloc(a->n_instances, sizeof(*ns));
	size_t n = 0;
	int r = sub && ns ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < a->n_instances; i++)
		if (where[i] == k) {
			ns[n] = a->ns[i];
			sub[n++] = a->instances[i];
		}
	if (r == 0 && n)
		r = yank_yank_ns(h->regs[k].reg, ns, sub, n, fl, nf);
	free(sub);
	free(ns);
	return r;
}

/* "yanked INSTANCE" for registry @k's part of the list. */
static void print_yanked_here(size_t k, const struct yc_args *a, const size_t *where,
			      const struct yank_failure *fl, size_t nf)
{
	for (size_t i = 0; i < a->n_instances; i++)
		if (where[i] == k)
			yc_print_yanked(stdout, &a->ns[i], &a->instances[i], 1, fl, nf);
}

int yc_host_yank(const struct yc_args *a, const struct yank_open_opts *o)
{
	struct host h;
	size_t *where = calloc(a->n_instances + 1, sizeof(*where));

	if (!where || host_open(&h, o, false) < 0) {
		free(where);
		return YC_EXIT_UNAVAILABLE;
	}
	int code = none_readable(&h) ? YC_EXIT_UNAVAILABLE : resolve(&h, a, where);
	json_t *all = a->json && !code ? json_array() : NULL;
	bool partial = false, gone = false;

	for (size_t k = 0; k < h.n && !code; k++) {
		struct yank_failure *fl = NULL;
		size_t nf = 0;
		int r = yank_one(&h, k, a, where, &fl, &nf);

		if (r == -ENOENT) {
			/* Unregistered between the check above and this yank. */
			fprintf(stderr, "yankctl: segment %s: an instance went away before its "
					"yank: Instance not found\n",
				h.regs[k].segment);
			gone = true;
		} else if (r == 0 || r == -EIO) {
			yc_print_failures(stderr, fl, nf);
			partial |= r == -EIO;
			if (yc_chatty(a))
				print_yanked_here(k, a, where, fl, nf);
		} else {
			fprintf(stderr, "yankctl: segment %s: yank: %s\n", h.regs[k].segment,
				yank_strerror(r));
			partial = true;
		}
		if (all)
			yc_failures_append_json(all, fl, nf);
		yank_failures_free(fl, nf);
	}
	if (all) {
		yc_json_line(stdout, json_pack("{s:o}", "failures", all));
	}
	if (!code && (partial || gone))
		code = YC_EXIT_PARTIAL;
	free(where);
	host_close(&h);
	return code;
}

int yc_host_status(const struct yc_args *a, const struct yank_open_opts *o)
{
	struct host h;

	if (host_open(&h, o, true) < 0)
		return YC_EXIT_UNAVAILABLE;
	json_t *arr = a->json ? json_array() : NULL;
	bool broken = false;
	char esc[300];

	for (size_t i = 0; i < h.n; i++) {
		struct yank_host_registry *g = &h.regs[i];
		struct yank_status st;
		int r = g->reg ? yank_status(g->reg, &st) : g->err;
		json_t *obj;

		if (r == 0 && st.integrity)
			broken = true;
		if (arr) {
			obj = r == 0 ? yc_status_json(g->segment, &st, h.info[i], h.n_info[i])
				     : yc_unusable_json(g->segment, r, g->detail);
			if (obj) {
				json_object_set_new(obj, "user", yc_json_name(h.user[i]));
				json_object_set_new(obj, "uid", json_integer(g->uid));
				json_array_append_new(arr, obj);
			}
			continue;
		}
		printf("%suser:            %s (uid %u)\n", i ? "\n" : "",
		       yc_escape(h.user[i], esc, sizeof(esc)), (unsigned)g->uid);
		if (r == 0)
			yc_print_status(stdout, g->segment, &st, h.info[i], h.n_info[i]);
		else
			yc_print_unusable(stdout, g->segment, r, g->detail);
	}
	if (arr)
		yc_json_line(stdout, arr);
	else if (!h.n) {
		printf("no registry on this host: nothing is registered\n");
	}
	int code = none_readable(&h) || broken ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
	host_close(&h);
	return code;
}

int yc_host_gc(const struct yc_args *a, const struct yank_open_opts *o)
{
	struct host h;

	if (host_open(&h, o, false) < 0)
		return YC_EXIT_UNAVAILABLE;
	json_t *per = a->json ? json_array() : NULL;
	size_t total = 0;
	bool failed = false;

	for (size_t i = 0; i < h.n; i++) {
		size_t reaped = 0;

		if (!h.regs[i].reg)
			continue;
		int r = yank_gc(h.regs[i].reg, &reaped);
		if (r < 0) {
			fprintf(stderr, "yankctl: segment %s: gc: %s\n", h.regs[i].segment,
				yank_strerror(r));
			failed = true;
			continue;
		}
		total += reaped;
		if (per)
			json_array_append_new(per, json_pack("{s:o, s:I, s:I}", "user",
							     yc_json_name(h.user[i]), "uid",
							     (json_int_t)h.regs[i].uid, "reaped",
							     (json_int_t)reaped));
	}
	if (per) {
		yc_json_line(stdout, json_pack("{s:I, s:o}", "reaped", (json_int_t)total,
					       "registries", per));
	} else {
		printf("reaped %zu instance%s\n", total, total == 1 ? "" : "s");
	}
	int code = none_readable(&h) || (failed && !total) ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
	host_close(&h);
	return code;
}

/* ---- QMP ---- */

struct yc_host_qmp {
	struct yank_open_opts opts;
	struct host h;
	bool open;
	struct yank_instance_info *all;
	char why[1200];
};

static void qmp_release(struct yc_host_qmp *c)
{
	if (c->open)
		host_close(&c->h);
	c->open = false;
	free(c->all);
	c->all = NULL;
}

static int qmp_query(void *ctx, struct yank_instance_info **out, size_t *n)
{
	struct yc_host_qmp *c = ctx;
	qmp_release(c);
	int r = host_open(&c->h, &c->opts, true);

	*out = NULL;
	*n = 0;
	if (r < 0)
		return r;
	c->open = true;
	size_t total = 0, k = 0;
	for (size_t i = 0; i < c->h.n; i++)
		total += c->h.n_info[i];
	c->all = calloc(total + 1, sizeof(*c->all));
	if (!c->all) {
		qmp_release(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->h.n; i++)
		for (size_t j = 0; j < c->h.n_info[i]; j++)
			c->all[k++] = c->h.info[i][j];
	*out = c->all;
	*n = total;
	return 0;
}

static void qmp_query_done(void *ctx, struct yank_instance_info *info, size_t n)
{
	(void)info;
	(void)n;
	qmp_release(ctx);
}

/* As yank_yank_detailed() over all registries; -ENOTUNIQ for a name in two. */
static int qmp_yank(void *ctx, const struct yank_instance *list, size_t n,
		    struct yank_failure **failures, size_t *n_failures)
{
	struct yc_host_qmp *c = ctx;
	qmp_release(c);
	size_t *where = calloc(n + 1, sizeof(*where));
	int r = where ? host_open(&c->h, &c->opts, true) : -ENOMEM;

	*failures = NULL;
	*n_failures = 0;
	if (r < 0) {
		free(where);
		return r;
	}
	c->open = true;
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t found = find(&c->h, NULL, &list[i], &where[i]);
		char inst[1100], users[1024];

		if (found == 0)
			r = -ENOENT;
		if (found > 1) {
			holders(&c->h, NULL, &list[i], users, sizeof(users));
			snprintf(c->why, sizeof(c->why),
				 "ambiguous: %s is registered by users %s",
				 yc_format_instance(list[i].type, list[i].name, inst, sizeof(inst)),
				 users);
			r = -ENOTUNIQ;
		}
	}
	struct yank_instance *sub = r == 0 ? calloc(n + 1, sizeof(*sub)) : NULL;
	if (r == 0 && !sub)
		r = -ENOMEM;
	for (size_t k = 0; k < c->h.n && r >= 0; k++) {
		size_t m = 0;
		struct yank_failure *fl = NULL;
		size_t nf = 0;

		for (size_t i = 0; i < n; i++)
			if (where[i] == k)
				sub[m++] = list[i];
		int rr = m ? yank_yank_detailed(c->h.regs[k].reg, sub, m, &fl, &nf) : 0;
		if (nf) {
			struct yank_failure *grown =
				realloc(*failures, (*n_failures + nf) * sizeof(**failures));
			if (grown) {
				memcpy(grown + *n_failures, fl, nf * sizeof(*fl));
				*failures = grown;
				*n_failures += nf;
				free(fl); /* the names now belong to *failures */
				fl = NULL;
				nf = 0;
			}
		}
		yank_failures_free(fl, nf);
		if (rr < 0 && rr != -EIO)
			r = rr;
		else if (rr == -EIO)
			r = -EIO;
	}
	free(sub);
	free(where);
	return r;
}

static void qmp_yank_done(void *ctx, struct yank_failure *failures, size_t n)
{
	yank_failures_free(failures, n);
	qmp_release(ctx);
}

static const char *qmp_error_text(void *ctx, int err)
{
	struct yc_host_qmp *c = ctx;

	return err == -ENOTUNIQ ? c->why : NULL;
}

struct yc_host_qmp *yc_host_qmp_new(const struct yank_open_opts *o, struct yc_qmp_backend *be)
{
	struct yc_host_qmp *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *o;
	*be = (struct yc_qmp_backend){
		.ctx = c,
		.segment = "(every user's)",
		.query = qmp_query,
		.query_done = qmp_query_done,
		.yank = qmp_yank,
		.yank_done = qmp_yank_done,
		.error_text = qmp_error_text,
	};
	return c;
}

void yc_host_qmp_free(struct yc_host_qmp *c)
{
	if (!c)
		return;
	qmp_release(c);
	free(c);
}
