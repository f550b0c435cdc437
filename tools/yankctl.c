/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl: list and yank the instances that processes registered with
 * libyank, check the registry's health, and serve QMP.
 *
 * Commands that only look open the segment with yank_open_existing(), so
 * they never create one; a missing segment is an empty registry.  Every
 * wait is bounded by --timeout, passed to the library.  Errors are one
 * line each on stderr, "yankctl: <what>: <why>", and the exit status comes
 * from one mapping (yc_exit_code()).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yank.h>

#include "host.h"
#include "output.h"
#include "qmp.h"
#include "cmd.h"
#include "stalls.h"

/* Waits when --timeout is not given, in milliseconds. */
#define DEFAULT_LOCK_TIMEOUT_MS 2000
#define DEFAULT_AGENT_TIMEOUT_MS 1000

static const char usage_text[] =
	"Usage: yankctl [--segment NAME | --user USER] [--timeout TIME] [--json] COMMAND [ARGS]\n"
	"\n"
	"List and yank the connections that processes registered with libyank:\n"
	"a yank shuts a connection down so that a process hung on it recovers.\n"
	"\n"
	"Commands:\n"
	"  list               every instance: type, name, owner pid and command,\n"
	"                     fd and callback records, and whether its sockets\n"
	"                     are stalled\n"
	"  yank INSTANCE...   yank these instances; INSTANCE is block-node:NAME,\n"
	"                     chardev:ID or migration, or NAMESPACE/INSTANCE for one\n"
	"                     mirrored from another system (qemu:vm1/block-node:nbd0)\n"
	"  qmp                serve QMP (query-yank, yank, query-version,\n"
	"                     query-commands) on stdin and stdout\n"
	"  status             segment health: layout, capacity used, processes,\n"
	"                     lock state, integrity check\n"
	"  gc                 reap the records of dead processes now\n"
	"  adopt --pid PID --fd FD INSTANCE\n"
	"  adopt --pid PID --all-sockets [--match PATTERNS]\n"
	"                     register sockets of a process that does not use\n"
	"                     libyank (static, Go, raw syscalls)\n"
	"  unadopt INSTANCE...  remove adopted instances\n"
	"  log [--since TIME] the last yanks: when, who, what, and how it went\n"
	"  watch              report each change of a connection's verdict; with\n"
	"                     --yank, yank the named instances once they stall\n"
	"  metrics            the registry's figures for Prometheus\n"
	"  help [COMMAND]     this text, or the help of one command\n"
	"\n"
	"Options (before or after the command):\n"
	"  -s, --segment NAME  the registry's shared-memory segment\n"
	"                      (default: $YANK_SEGMENT, else /yank-UID; for\n"
	"                      root, every user's /yank-UID)\n"
	"  -u, --user USER     the default registry of USER (a name or a uid)\n"
	"  -t, --timeout TIME  bound every wait: 500ms, 2s, 1m, or milliseconds\n"
	"                      (default: 2000 for the registry lock, 1000 for\n"
	"                      each owner process's answer)\n"
	"  -j, --json          machine-readable output\n"
	"  -q, --quiet         on a terminal, no \"yanked INSTANCE\" lines\n"
	"  --pid PID, --fd FD, --all-sockets, --match PATTERNS   adopt's options\n"
	"  --sample TIME       list, metrics: time between the two looks at the\n"
	"                      sockets (default 200ms; 0: do not look)\n"
	"  --stall, --interval, --for, --yank, --yank-all, --waiting\n"
	"                      watch's options (see 'yankctl help watch')\n"
	"  -h, --help          show this help, or the command's\n"
	"  -V, --version       show the version\n"
	"\n"
	"Exit status: 0 success; 1 bad usage; 2 an instance was not found (nothing\n"
	"yanked); 3 partly failed; 4 registry unavailable, corrupt or not permitted.\n";

