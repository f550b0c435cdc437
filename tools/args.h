/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yankctl's command line: options, commands, instance arguments, and the
 * one mapping from a negative errno to an exit status.
 *
 * Nothing here opens the registry or prints: the parsers fill a struct or
 * an error message, so a fuzzer can feed them arbitrary argument vectors.
 */
#ifndef YANKCTL_ARGS_H
#define YANKCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yank.h>

/* SPEC §6: the exit statuses, and nothing else. */
enum yc_exit {
	YC_EXIT_OK = 0,
	YC_EXIT_USAGE = 1,       /* bad command line or instance name */
	YC_EXIT_NOT_FOUND = 2,   /* an instance was not found, nothing yanked */
	YC_EXIT_PARTIAL = 3,     /* some functions could not be run */
	YC_EXIT_UNAVAILABLE = 4, /* registry unavailable, corrupt or not permitted */
};

enum yc_command {
	YC_CMD_NONE = 0,
	YC_CMD_LIST,
	YC_CMD_YANK,
	YC_CMD_QMP,
	YC_CMD_STATUS,
	YC_CMD_GC,
	YC_CMD_HELP,
	YC_CMD_ADOPT,
	YC_CMD_UNADOPT,
	YC_CMD_LOG,
	YC_CMD_WATCH,
	YC_CMD_METRICS,
};

/* Bounds of --timeout, in milliseconds. */
#define YC_TIMEOUT_MIN_MS 1
#define YC_TIMEOUT_MAX_MS 600000

/* Room for any message the parsers produce. */
#define YC_MSG_MAX 1024

struct yc_args {
	const char *segment; /* --segment, or NULL for the library's default */
	bool have_user;      /* --user: that user's default registry */
	uid_t user;
	uint32_t timeout_ms; /* --timeout, or 0 when not given */
	bool json;           /* --json */
	bool quiet;          /* --quiet: nothing on stdout for a yank that worked */
	bool help;           /* --help anywhere: show help for @cmd */
	bool version;        /* --version */
	enum yc_command cmd;
	enum yc_command topic; /* "help COMMAND" */
	/* adopt: --pid, and --fd or --all-sockets [--match PATTERNS]. */
	bool have_pid, have_fd, all_sockets;
	pid_t pid;
	int fd;
	const char *match;
	/* log: --since, wall-clock nanoseconds since the epoch. */
	bool have_since;
	int64_t since_ns;
	/* list, metrics: --sample, the time between the two samples of the sockets. */
	bool have_sample;
	uint32_t sample_ms;
	/* watch: --stall, --interval, --for (0 when not given), --yank (the
	 * instances go to @instances), --yank-all, --waiting. */
	uint32_t stall_ms, interval_ms, for_ms;
	bool yank_listed, yank_all, waiting;
	/* yank, adopt, unadopt, watch --yank: the parsed instances; names point
	 * into argv.  ns[i] is the owner namespace of instances[i]
	 * ("qemu:vm1"), or NULL for a native instance; it points into ns_buf. */
	struct yank_instance *instances;
	const char **ns;
	char (*ns_buf)[YANK_NS_MAX + 1];
	size_t n_instances;
};

/*
 * Parse @argv into @out.  Returns 0, or -EINVAL with a one-line message in
 * @msg ("what: why", no program name) for a usage error, or -ENOMEM.
 * Instance arguments are checked only when no --help was given.  Free
 * @out with yc_args_free() whatever the result.
 */
int yc_parse_args(int argc, char *const argv[], struct yc_args *out, char *msg, size_t msglen);
void yc_args_free(struct yc_args *args);

/*
 * Parse one instance argument: "block-node:NAME", "chardev:ID" or
 * "migration".  @out->name points into @arg.  Returns 0, or -EINVAL or
 * -ENAMETOOLONG with a message in @msg naming the argument and the reason.
 */
int yc_parse_instance(const char *arg, struct yank_instance *out, char *msg, size_t msglen);

/*
 * As yc_parse_instance(), also for an instance of another namespace,
 * "NAMESPACE/INSTANCE" (qemu:vm1/block-node:nbd0): split at the first
 * '/', NAMESPACE copied into @ns ("" for a native instance).
 */
int yc_parse_instance_ns(const char *arg, char ns[YANK_NS_MAX + 1], struct yank_instance *out,
			 char *msg, size_t msglen);

/* Do two (namespace, instance) pairs name the same instance?  NULL and "" are native. */
bool yc_same_instance(const char *ns_a, const struct yank_instance *a, const char *ns_b,
		      const struct yank_instance *b);

/*
 * Why the library rejects @name (it already did: @err is its answer), in
 * words: "empty name", "not valid UTF-8", ...
 */
const char *yc_name_problem(const char *name, int err);

/*
 * Words for a person, not a script: a line per instance yanked, "nothing
 * is registered" for an empty list.  Only on a terminal, and not with
 * --json or --quiet, so that scripts see what they always saw.
 */
bool yc_chatty(const struct yc_args *a);

/* The one mapping from a negative errno (or 0) to an exit status. */
enum yc_exit yc_exit_code(int err);

const char *yc_command_name(enum yc_command cmd);

/* Length of the valid UTF-8 sequence at @s (@len bytes readable), or 0. */
size_t yc_utf8_seq(const unsigned char *s, size_t len);

/*
 * Copy @s into @buf for a message or a table cell: control bytes and
 * invalid UTF-8 become \xNN escapes, and a long string is cut with "...".
 * Always NUL-terminates; returns @buf.
 */
char *yc_escape(const char *s, char *buf, size_t size);

/* "chardev:c0", "block-node:disk0", "migration", escaped as above. */
char *yc_format_instance(enum yank_type type, const char *name, char *buf, size_t size);
/* "qemu:vm1/chardev:c0" for namespace @ns, as above for NULL or "". */
char *yc_format_instance_ns(const char *ns, enum yank_type type, const char *name, char *buf,
			    size_t size);

/* A short reason for a failure record, e.g. "stale fd, left alone". */
const char *yc_failure_reason(enum yank_failure_kind kind);

/*
 * The errno detail of a failure record.  Plain strerror wording: the
 * library's messages speak of the registry (its -ETIMEDOUT is about the
 * lock), while a record's -ETIMEDOUT is an owner that did not answer.
 */
const char *yc_failure_detail(int err);

#endif
