/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl's argument parsing.  A hand-written parser rather than getopt:
 * it keeps no global state (a fuzzer calls it many times in one process)
 * and it lets options appear after the command ("yankctl list --json").
 * It never looks anything up; instance names are judged by
 * yank_check_instance(), the library's own rule.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "getent.h"
#include "utf8.h"

#define ACCEPTED_FORMS "block-node:NAME, chardev:ID or migration"

static const struct {
	const char *name;
	enum yc_command cmd;
} commands[] = {
	{"list", YC_CMD_LIST},     {"yank", YC_CMD_YANK}, {"qmp", YC_CMD_QMP},
	{"status", YC_CMD_STATUS}, {"gc", YC_CMD_GC},     {"help", YC_CMD_HELP},
	{"adopt", YC_CMD_ADOPT},   {"unadopt", YC_CMD_UNADOPT},
	{"watch", YC_CMD_WATCH},   {"metrics", YC_CMD_METRICS}, {"log", YC_CMD_LOG},
};

__attribute__((format(printf, 3, 4))) static int fail(char *msg, size_t msglen, const char *fmt,
						      ...)
{
	va_list ap;

	if (msglen) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

const char *yc_command_name(enum yc_command cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].cmd == cmd)
			return commands[i].name;
	return NULL;
}

static enum yc_command lookup_command(const char *s)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, s))
			return commands[i].cmd;
	return YC_CMD_NONE;
}

size_t yc_utf8_seq(const unsigned char *s, size_t len)
{
	uint32_t cp;

	return yank__utf8_seq(s, len, &cp);
}

char *yc_escape(const char *s, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;

	if (!size)
		return buf;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = yank__utf8_seq(p + i, len - i, &cp);
		char tmp[8];
		size_t tn;

		/* Controls, C1 included, would steer a terminal: show their bytes. */
		if (n && yank__utf8_control(cp))
			n = 0;
		if (n) {
			memcpy(tmp, p + i, n);
			tn = n;
			i += n;
		} else {
			tn = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			i++;
		}
		/* Keep room for "..." and the NUL. */
		if (o + tn + 4 > size) {
			if (o + 4 <= size) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, tmp, tn);
		o += tn;
	}
	buf[o < size ? o : size - 1] = '\0';
	return buf;
}

char *yc_format_instance_ns(const char *ns, enum yank_type type, const char *name, char *buf,
			    size_t size)
{
	size_t off;

	if (!ns || !*ns)
		return yc_format_instance(type, name, buf, size);
	/* The library admits [A-Za-z0-9._:-] only: nothing to escape. */
	snprintf(buf, size, "%s/", ns);
	off = strlen(buf);
	yc_format_instance(type, name, buf + off, size - off);
	return buf;
}

bool yc_same_instance(const char *ns_a, const struct yank_instance *a, const char *ns_b,
		      const struct yank_instance *b)
{
	if (a->type != b->type || strcmp(ns_a ? ns_a : "", ns_b ? ns_b : ""))
		return false;
	return a->type == YANK_MIGRATION || (a->name && b->name && !strcmp(a->name, b->name));
}

char *yc_format_instance(enum yank_type type, const char *name, char *buf, size_t size)
{
	const char *t = yank_type_name(type);
	char esc[320];

	if (!t)
		snprintf(buf, size, "type-%d", (int)type);
	else if (type == YANK_MIGRATION || !name)
		snprintf(buf, size, "%s", t);
	else
		snprintf(buf, size, "%s:%s", t, yc_escape(name, esc, sizeof(esc)));
	return buf;
}

const char *yc_name_problem(const char *name, int err)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len;

	if (!name || !*name)
		return "empty name";
	len = strlen(name);
	if (err == -ENAMETOOLONG || len > YANK_NAME_MAX)
		return "name longer than 255 bytes";
	bool control = false;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = yank__utf8_seq(p + i, len - i, &cp);

		if (!n)
			return "name is not valid UTF-8";
		control |= yank__utf8_control(cp) != 0;
		i += n;
	}
	if (control)
		return "name contains a control character";
	return yank_strerror(err);
}