static const struct {
	enum yc_command cmd;
	const char *text;
} command_help[] = {
	{YC_CMD_LIST,
	 "Usage: yankctl [OPTIONS] list\n"
	 "\n"
	 "List every registered instance, oldest registration first: its type, its\n"
	 "name, the pid and command of the process that owns it, and how many fd\n"
	 "and callback records it carries.  An owner that died and was not reaped\n"
	 "yet shows as <dead>.  A segment that does not exist is an empty registry:\n"
	 "nothing is printed (\"[]\" with --json) and the exit status is 0; when its\n"
	 "name was given, \"no registry named NAME\" goes to stderr.\n"
	 "\n"
	 "With --json: an array of objects with the QMP members \"type\" and \"id\"\n"
	 "(chardev) or \"node-name\" (block-node), plus \"pid\", \"command\", \"alive\",\n"
	 "\"fds\" and \"callbacks\", and \"adopted\": true for an adopted instance.\n"
	 "The table gains an ADOPTED column when any instance is adopted.\n"
	 "\n"
	 "Instances mirrored from another system (yank-qmpd mirrors QEMU's) have a\n"
	 "namespace, such as qemu:vm1: the table gains a NAMESPACE column, the JSON\n"
	 "a \"namespace\" member and \"proxied\", the count of their proxied\n"
	 "functions.  When the proxy gets no answer from that system, the command\n"
	 "shows <unresponsive> (JSON \"unresponsive\": true).\n"
	 "\n"
	 "The sockets behind the fd records are looked at twice, --sample apart\n"
	 "(default 200ms), through sock_diag, and each instance gets a VERDICT:\n"
	 "\"stalled 45s\" (we have data to send and the peer takes none: its window\n"
	 "is shut or our retransmissions back off, and nothing was acknowledged),\n"
	 "\"waiting 30s\" (a thread of the owner is blocked reading the socket and\n"
	 "nothing arrives), \"ok\" (data moved), \"idle\", \"unknown\" (not seen, or\n"
	 "in another network namespace), \"-\" (no fd record).  The time is the\n"
	 "kernel's: since data was last sent or received.  With --json each\n"
	 "instance carries \"sockets\": [{\"fd\", \"family\", \"state\", \"local\",\n"
	 "\"peer\", \"notsent\", \"unacked\", \"snd_wnd\", \"bytes_acked\",\n"
	 "\"retransmits\", \"backoff\", \"last_data_recv_ms\", \"last_data_sent_ms\",\n"
	 "\"rqueue\", \"wqueue\", \"verdict\"}].  --sample 0 does not look at the\n"
	 "sockets: no VERDICT column, no \"sockets\".\n"},
	{YC_CMD_YANK, "Usage: yankctl [OPTIONS] yank INSTANCE...\n"
		      "\n"
		      "Yank the listed instances: every fd registered on them is shut down\n"
		      "(shutdown(SHUT_RDWR)) and every callback runs in its owner process.\n"
		      "INSTANCE is block-node:NAME, chardev:ID or migration, which name a\n"
		      "program's own (native) instances, or NAMESPACE/INSTANCE for one mirrored\n"
		      "from another system, such as qemu:vm1/block-node:nbd0.  Every argument is\n"
		      "checked first (exit 1 for a bad one), then all are looked up: if one is\n"
		      "missing, nothing is yanked and the status is 2.  When some function could\n"
		      "not be run (stale fd, owner stopped or gone), each is reported on stderr\n"
		      "and the status is 3; an instance its system no longer has (it went away\n"
		      "after the mirror saw it) is named: \"no longer exists in QEMU vm1\".\n"
		      "\n"
		      "With --json: {\"failures\": [...]} on stdout, one object per record that\n"
		      "could not be carried out.\n"},
	{YC_CMD_QMP, "Usage: yankctl [OPTIONS] qmp\n"
		     "\n"
		     "Speak QMP on stdin and stdout, as QEMU does: a greeting, then\n"
		     "qmp_capabilities (optionally enabling \"oob\"), query-yank and yank, with\n"
		     "execute or exec-oob, and query-version and query-commands.  Requests are\n"
		     "JSON values and need no newline; each gets exactly one reply line, as\n"
		     "soon as it is complete.  A value Jansson refuses gets one error and\n"
		     "nothing is skipped; an invalid token gets one error and the rest of its\n"
		     "line is dropped.  Ends at end of input.\n"
		     "Serve it on a socket with, for example:\n"
		     "  socat UNIX-LISTEN:/run/yank.qmp,fork EXEC:'yankctl qmp'\n"},
	{YC_CMD_STATUS, "Usage: yankctl [OPTIONS] status\n"
			"\n"
			"Report the segment's health: layout version, size, capacity used per\n"
			"table, processes live and dead, who holds the registry lock, torn slots\n"
			"and the result of an integrity check.  Exit status 4 when the check\n"
			"fails or the segment cannot be used (the report then says why); a\n"
			"segment that does not exist is reported as such with status 0.\n"},
	{YC_CMD_GC, "Usage: yankctl [OPTIONS] gc\n"
		    "\n"
		    "Remove the records of processes that are gone now, rather than when a\n"
		    "registration next needs the room, and print how many instances were\n"
		    "reaped.\n"},
	{YC_CMD_ADOPT,
	 "Usage: yankctl [OPTIONS] adopt --pid PID --fd FD INSTANCE\n"
	 "       yankctl [OPTIONS] adopt --pid PID --all-sockets [--match PATTERNS]\n"
	 "\n"
	 "Register socket FD of process PID, which does not use libyank, as\n"
	 "INSTANCE (block-node:NAME or chardev:ID), owned by that process.  A yank\n"
	 "takes the fd with pidfd_getfd(2), shuts it down if it is still the same\n"
	 "socket (a reused fd number is reported stale and left alone) and closes\n"
	 "its copy; nothing is kept in between.  The record goes when PID exits, or\n"
	 "with unadopt.  \"list\" marks it adopted.\n"
	 "\n"
	 "--all-sockets adopts every established TCP (IPv4, IPv6) and connected Unix\n"
	 "stream socket of PID as chardev:COMM[PID]#FD<DIR><PEER>, e.g.\n"
	 "chardev:curl[27796]#5>tcp:127.0.0.1:47001: DIR is '<' for a socket whose\n"
	 "local port is listened on (accepted), '>' otherwise; PEER is tcp:HOST:PORT,\n"
	 "tcp6:[HOST]:PORT, or unix:PATH, the path connected to.  --match keeps\n"
	 "only peers matching one of its comma-separated patterns, with * wildcards.\n"
	 "\n"
	 "Needs the ptrace permission pidfd_getfd needs (the process's user, no\n"
	 "more privileged, or CAP_SYS_PTRACE; see kernel.yama.ptrace_scope).  The\n"
	 "record goes into the registry named, else for root the default registry\n"
	 "of PID's user (which must exist, unless that user is root), else ours;\n"
	 "a registry may only hold processes a yank through it may act on.\n"
	 "Exit status: 1 no such process, fd or socket, or the name is taken; 2\n"
	 "--all-sockets found nothing; 3 some sockets could not be adopted; 4 not\n"
	 "permitted or registry unavailable.\n"},
	{YC_CMD_UNADOPT, "Usage: yankctl [OPTIONS] unadopt INSTANCE...\n"
			 "\n"
			 "Remove adopted instances and their records.  An instance a process\n"
			 "registered itself is refused (status 4): only it may unregister\n"
			 "it.  Status 2 when one is not found.\n"},
	{YC_CMD_LOG,
	 "Usage: yankctl [OPTIONS] log [--since TIME]\n"
	 "\n"
	 "Show the audit log: every yank carried out through the registry, by any\n"
	 "program, is kept (the last 256) with its wall-clock time, the yanker's\n"
	 "pid, uid and command line, the instances, and whether each was done.\n"
	 "Yanks refused because a name was missing did nothing and are only\n"
	 "counted (see status).  --since keeps entries from TIME on: an ISO 8601\n"
	 "time (2026-11-30T13:05:00Z, or local: 2026-11-30 13:05), @EPOCH-SECONDS,\n"
	 "or a duration ago (90s, 10m, 2h, 1d).  An entry its writer left half\n"
	 "written is reported on stderr and left out.  Root with no registry\n"
	 "named sees every user's log, merged by time.\n"
	 "\n"
	 "With --json: an array of {\"time\", \"yanker\": {\"pid\", \"uid\",\n"
	 "\"command\"}, \"instances\", \"result\" (\"ok\" or \"failed\"),\n"
	 "\"failures\": [{\"instance\", \"reason\", \"records\"}]}, oldest first.\n"
	 "Each yank is also sent to syslog as one line of key=value fields.\n"},
	{YC_CMD_WATCH,
	 "Usage: yankctl [OPTIONS] watch [--stall TIME] [--interval TIME] [--for TIME]\n"
	 "                              [--yank INSTANCE... | --yank-all] [--waiting]\n"
	 "\n"
	 "Look at the sockets of every instance every --interval (default 1s) and\n"
	 "print a line whenever an instance's verdict changes (see \"help list\"),\n"
	 "with the socket figures that decided it; \"gone\" when it goes away.\n"
	 "With --json, one object per line: {\"time\", \"instance\", \"verdict\",\n"
	 "\"previous\", \"evidence\", \"action\"}.\n"
	 "\n"
	 "Without --yank or --yank-all nothing is ever yanked.  With --yank, the\n"
	 "instances named are yanked once they have been stalled for --stall\n"
	 "(default 30s) of watching, once per stall, as \"yankctl yank\" would;\n"
	 "--yank-all does so for any instance, and --waiting also for waiting\n"
	 "ones.  The line then says \"action\": \"yanked\".\n"
	 "\n"
	 "Runs until SIGINT or SIGTERM, or for --for TIME, then exits 0.  Exit\n"
	 "status 3 when a yank it made partly failed, 4 when the registry cannot\n"
	 "be read.\n"},
	{YC_CMD_METRICS,
	 "Usage: yankctl [OPTIONS] metrics [--sample TIME]\n"
	 "\n"
	 "Print the registry's figures in the Prometheus text format, for\n"
	 "node_exporter's textfile collector: yank_instances, yank_records,\n"
	 "yank_processes{state}, yank_capacity{table}, yank_yanks_total{result}\n"
	 "and, per instance, yank_instance_stalled{type,name} (1 when \"list\"\n"
	 "would say stalled), each with a user label.  As root with no registry\n"
	 "named, every user's registry.\n"},
	{YC_CMD_HELP, "Usage: yankctl help [COMMAND]\n"
		      "\n"
		      "Show the general help, or the help of COMMAND.\n"},
};

