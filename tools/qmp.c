/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The QMP session.  Input is a stream of JSON values with no framing:
 * qmplex.c finds where each top-level value ends and which bytes no value
 * can have; Jansson then decodes the value.  Replies mirror QEMU's classes
 * and wording (qapi/qmp-dispatch.c and the QAPI input visitor) so that QMP
 * clients need no change.
 *
 * Exactly one reply per top-level value, sent as soon as its last byte is
 * read (a number or literal: at the byte after it, which could have
 * continued it), whether or not a newline follows.  A value Jansson
 * refuses (a number out of range, \u0000, a duplicate key, a missing
 * comma) gets its error and nothing is skipped: clients that send no
 * newlines (QEMU's python client, go-qemu) stay in step.  What the lexer
 * refuses is answered with one GenericError, shared with the value just
 * before it on its line if that was answered with an error (qmplex.c says
 * how it resynchronises).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "qmp.h"
#include "qmplex.h"

#define GENERIC "GenericError"
#define NOT_FOUND "CommandNotFound"

/* Failure records spelt out in one reply; the rest are counted. */
#define MAX_FAILURES_SHOWN 16

struct yc_qmp {
	struct yc_qmp_backend be;
	yc_qmp_write_fn *write;
	void *opaque;
	bool negotiated;
	bool oob;
	int dead; /* the first write error: nothing more is answered */

	bool last_error; /* the latest reply was an error */

	struct yc_qmp_lexer *lex; /* hands us each value and each framing error */
};

/* Serialise @reply (consumed) as one line and hand it to the writer. */
static int emit(struct yc_qmp *q, json_t *reply)
{
	char *s, *line;
	size_t n;
	int r;

	if (!reply)
		return -ENOMEM;
	s = json_dumps(reply, 0);
	json_decref(reply);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return -ENOMEM;
	}
	line[n++] = '\n';
	line[n] = '\0';
	r = q->write(q->opaque, line, n);
	free(line);
	return r;
}

/* {"<key>": @val, "id": @id}; @val is consumed, @id borrowed. */
static int reply(struct yc_qmp *q, const char *key, json_t *val, json_t *id)
{
	json_t *obj = json_object();

	q->last_error = !strcmp(key, "error");
	if (!obj || json_object_set_new(obj, key, val) < 0 ||
	    (id && json_object_set(obj, "id", id) < 0)) {
		if (!obj)
			json_decref(val);
		json_decref(obj);
		return -ENOMEM;
	}
	return emit(q, obj);
}

__attribute__((format(printf, 4, 5))) static int reply_error(struct yc_qmp *q, json_t *id,
							     const char *cls, const char *fmt, ...)
{
	json_t *err, *desc;
	va_list ap;

	va_start(ap, fmt);
	desc = json_vsprintf(fmt, ap);
	va_end(ap);
	/* Every argument is valid UTF-8, so only a lack of memory gets here. */
	if (!desc)
		desc = json_string("out of memory while formatting the error");
	err = json_object();
	if (!err || !desc || json_object_set_new(err, "class", json_string(cls)) < 0 ||
	    json_object_set_new(err, "desc", desc) < 0) {
		if (!err)
			json_decref(desc);
		json_decref(err);
		return -ENOMEM;
	}
	return reply(q, "error", err, id);
}

/*
 * QEMU's VersionInfo, with yank's version: the greeting and query-version
 * carry the same object.  The numbers come from the library's own string,
 * not from the header yankctl was built with, so both halves always agree.
 */
static json_t *version_info(void)
{
	const char *v = yank_version();
	unsigned int major, minor, micro;
	char package[64];

	if (sscanf(v, "%u.%u.%u", &major, &minor, &micro) != 3)
		major = minor = micro = 0;
	snprintf(package, sizeof(package), "yank %s", v);
	/* In the order QEMU 7.2 sends them. */
	return json_pack("{s:{s:i, s:i, s:i}, s:s}", "qemu", "micro", (int)micro, "minor",
			 (int)minor, "major", (int)major, "package", package);
}

int yc_qmp_greet(struct yc_qmp *q)
{
	json_t *version = version_info();

	if (!version)
		return -ENOMEM;
	return emit(q, json_pack("{s:{s:o, s:[s]}}", "QMP", "version", version, "capabilities",
				 "oob"));
}