int yc_parse_instance(const char *arg, struct yank_instance *out, char *msg, size_t msglen)
{
	static const struct {
		const char *prefix;
		enum yank_type type;
	} named[] = {
		{"block-node", YANK_BLOCK_NODE},
		{"chardev", YANK_CHARDEV},
	};
	char esc[128], type[48], type_esc[64];
	struct yank_instance inst = {0};
	const char *colon;
	size_t tlen;
	int r;

	if (!*arg)
		return fail(msg, msglen, "empty instance argument: expected " ACCEPTED_FORMS);
	yc_escape(arg, esc, sizeof(esc));
	if (!strcmp(arg, "migration")) {
		inst.type = YANK_MIGRATION;
		*out = inst;
		return 0;
	}
	colon = strchr(arg, ':');
	tlen = colon ? (size_t)(colon - arg) : strlen(arg);
	if (tlen == strlen("migration") && !strncmp(arg, "migration", tlen))
		return fail(msg, msglen, "'%s': migration takes no name: expected " ACCEPTED_FORMS,
			    esc);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].prefix) != tlen || strncmp(arg, named[i].prefix, tlen))
			continue;
		if (!colon)
			return fail(msg, msglen, "'%s': missing name: expected %s:%s", esc,
				    named[i].prefix, named[i].type == YANK_CHARDEV ? "ID" : "NAME");
		inst.type = named[i].type;
		inst.name = colon + 1;
		r = yank_check_instance(&inst);
		if (r < 0) {
			fail(msg, msglen, "'%s': %s", esc, yc_name_problem(inst.name, r));
			return r == -ENAMETOOLONG ? r : -EINVAL;
		}
		*out = inst;
		return 0;
	}
	if (!colon)
		return fail(msg, msglen, "'%s': unknown instance: expected " ACCEPTED_FORMS, esc);
	snprintf(type, sizeof(type), "%.*s", (int)(tlen < sizeof(type) ? tlen : sizeof(type) - 1),
		 arg);
	return fail(msg, msglen, "'%s': unknown instance type '%s': expected " ACCEPTED_FORMS, esc,
		    yc_escape(type, type_esc, sizeof(type_esc)));
}

/* A native form starts with its type; anything else with a '/' names a namespace. */
static bool native_form(const char *arg)
{
	return !strncmp(arg, "block-node:", 11) || !strncmp(arg, "chardev:", 8) ||
	       !strcmp(arg, "migration") || !strchr(arg, '/');
}

int yc_parse_instance_ns(const char *arg, char ns[YANK_NS_MAX + 1], struct yank_instance *out,
			 char *msg, size_t msglen)
{
	const char *slash = strchr(arg, '/');
	size_t len = slash ? (size_t)(slash - arg) : 0;
	char esc[128];

	ns[0] = '\0';
	if (native_form(arg))
		return yc_parse_instance(arg, out, msg, msglen);
	yc_escape(arg, esc, sizeof(esc));
	if (len == 0 || len > YANK_NS_MAX)
		return fail(msg, msglen, "'%s': a namespace is 1 to %d bytes before the '/'", esc,
			    YANK_NS_MAX);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)arg[i]) && !strchr("._:-", arg[i]))
			return fail(msg, msglen,
				    "'%s': a namespace is letters, digits and '._:-' only", esc);
	int r = yc_parse_instance(slash + 1, out, msg, msglen);
	if (r < 0)
		return r;
	memcpy(ns, arg, len);
	ns[len] = '\0';
	return 0;
}

/*
 * --timeout: a duration, "500ms", "2s", "1m", or a bare number of
 * milliseconds (what it always was), from 1 ms to 10 minutes.
 */