static int show_help(enum yc_command cmd)
{
	for (size_t i = 0; i < sizeof(command_help) / sizeof(command_help[0]); i++) {
		if (command_help[i].cmd == cmd) {
			fputs(command_help[i].text, stdout);
			return YC_EXIT_OK;
		}
	}
	fputs(usage_text, stdout);
	return YC_EXIT_OK;
}

/* The segment name for messages, before the library has resolved it. */
static const char *segment_label(const struct yc_args *a, char *buf, size_t size)
{
	const char *env = getenv("YANK_SEGMENT");

	if (a->segment)
		return a->segment;
	if (a->have_user) {
		snprintf(buf, size, "/yank-%u", (unsigned int)a->user);
		return buf;
	}
	if (env && *env)
		return env;
	snprintf(buf, size, "/yank-%u", (unsigned int)geteuid());
	return buf;
}

/* The name came from the environment: a user who did not type it must be told. */
static bool name_from_env(const struct yc_args *a)
{
	const char *env = getenv("YANK_SEGMENT");

	return !a->segment && !a->have_user && env && *env;
}

/*
 * What an error message is about: "segment NAME", or "$YANK_SEGMENT=NAME"
 * when the environment chose it.  NAME escaped, into @buf.
 */
static const char *what_segment(const struct yc_args *a, char *buf, size_t size)
{
	char name[64], esc[320];

	yc_escape(segment_label(a, name, sizeof(name)), esc, sizeof(esc));
	snprintf(buf, size, "%s%s", name_from_env(a) ? "$YANK_SEGMENT=" : "segment ", esc);
	return buf;
}

