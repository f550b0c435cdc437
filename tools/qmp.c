/*
 * The QMP session.  Input is a stream of JSON values with no framing, so
 * a small scanner finds where each top-level value ends (string, escape
 * and bracket state only); Jansson decodes the slice.  Every value gets
 * exactly one reply, malformed ones included, and replies mirror QEMU's
 * classes and wording (qapi/qmp-dispatch.c and the QAPI input visitor) so
 * that QMP clients need no change.
 *
 * After malformed input the session answers once, then drops everything up
 * to the next newline, in whatever read(2) it comes: the answers to a byte
 * stream never depend on how it was cut.  Clients that send no newlines
 * (QEMU's python client, go-qemu) send only well-formed JSON; malformed
 * input comes from people and scripts, a line at a time.
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

#define GENERIC "GenericError"
#define NOT_FOUND "CommandNotFound"

/* Failure records spelt out in one reply; the rest are counted. */
#define MAX_FAILURES_SHOWN 16

enum scan_kind {
	SCAN_IDLE,      /* between values */
	SCAN_CONTAINER, /* inside an object or array */
	SCAN_STRING,    /* a top-level string */
	SCAN_TOKEN,     /* a top-level number, literal or garbage */
};

struct yc_qmp {
	struct yc_qmp_backend be;
	yc_qmp_write_fn *write;
	void *opaque;
	bool negotiated;
	bool oob;
	int dead; /* the first write error: nothing more is answered */

	/* The top-level value being received. */
	enum scan_kind kind;
	bool in_string;
	bool escaped;
	bool oversize;  /* already answered as too large: drop its bytes */
	bool skip_line; /* after malformed input: drop bytes up to a newline */
	unsigned int depth;
	char stack[YC_QMP_MAX_DEPTH];
	char *buf;
	size_t len, cap;
};

struct yc_qmp *yc_qmp_new(const struct yc_qmp_backend *be, yc_qmp_write_fn *write, void *opaque)
{
	struct yc_qmp *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->be = *be;
	q->write = write;
	q->opaque = opaque;
	return q;
}

void yc_qmp_free(struct yc_qmp *q)
{
	if (!q)
		return;
	free(q->buf);
	free(q);
}

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