static int parse_timeout(const char *s, uint32_t *out, char *msg, size_t msglen)
{
	static const struct {
		const char *unit;
		unsigned long ms;
	} units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 } };
	char esc[64];
	unsigned long v = 0;
	const char *p = s;

	if (!*s)
		return fail(msg, msglen, "--timeout: empty value: expected a duration such as "
					 "500ms, 2s or 1m (a bare number is milliseconds)");
	for (; *p >= '0' && *p <= '9' && v <= YC_TIMEOUT_MAX_MS; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	for (size_t k = 0; p != s && k < sizeof(units) / sizeof(units[0]); k++) {
		if (strcmp(p, units[k].unit))
			continue;
		if (v > YC_TIMEOUT_MAX_MS / units[k].ms ||
		    v * units[k].ms < YC_TIMEOUT_MIN_MS)
			break;
		*out = (uint32_t)(v * units[k].ms);
		return 0;
	}
	return fail(msg, msglen,
		    "--timeout: '%s' is not a duration from 1ms to 10m (500ms, 2s, 1m; a bare "
		    "number is milliseconds)",
		    yc_escape(s, esc, sizeof(esc)));
}

/* --user NAME|UID: a number is a uid, anything else a user name. */
static int parse_user(const char *s, struct yc_args *out, char *msg, size_t msglen)
{
	char esc[320];
	char *end;

	if (!*s)
		return fail(msg, msglen, "--user: empty value: expected a user name or uid");
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s >= '0' && *s <= '9' && *end == '\0') {
		if (errno || v >= (uid_t)-1)
			return fail(msg, msglen, "--user: uid %s is out of range",
				    yc_escape(s, esc, sizeof(esc)));
		out->user = (uid_t)v;
		out->have_user = true;
		return 0;
	}
	int r = yc_user_uid(s, &out->user);
	if (r == -ENOENT)
		return fail(msg, msglen, "--user: no user named '%s'",
			    yc_escape(s, esc, sizeof(esc)));
	if (r < 0)
		return fail(msg, msglen, "--user: cannot look up user '%s': %s",
			    yc_escape(s, esc, sizeof(esc)), strerror(-r));
	out->have_user = true;
	return 0;
}

/* --pid and --fd: a decimal number from @min up to INT_MAX. */
static int parse_number(const char *opt, const char *s, long min, int *out, char *msg,
			size_t msglen)
{
	char esc[64];
	long v = 0;

	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > INT_MAX / 10)
			return fail(msg, msglen, "%s: '%s' is not a number from %ld to %d", opt,
				    yc_escape(s, esc, sizeof(esc)), min, INT_MAX);
		v = v * 10 + (*p - '0');
	}
	if (!*s || v < min || v > INT_MAX)
		return fail(msg, msglen, "%s: '%s' is not a number from %ld to %d", opt,
			    yc_escape(s, esc, sizeof(esc)), min, INT_MAX);
	*out = (int)v;
	return 0;
}

/*
 * The durations of list, metrics and watch (--sample, --stall, --interval,
 * --for): "200ms", "30s", "5m", "2h", or a bare number of milliseconds,
 * from @min to @max milliseconds.
 */
static int parse_duration(const char *opt, const char *s, uint32_t min, uint32_t max,
			  uint32_t *out, char *msg, size_t msglen)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	char esc[64], lo[32], hi[32];
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9' && v <= max; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	for (size_t k = 0; p != s && k < sizeof(units) / sizeof(units[0]); k++) {
		if (strcmp(p, units[k].unit))
			continue;
		if (v > max / units[k].ms || v * units[k].ms < min)
			break;
		*out = (uint32_t)(v * units[k].ms);
		return 0;
	}
	snprintf(lo, sizeof(lo), min % 1000 ? "%ums" : "%us", min % 1000 ? min : min / 1000);
	snprintf(hi, sizeof(hi), max % 3600000 ? "%us" : "%uh",
		 max % 3600000 ? max / 1000 : max / 3600000);
	return fail(msg, msglen,
		    "%s: '%s' is not a duration from %s to %s (200ms, 30s, 5m, 2h; a bare number "
		    "is milliseconds)",
		    opt, yc_escape(s, esc, sizeof(esc)), lo, hi);
}

/*
 * --since TIME: 2026-11-30T13:05:00Z (or +01:00, or no zone for local
 * time, a space for the T, optional seconds), 2026-11-30 (local midnight),
 * @EPOCH-SECONDS, or a duration ago: 90s, 10m, 2h, 1d.
 */