void yc_open_opts(const struct yc_args *a, struct yank_open_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->lock_timeout_ms = a->timeout_ms ? a->timeout_ms : DEFAULT_LOCK_TIMEOUT_MS;
	o->agent_timeout_ms = a->timeout_ms ? a->timeout_ms : DEFAULT_AGENT_TIMEOUT_MS;
}

/* The library's reason and, when it has one, its detail, escaped. */
static const char *open_error(int err, char *buf, size_t size)
{
	char esc[1100];
	const char *detail = yank_error_detail();

	if (*detail)
		snprintf(buf, size, "%s: %s", yank_strerror(err),
			 yc_escape(detail, esc, sizeof(esc)));
	else
		snprintf(buf, size, "%s", yank_strerror(err));
	return buf;
}

/* The one line on a registry that could not be opened. */
void yc_open_error_line(const struct yc_args *a, int r)
{
	char what[400], why[1200];

	what_segment(a, what, sizeof(what));
	if (r == -EINVAL || r == -ENAMETOOLONG)
		fprintf(stderr,
			"yankctl: %s: not a segment name: expected '/' and up to 255 "
			"more bytes with no other '/'\n",
			what);
	else
		fprintf(stderr, "yankctl: %s: %s\n", what, open_error(r, why, sizeof(why)));
}

/*
 * Open the registry if it exists: 0 with *reg set, -ENOENT quietly, or
 * another error after saying so.
 */
static int open_registry(const struct yc_args *a, yank_registry **reg)
{
	struct yank_open_opts o;
	int r;

	yc_open_opts(a, &o);
	if (a->have_user)
		r = yank_open_user(a->user, &o, reg);
	else
		r = yank_open_existing(a->segment, &o, reg);
	if (r == -ENOENT || r == 0)
		return r;
	yc_open_error_line(a, r);
	return r;
}

