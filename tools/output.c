/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl's output.  Large lists are streamed: JSON strings are escaped by
 * Jansson through one reused string value, never by building a tree of
 * 10,000 objects (SPEC §8 wants "list --json" of 10,000 instances in 30
 * ms, process start included).  Names and command names are escaped before
 * they reach a terminal: another process chose them.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <jansson.h>

#include "args.h"
#include "output.h"
#include "qmp.h"
#include "utf8.h"

/* An escaped name is at most 4 bytes per input byte. */
#define CELL_MAX (4 * YANK_NAME_MAX + 8)

char *yc_owner_comm(pid_t pid, char *buf, size_t size)
{
	char path[32];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if (pid <= 0 || size < 2)
		return buf;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return buf;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return buf;
	}
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return buf;
}

/*
 * The command line of @pid from /proc/PID/cmdline, its arguments joined by
 * spaces, into @buf; "[comm]" for a process without one (a kernel thread,
 * or a zombie), as ps(1) shows it; "" when it cannot be read.
 */
static char *owner_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[40];
	ssize_t n = -1;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n <= 0) {
		char comm[32];

		if (*yc_owner_comm(pid, comm, sizeof(comm)))
			snprintf(buf, size, "[%s]", comm);
		return buf;
	}
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t k = 0; k < n; k++)
		if (buf[k] == '\0')
			buf[k] = ' ';
	buf[n] = '\0';
	return buf;
}

/* Stopped (SIGSTOP, or a debugger): its agent cannot answer until it goes on. */
static bool owner_stopped(pid_t pid)
{
	char path[40], buf[512];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
}

/*
 * Owners are few and instances many: read each owner's command line and
 * state once.  Open addressing over a table at least twice the number of
 * instances; the command lines are allocated as owners are met.
 */
struct owner_cache {
	size_t size;
	struct owner_entry {
		pid_t pid;
		bool stopped;
		char *cmd;
	} * e;
};

static int owner_cache_init(struct owner_cache *c, size_t n)
{
	size_t size = 16;

	while (size < 2 * n)
		size *= 2;
	c->e = calloc(size, sizeof(*c->e));
	c->size = c->e ? size : 0;
	return c->e ? 0 : -ENOMEM;
}

static void owner_cache_free(struct owner_cache *c)
{
	for (size_t i = 0; i < c->size; i++)
		free(c->e[i].cmd);
	free(c->e);
}

static const struct owner_entry *owner_get(struct owner_cache *c, pid_t pid)
{
	static const struct owner_entry none = { 0, false, (char *)"" };
	size_t i = ((size_t)(uint32_t)pid * 2654435761u) & (c->size - 1);

	for (size_t probes = 0; probes < c->size; probes++, i = (i + 1) & (c->size - 1)) {
		if (c->e[i].pid == pid)
			return &c->e[i];
		if (c->e[i].pid == 0) {
			char buf[4096];

			c->e[i].cmd = strdup(owner_cmdline(pid, buf, sizeof(buf)));
			if (!c->e[i].cmd)
				return &none;
			c->e[i].pid = pid;
			c->e[i].stopped = owner_stopped(pid);
			return &c->e[i];
		}
	}
	return &none;
}

/*
 * Columns a UTF-8 string takes on a terminal: wcwidth() per code point (a
 * CJK character takes two, a combining mark none), in the UTF-8 locale
 * yc_print_list() chose.  What wcwidth cannot tell takes one.
 */
static size_t width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), w = 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = yank__utf8_seq(p + i, len - i, &cp);
		int cw = n ? wcwidth((wchar_t)cp) : 1;

		w += cw < 0 ? 1 : (size_t)cw;
		i += n ? n : 1;
	}
	return w;
}

static void pad(FILE *f, const char *s, size_t w)
{
	size_t sw = width(s);

	fputs(s, f);
	for (; sw < w; sw++)
		fputc(' ', f);
}