static int parse_since(const char *s, int64_t *out, char *msg, size_t msglen)
{
	static const struct {
		char unit;
		int64_t s;
	} ago[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	struct tm tm = { .tm_isdst = -1 };
	char esc[64], *end;
	const char *p;

	errno = 0;
	long long v = strtoll(s + (*s == '@'), &end, 10);
	if (*s == '@' && !errno && end != s + 1 && !*end && v >= 0) {
		*out = (int64_t)v * 1000000000;
		return 0;
	}
	for (size_t k = 0; *s != '@' && !errno && end != s && v >= 0 && v < 100000 &&
			   k < sizeof(ago) / sizeof(ago[0]); k++) {
		if (end[0] != ago[k].unit || end[1])
			continue;
		*out = ((int64_t)time(NULL) - v * ago[k].s) * 1000000000;
		return 0;
	}
	p = strptime(s, "%Y-%m-%d", &tm);
	if (p && (*p == 'T' || *p == ' ') && p[1]) {
		const char *q = strptime(p + 1, "%H:%M:%S", &tm);
		p = q ? q : strptime(p + 1, "%H:%M", &tm);
	}
	if (p && *p == '\0') {
		time_t t = mktime(&tm);
		if (t != (time_t)-1) {
			*out = (int64_t)t * 1000000000;
			return 0;
		}
	} else if (p && (*p == 'Z' || *p == '+' || *p == '-')) {
		int hh = 0, mm = 0, n = 0;
		if (*p == 'Z' ? p[1] == '\0' :
			       sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) == 2 && p[1 + n] == '\0') {
			int64_t off = (int64_t)(hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
			*out = ((int64_t)timegm(&tm) - off) * 1000000000;
			return 0;
		}
	}
	return fail(msg, msglen,
		    "--since: '%s' is not a time: expected 2026-11-30T13:05:00Z, 2026-11-30 13:05, "
		    "@EPOCH or a duration ago such as 10m or 2h",
		    yc_escape(s, esc, sizeof(esc)));
}

enum { OPT_PID = 256, OPT_FD, OPT_MATCH, OPT_ALL_SOCKETS, OPT_SAMPLE, OPT_STALL, OPT_INTERVAL,
       OPT_FOR, OPT_YANK, OPT_YANK_ALL, OPT_WAITING, OPT_SINCE };

/*
 * getopt_long: bundled short options (-jq), attached values (-t500),
 * --opt=value, unambiguous abbreviations (--seg), and "--".  The leading
 * "-" returns the other arguments in order, as option 1, so that options
 * may come before or after the command; ":" reports a missing value.
 */
static const char short_opts[] = "-:s:u:t:jqhV";
static const struct option long_opts[] = {
	{ "segment", required_argument, NULL, 's' },
	{ "user", required_argument, NULL, 'u' },
	{ "timeout", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "match", required_argument, NULL, OPT_MATCH },
	{ "all-sockets", no_argument, NULL, OPT_ALL_SOCKETS },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "sample", required_argument, NULL, OPT_SAMPLE },
	{ "stall", required_argument, NULL, OPT_STALL },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "yank", required_argument, NULL, OPT_YANK },
	{ "yank-all", no_argument, NULL, OPT_YANK_ALL },
	{ "waiting", no_argument, NULL, OPT_WAITING },
	{ NULL, 0, NULL, 0 },
};

