/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl metrics: the registry in the Prometheus text exposition format,
 * for node_exporter's textfile collector.  Names carry the yank_ prefix
 * and base units, counters end in _total, and the labels are few and
 * bounded: user (one per registry), the table, state and result words,
 * and each instance's type and name (as many as there are instances).
 * Every family's samples are printed together, after its HELP and TYPE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "stalls.h"

/* A label value: backslash, double quote and newline escaped, as the format wants. */
static void label(FILE *f, const char *name, const char *value, bool first)
{
	char esc[4 * YANK_NAME_MAX + 8];

	/* Names are checked UTF-8 without control bytes; anything else is shown escaped. */
	yc_escape(value, esc, sizeof(esc));
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = esc; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{user="U"[,K="V"]} VALUE */
static void sample(FILE *f, const char *name, const char *user, const char *k, const char *v,
		   unsigned long long value)
{
	fprintf(f, "%s{", name);
	label(f, "user", user, true);
	if (k)
		label(f, k, v, false);
	fprintf(f, "} %llu\n", value);
}

struct reg_figures {
	bool up, have_status;
	struct yank_status st;
	size_t instances;
};

int yc_cmd_metrics(const struct yc_args *a)
{
	struct yc_scope sc;
	int r = yc_scope_open(a, false, &sc);

	/* A registry that cannot be read is still reported, as down. */
	if (r < 0 && (r == -ENOMEM || !sc.n || r == -EINVAL || r == -ENAMETOOLONG)) {
		yc_scope_close(&sc);
		return yc_exit_code(r) == YC_EXIT_OK ? YC_EXIT_UNAVAILABLE : yc_exit_code(r);
	}
	struct reg_figures *rf = calloc(sc.n + 1, sizeof(*rf));
	if (!rf) {
		yc_scope_close(&sc);
		fprintf(stderr, "yankctl: metrics: %s\n", strerror(ENOMEM));
		return YC_EXIT_UNAVAILABLE;
	}
	size_t readable = 0;
	for (size_t s = 0; s < sc.n; s++) {
		/* A registry that does not exist yet is an empty one. */
		rf[s].up = !sc.err[s] || sc.err[s] == -ENOENT;
		if (sc.src[s].reg && !sc.err[s]) {
			int q = yank_status(sc.src[s].reg, &rf[s].st);
			rf[s].have_status = q == 0;
			rf[s].up = q == 0;
		}
		/* One registry's error was said when it was opened. */
		if (!rf[s].up && sc.host)
			fprintf(stderr, "yankctl: segment /yank-%u (user %s): %s%s%s\n",
				(unsigned)sc.uid[s], sc.user[s],
				yank_strerror(sc.err[s] ? sc.err[s] : -EPROTO),
				sc.detail[s][0] ? ": " : "", sc.detail[s]);
		readable += rf[s].up;
	}

	/* Stalled or not: the sockets looked at twice, as list does. */
	struct yc_stall_view v;
	uint32_t sample_ms = a->have_sample ? a->sample_ms : YC_SAMPLE_DEFAULT_MS;
	bool judged = false;
	memset(&v, 0, sizeof(v));
	if (sample_ms && yc_stalls_collect(sc.src, sc.n, &v) == 0) {
		struct yc_diag *d = NULL;

		judged = true;
		if (v.n_socks && yc_diag_open(a->timeout_ms ? a->timeout_ms : YC_DIAG_TIMEOUT_MS,
					      &d) == 0) {
			struct timespec ts = { sample_ms / 1000, (long)(sample_ms % 1000) * 1000000 };

			r = yc_stalls_observe(&v, d);
			while (r == 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			if (r == 0)
				r = yc_stalls_observe(&v, d);
			if (r < 0)
				fprintf(stderr, "yankctl: metrics: socket state: %s\n", strerror(-r));
			yc_diag_close(d);
		}
		yc_stalls_judge(&v);
	}

	FILE *f = stdout;
	family(f, "yank_registry_up", "gauge",
	       "Whether the registry could be read (1) or not (0).");
	for (size_t s = 0; s < sc.n; s++)
		sample(f, "yank_registry_up", sc.user[s], NULL, NULL, rf[s].up);
	family(f, "yank_instances", "gauge", "Instances registered.");
	for (size_t s = 0; s < sc.n; s++)
		if (rf[s].up)
			sample(f, "yank_instances", sc.user[s], NULL, NULL,
			       rf[s].have_status ? rf[s].st.used_instances : 0);
	family(f, "yank_records", "gauge", "Fd, callback and proxy records registered.");
	for (size_t s = 0; s < sc.n; s++)
		if (rf[s].up)
			sample(f, "yank_records", sc.user[s], NULL, NULL,
			       rf[s].have_status ? rf[s].st.used_records : 0);
	family(f, "yank_processes", "gauge",
	       "Processes owning registrations, live or dead and not reaped yet.");
	for (size_t s = 0; s < sc.n; s++)
		if (rf[s].up) {
			sample(f, "yank_processes", sc.user[s], "state", "live",
			       rf[s].have_status ? rf[s].st.live_processes : 0);
			sample(f, "yank_processes", sc.user[s], "state", "dead",
			       rf[s].have_status ? rf[s].st.dead_processes : 0);
		}
	family(f, "yank_capacity", "gauge",
	       "Slots of each table, fixed when the registry was created.");
	for (size_t s = 0; s < sc.n; s++)
		if (rf[s].have_status) {
			sample(f, "yank_capacity", sc.user[s], "table", "instances",
			       rf[s].st.max_instances);
			sample(f, "yank_capacity", sc.user[s], "table", "records",
			       rf[s].st.max_records);
			sample(f, "yank_capacity", sc.user[s], "table", "processes",
			       rf[s].st.max_processes);
		}
	family(f, "yank_yanks_total", "counter",
	       "Yanks through the registry since it was created, by outcome: every record done, "
	       "some failed, or refused because an instance was not found.");
	for (size_t s = 0; s < sc.n; s++)
		if (rf[s].up) {
			const struct yank_status *st = &rf[s].st;
			bool h = rf[s].have_status;

			sample(f, "yank_yanks_total", sc.user[s], "result", "ok",
			       h ? st->yanks_ok : 0);
			sample(f, "yank_yanks_total", sc.user[s], "result", "failed",
			       h ? st->yanks_failed : 0);
			sample(f, "yank_yanks_total", sc.user[s], "result", "not_found",
			       h ? st->yanks_not_found : 0);
		}
	family(f, "yank_instance_stalled", "gauge",
	       "Whether a connection of the instance is stalled (1) or not (0), as yankctl list "
	       "judges it.");
	for (size_t s = 0, gi = 0; judged && s < sc.n; s++)
		for (size_t i = 0; i < sc.src[s].n; i++, gi++) {
			const struct yank_instance_info *in = &sc.src[s].info[i];
			const char *t = yank_type_name(in->type);

			if (!t)
				continue;
			fputs("yank_instance_stalled{", f);
			label(f, "type", t, true);
			label(f, "name", in->name ? in->name : "", false);
			/* A mirrored chardev:c0 and a native one are two series. */
			if (in->ns)
				label(f, "namespace", in->ns, false);
			label(f, "user", sc.user[s], false);
			fprintf(f, "} %d\n", v.inst[gi].v == YC_V_STALLED);
		}
	yc_stalls_free(&v);
	free(rf);
	int code = sc.n && !readable ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
	yc_scope_close(&sc);
	return code;
}