/* The command line, escaped; "<dead>", or "<stopped>" before it. */
static const char *cell_command(struct owner_cache *c, const struct yank_instance_info *in,
				char *buf, size_t size)
{
	const struct owner_entry *o;
	size_t off = 0;

	if (!in->owner_alive)
		return "<dead>";
	o = owner_get(c, in->pid);
	if (in->unresponsive) {
		off = strlen("<unresponsive> ");
		memcpy(buf, "<unresponsive> ", off);
	}
	if (o->stopped) {
		memcpy(buf + off, "<stopped> ", strlen("<stopped> "));
		off += strlen("<stopped> ");
	}
	if (!*o->cmd)
		snprintf(buf + off, size - off, "?");
	else
		yc_escape(o->cmd, buf + off, size - off);
	return buf;
}

static const char *cell_name(const struct yank_instance_info *in, char *buf)
{
	if (in->type == YANK_MIGRATION || !in->name)
		return "-";
	return yc_escape(in->name, buf, CELL_MAX);
}

static const char *cell_type(const struct yank_instance_info *in)
{
	const char *t = yank_type_name(in->type);

	return t ? t : "?";
}

int yc_print_list(FILE *f, const struct yank_instance_info *info, const struct yc_user *users,
		  size_t n)
{
	return yc_print_list_with(f, info, users, n, NULL);
}

int yc_print_list_with(FILE *f, const struct yank_instance_info *info, const struct yc_user *users,
		       size_t n, const struct yc_list_extra *x)
{
	/* Names are UTF-8 whatever the user's locale: wcwidth() measures them
	 * in this one.  Loaded here, not at start: it costs a yank's start-up
	 * some twenty system calls for a table it does not print. */
	setlocale(LC_CTYPE, "C.UTF-8");
	static const char *const head[] = {"USER", "NAMESPACE", "TYPE", "NAME", "PID"};
	size_t w[5] = {4, 9, 4, 4, 3};
	struct owner_cache cache;
	char buf[CELL_MAX], ubuf[CELL_MAX], cmd[4 * 4096 + 32];
	bool adopted = false, spaced = false;

	if (!n)
		return 0;
	/* Columns appear only when they say something, so tables of
	 * registries without adopted or mirrored instances keep their shape. */
	for (size_t i = 0; i < n; i++) {
		adopted = adopted || info[i].adopted;
		spaced = spaced || info[i].ns;
	}
	bool show[5] = {users != NULL, spaced, true, true, true};
	if (owner_cache_init(&cache, n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t cw[5];
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)info[i].pid);
		cw[0] = users ? width(yc_escape(users[i].name, ubuf, sizeof(ubuf))) : 0;
		cw[1] = info[i].ns ? strlen(info[i].ns) : 1;
		cw[2] = width(cell_type(&info[i]));
		cw[3] = width(cell_name(&info[i], buf));
		cw[4] = strlen(pid);
		for (int k = 0; k < 5; k++)
			if (show[k] && cw[k] > w[k])
				w[k] = cw[k];
	}
	for (int k = 0; k < 5; k++) {
		if (!show[k])
			continue;
		pad(f, head[k], w[k]);
		fputs("  ", f);
	}
	size_t vw = strlen("VERDICT");
	char vbuf[64];
	for (size_t i = 0; x && x->verdict && i < n; i++) {
		size_t cw = strlen(x->verdict(x->ctx, i, vbuf, sizeof(vbuf)));
		vw = cw > vw ? cw : vw;
	}
	/* The command line last, as ps(1) has it: it may be long. */
	fputs(adopted ? "FDS  CALLBACKS  ADOPTED  " : "FDS  CALLBACKS  ", f);
	if (x && x->verdict)
		fprintf(f, "%-*s  ", (int)vw, "VERDICT");
	fputs("COMMAND\n", f);
	for (size_t i = 0; i < n; i++) {
		if (users) {
			pad(f, yc_escape(users[i].name, ubuf, sizeof(ubuf)), w[0]);
			fputs("  ", f);
		}
		if (spaced) {
			/* Checked by the library: [A-Za-z0-9._:-] only. */
			pad(f, info[i].ns ? info[i].ns : "-", w[1]);
			fputs("  ", f);
		}
		pad(f, cell_type(&info[i]), w[2]);
		fputs("  ", f);
		pad(f, cell_name(&info[i], buf), w[3]);
		/* A proxied function is a function: counted with the callbacks. */
		fprintf(f, "  %-*d  %3u  %9u  ", (int)w[4], (int)info[i].pid, info[i].n_fds,
			info[i].n_callbacks + info[i].n_proxies);
		if (adopted)
			fputs(info[i].adopted ? "yes      " : "-        ", f);
		if (x && x->verdict)
			fprintf(f, "%-*s  ", (int)vw, x->verdict(x->ctx, i, vbuf, sizeof(vbuf)));
		fprintf(f, "%s\n", cell_command(&cache, &info[i], cmd, sizeof(cmd)));
	}
	owner_cache_free(&cache);
	return 0;
}