/* One option getopt_long returned, with its value in @val. */
static int take_option(int opt, const char *val, struct yc_args *out, char *msg, size_t msglen)
{
	int v, r = 0;

	switch (opt) {
	case 's':
		if (!*val)
			return fail(msg, msglen, "--segment: empty segment name");
		out->segment = val;
		return 0;
	case 'u':
		return parse_user(val, out, msg, msglen);
	case 't':
		return parse_timeout(val, &out->timeout_ms, msg, msglen);
	case 'j':
		out->json = true;
		return 0;
	case 'q':
		out->quiet = true;
		return 0;
	case 'h':
		out->help = true;
		return 0;
	case 'V':
		out->version = true;
		return 0;
	case OPT_PID:
		r = parse_number("--pid", val, 1, &v, msg, msglen);
		out->pid = (pid_t)v;
		out->have_pid = true;
		return r;
	case OPT_FD:
		r = parse_number("--fd", val, 0, &out->fd, msg, msglen);
		out->have_fd = true;
		return r;
	case OPT_MATCH:
		out->match = val;
		return *val ? 0 : fail(msg, msglen, "--match: empty pattern");
	case OPT_ALL_SOCKETS:
		out->all_sockets = true;
		return 0;
	case OPT_SINCE:
		out->have_since = true;
		return parse_since(val, &out->since_ns, msg, msglen);
	case OPT_SAMPLE:
		out->have_sample = true;
		return parse_duration("--sample", val, 0, 60000, &out->sample_ms, msg, msglen);
	case OPT_STALL:
		return parse_duration("--stall", val, 1, 24 * 3600000, &out->stall_ms, msg, msglen);
	case OPT_INTERVAL:
		return parse_duration("--interval", val, 10, 3600000, &out->interval_ms, msg,
				      msglen);
	case OPT_FOR:
		return parse_duration("--for", val, 1, 30 * 24 * 3600000u, &out->for_ms, msg,
				      msglen);
	case OPT_YANK_ALL:
		out->yank_all = true;
		return 0;
	case OPT_WAITING:
		out->waiting = true;
		return 0;
	}
	return fail(msg, msglen, "unknown option");
}

/* What getopt_long refused, as a message: the argument it stopped at. */
static int bad_option(int opt, int argc, char *const argv[], char *msg, size_t msglen)
{
	char esc[64];
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";

	yc_escape(arg, esc, sizeof(esc));
	if (opt == ':')
		return fail(msg, msglen, "option '%s' needs a value", esc);
	if (optopt && optopt < 256 && arg[0] == '-' && arg[1] != '-') {
		char o[2] = { (char)optopt, '\0' }, oe[16];

		return fail(msg, msglen, "unknown option '-%s'", yc_escape(o, oe, sizeof(oe)));
	}
	if (strchr(arg, '=') && optopt)
		return fail(msg, msglen, "option '%.*s' takes no value",
			    (int)(strchr(esc, '=') ? strchr(esc, '=') - esc : (long)strlen(esc)),
			    esc);
	return fail(msg, msglen, "unknown or ambiguous option '%s'", esc);
}

/*
 * adopt takes --pid with either --fd and one instance, or --all-sockets
 * (and --match) and none; those options mean nothing to other commands.
 */
static int check_adopt(const struct yc_args *a, size_t n_raw, char *msg, size_t msglen)
{
	const char *opt = a->have_pid ? "--pid" : a->have_fd ? "--fd" :
			  a->all_sockets ? "--all-sockets" : a->match ? "--match" : NULL;

	if (a->cmd != YC_CMD_ADOPT)
		return opt ? fail(msg, msglen, "option '%s' is for adopt only", opt) : 0;
	if (!a->have_pid)
		return fail(msg, msglen, "adopt: --pid PID is needed");
	if (a->have_fd == a->all_sockets)
		return fail(msg, msglen, "adopt: give either --fd FD or --all-sockets");
	if (a->match && !a->all_sockets)
		return fail(msg, msglen, "adopt: --match goes with --all-sockets");
	if (a->all_sockets && n_raw)
		return fail(msg, msglen, "adopt: --all-sockets names the instances itself: "
					 "give no INSTANCE");
	if (a->have_fd && n_raw != 1)
		return fail(msg, msglen, "adopt: --fd takes exactly one instance: expected "
					 "block-node:NAME or chardev:ID");
	return 0;
}

/*
 * --sample is for list and metrics; --stall, --interval, --for, --yank,
 * --yank-all and --waiting for watch, which takes instances only after
 * --yank (the ones it may yank).
 */