json_t *yc_json_name(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len = strlen(name), o = 0;
	json_t *s = json_stringn(name, len);
	char *clean;

	if (s)
		return s;
	clean = malloc(len * 3 + 1);
	if (!clean)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = yc_utf8_seq(p + i, len - i);

		if (n) {
			memcpy(clean + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(clean + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	s = json_stringn(clean, o);
	free(clean);
	return s;
}

json_t *yc_qmp_instance_json(enum yank_type type, const char *name)
{
	const char *t = yank_type_name(type);
	json_t *obj;

	if (!t)
		return NULL;
	obj = json_pack("{s:s}", "type", t);
	if (!obj || type == YANK_MIGRATION)
		return obj;
	if (json_object_set_new(obj, type == YANK_CHARDEV ? "id" : "node-name",
				yc_json_name(name ? name : "")) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static int registry_error(struct yc_qmp *q, json_t *id, int err)
{
	const char *text = q->be.error_text ? q->be.error_text(q->be.ctx, err) : NULL;

	if (text)
		return reply_error(q, id, GENERIC, "%s", text);
	return reply_error(q, id, GENERIC, "Yank registry %s unavailable: %s",
			   q->be.segment ? q->be.segment : "(default)", yank_strerror(err));
}

static int cmd_capabilities(struct yc_qmp *q, json_t *args, json_t *id)
{
	json_t *enable = args ? json_object_get(args, "enable") : NULL, *val;
	bool want_oob = false;
	const char *key;
	size_t i;

	if (enable) {
		if (!json_is_array(enable))
			return reply_error(q, id, GENERIC,
					   "Invalid parameter type for 'enable', expected: array");
		json_array_foreach (enable, i, val) {
			if (!json_is_string(val))
				return reply_error(q, id, GENERIC,
						   "Invalid parameter type for 'enable[%zu]', "
						   "expected: string",
						   i);
			if (strcmp(json_string_value(val), "oob"))
				return reply_error(
					q, id, GENERIC,
					"Parameter 'enable[%zu]' does not accept value '%s'", i,
					json_string_value(val));
			want_oob = true;
		}
	}
	if (args) {
		json_object_foreach (args, key, val) {
			if (strcmp(key, "enable"))
				return reply_error(q, id, GENERIC, "Parameter '%s' is unexpected",
						   key);
		}
	}
	q->negotiated = true;
	q->oob = want_oob;
	return reply(q, "return", json_object(), id);
}

/*
 * A command without parameters refuses any, naming one as QAPI does.
 * Returns 1 if there are none, else the result of answering.
 */
static int no_arguments(struct yc_qmp *q, json_t *args, json_t *id)
{
	void *it = args ? json_object_iter(args) : NULL;

	if (!it)
		return 1;
	return reply_error(q, id, GENERIC, "Parameter '%s' is unexpected",
			   json_object_iter_key(it));
}

static int cmd_query_version(struct yc_qmp *q, json_t *args, json_t *id)
{
	json_t *version;
	int r = no_arguments(q, args, id);

	if (r <= 0)
		return r;
	version = version_info();
	if (!version)
		return -ENOMEM;
	return reply(q, "return", version, id);
}

static int cmd_query_yank(struct yc_qmp *q, json_t *args, json_t *id)
{
	struct yank_instance_info *info = NULL;
	json_t *list;
	size_t n = 0;
	int r = no_arguments(q, args, id);

	if (r <= 0)
		return r;
	r = q->be.query(q->be.ctx, &info, &n);
	if (r < 0)
		return registry_error(q, id, r);
	list = json_array();
	for (size_t i = 0; list && i < n; i++) {
		/* A type this tool does not know cannot be named on the wire, and
		 * mirrored instances are their own QEMU's to list: our QMP clients
		 * expect the shape of one QEMU, which has no namespaces. */
		if (!yank_type_name(info[i].type) || info[i].ns)
			continue;
		if (json_array_append_new(list, yc_qmp_instance_json(info[i].type, info[i].name)) <
		    0) {
			json_decref(list);
			list = NULL;
		}
	}
	q->be.query_done(q->be.ctx, info, n);
	if (!list)
		return -ENOMEM;
	return reply(q, "return", list, id);
}

/*
 * Check one element of "instances" as QAPI would: type first, then the
 * key member, then anything unexpected; then the library's name rule.
 */
static int parse_element(struct yc_qmp *q, json_t *id, size_t i, json_t *el,
			 struct yank_instance *out)
{
	json_t *type = json_object_get(el, "type"), *name, *val;
	const char *t, *keyname = NULL, *key;
	int r;

	if (!json_is_object(el))
		return reply_error(q, id, GENERIC,
				   "Invalid parameter type for 'instances[%zu]', expected: object",
				   i);
	if (!type)
		return reply_error(q, id, GENERIC, "Parameter 'instances[%zu].type' is missing", i);
	if (!json_is_string(type))
		return reply_error(
			q, id, GENERIC,
			"Invalid parameter type for 'instances[%zu].type', expected: string", i);
	t = json_string_value(type);
	if (!strcmp(t, "block-node")) {
		out->type = YANK_BLOCK_NODE;
		keyname = "node-name";
	} else if (!strcmp(t, "chardev")) {
		out->type = YANK_CHARDEV;
		keyname = "id";
	} else if (!strcmp(t, "migration")) {
		out->type = YANK_MIGRATION;
	} else {
		/* QEMU names the member without its path here. */
		return reply_error(q, id, GENERIC, "Parameter 'type' does not accept value '%s'",
				   t);
	}
	if (keyname) {
		name = json_object_get(el, keyname);
		if (!name)
			return reply_error(q, id, GENERIC,
					   "Parameter 'instances[%zu].%s' is missing", i, keyname);
		if (!json_is_string(name))
			return reply_error(
				q, id, GENERIC,
				"Invalid parameter type for 'instances[%zu].%s', expected: string",
				i, keyname);
		out->name = json_string_value(name);
	}
	json_object_foreach (el, key, val) {
		if (strcmp(key, "type") && (!keyname || strcmp(key, keyname)))
			return reply_error(q, id, GENERIC,
					   "Parameter 'instances[%zu].%s' is unexpected", i, key);
	}
	r = yank_check_instance(out);
	if (r < 0)
		return reply_error(q, id, GENERIC, "Parameter 'instances[%zu].%s' is invalid: %s",
				   i, keyname ? keyname : "type", yc_name_problem(out->name, r));
	return 1;
}

static int yank_failed(struct yc_qmp *q, json_t *id, const struct yank_failure *f, size_t n)
{
	char desc[4096], inst[400];
	size_t o;

	o = (size_t)snprintf(desc, sizeof(desc), "Yank incomplete:");
	for (size_t i = 0; i < n && i < MAX_FAILURES_SHOWN && o < sizeof(desc); i++) {
		char where[48];

		if (f[i].fd >= 0)
			snprintf(where, sizeof(where), "pid %d, fd %d", (int)f[i].pid, f[i].fd);
		else
			snprintf(where, sizeof(where), "pid %d", (int)f[i].pid);
		o += (size_t)snprintf(desc + o, sizeof(desc) - o, "%s %s (%s): %s%s%s",
				      i ? ";" : "",
				      yc_format_instance(f[i].type, f[i].name, inst, sizeof(inst)),
				      where, yc_failure_reason(f[i].kind), f[i].err ? ": " : "",
				      f[i].err ? yc_failure_detail(f[i].err) : "");
	}
	if (n > MAX_FAILURES_SHOWN && o < sizeof(desc))
		snprintf(desc + o, sizeof(desc) - o, "; and %zu more", n - MAX_FAILURES_SHOWN);
	if (!n)
		snprintf(desc, sizeof(desc), "Yank incomplete: some functions could not be run");
	return reply_error(q, id, GENERIC, "%s", desc);
}

static int cmd_yank(struct yc_qmp *q, json_t *args, json_t *id)
{
	json_t *instances = args ? json_object_get(args, "instances") : NULL, *val;
	struct yank_instance *list = NULL;
	struct yank_failure *failures = NULL;
	size_t n, n_failures = 0, i;
	const char *key;
	int r;

	if (!instances)
		return reply_error(q, id, GENERIC, "Parameter 'instances' is missing");
	if (!json_is_array(instances))
		return reply_error(q, id, GENERIC,
				   "Invalid parameter type for 'instances', expected: array");
	n = json_array_size(instances);
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	json_array_foreach (instances, i, val) {
		r = parse_element(q, id, i, val, &list[i]);
		if (r <= 0)
			goto out;
	}
	json_object_foreach (args, key, val) {
		if (strcmp(key, "instances")) {
			r = reply_error(q, id, GENERIC, "Parameter '%s' is unexpected", key);
			goto out;
		}
	}

	r = q->be.yank(q->be.ctx, list, n, &failures, &n_failures);
	if (r == 0)
		r = reply(q, "return", json_object(), id);
	else if (r == -ENOENT)
		r = reply_error(q, id, "DeviceNotFound", "Instance not found");
	else if (r == -EIO)
		r = yank_failed(q, id, failures, n_failures);
	else
		r = registry_error(q, id, r);
	q->be.yank_done(q->be.ctx, failures, n_failures);
out:
	free(list);
	return r;
}

static int cmd_query_commands(struct yc_qmp *q, json_t *args, json_t *id);

/* What query-commands lists, and the only commands there are. */
static const struct command {
	const char *name;
	bool allow_oob; /* as QEMU's schema says */
	int (*run)(struct yc_qmp *q, json_t *args, json_t *id);
} commands[] = {
	{ "qmp_capabilities", false, cmd_capabilities },
	{ "query-commands", false, cmd_query_commands },
	{ "query-version", false, cmd_query_version },
	{ "query-yank", true, cmd_query_yank },
	{ "yank", true, cmd_yank },
};

static int cmd_query_commands(struct yc_qmp *q, json_t *args, json_t *id)
{
	json_t *list;
	int r = no_arguments(q, args, id);

	if (r <= 0)
		return r;
	list = json_array();
	for (size_t i = 0; list && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (json_array_append_new(list, json_pack("{s:s}", "name", commands[i].name)) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	if (!list)
		return -ENOMEM;
	return reply(q, "return", list, id);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

static int handle(struct yc_qmp *q, json_t *req)
{
	const struct command *c;
	const char *exec_key = NULL, *key, *cmd;
	json_t *args = NULL, *id, *val;

	if (!json_is_object(req))
		return reply_error(q, NULL, GENERIC, "QMP input must be a JSON object");
	id = json_object_get(req, "id");
	/* exec-oob is a member like any other until oob was negotiated. */
	json_object_foreach (req, key, val) {
		if (!strcmp(key, "execute") || (q->oob && !strcmp(key, "exec-oob"))) {
			if (!json_is_string(val))
				return reply_error(q, id, GENERIC,
						   "QMP input member '%s' must be a string", key);
			/* Worded as QEMU does, whichever of the two came first. */
			if (exec_key)
				return reply_error(
					q, id, GENERIC,
					"QMP input member 'execute' clashes with 'exec-oob'");
			exec_key = key;
		} else if (!strcmp(key, "arguments")) {
			if (!json_is_object(val))
				return reply_error(
					q, id, GENERIC,
					"QMP input member 'arguments' must be an object");
			args = val;
		} else if (strcmp(key, "id")) {
			return reply_error(q, id, GENERIC, "QMP input member '%s' is unexpected",
					   key);
		}
	}
	if (!exec_key)
		return reply_error(q, id, GENERIC, "QMP input lacks member 'execute'");
	cmd = json_string_value(json_object_get(req, exec_key));

	if (!q->negotiated) {
		if (strcmp(cmd, "qmp_capabilities"))
			return reply_error(
				q, id, NOT_FOUND,
				"Expecting capabilities negotiation with 'qmp_capabilities'");
		return cmd_capabilities(q, args, id);
	}
	/* QEMU looks the command up first, then checks how it was sent. */
	c = find_command(cmd);
	if (!c)
		return reply_error(q, id, NOT_FOUND, "The command %s has not been found", cmd);
	if (!strcmp(exec_key, "exec-oob") && !c->allow_oob)
		return reply_error(q, id, GENERIC, "The command %s does not support OOB", cmd);
	if (c->run == cmd_capabilities)
		return reply_error(q, id, NOT_FOUND,
				   "Capabilities negotiation is already complete, command ignored");
	return c->run(q, args, id);
}

/*
 * A whole top-level value from the lexer: decode and answer it.  Every
 * token in it is valid and its brackets match, so what Jansson can still
 * refuse is the grammar between tokens, a number out of range, a bad code
 * point or a duplicate key; none of that calls for skipping what follows.
 */
static int on_value(void *opaque, const char *text, size_t len)
{
	struct yc_qmp *q = opaque;
	json_error_t jerr;
	json_t *req;
	char esc[256];
	int r;

	req = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		/* Jansson quotes the offending input, which need not be UTF-8. */
		r = reply_error(q, NULL, GENERIC, "JSON parse error, %s",
				yc_escape(jerr.text, esc, sizeof(esc)));
	} else {
		r = handle(q, req);
		json_decref(req);
	}
	return r < 0 ? r : q->last_error;
}

/* Bytes the lexer refused, or input that ended inside a value. */
static int on_lex_error(void *opaque, const char *why)
{
	return reply_error(opaque, NULL, GENERIC, "JSON parse error, %s", why);
}

struct yc_qmp *yc_qmp_new(const struct yc_qmp_backend *be, yc_qmp_write_fn *write, void *opaque)
{
	struct yc_qmp *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->lex = yc_qmp_lexer_new(on_value, on_lex_error, q);
	if (!q->lex) {
		free(q);
		return NULL;
	}
	q->be = *be;
	q->write = write;
	q->opaque = opaque;
	return q;
}

void yc_qmp_free(struct yc_qmp *q)
{
	if (!q)
		return;
	yc_qmp_lexer_free(q->lex);
	free(q);
}

int yc_qmp_feed(struct yc_qmp *q, const void *data, size_t len)
{
	int r;

	if (q->dead)
		return q->dead;
	r = yc_qmp_lexer_feed(q->lex, data, len);
	if (r < 0)
		q->dead = r;
	return r;
}

int yc_qmp_eof(struct yc_qmp *q)
{
	int r;

	if (q->dead)
		return q->dead;
	r = yc_qmp_lexer_eof(q->lex);
	if (r < 0)
		q->dead = r;
	return r;
}

int yc_qmp_serve(struct yc_qmp *q, int fd)
{
	char buf[65536];
	int r = yc_qmp_greet(q);

	while (r == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return yc_qmp_eof(q);
		r = yc_qmp_feed(q, buf, (size_t)n);
	}
	return r;
}