/*
 * A registry that does not exist is empty, but a name someone typed (or
 * set in the environment) that matches nothing is more likely a typo than
 * an empty registry: say so on stderr, and leave stdout and status alone.
 */
void yc_note_missing(const struct yc_args *a)
{
	char name[64], esc[320];

	if (!a->segment && !a->have_user && !name_from_env(a))
		return;
	yc_escape(segment_label(a, name, sizeof(name)), esc, sizeof(esc));
	if (name_from_env(a))
		fprintf(stderr, "yankctl: $YANK_SEGMENT=%s: no registry named %s\n", esc, esc);
	else
		fprintf(stderr, "yankctl: no registry named %s\n", esc);
}

void yc_report(yank_registry *reg, const char *what, int err)
{
	char esc[320];

	fprintf(stderr, "yankctl: segment %s: %s: %s\n",
		yc_escape(yank_segment_name(reg), esc, sizeof(esc)), what, yank_strerror(err));
}

int yc_open_to_read(const struct yc_args *a, yank_registry **reg)
{
	int r = open_registry(a, reg);

	*reg = r < 0 ? NULL : *reg;
	if (r == -ENOENT)
		yc_note_missing(a);
	return r < 0 && r != -ENOENT ? (int)yc_exit_code(r) : 0;
}

static int cmd_list(const struct yc_args *a)
{
	struct yank_instance_info *info = NULL;
	yank_registry *reg = NULL;
	size_t n = 0;
	int r;

	r = yc_open_to_read(a, &reg);
	if (r)
		return r;
	if (reg) {
		r = yank_query(reg, &info, &n);
		if (r < 0) {
			yc_report(reg, "query", r);
			yank_close(reg);
			return yc_exit_code(r);
		}
	}
	struct yc_stall_src src = { reg, info, n, 0 };
	r = yc_list_print(a, stdout, &src, 1, info, NULL, n);
	if (!n && yc_chatty(a))
		printf("nothing is registered\n");
	if (r < 0)
		fprintf(stderr, "yankctl: list: %s\n", strerror(-r));
	yank_query_free(info, n);
	yank_close(reg);
	return r < 0 ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
}

/* One JSON value as one line on stdout; consumes @obj. */
void yc_print_json_line(json_t *obj)
{
	if (obj)
		yc_json_line(stdout, obj);
}

static bool same_instance(const char *ns, const struct yank_instance *want,
			  const struct yank_instance_info *have)
{
	struct yank_instance h = { have->type, have->name };

	return yc_same_instance(ns, want, have->ns, &h);
}

/* {"type", "id"/"node-name"} as QMP spells it, with "namespace" when it has one. */
static json_t *missing_json(const char *ns, const struct yank_instance *in)
{
	json_t *o = yc_qmp_instance_json(in->type, in->name);

	if (o && ns)
		json_object_set_new(o, "namespace", json_string(ns));
	return o;
}

/*
 * yank_yank() does not say which instance was missing: find out with a
 * query (or report all when there is no registry), once per name.
 */
static void report_missing(yank_registry *reg, const char *const *ns,
			   const struct yank_instance *list, size_t n, bool json)
{
	struct yank_instance_info *info = NULL;
	json_t *missing = json ? json_array() : NULL;
	char inst[1100];
	size_t n_info = 0, shown = 0;

	if (reg && yank_query(reg, &info, &n_info) < 0)
		n_info = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false, present = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = yc_same_instance(ns[k], &list[k], ns[i], &list[i]);
		for (size_t k = 0; k < n_info && !present; k++)
			present = same_instance(ns[i], &list[i], &info[k]);
		if (seen || present)
			continue;
		fprintf(stderr, "yankctl: %s: Instance not found\n",
			yc_format_instance_ns(ns[i], list[i].type, list[i].name, inst,
					      sizeof(inst)));
		if (missing)
			json_array_append_new(missing, missing_json(ns[i], &list[i]));
		shown++;
	}
	/* Everything is there now: one went away and came back meanwhile. */
	if (!shown)
		fprintf(stderr, "yankctl: yank: Instance not found\n");
	if (missing) {
		yc_print_json_line(json_pack("{s:o}", "missing", missing));
	}
	yank_query_free(info, n_info);
}

/*
 * No registry at all: no instance is there, but "Instance not found" would
 * send the user looking for the instance when the registry name is wrong.
 */