/* Write @s as a JSON string through the reused @scratch value. */
static int put_string(FILE *f, json_t *scratch, const char *s)
{
	char buf[CELL_MAX * 2];
	size_t len = strlen(s), n;
	json_t *clean;
	int r;

	if (json_string_setn(scratch, s, len) == 0) {
		n = json_dumpb(scratch, buf, sizeof(buf), JSON_ENCODE_ANY);
		if (n && n <= sizeof(buf)) {
			fwrite(buf, 1, n, f);
			return 0;
		}
		return json_dumpf(scratch, f, JSON_ENCODE_ANY) ? -EIO : 0;
	}
	/* Not UTF-8: say so with U+FFFD rather than emit invalid JSON. */
	clean = yc_json_name(s);
	if (!clean)
		return -ENOMEM;
	r = json_dumpf(clean, f, JSON_ENCODE_ANY);
	json_decref(clean);
	return r ? -EIO : 0;
}

int yc_print_list_json(FILE *f, const struct yank_instance_info *info,
		       const struct yc_user *users, size_t n)
{
	return yc_print_list_json_with(f, info, users, n, NULL);
}

int yc_print_list_json_with(FILE *f, const struct yank_instance_info *info,
			    const struct yc_user *users, size_t n, const struct yc_list_extra *x)
{
	struct owner_cache cache;
	json_t *scratch;
	int r = 0;

	if (!n) {
		fputs("[]\n", f);
		return 0;
	}
	scratch = json_string("");
	if (!scratch || owner_cache_init(&cache, n) < 0) {
		json_decref(scratch);
		return -ENOMEM;
	}
	fputs("[\n", f);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct yank_instance_info *in = &info[i];
		const char *t = yank_type_name(in->type);

		if (!t)
			continue;
		fprintf(f, "%s  {", i ? ",\n" : "");
		if (in->ns)
			fprintf(f, "\"namespace\": \"%s\", ", in->ns);
		fprintf(f, "\"type\": \"%s\"", t);
		if (in->type != YANK_MIGRATION) {
			fputs(in->type == YANK_CHARDEV ? ", \"id\": " : ", \"node-name\": ", f);
			r = put_string(f, scratch, in->name ? in->name : "");
		}
		const struct owner_entry *o = in->owner_alive ? owner_get(&cache, in->pid) : NULL;

		fprintf(f, ", \"pid\": %d, \"command\": ", (int)in->pid);
		if (o && *o->cmd)
			r = r ? r : put_string(f, scratch, o->cmd);
		else
			fputs("null", f);
		fprintf(f, ", \"alive\": %s, \"stopped\": %s, \"fds\": %u, \"callbacks\": %u",
			in->owner_alive ? "true" : "false", o && o->stopped ? "true" : "false",
			in->n_fds, in->n_callbacks);
		/* Only when true: consumers of the QMP-like shape see no new member. */
		if (in->adopted)
			fputs(", \"adopted\": true", f);
		if (in->n_proxies)
			fprintf(f, ", \"proxied\": %u", in->n_proxies);
		if (in->unresponsive)
			fputs(", \"unresponsive\": true", f);
		if (users) {
			fputs(", \"user\": ", f);
			r = r ? r : put_string(f, scratch, users[i].name);
			fprintf(f, ", \"uid\": %u", (unsigned)users[i].uid);
		}
		if (x && x->json_members && r == 0)
			r = x->json_members(x->ctx, f, i);
		fputc('}', f);
	}
	fputs("\n]\n", f);
	owner_cache_free(&cache);
	json_decref(scratch);
	return r;
}

