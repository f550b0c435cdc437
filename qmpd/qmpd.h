/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yank-qmpd: mirror the yank instances of running QEMUs into a libyank
 * registry, and carry out yanks of them over each QEMU's monitor.
 *
 *   main.c     options, signals, the discovery loop, logging
 *   records.c  discovery records: parsing, the directory, inotify
 *   monitor.c  a QMP client: connect, greeting, requests paired by id
 *   mirror.c   one worker per QEMU: attach, poll, mirror
 *   proxy.c    the proxied yank, over a worker's monitor connection
 *   vm.h       what mirror.c and proxy.c share (internal to them)
 *
 * Threads: the main thread watches the directory and the signals; each
 * QEMU has a worker thread (attach, sync, registry updates) and, while
 * connected, a reader thread (the only reader of its socket); libyank's
 * agent thread runs the proxied yanks.  No thread ever waits without a
 * deadline, and nothing one QEMU does can stall another's threads.
 */
#ifndef QMPD_H
#define QMPD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>
#include <yank.h>

#define QMPD_PROG "yank-qmpd"
#define QMPD_DEFAULT_DIR "/run/yank/qmp.d"
/* Longest record name: [A-Za-z0-9._-]{1,64}. */
#define QMPD_NAME_MAX 64
/* Longest monitor socket path (sun_path less its NUL). */
#define QMPD_SOCKET_MAX 107

/* ---- main.c ---- */

/* One line on stderr, "yank-qmpd: ...", written with one write(2). */
void qmpd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* CLOCK_MONOTONIC in milliseconds. */
int64_t qmpd_now_ms(void);
/* A timespec for pthread_cond_timedwait() on a CLOCK_MONOTONIC condvar. */
void qmpd_deadline_ts(int64_t deadline_ms, struct timespec *ts);
/* Initialise @cond to wait on CLOCK_MONOTONIC. */
void qmpd_cond_init(pthread_cond_t *cond);

/* ---- records.c ---- */

/* A discovery record: DIR/<name>.json. */
struct qmpd_record {
	char name[QMPD_NAME_MAX + 1];
	char socket[QMPD_SOCKET_MAX + 1];
	pid_t pid;    /* 0 when the record gives none */
	char **hide;  /* chardev ids never to mirror */
	size_t n_hide;
};

/* 1 when a directory entry named @file is a record file (*.json, no dotfile). */
int qmpd_record_file(const char *file);
/*
 * Parse record file @file's contents.  0, or -EINVAL with the reason in
 * @why (one sentence, no trailing period), or -ENOMEM.
 */
int qmpd_record_parse(const char *file, const char *text, size_t len, struct qmpd_record *out,
		      char *why, size_t whylen);
void qmpd_record_free(struct qmpd_record *r);
/* 1 when two records describe the same attachment. */
int qmpd_record_same(const struct qmpd_record *a, const struct qmpd_record *b);

/* The set of records being served, driven by the directory. */
struct qmpd_dir;
/* Open and watch @path.  0, or a negative errno (reported on stderr). */
int qmpd_dir_open(const char *path, yank_registry *reg, struct qmpd_dir **out);
/* The inotify fd to poll. */
int qmpd_dir_fd(const struct qmpd_dir *d);
/* Read every record now (at start, after an event queue overflow). */
void qmpd_dir_scan(struct qmpd_dir *d);
/*
 * Handle what inotify reported.  0, or -ENOENT when the directory itself
 * went away (removed or moved): nothing more can be watched.
 */
int qmpd_dir_events(struct qmpd_dir *d);
/* Stop every worker (their instances go from the registry), free @d. */
void qmpd_dir_close(struct qmpd_dir *d);

/* ---- monitor.c ---- */

struct qmp_conn;

/*
 * Called on the reader thread: @event is the name of an event QEMU sent,
 * or NULL once the connection is lost.  Must not block.
 */
typedef void qmp_notify_fn(void *arg, const char *event);

/*
 * Connect to the monitor socket @path and start reading.  0, or a
 * negative errno with a sentence in @why.  *peer_pid is the listening
 * process (SO_PEERCRED).
 */
int qmp_connect(const char *path, qmp_notify_fn *notify, void *arg, struct qmp_conn **out,
		pid_t *peer_pid, char *why, size_t whylen);
/* Stop reading, close and free.  No request may be waiting on @c. */
void qmp_close(struct qmp_conn *c);
/*
 * Wait for the greeting until @deadline_ms: 0 and *greeting (a new
 * reference), -ETIMEDOUT, -EPIPE (connection lost).
 */
int qmp_greeting(struct qmp_conn *c, int64_t deadline_ms, json_t **greeting);

#define QMP_OOB 1 /* send as "exec-oob" rather than "execute" */
/*
 * Send command @cmd (with @args, a reference this call takes; NULL for
 * none) and wait for the reply with the same id until @deadline_ms.
 * 0 and *reply (the whole reply object, a new reference: it holds
 * "return" or "error"), -ETIMEDOUT (no reply in time; one that comes later
 * is dropped), -EPIPE (connection lost; the command may or may not have
 * run), -ENOMEM.  Safe from several threads at once.
 */
int qmp_request(struct qmp_conn *c, const char *cmd, json_t *args, int flags, int64_t deadline_ms,
		json_t **reply);
/* 1 once the connection is lost. */
int qmp_dead(struct qmp_conn *c);
/* Why the connection was lost ("it sent invalid JSON"...), NULL when QEMU closed it. */
const char *qmp_lost(struct qmp_conn *c);
/* Break the connection now: every wait on it returns -EPIPE.  Any thread. */
void qmp_cancel(struct qmp_conn *c);
/* A reply's error class ("CommandNotFound"...), or NULL when it is a success. */
const char *qmp_error_class(const json_t *reply);
/* A reply's error description, or "". */
const char *qmp_error_desc(const json_t *reply);

/*
 * Length of the first complete JSON object in @buf[@len], after @*skip
 * bytes of leading whitespace: > 0 when complete, 0 when more bytes are
 * needed, -1 when the bytes there cannot start an object.  Exposed for
 * the stream framing tests.
 */
long qmp_frame(const char *buf, size_t len, size_t *skip);

/* ---- mirror.c ---- */

struct qmpd_vm;

/* Milliseconds between two syncs (YANK_QMPD_POLL_MS, for tests). */
extern int qmpd_poll_ms;
/* Start serving @rec (copied): a worker attaches and mirrors. */
int qmpd_vm_start(yank_registry *reg, const struct qmpd_record *rec, struct qmpd_vm **out);
/* The record was written again, unchanged: if not attached, try again now. */
void qmpd_vm_poke(struct qmpd_vm *vm);
/* Tell the worker to stop, without waiting (to stop many at once). */
void qmpd_vm_request_stop(struct qmpd_vm *vm, const char *why);
/* Stop the worker, remove every instance it mirrored, free @vm. */
void qmpd_vm_stop(struct qmpd_vm *vm, const char *why);

#endif