static void report_no_registry(const struct yc_args *a)
{
	char name[64], esc[320];

	yc_escape(segment_label(a, name, sizeof(name)), esc, sizeof(esc));
	if (name_from_env(a))
		fprintf(stderr, "yankctl: $YANK_SEGMENT=%s: no registry named %s: nothing yanked\n",
			esc, esc);
	else
		fprintf(stderr, "yankctl: no registry named %s: nothing yanked\n", esc);
	if (a->json) {
		json_t *missing = json_array();

		for (size_t i = 0; missing && i < a->n_instances; i++)
			json_array_append_new(missing, missing_json(a->ns[i], &a->instances[i]));
		yc_print_json_line(json_pack("{s:o}", "missing", missing));
	}
}

/* The registry a command acts on must exist: 0 with *reg, or the exit status. */
int yc_open_to_act(const struct yc_args *a, yank_registry **reg)
{
	int r = open_registry(a, reg);

	if (r == -ENOENT) {
		report_no_registry(a);
		return YC_EXIT_NOT_FOUND;
	}
	return r < 0 ? (int)yc_exit_code(r) : 0;
}

static int cmd_yank(const struct yc_args *a)
{
	struct yank_failure *failures = NULL;
	yank_registry *reg = NULL;
	size_t n_failures = 0;
	int r;

	r = yc_open_to_act(a, &reg);
	if (r)
		return r;

	r = yank_yank_ns(reg, a->ns, a->instances, a->n_instances, &failures, &n_failures);
	if (r == -ENOENT) {
		report_missing(reg, a->ns, a->instances, a->n_instances, a->json);
	} else if (r == 0 || r == -EIO) {
		yc_print_failures(stderr, failures, n_failures);
		if (r == -EIO && !n_failures)
			fprintf(stderr, "yankctl: yank: some functions could not be run\n");
		if (a->json)
			yc_print_failures_json(stdout, failures, n_failures);
		else if (yc_chatty(a))
			yc_print_yanked(stdout, a->ns, a->instances, a->n_instances, failures,
					n_failures);
	} else {
		yc_report(reg, "yank", r);
	}
	yank_failures_free(failures, n_failures);
	yank_close(reg);
	return yc_exit_code(r);
}

static int cmd_status(const struct yc_args *a)
{
	yank_registry *reg = NULL;
	struct yank_status st;
	char buf[64], esc[320];
	int r;

	r = open_registry(a, &reg);
	if (r == -ENOENT) {
		const char *seg = segment_label(a, buf, sizeof(buf));

		if (a->json) {
			yc_print_json_line(
				json_pack("{s:o, s:b}", "segment", yc_json_name(seg), "exists", 0));
		} else {
			printf("segment:         %s\n", yc_escape(seg, esc, sizeof(esc)));
			printf("state:           no registry yet: nothing is registered\n");
		}
		return YC_EXIT_OK;
	}
	if (r == -EINVAL || r == -ENAMETOOLONG)
		return yc_exit_code(r);
	/* The operator asked for a report: a segment we cannot use gets one too. */
	if (r < 0) {
		const char *seg = segment_label(a, buf, sizeof(buf));

		if (a->json)
			yc_print_unusable_json(stdout, seg, r, yank_error_detail());
		else
			yc_print_unusable(stdout, seg, r, yank_error_detail());
		return yc_exit_code(r);
	}

	memset(&st, 0, sizeof(st));
	r = yank_status(reg, &st);
	if (r < 0) {
		yc_report(reg, "status", r);
		yank_close(reg);
		return yc_exit_code(r);
	}
	struct yank_instance_info *info = NULL;
	size_t n = 0;

	/* Only for what the proxies marked: a registry that cannot be
	 * queried is reported by the integrity check above. */
	if (yank_query(reg, &info, &n) < 0)
		n = 0;
	if (a->json)
		yc_print_status_json(stdout, yank_segment_name(reg), &st, info, n);
	else
		yc_print_status(stdout, yank_segment_name(reg), &st, info, n);
	yank_query_free(info, n);
	if (st.integrity) {
		char detail[sizeof(st.integrity_detail) + 1];

		memcpy(detail, st.integrity_detail, sizeof(st.integrity_detail));
		detail[sizeof(st.integrity_detail)] = '\0';
		yc_report(reg, "integrity check failed", st.integrity);
		if (detail[0])
			fprintf(stderr, "yankctl: segment %s: %s\n",
				yc_escape(yank_segment_name(reg), buf, sizeof(buf)),
				yc_escape(detail, esc, sizeof(esc)));
	}
	yank_close(reg);
	return st.integrity ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
}