static const char *lock_state(const struct yank_status *st, char *buf, size_t size)
{
	if (!st->lock_holder)
		return "free";
	snprintf(buf, size, "held by pid %d (%s)", (int)st->lock_holder,
		 st->lock_holder_alive ? "alive" : "dead: the next locker repairs it");
	return buf;
}

/* The detail string as a C string, whether or not the library ended it. */
static char *detail_of(const struct yank_status *st, char *buf)
{
	memcpy(buf, st->integrity_detail, sizeof(st->integrity_detail));
	buf[sizeof(st->integrity_detail)] = '\0';
	return buf;
}

/* The namespaces of @info marked unresponsive, each once, in first-seen order. */
static json_t *unresponsive(const struct yank_instance_info *info, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n; i++) {
		bool seen = false;

		if (!info[i].unresponsive || !info[i].ns)
			continue;
		for (size_t k = 0; k < json_array_size(list) && !seen; k++)
			seen = !strcmp(json_string_value(json_array_get(list, k)), info[i].ns);
		if (!seen)
			json_array_append_new(list, json_string(info[i].ns));
	}
	return list;
}

void yc_print_status(FILE *f, const char *segment, const struct yank_status *st,
		     const struct yank_instance_info *info, size_t n)
{
	char buf[256], esc[sizeof(st->integrity_detail) * 4 + 8];
	char detail[sizeof(st->integrity_detail) + 1];
	json_t *mute = unresponsive(info, n);

	fprintf(f, "segment:         %s\n", yc_escape(segment, buf, sizeof(buf)));
	fprintf(f, "layout version:  %u\n", st->layout_version);
	fprintf(f, "segment size:    %llu bytes\n", (unsigned long long)st->segment_bytes);
	fprintf(f, "instances:       %u of %u used\n", st->used_instances, st->max_instances);
	fprintf(f, "records:         %u of %u used\n", st->used_records, st->max_records);
	fprintf(f, "processes:       %u of %u used: %u live, %u dead\n", st->used_processes,
		st->max_processes, st->live_processes, st->dead_processes);
	fprintf(f, "lock:            %s\n", lock_state(st, buf, sizeof(buf)));
	fprintf(f, "torn slots:      %u\n", st->torn_slots);
	fprintf(f, "yanks:           %llu ok, %llu failed, %llu refused (not found)\n",
		(unsigned long long)st->yanks_ok, (unsigned long long)st->yanks_failed,
		(unsigned long long)st->yanks_not_found);
	for (size_t i = 0; i < json_array_size(mute); i++)
		fprintf(f, "unresponsive:    %s (its proxy gets no answer; last mirror kept)\n",
			json_string_value(json_array_get(mute, i)));
	json_decref(mute);
	if (!st->integrity) {
		fprintf(f, "integrity:       ok\n");
		return;
	}
	fprintf(f, "integrity:       FAILED: %s\n",
		*detail_of(st, detail) ? yc_escape(detail, esc, sizeof(esc))
				       : yank_strerror(st->integrity));
}

