/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The proxied yank: how yank-qmpd carries out a yank of instances it
 * mirrors (mirror.c), over the QEMU's monitor connection that the worker
 * keeps (vm.h says what the two share and how they lock).
 *
 * Yank: libyank's agent thread calls qmpd_proxy_yank() once with every
 * instance of this QEMU that one yank names.  They go out as one exec-oob
 * yank, so QEMU checks them together.  QEMU refuses the whole command
 * when one is missing (DeviceNotFound, which does not say which): then a
 * query-yank tells which are gone, those are reported -ENOENT, and the
 * yank is sent again for the ones still there, since QEMU yanked nothing
 * the first time.  All of it within 800 ms, under the yanker's default 1 s,
 * and never past the yanker's own deadline; within 150 ms for a QEMU
 * already marked unresponsive, since the agent runs one proxied yank after
 * another and a silent QEMU must not eat the others' time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmpd.h"
#include "vm.h"

#define YANK_BUDGET_MS 800       /* a proxied yank, all rounds */
#define YANK_SILENT_MS 150       /* the same, for a QEMU marked unresponsive */
#define YANK_ROUNDS 4            /* yank, find the vanished, yank the rest... */
#define YANK_REPLY_MS 20         /* kept from the yanker's deadline for our answer */

/* An instance as QMP's yank names it. */
static json_t *inst_to_json(const struct yank_instance *in)
{
	switch (in->type) {
	case YANK_BLOCK_NODE:
		return json_pack("{s:s, s:s}", "type", "block-node", "node-name", in->name);
	case YANK_CHARDEV:
		return json_pack("{s:s, s:s}", "type", "chardev", "id", in->name);
	case YANK_MIGRATION:
		return json_pack("{s:s}", "type", "migration");
	}
	return NULL;
}

static void note_results(struct qmpd_vm *vm, const struct yank_instance *list, size_t n,
			 const int *results, const char *why)
{
	char buf[sizeof(vm->note)], inst[300];
	size_t off;

	off = (size_t)snprintf(buf, sizeof(buf), "yank %s:", vm->rec.name);
	for (size_t i = 0; i < n && off < sizeof(buf); i++) {
		const char *what = results[i] == 0           ? "done"
				   : results[i] == -ENOENT    ? "no longer exists in QEMU"
				   : results[i] == -ETIMEDOUT ? "not answered in time"
							      : "failed";

		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s %s %s", i ? "," : "",
					qmpd_spell(list[i].type, list[i].name, inst, sizeof(inst)),
					what);
	}
	if (why && off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, " (%s)", why);
	pthread_mutex_lock(&vm->lock);
	memcpy(vm->note, buf, sizeof(buf));
	vm->resync = 1;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

/*
 * One exec-oob yank of the instances @todo[@ntodo] of @list; those that
 * QEMU no longer has are reported -ENOENT, the rest yanked again (see the
 * top of this file).  Sets results[] for every index in @todo.
 */
static void yank_rounds(struct qmp_conn *c, const struct yank_instance *list, size_t *todo,
			size_t ntodo, int *results, int64_t deadline, char *qemu_error, size_t elen)
{
	for (int round = 0; ntodo && round < YANK_ROUNDS; round++) {
		json_t *arr = json_array(), *rep = NULL;
		const char *cls;
		size_t kept = 0;
		int r;

		for (size_t k = 0; arr && k < ntodo; k++) {
			if (json_array_append_new(arr, inst_to_json(&list[todo[k]])) < 0) {
				json_decref(arr);
				arr = NULL;
			}
		}
		r = arr ? qmp_request(c, "yank", json_pack("{s:o}", "instances", arr), QMP_OOB,
				      deadline, &rep)
			: -ENOMEM;
		if (r < 0) {
			for (size_t k = 0; k < ntodo; k++)
				results[todo[k]] = r == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
			return;
		}
		cls = qmp_error_class(rep);
		if (!cls || strcmp(cls, "DeviceNotFound")) {
			if (cls)
				snprintf(qemu_error, elen, "QEMU: %s: %s", cls, qmp_error_desc(rep));
			for (size_t k = 0; k < ntodo; k++)
				results[todo[k]] = cls ? -EIO : 0;
			json_decref(rep);
			return;
		}
		json_decref(rep);
		/* QEMU yanked nothing: which of them did it no longer know? */
		r = qmp_request(c, "query-yank", NULL, QMP_OOB, deadline, &rep);
		if (r < 0 || !json_is_array(json_object_get(rep, "return"))) {
			for (size_t k = 0; k < ntodo; k++)
				results[todo[k]] = r == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
			json_decref(rep);
			return;
		}
		for (size_t k = 0; k < ntodo; k++) {
			if (qmpd_listed(json_object_get(rep, "return"), &list[todo[k]]))
				todo[kept++] = todo[k];
			else
				results[todo[k]] = -ENOENT;
		}
		json_decref(rep);
		/* All still listed: it changed between the two; another round. */
		ntodo = kept;
	}
	/* Out of rounds: QEMU kept refusing what it lists. */
	for (size_t k = 0; k < ntodo; k++)
		results[todo[k]] = -EIO;
}

void qmpd_proxy_yank(void *opaque, const char *ns, const struct yank_instance *list, size_t n,
		     int *results)
{
	struct qmpd_vm *vm = opaque;
	int64_t deadline = qmpd_now_ms();
	char qemu_error[256] = "";
	struct qmp_conn *c = NULL;
	size_t *todo;

	(void)ns;
	for (size_t i = 0; i < n; i++)
		results[i] = -EIO;
	pthread_mutex_lock(&vm->lock);
	if (vm->attached && vm->conn) {
		c = vm->conn;
		vm->users++;
	}
	/*
	 * The agent runs one proxied yank after another: a QEMU known to be
	 * silent must not eat the time of the others in the same yank.  The
	 * yank is still sent; a QEMU that resumes carries it out.
	 */
	deadline += vm->silent ? YANK_SILENT_MS : YANK_BUDGET_MS;
	pthread_mutex_unlock(&vm->lock);
	/* Nor past the yanker's own deadline (a shorter --timeout, say): an
	 * answer it no longer waits for would report as not done a yank that
	 * QEMU did.  Keep a little for the answer to travel back. */
	uint64_t theirs = yank_proxy_deadline();
	if (theirs) {
		int64_t until = (int64_t)(theirs / 1000000u) - YANK_REPLY_MS;
		if (until < deadline)
			deadline = until;
	}
	if (!c) {
		note_results(vm, list, n, results, "its monitor is not attached");
		return;
	}
	todo = malloc((n ? n : 1) * sizeof(*todo));
	if (todo) {
		for (size_t i = 0; i < n; i++)
			todo[i] = i;
		yank_rounds(c, list, todo, n, results, deadline, qemu_error, sizeof(qemu_error));
		free(todo);
	}
	pthread_mutex_lock(&vm->lock);
	vm->users--;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	note_results(vm, list, n, results, qemu_error[0] ? qemu_error : NULL);
}