static int cmd_gc(const struct yc_args *a)
{
	yank_registry *reg = NULL;
	size_t reaped = 0;
	int r;

	r = open_registry(a, &reg);
	if (r < 0 && r != -ENOENT)
		return yc_exit_code(r);
	if (r == -ENOENT)
		yc_note_missing(a);
	if (reg) {
		r = yank_gc(reg, &reaped);
		if (r < 0) {
			yc_report(reg, "gc", r);
			yank_close(reg);
			return yc_exit_code(r);
		}
		yank_close(reg);
	}
	if (a->json)
		printf("{\"reaped\": %zu}\n", reaped);
	else
		printf("reaped %zu instance%s\n", reaped, reaped == 1 ? "" : "s");
	return YC_EXIT_OK;
}

/*
 * The QMP backend.  The registry is opened afresh for every command: the
 * segment may appear after the server started, or be re-created.
 */
struct qmp_ctx {
	const char *segment;
	bool have_user;
	uid_t user;
	struct yank_open_opts opts;
	yank_registry *reg;
};

static int qmp_open(struct qmp_ctx *c)
{
	if (c->reg)
		return 0;
	if (c->have_user)
		return yank_open_user(c->user, &c->opts, &c->reg);
	return yank_open_existing(c->segment, &c->opts, &c->reg);
}

static void qmp_release(struct qmp_ctx *c)
{
	yank_close(c->reg);
	c->reg = NULL;
}

static int qmp_query(void *ctx, struct yank_instance_info **out, size_t *n)
{
	struct qmp_ctx *c = ctx;
	int r = qmp_open(c);

	*out = NULL;
	*n = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = yank_query(c->reg, out, n);
	if (r < 0)
		qmp_release(c);
	return r;
}

static void qmp_query_done(void *ctx, struct yank_instance_info *info, size_t n)
{
	yank_query_free(info, n);
	qmp_release(ctx);
}

static int qmp_yank(void *ctx, const struct yank_instance *list, size_t n,
		    struct yank_failure **failures, size_t *n_failures)
{
	struct qmp_ctx *c = ctx;
	int r = qmp_open(c);

	*failures = NULL;
	*n_failures = 0;
	/* No registry: nothing exists, and an empty list still succeeds. */
	if (r == -ENOENT)
		return n ? -ENOENT : 0;
	if (r < 0)
		return r;
	r = yank_yank_detailed(c->reg, list, n, failures, n_failures);
	if (r < 0 && r != -EIO)
		qmp_release(c);
	return r;
}

static void qmp_yank_done(void *ctx, struct yank_failure *failures, size_t n)
{
	yank_failures_free(failures, n);
	qmp_release(ctx);
}

/* Where replies go; @err remembers a failed write, so it is not blamed on the registry. */
struct qmp_out {
	int fd;
	int err;
};