int yc_json_line(FILE *f, json_t *obj)
{
	int r;

	if (!obj)
		return -ENOMEM;
	r = json_dumpf(obj, f, 0);
	json_decref(obj);
	fputc('\n', f);
	return r ? -EIO : 0;
}

json_t *yc_status_json(const char *segment, const struct yank_status *st,
		       const struct yank_instance_info *info, size_t n)
{
	char detail[sizeof(st->integrity_detail) + 1];
	json_t *holder;

	detail_of(st, detail);
	holder = st->lock_holder ? json_integer(st->lock_holder) : json_null();
	return json_pack("{s:o, s:b, s:b, s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I}, "
			     "s:{s:I, s:I, s:I, s:I}, s:{s:o, s:b}, s:I, s:{s:b, s:o}, "
			     "s:{s:I, s:I, s:I}, s:o}",
			     "segment", yc_json_name(segment), "exists", 1, "ok",
			     st->integrity == 0, "layout-version",
			     (json_int_t)st->layout_version, "segment-bytes",
			     (json_int_t)st->segment_bytes, "instances", "used",
			     (json_int_t)st->used_instances, "max", (json_int_t)st->max_instances,
			     "records", "used", (json_int_t)st->used_records, "max",
			     (json_int_t)st->max_records, "processes", "used",
			     (json_int_t)st->used_processes, "max", (json_int_t)st->max_processes,
			     "live", (json_int_t)st->live_processes, "dead",
			     (json_int_t)st->dead_processes, "lock", "holder", holder,
			     "holder-alive", st->lock_holder ? st->lock_holder_alive != 0 : 0,
			     "torn-slots", (json_int_t)st->torn_slots, "integrity", "ok",
			     st->integrity == 0, "detail",
			     st->integrity ? yc_json_name(detail[0] ? detail
								    : yank_strerror(st->integrity))
					   : json_null(),
			     "yanks", "ok", (json_int_t)st->yanks_ok, "failed",
			     (json_int_t)st->yanks_failed, "not-found",
			     (json_int_t)st->yanks_not_found, "unresponsive", unresponsive(info, n));
}

int yc_print_status_json(FILE *f, const char *segment, const struct yank_status *st,
			 const struct yank_instance_info *info, size_t n)
{
	return yc_json_line(f, yc_status_json(segment, st, info, n));
}

void yc_print_unusable(FILE *f, const char *segment, int err, const char *detail)
{
	char buf[320], esc[1100];

	fprintf(f, "segment:         %s\n", yc_escape(segment, buf, sizeof(buf)));
	fprintf(f, "state:           unusable: %s\n", yank_strerror(err));
	if (*detail)
		fprintf(f, "detail:          %s\n", yc_escape(detail, esc, sizeof(esc)));
}

json_t *yc_unusable_json(const char *segment, int err, const char *detail)
{
	return json_pack("{s:o, s:b, s:b, s:s, s:o}", "segment", yc_json_name(segment), "exists",
			 1, "ok", 0, "error", yank_strerror(err), "detail",
			 *detail ? yc_json_name(detail) : json_null());
}

int yc_print_unusable_json(FILE *f, const char *segment, int err, const char *detail)
{
	return yc_json_line(f, yc_unusable_json(segment, err, detail));
}

void yc_print_failures(FILE *f, const struct yank_failure *fl, size_t n)
{
	char inst[CELL_MAX + 16];

	for (size_t i = 0; i < n; i++) {
		const char *ns = fl[i].ns;

		yc_format_instance_ns(ns, fl[i].type, fl[i].name, inst, sizeof(inst));
		/* What a QEMU no longer has is named after it, not after its proxy. */
		if (fl[i].kind == YANK_FAIL_VANISHED && ns && !strncmp(ns, "qemu:", 5)) {
			fprintf(f, "yankctl: %s: no longer exists in QEMU %s\n", inst, ns + 5);
			continue;
		}
		if (fl[i].kind == YANK_FAIL_VANISHED && ns) {
			fprintf(f, "yankctl: %s: no longer exists in %s\n", inst, ns);
			continue;
		}
		fprintf(f, "yankctl: %s: pid %d", inst, (int)fl[i].pid);
		if (fl[i].fd >= 0)
			fprintf(f, ", fd %d", fl[i].fd);
		fprintf(f, ": %s", yc_failure_reason(fl[i].kind));
		if (fl[i].err)
			fprintf(f, ": %s", yc_failure_detail(fl[i].err));
		fputc('\n', f);
	}
}