static int check_watch(const struct yc_args *a, char *msg, size_t msglen)
{
	const char *opt = a->stall_ms ? "--stall" : a->interval_ms ? "--interval" :
			  a->for_ms ? "--for" : a->yank_listed ? "--yank" :
			  a->yank_all ? "--yank-all" : a->waiting ? "--waiting" : NULL;

	if (a->have_sample && a->cmd != YC_CMD_LIST && a->cmd != YC_CMD_METRICS)
		return fail(msg, msglen, "option '--sample' is for list and metrics only");
	if (a->cmd != YC_CMD_WATCH)
		return opt ? fail(msg, msglen, "option '%s' is for watch only", opt) : 0;
	if (a->yank_listed && a->yank_all)
		return fail(msg, msglen, "watch: give either --yank INSTANCE... or --yank-all");
	if (a->waiting && !a->yank_listed && !a->yank_all)
		return fail(msg, msglen, "watch: --waiting goes with --yank or --yank-all");
	return 0;
}

int yc_parse_args(int argc, char *const argv[], struct yc_args *out, char *msg, size_t msglen)
{
	const char **raw = NULL;
	size_t n_raw = 0;
	char esc[64];
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (msglen)
		msg[0] = '\0';
	if (argc > 1) {
		raw = calloc((size_t)argc, sizeof(*raw));
		if (!raw)
			return -ENOMEM;
	}

	/* Fresh state for every call (the fuzz target parses many lines). */
	optind = 0;
	opterr = 0;
	bool rest = false; /* past "--": arguments only */
	while (r == 0) {
		const char *arg;

		if (rest) {
			if (optind >= argc)
				break;
			arg = argv[optind++];
		} else {
			int opt = getopt_long(argc, argv, short_opts, long_opts, NULL);

			if (opt == -1) {
				rest = true;
				continue;
			}
			if (opt == OPT_YANK) {
				/* Its value is the first instance; more may follow. */
				out->yank_listed = true;
				raw[n_raw++] = optarg;
				continue;
			}
			if (opt != 1) {
				r = opt == '?' || opt == ':'
					    ? bad_option(opt, argc, argv, msg, msglen)
					    : take_option(opt, optarg, out, msg, msglen);
				continue;
			}
			arg = optarg;
		}
		if (out->cmd == YC_CMD_NONE) {
			out->cmd = lookup_command(arg);
			if (out->cmd == YC_CMD_NONE)
				r = fail(msg, msglen, "unknown command '%s'",
					 yc_escape(arg, esc, sizeof(esc)));
		} else if (out->cmd == YC_CMD_YANK || out->cmd == YC_CMD_ADOPT ||
			   out->cmd == YC_CMD_UNADOPT ||
			   (out->cmd == YC_CMD_WATCH && out->yank_listed)) {
			raw[n_raw++] = arg;
		} else if (out->cmd == YC_CMD_WATCH) {
			r = fail(msg, msglen,
				 "watch: unexpected argument '%s': the instances to yank follow "
				 "--yank",
				 yc_escape(arg, esc, sizeof(esc)));
		} else if (out->cmd == YC_CMD_HELP && out->topic == YC_CMD_NONE) {
			out->topic = lookup_command(arg);
			if (out->topic == YC_CMD_NONE)
				r = fail(msg, msglen, "help: unknown command '%s'",
					 yc_escape(arg, esc, sizeof(esc)));
		} else {
			r = fail(msg, msglen, "%s: unexpected argument '%s'",
				 yc_command_name(out->cmd), yc_escape(arg, esc, sizeof(esc)));
		}
	}
	if (r == 0 && out->segment && out->have_user)
		r = fail(msg, msglen, "--segment and --user both choose a registry: give one");
	if (r < 0 || out->help || out->version)
		goto out;

	if (out->cmd == YC_CMD_NONE) {
		r = fail(msg, msglen, "no command given");
		goto out;
	}
	r = check_adopt(out, n_raw, msg, msglen);
	if (r == 0 && out->have_since && out->cmd != YC_CMD_LOG)
		r = fail(msg, msglen, "option '--since' is for log only");
	if (r == 0)
		r = check_watch(out, msg, msglen);
	if (r < 0 || (out->cmd != YC_CMD_YANK && out->cmd != YC_CMD_ADOPT &&
		      out->cmd != YC_CMD_UNADOPT && out->cmd != YC_CMD_WATCH) ||
	    ((out->cmd == YC_CMD_ADOPT || out->cmd == YC_CMD_WATCH) && !n_raw))
		goto out;
	if (!n_raw) {
		r = fail(msg, msglen, "%s: no instance given: expected " ACCEPTED_FORMS,
			 yc_command_name(out->cmd));
		goto out;
	}
	/* Every argument is checked before anything is looked up. */
	out->instances = calloc(n_raw, sizeof(*out->instances));
	out->ns = calloc(n_raw, sizeof(*out->ns));
	out->ns_buf = calloc(n_raw, sizeof(*out->ns_buf));
	if (!out->instances || !out->ns || !out->ns_buf) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < n_raw; k++) {
		r = yc_parse_instance_ns(raw[k], out->ns_buf[k], &out->instances[k], msg, msglen);
		if (r < 0)
			goto out;
		out->ns[k] = out->ns_buf[k][0] ? out->ns_buf[k] : NULL;
		/* Another system's instances belong to the proxy that mirrors them. */
		if (out->ns[k] && out->cmd != YC_CMD_YANK) {
			r = fail(msg, msglen, "%s: '%s' is mirrored from another system: only "
				 "yank acts on it", yc_command_name(out->cmd),
				 yc_escape(raw[k], esc, sizeof(esc)));
			goto out;
		}
	}
	out->n_instances = n_raw;
