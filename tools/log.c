/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl log: who yanked what, from the audit ring every registry keeps
 * of its last yanks.  For root with no registry named, every user's,
 * merged by time.  An entry that cannot be read whole is said to be torn
 * on stderr and left out: nothing of it is shown as if it were true.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "args.h"
#include "cmd.h"
#include "host.h"
#include "output.h"

struct log_row {
	const struct yank_audit_entry *e;
	const char *user; /* NULL for a single registry */
};

static int by_time(const void *a, const void *b)
{
	const struct log_row *x = a, *y = b;

	if (x->e->time_ns != y->e->time_ns)
		return x->e->time_ns < y->e->time_ns ? -1 : 1;
	return x->e->seq < y->e->seq ? -1 : x->e->seq > y->e->seq;
}

/* ISO 8601 with milliseconds: UTC for scripts, local time for people. */
static void format_time(int64_t ns, bool utc, char *buf, size_t size)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char zone[8];

	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
		snprintf(buf, size, "?");
		return;
	}
	strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	size_t len = strlen(buf);
	if (utc)
		snprintf(zone, sizeof(zone), "Z");
	else
		strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(buf + len, size - len, ".%03d%s", (int)(ns / 1000000 % 1000), zone);
}

static json_t *row_json(const struct log_row *r)
{
	const struct yank_audit_entry *e = r->e;
	json_t *inst = json_array(), *fail = json_array();
	char when[64];

	for (size_t i = 0; inst && fail && i < e->n_items; i++) {
		const struct yank_audit_item *it = &e->items[i];

		json_array_append_new(inst, json_string(it->instance));
		if (it->failures)
			json_array_append_new(fail, json_pack("{s:s, s:s, s:i}", "instance",
							      it->instance, "reason",
							      yc_failure_word(it->kind), "records",
							      (json_int_t)it->failures));
	}
	format_time(e->time_ns, true, when, sizeof(when));
	json_t *o = json_pack("{s:s, s:{s:i, s:i, s:o}, s:o, s:s, s:o}", "time", when, "yanker",
			      "pid", (json_int_t)e->pid, "uid", (json_int_t)e->uid, "command",
			      yc_json_name(e->command), "instances", inst, "result",
			      e->result == 0 ? "ok" : "failed", "failures", fail);
	if (o && e->n_instances > e->n_items)
		json_object_set_new(o, "more_instances",
				    json_integer((json_int_t)(e->n_instances - e->n_items)));
	if (o && r->user)
		json_object_set_new(o, "user", json_string(r->user));
	return o;
}

static void print_row(const struct log_row *r)
{
	const struct yank_audit_entry *e = r->e;
	char when[64], cmd[4 * 96 + 1];

	format_time(e->time_ns, false, when, sizeof(when));
	printf("%s  ", when);
	if (r->user)
		printf("%-8s  ", r->user);
	printf("%-6s  pid %-7d uid %-5u ", e->result == 0 ? "ok" : "failed", (int)e->pid,
	       (unsigned)e->uid);
	for (size_t i = 0; i < e->n_items; i++) {
		const struct yank_audit_item *it = &e->items[i];

		printf("%s%s", i ? " " : "", it->instance);
		if (it->failures)
			printf("(%s)", yc_failure_word(it->kind));
	}
	if (e->n_instances > e->n_items)
		printf(" (+%zu more)", (size_t)e->n_instances - e->n_items);
	printf("  [%s]\n", yc_escape(e->command, cmd, sizeof(cmd)));
}

/* Torn entries are reported and left out; the rest become rows. */
static size_t add_rows(const char *segment, const char *user, const struct yank_audit_entry *e,
		       size_t n, struct log_row *rows)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (e[i].torn) {
			fprintf(stderr,
				"yankctl: %s: log entry %llu is torn (its writer died, or is "
				"writing it now): left out\n",
				segment, (unsigned long long)e[i].seq);
			continue;
		}
		rows[k++] = (struct log_row){ &e[i], user };
	}
	return k;
}