/* One reply line, in as few write(2) calls as the pipe allows. */
static int qmp_write(void *opaque, const char *line, size_t len)
{
	struct qmp_out *out = opaque;

	while (len) {
		ssize_t n = write(out->fd, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			out->err = -errno;
			return out->err;
		}
		line += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cmd_qmp(const struct yc_args *a)
{
	char buf[64], esc[320];
	struct qmp_ctx ctx = {.segment = a->segment, .have_user = a->have_user, .user = a->user};
	struct yc_qmp_backend be = {
		.ctx = &ctx,
		.segment = yc_escape(segment_label(a, buf, sizeof(buf)), esc, sizeof(esc)),
		.query = qmp_query,
		.query_done = qmp_query_done,
		.yank = qmp_yank,
		.yank_done = qmp_yank_done,
	};
	struct qmp_out out = {.fd = STDOUT_FILENO};
	struct yc_host_qmp *host = NULL;
	struct yc_qmp *q;
	int r;

	yc_open_opts(a, &ctx.opts);
	if (yc_host_scope(a) && !(host = yc_host_qmp_new(&ctx.opts, &be))) {
		fprintf(stderr, "yankctl: qmp: %s\n", strerror(ENOMEM));
		return YC_EXIT_UNAVAILABLE;
	}
	q = yc_qmp_new(&be, qmp_write, &out);
	if (!q) {
		yc_host_qmp_free(host);
		fprintf(stderr, "yankctl: qmp: %s\n", strerror(ENOMEM));
		return YC_EXIT_UNAVAILABLE;
	}
	r = yc_qmp_serve(q, STDIN_FILENO);
	yc_qmp_free(q);
	qmp_release(&ctx);
	yc_host_qmp_free(host);
	/* The client hung up: that is how a session ends, too. */
	if (r == -EPIPE || r == -ECONNRESET)
		r = 0;
	if (r < 0 && out.err == r) {
		fprintf(stderr, "yankctl: writing output: %s\n", strerror(-r));
		return YC_EXIT_USAGE;
	}
	if (r < 0)
		fprintf(stderr, "yankctl: qmp: %s\n", strerror(-r));
	return r < 0 ? YC_EXIT_UNAVAILABLE : YC_EXIT_OK;
}

/* Root with no registry named: every user's; otherwise the one named. */
static int run(const struct yc_args *a)
{
	struct yank_open_opts o;
	bool host = yc_host_scope(a);

	yc_open_opts(a, &o);
	switch (a->cmd) {
	case YC_CMD_LIST:
		return host ? yc_host_list(a, &o) : cmd_list(a);
	case YC_CMD_YANK:
		return host ? yc_host_yank(a, &o) : cmd_yank(a);
	case YC_CMD_QMP:
		return cmd_qmp(a);
	case YC_CMD_STATUS:
		return host ? yc_host_status(a, &o) : cmd_status(a);
	case YC_CMD_GC:
		return host ? yc_host_gc(a, &o) : cmd_gc(a);
	case YC_CMD_ADOPT:
		return yc_cmd_adopt(a);
	case YC_CMD_UNADOPT:
		return yc_cmd_unadopt(a);
	case YC_CMD_LOG:
		return yc_cmd_log(a);
	case YC_CMD_WATCH:
		return yc_cmd_watch(a);
	case YC_CMD_METRICS:
		return yc_cmd_metrics(a);
	default:
		return show_help(YC_CMD_NONE);
	}
}

/*
 * SIGBUS: whoever may write a segment can truncate it under our mapping,
 * and the next read of a vanished page faults.  The library may not catch
 * that in its host; yankctl, the tool an operator reaches for when things
 * are broken, must not die of it.  The message is formatted before any
 * segment is mapped, so the handler only calls write(2) and _exit(2).
 */
static char sigbus_msg[400];
static size_t sigbus_len;

static void on_sigbus(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, sigbus_msg, sigbus_len) < 0) {
		/* Nothing left to tell anyone with. */
	}
	_exit(YC_EXIT_UNAVAILABLE);
}

static void catch_sigbus(const struct yc_args *a)
{
	struct sigaction sa;
	char what[400];
	int n;

	if (yc_host_scope(a))
		snprintf(what, sizeof(what), "a user's registry");
	else
		what_segment(a, what, sizeof(what));
	n = snprintf(sigbus_msg, sizeof(sigbus_msg),
		     "yankctl: %s: segment truncated by another process\n", what);
	sigbus_len = n < 0 ? 0 : (size_t)n < sizeof(sigbus_msg) ? (size_t)n : sizeof(sigbus_msg) - 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * Output that could not be written is an error of its own (exit 1), not a
 * registry problem, unless nobody reads it: stdio keeps what it failed to
 * write, so this flush fails again with the same errno.
 */
static int finish_output(int code)
{
	int r = fflush(stdout), err = r ? errno : ferror(stdout) ? EIO : 0;

	if (fclose(stdout) != 0 && !err)
		err = errno;
	if (!err || err == EPIPE)
		return code;
	fprintf(stderr, "yankctl: writing output: %s\n", strerror(err));
	return code == YC_EXIT_OK ? YC_EXIT_USAGE : code;
}

int main(int argc, char **argv)
{
	struct yc_args a;
	char msg[YC_MSG_MAX];
	int code, r;

	/* A reader that went away must not kill us halfway through a yank. */
	signal(SIGPIPE, SIG_IGN);

	r = yc_parse_args(argc, argv, &a, msg, sizeof(msg));
	if (r == 0)
		catch_sigbus(&a);
	if (r == -ENOMEM) {
		fprintf(stderr, "yankctl: %s\n", strerror(ENOMEM));
		code = YC_EXIT_UNAVAILABLE;
	} else if (r < 0) {
		fprintf(stderr, "yankctl: %s\nTry 'yankctl --help' for more information.\n", msg);
		code = YC_EXIT_USAGE;
	} else if (a.help || a.cmd == YC_CMD_HELP) {
		code = show_help(a.cmd == YC_CMD_HELP ? a.topic : a.cmd);
	} else if (a.version) {
		printf("yankctl %s\n", yank_version());
		code = YC_EXIT_OK;
	} else {
		code = run(&a);
	}
	yc_args_free(&a);
	return finish_output(code);
}