int yc_qmp_greet(struct yc_qmp *q)
{
	char package[64];

	snprintf(package, sizeof(package), "yank %s", yank_version());
	return emit(q,
		    json_pack("{s:{s:{s:{s:i, s:i, s:i}, s:s}, s:[s]}}", "QMP", "version", "qemu",
			      "micro", YANK_VERSION_PATCH, "minor", YANK_VERSION_MINOR, "major",
			      YANK_VERSION_MAJOR, "package", package, "capabilities", "oob"));
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

static int cmd_query(struct yc_qmp *q, json_t *args, json_t *id)
{
	struct yank_instance_info *info = NULL;
	json_t *list;
	size_t n = 0;
	void *it;
	int r;

	it = args ? json_object_iter(args) : NULL;
	if (it)
		return reply_error(q, id, GENERIC, "Parameter '%s' is unexpected",
				   json_object_iter_key(it));
	r = q->be.query(q->be.ctx, &info, &n);
	if (r < 0)
		return registry_error(q, id, r);
	list = json_array();
	for (size_t i = 0; list && i < n; i++) {
		/* A type this tool does not know cannot be named on the wire. */
		if (!yank_type_name(info[i].type))
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

static int handle(struct yc_qmp *q, json_t *req)
{
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
	if (!strcmp(cmd, "qmp_capabilities")) {
		if (!strcmp(exec_key, "exec-oob"))
			return reply_error(q, id, GENERIC, "The command %s does not support OOB",
					   cmd);
		return reply_error(q, id, NOT_FOUND,
				   "Capabilities negotiation is already complete, command ignored");
	}
	if (!strcmp(cmd, "query-yank"))
		return cmd_query(q, args, id);
	if (!strcmp(cmd, "yank"))
		return cmd_yank(q, args, id);
	return reply_error(q, id, NOT_FOUND, "The command %s has not been found", cmd);
}

static void scan_reset(struct yc_qmp *q)
{
	q->kind = SCAN_IDLE;
	q->in_string = q->escaped = q->oversize = false;
	q->depth = 0;
	q->len = 0;
	/* Do not sit on the memory of one huge request. */
	if (q->cap > 65536) {
		free(q->buf);
		q->buf = NULL;
		q->cap = 0;
	}
}

/* The current value is malformed: answer once, forget it. */
__attribute__((format(printf, 2, 3))) static int malformed(struct yc_qmp *q, const char *fmt, ...)
{
	bool answered = q->oversize;
	char why[128];
	va_list ap;

	scan_reset(q);
	if (answered)
		return 0;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return reply_error(q, NULL, GENERIC, "JSON parse error, %s", why);
}

static int append(struct yc_qmp *q, unsigned char c)
{
	if (q->oversize)
		return 0;
	if (q->len == YC_QMP_MAX_REQUEST) {
		q->oversize = true;
		q->len = 0;
		return reply_error(q, NULL, GENERIC,
				   "JSON parse error, request larger than %d bytes",
				   YC_QMP_MAX_REQUEST);
	}
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 4096;
		char *b;

		if (cap > YC_QMP_MAX_REQUEST)
			cap = YC_QMP_MAX_REQUEST;
		b = realloc(q->buf, cap);
		if (!b)
			return -ENOMEM;
		q->buf = b;
		q->cap = cap;
	}
	q->buf[q->len++] = (char)c;
	return 0;
}

/* The current value is complete in q->buf: decode and answer it. */
static int complete(struct yc_qmp *q)
{
	json_error_t jerr;
	json_t *req;
	char text[256];
	int r;

	if (q->oversize) {
		scan_reset(q);
		return 0;
	}
	req = json_loadb(q->buf, q->len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	scan_reset(q);
	if (!req) {
		/* Whatever follows on this line belongs to the same mistake. */
		q->skip_line = true;
		/* Jansson quotes the offending input, which need not be UTF-8. */
		return reply_error(q, NULL, GENERIC, "JSON parse error, %s",
				   yc_escape(jerr.text, text, sizeof(text)));
	}
	r = handle(q, req);
	json_decref(req);
	return r;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ends_token(unsigned char c)
{
	switch (c) {
	case '{':
	case '}':
	case '[':
	case ']':
	case '"':
	case ',':
	case ':':
		return true;
	}
	return is_space(c);
}

/* One byte inside a top-level string, object or array. */
static int scan_inside(struct yc_qmp *q, unsigned char c)
{
	int r;

	if (q->in_string) {
		/* JSON forbids raw control bytes in strings; a newline here means
		 * an unterminated string, and the line is over. */
		if (c < 0x20) {
			q->skip_line = c != '\n';
			return malformed(q, "control character 0x%02x in a string", c);
		}
		if (q->escaped) {
			q->escaped = false;
		} else if (c == '\\') {
			q->escaped = true;
		} else if (c == '"') {
			q->in_string = false;
			r = append(q, c);
			if (r == 0 && q->kind == SCAN_STRING)
				r = complete(q);
			return r;
		}
		return append(q, c);
	}
	switch (c) {
	case '"':
		q->in_string = true;
		break;
	case '{':
	case '[':
		if (q->depth == YC_QMP_MAX_DEPTH) {
			q->skip_line = true;
			return malformed(q, "nesting deeper than %d levels", YC_QMP_MAX_DEPTH);
		}
		q->stack[q->depth++] = (char)c;
		break;
	case '}':
	case ']':
		if (q->stack[q->depth - 1] != (c == '}' ? '{' : '[')) {
			q->skip_line = true;
			return malformed(q, "unexpected '%c'", c);
		}
		q->depth--;
		r = append(q, c);
		if (r == 0 && q->depth == 0)
			r = complete(q);
		return r;
	}
	return append(q, c);
}

int yc_qmp_feed(struct yc_qmp *q, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0;
	int r = 0;

	if (q->dead)
		return q->dead;
	while (i < len && r == 0) {
		unsigned char c = p[i];

		if (q->skip_line) {
			q->skip_line = c != '\n';
			i++;
			continue;
		}
		switch (q->kind) {
		case SCAN_IDLE:
			i++;
			if (is_space(c))
				break;
			if (c == '}' || c == ']' || c == ',' || c == ':') {
				q->skip_line = true;
				r = malformed(q, "unexpected '%c'", c);
				break;
			}
			if (c == '{' || c == '[') {
				q->kind = SCAN_CONTAINER;
				q->stack[q->depth++] = (char)c;
			} else if (c == '"') {
				q->kind = SCAN_STRING;
				q->in_string = true;
			} else {
				q->kind = SCAN_TOKEN;
			}
			r = append(q, c);
			break;
		case SCAN_TOKEN:
			/* The delimiter is not consumed: it starts what follows. */
			if (ends_token(c)) {
				r = complete(q);
				break;
			}
			i++;
			r = append(q, c);
			break;
		case SCAN_CONTAINER:
		case SCAN_STRING:
			i++;
			r = scan_inside(q, c);
			break;
		}
	}
	if (r < 0)
		q->dead = r;
	return r;
}

int yc_qmp_eof(struct yc_qmp *q)
{
	int r = 0;

	if (q->dead)
		return q->dead;
	if (q->kind == SCAN_TOKEN)
		r = complete(q);
	else if (q->kind != SCAN_IDLE)
		r = malformed(q, "premature end of input");
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