static int print_rows(const struct yc_args *a, struct log_row *rows, size_t n)
{
	qsort(rows, n, sizeof(*rows), by_time);
	if (a->json) {
		json_t *all = json_array();

		for (size_t i = 0; all && i < n; i++)
			if (json_array_append_new(all, row_json(&rows[i])) < 0) {
				json_decref(all);
				all = NULL;
			}
		if (!all) {
			fprintf(stderr, "yankctl: log: %s\n", strerror(ENOMEM));
			return YC_EXIT_UNAVAILABLE;
		}
		return yc_json_line(stdout, all) < 0 ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		print_row(&rows[i]);
	if (!n && yc_chatty(a))
		printf("no yank is logged%s\n", a->have_since ? " since then" : "");
	return YC_EXIT_OK;
}

/* Entries at or after --since: the ring is in claim order, not time order. */
static size_t since(const struct yc_args *a, struct yank_audit_entry *e, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (a->have_since && !e[i].torn && e[i].time_ns < a->since_ns) {
			free(e[i].items);
			continue;
		}
		e[k++] = e[i];
	}
	return k;
}

static int log_one(const struct yc_args *a)
{
	yank_registry *reg = NULL;
	struct yank_audit_entry *e = NULL;
	size_t n = 0;
	int r = yc_open_to_read(a, &reg);

	if (r)
		return r;
	if (reg && (r = yank_audit_read(reg, 0, &e, &n)) < 0) {
		yc_report(reg, "log", r);
		yank_close(reg);
		return yc_exit_code(r);
	}
	n = since(a, e, n);
	struct log_row *rows = calloc(n + 1, sizeof(*rows));
	int code = YC_EXIT_UNAVAILABLE;

	if (rows)
		code = print_rows(a, rows, add_rows(yank_segment_name(reg), NULL, e, n, rows));
	else
		fprintf(stderr, "yankctl: log: %s\n", strerror(ENOMEM));
	free(rows);
	yank_audit_free(e, n);
	yank_close(reg);
	return code;
}

static int log_host(const struct yc_args *a, const struct yank_open_opts *o)
{
	struct yank_host_registry *regs = NULL;
	size_t nregs = 0, total = 0;
	int r = yank_open_host(o, &regs, &nregs);

	if (r < 0) {
		fprintf(stderr, "yankctl: /dev/shm: %s\n", strerror(-r));
		return YC_EXIT_UNAVAILABLE;
	}
	struct yank_audit_entry **e = calloc(nregs + 1, sizeof(*e));
	size_t *n = calloc(nregs + 1, sizeof(*n));
	char (*users)[64] = calloc(nregs + 1, sizeof(*users));
	int code = e && n && users ? YC_EXIT_OK : YC_EXIT_UNAVAILABLE;

	for (size_t i = 0; code == YC_EXIT_OK && i < nregs; i++) {
		yc_user_name(regs[i].uid, users[i], sizeof(users[i]));
		if (!regs[i].reg) {
			fprintf(stderr, "yankctl: %s: %s%s%s\n", regs[i].segment,
				yank_strerror(regs[i].err), regs[i].detail[0] ? ": " : "",
				regs[i].detail);
			continue;
		}
		if ((r = yank_audit_read(regs[i].reg, 0, &e[i], &n[i])) < 0) {
			yc_report(regs[i].reg, "log", r);
			continue;
		}
		n[i] = since(a, e[i], n[i]);
		total += n[i];
	}
	struct log_row *rows = code == YC_EXIT_OK ? calloc(total + 1, sizeof(*rows)) : NULL;
	if (rows) {
		size_t k = 0;

		for (size_t i = 0; i < nregs; i++)
			k += add_rows(regs[i].segment, users[i], e[i], n[i], rows + k);
		code = print_rows(a, rows, k);
	} else {
		fprintf(stderr, "yankctl: log: %s\n", strerror(ENOMEM));
		code = YC_EXIT_UNAVAILABLE;
	}
	for (size_t i = 0; e && n && i < nregs; i++)
		yank_audit_free(e[i], n[i]);
	free(rows);
	free(e);
	free(n);
	free(users);
	yank_close_host(regs, nregs);
	return code;
}

int yc_cmd_log(const struct yc_args *a)
{
	struct yank_open_opts o;

	yc_open_opts(a, &o);
	return yc_host_scope(a) ? log_host(a, &o) : log_one(a);
}