out:
	free(raw);
	return r;
}

void yc_args_free(struct yc_args *args)
{
	free(args->instances);
	free(args->ns);
	free(args->ns_buf);
	args->instances = NULL;
	args->ns = NULL;
	args->ns_buf = NULL;
	args->n_instances = 0;
}

enum yc_exit yc_exit_code(int err)
{
	switch (err) {
	case 0:
		return YC_EXIT_OK;
	case -EINVAL:
	case -ENAMETOOLONG:
		return YC_EXIT_USAGE;
	case -ENOENT:
		return YC_EXIT_NOT_FOUND;
	/* adopt: the command line names no process, fd or socket to adopt,
	 * or a name already taken. */
	case -ESRCH:
	case -EBADF:
	case -ENOTSOCK:
	case -EEXIST:
		return YC_EXIT_USAGE;
	case -EIO:
		return YC_EXIT_PARTIAL;
	default:
		/* -EACCES, -EPROTO, -ETIMEDOUT, -ENOMEM and anything unforeseen. */
		return YC_EXIT_UNAVAILABLE;
	}
}

const char *yc_failure_reason(enum yank_failure_kind kind)
{
	switch (kind) {
	case YANK_FAIL_STALE:
		return "stale fd: the number now names another file, left alone";
	case YANK_FAIL_OWNER_GONE:
		return "owner process is gone";
	case YANK_FAIL_NO_AGENT:
		return "owner's agent did not answer (process stopped?)";
	case YANK_FAIL_FALLBACK:
		return "pidfd fallback not permitted";
	case YANK_FAIL_CALLBACK:
		return "callback not run (owner stopped or gone)";
	case YANK_FAIL_SHUTDOWN:
		return "shutdown() failed";
	case YANK_FAIL_PROTOCOL:
		return "owner's agent answered something malformed";
	case YANK_FAIL_VANISHED:
		return "no longer exists in the system behind its proxy";
	case YANK_FAIL_PROXY:
		return "the system behind its proxy failed to yank it";
	}
	return "failed for an unknown reason";
}

const char *yc_failure_detail(int err)
{
	/* INT_MIN has no positive counterpart: not an errno anyway. */
	const char *d = err == INT_MIN ? NULL : strerrordesc_np(err < 0 ? -err : err);

	return d ? d : "unknown error";
}

bool yc_chatty(const struct yc_args *a)
{
	return !a->json && !a->quiet && isatty(STDOUT_FILENO);
}