const char *yc_failure_word(enum yank_failure_kind kind)
{
	switch (kind) {
	case YANK_FAIL_STALE:
		return "stale";
	case YANK_FAIL_OWNER_GONE:
		return "owner-gone";
	case YANK_FAIL_NO_AGENT:
		return "no-agent";
	case YANK_FAIL_FALLBACK:
		return "fallback";
	case YANK_FAIL_CALLBACK:
		return "callback";
	case YANK_FAIL_SHUTDOWN:
		return "shutdown";
	case YANK_FAIL_PROTOCOL:
		return "protocol";
	case YANK_FAIL_VANISHED:
		return "vanished";
	case YANK_FAIL_PROXY:
		return "proxy";
	}
	return "unknown";
}

int yc_failures_append_json(json_t *list, const struct yank_failure *fl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *obj;

		if (!yank_type_name(fl[i].type))
			continue;
		obj = yc_qmp_instance_json(fl[i].type, fl[i].name);
		if (!obj)
			return -ENOMEM;
		if ((fl[i].ns && json_object_set_new(obj, "namespace", json_string(fl[i].ns)) < 0) ||
		    json_object_set_new(obj, "pid", json_integer(fl[i].pid)) < 0 ||
		    json_object_set_new(obj, "fd",
					fl[i].fd >= 0 ? json_integer(fl[i].fd) : json_null()) < 0 ||
		    json_object_set_new(obj, "reason", json_string(yc_failure_word(fl[i].kind))) < 0 ||
		    json_object_set_new(obj, "error",
					fl[i].err ? json_string(yc_failure_detail(fl[i].err))
						  : json_null()) < 0) {
			json_decref(obj);
			return -ENOMEM;
		}
		/* Consumes obj, even when it fails. */
		if (json_array_append_new(list, obj) < 0)
			return -ENOMEM;
	}
	return 0;
}

int yc_print_failures_json(FILE *f, const struct yank_failure *fl, size_t n)
{
	json_t *list = json_array();

	if (!list || yc_failures_append_json(list, fl, n) < 0) {
		json_decref(list);
		return -ENOMEM;
	}
	return yc_json_line(f, json_pack("{s:o}", "failures", list));
}

/* Did a failure record name @in?  Then it was not wholly yanked. */
static bool failed(const char *ns, const struct yank_instance *in, const struct yank_failure *fl,
		   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct yank_instance f = { fl[i].type, fl[i].name };

		if (yc_same_instance(ns, in, fl[i].ns, &f))
			return true;
	}
	return false;
}

void yc_print_yanked(FILE *f, const char *const *ns, const struct yank_instance *list, size_t n,
		     const struct yank_failure *fl, size_t nf)
{
	char inst[CELL_MAX + 96];

	for (size_t i = 0; i < n; i++) {
		const char *nsi = ns ? ns[i] : NULL;
		bool again = false;

		for (size_t k = 0; k < i && !again; k++)
			again = yc_same_instance(ns ? ns[k] : NULL, &list[k], nsi, &list[i]);
		if (!again && !failed(nsi, &list[i], fl, nf))
			fprintf(f, "yanked %s\n",
				yc_format_instance_ns(nsi, list[i].type, list[i].name, inst,
						      sizeof(inst)));
	}
}
