/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * What mirror.c (one worker per QEMU: attach, sync, unresponsive
 * tracking) and proxy.c (the proxied yank, on libyank's agent thread)
 * share: the per-QEMU state, and the few calls each makes into the other.
 * Internal to yank-qmpd; main.c and records.c see only qmpd.h.
 *
 * The two threads meet on vm->lock, and only there:
 *
 *  - The worker opens the monitor connection (conn) and sets attached
 *    once the attach has succeeded.  A proxied yank takes conn only when
 *    it finds attached set, counting itself in users, and then uses it
 *    without holding the lock (qmp_request() is safe from several threads;
 *    the worker's syncs go over the same connection).
 *  - To close it, the worker clears attached, cancels conn (every wait on
 *    it returns at once), waits for users to drop to 0 (a proxied yank
 *    broadcasts cond when it stops using conn) and only then closes it;
 *    one still in use after STOP_DRAIN_MS is left open, never freed
 *    under a yank.
 *  - The worker tells the proxy how long to wait through silent (set from
 *    its unresponsive tracking).  The proxy tells the worker what a yank
 *    did through note and resync (broadcasting cond): the worker logs the
 *    note and syncs at once, since a yank changes what QEMU has.
 *  - The proxy reads rec.name, fixed from start to free, and never calls
 *    into the registry (libyank forbids it on the agent thread).
 *  - vm is freed only once no registry record names qmpd_proxy_yank(vm):
 *    yank_unregister_proxy() returning means the proxy is not running for
 *    that record and will not run.
 */
#ifndef QMPD_VM_H
#define QMPD_VM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <yank.h>

#include "qmpd.h"

struct minst; /* mirror.c's: one mirrored instance */

struct qmpd_vm {
	struct qmpd_record rec;
	char ns[8 + QMPD_NAME_MAX];
	yank_registry *reg;
	pthread_t thread;

	pthread_mutex_t lock;   /* the fields up to the next comment */
	pthread_cond_t cond;
	int stop;
	char stop_why[64];
	int resync;             /* an event or a yank: sync now */
	int lost;               /* the connection is gone */
	struct qmp_conn *conn;  /* from connect to close */
	int attached;           /* proxied yanks may use conn */
	int users;              /* proxied yanks using conn now */
	int poke;               /* the record was written again: retry an attach now */
	int was_attached;       /* attached when the stop came */
	int silent;             /* marked unresponsive: do not wait long for it */
	char note[512];         /* a proxied yank's outcome, for the worker to log */

	/* The worker thread's own. */
	char own_chardev[256];
	struct minst *mirror;
	size_t n_mirror, cap_mirror;
	int unresponsive;       /* syncs go unanswered */
	int marked;             /* what the registry was told */
	int64_t unresp_wait;
	char refusal[512];      /* the attach failure last logged */
	char sync_err[256];     /* the query-yank error last logged */
};

/* ---- mirror.c ---- */

/*
 * Does query-yank's answer @list hold @in?  The proxy asks after QEMU
 * refused a yank with DeviceNotFound; it lives with the sync's parsing of
 * the same answer so that both read QEMU's instances the same way.
 */
int qmpd_listed(const json_t *list, const struct yank_instance *in);
/* "chardev:c0", in the one spelling the library and yankctl use; returns @buf. */
const char *qmpd_spell(enum yank_type type, const char *name, char *buf, size_t size);

/* ---- proxy.c ---- */

/*
 * The proxied function the worker registers, with @opaque the vm, for
 * every instance it mirrors: yanks them over the vm's monitor.  Runs on
 * libyank's agent thread.
 */
yank_proxy_fn qmpd_proxy_yank;

#endif
