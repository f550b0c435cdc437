/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * One worker per QEMU: attach to its yank monitor while it is healthy,
 * mirror its yank instances into the registry under namespace
 * "qemu:<name>", and keep the mirror current.  The yanks of them are
 * carried out by proxy.c, on libyank's agent thread, over the connection
 * this worker opens and closes (vm.h says what the two share).
 *
 * Attach: connect; the greeting within 1 s, offering "oob"; then
 * qmp_capabilities enabling oob, query-yank (oob) and query-chardev
 * (in-band: to find which chardev is this very monitor), each answered
 * within 1 s.  From then on only exec-oob commands are sent, which QEMU's
 * monitor I/O thread answers even when the main loop is stuck.  A failed
 * attach is retried every 1, 2, 4, 5, 5... seconds while the record is
 * there, and its reason logged when it changes.
 *
 * Sync: query-yank every poll interval (200 ms), at once after an event
 * that implies a change and after every yank.  One not answered within
 * 1 s marks the namespace unresponsive and keeps the mirror; the request
 * is then repeated at growing intervals (at most one in flight, so a
 * stopped QEMU's socket does not fill up) until an answer clears the mark.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "qmpd.h"
#include "vm.h"

#define ATTACH_STEP_MS 1000      /* greeting, capabilities, each query at attach */
#define SYNC_TIMEOUT_MS 1000     /* a sync unanswered this long: unresponsive */
#define UNRESPONSIVE_MAX_MS 60000 /* longest wait between syncs of a silent QEMU */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 5000
#define STOP_DRAIN_MS 5000       /* proxied yanks still using a closing monitor */

int qmpd_poll_ms = 200;

/* One instance QEMU reports, and whether it is in the registry. */
struct minst {
	enum yank_type type;
	char *name;     /* NULL for migration */
	int registered;
	int err;        /* the registration error last reported, or 0 */
	int seen;       /* in the latest query-yank */
};

/* ---- instances: QMP <-> libyank ---- */

static int inst_from_json(const json_t *o, enum yank_type *type, const char **name)
{
	const char *t = json_string_value(json_object_get(o, "type"));

	if (!t)
		return -1;
	if (strcmp(t, "block-node") == 0) {
		*type = YANK_BLOCK_NODE;
		*name = json_string_value(json_object_get(o, "node-name"));
	} else if (strcmp(t, "chardev") == 0) {
		*type = YANK_CHARDEV;
		*name = json_string_value(json_object_get(o, "id"));
	} else if (strcmp(t, "migration") == 0) {
		*type = YANK_MIGRATION;
		*name = NULL;
		return 0;
	} else {
		return -1; /* a type a later QEMU added: not ours to mirror */
	}
	return *name ? 0 : -1;
}

static int same_inst(enum yank_type ta, const char *na, enum yank_type tb, const char *nb)
{
	if (ta != tb)
		return 0;
	return ta == YANK_MIGRATION || (na && nb && strcmp(na, nb) == 0);
}

/* Does query-yank's answer @list hold @in? */
int qmpd_listed(const json_t *list, const struct yank_instance *in)
{
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o) {
		enum yank_type t;
		const char *n;

		if (inst_from_json(o, &t, &n) == 0 && same_inst(t, n, in->type, in->name))
			return 1;
	}
	return 0;
}

/* "chardev:c0", in the one spelling the library and yankctl use. */
const char *qmpd_spell(enum yank_type type, const char *name, char *buf, size_t size)
{
	yank__spell(NULL, (uint32_t)type, name, buf, size);
	return buf;
}

/* Never mirrored: this monitor, libvirt's monitor, and the record's list. */
static int hidden(const struct qmpd_vm *vm, enum yank_type type, const char *name)
{
	if (type != YANK_CHARDEV)
		return 0;
	if (strcmp(name, vm->own_chardev) == 0 || strcmp(name, "charmonitor") == 0)
		return 1;
	for (size_t i = 0; i < vm->rec.n_hide; i++)
		if (strcmp(name, vm->rec.hide[i]) == 0)
			return 1;
	return 0;
}

/* ---- the mirror, on the worker thread ---- */

static void report(struct qmpd_vm *vm, struct minst *m, int err, const char *doing)
{
	char inst[300];

	if (err == m->err)
		return; /* said already; retried quietly at every sync */
	m->err = err;
	qmpd_log("%s: cannot %s %s/%s: %s", vm->rec.name, doing, vm->ns,
		 qmpd_spell(m->type, m->name, inst, sizeof(inst)), yank_strerror(err));
}

static int unregister(struct qmpd_vm *vm, struct minst *m)
{
	struct yank_instance in = {m->type, m->name};
	int r;

	r = yank_unregister_proxy(vm->reg, vm->ns, &in, qmpd_proxy_yank, vm);
	if (r == 0 || r == -ENOENT)
		r = yank_unregister_instance_ns(vm->reg, vm->ns, &in);
	if (r == 0 || r == -ENOENT) {
		m->registered = 0;
		return 0;
	}
	report(vm, m, r, "remove");
	return r;
}

static int try_register(struct qmpd_vm *vm, struct minst *m)
{
	struct yank_instance in = {m->type, m->name};
	int r;

	r = yank_check_instance(&in);
	if (r == 0)
		r = yank_register_instance_ns(vm->reg, vm->ns, &in);
	if (r == 0) {
		r = yank_register_proxy(vm->reg, vm->ns, &in, qmpd_proxy_yank, vm);
		if (r < 0)
			yank_unregister_instance_ns(vm->reg, vm->ns, &in);
	}
	if (r < 0) {
		report(vm, m, r, "mirror");
		return r;
	}
	m->registered = 1;
	m->err = 0;
	return 0;
}

static struct minst *mirror_add(struct qmpd_vm *vm, enum yank_type type, const char *name)
{
	struct minst *m;

	if (vm->n_mirror == vm->cap_mirror) {
		size_t cap = vm->cap_mirror ? vm->cap_mirror * 2 : 16;
		struct minst *nm = realloc(vm->mirror, cap * sizeof(*nm));

		if (!nm)
			return NULL;
		vm->mirror = nm;
		vm->cap_mirror = cap;
	}
	m = &vm->mirror[vm->n_mirror];
	memset(m, 0, sizeof(*m));
	m->type = type;
	if (name && !(m->name = strdup(name)))
		return NULL;
	vm->n_mirror++;
	return m;
}

static void mirror_del(struct qmpd_vm *vm, size_t i)
{
	free(vm->mirror[i].name);
	memmove(&vm->mirror[i], &vm->mirror[i + 1], (vm->n_mirror - i - 1) * sizeof(*vm->mirror));
	vm->n_mirror--;
}

/* Make the registry hold what query-yank returned in @list. */
static void apply(struct qmpd_vm *vm, const json_t *list)
{
	size_t i;
	json_t *o;

	for (i = 0; i < vm->n_mirror; i++)
		vm->mirror[i].seen = 0;
	json_array_foreach(list, i, o) {
		enum yank_type t;
		const char *n;
		struct minst *m = NULL;

		if (inst_from_json(o, &t, &n) < 0 || hidden(vm, t, n))
			continue;
		for (size_t k = 0; k < vm->n_mirror && !m; k++)
			if (same_inst(vm->mirror[k].type, vm->mirror[k].name, t, n))
				m = &vm->mirror[k];
		if (!m)
			m = mirror_add(vm, t, n);
		if (m)
			m->seen = 1;
	}
	/*
	 * Gone from QEMU: out of the registry (kept while that fails, retried).
	 * A lock that is not to be had (its holder is stopped) will not be had
	 * for the next instance either: the rest waits for the next sync,
	 * rather than a lock timeout each.
	 */
	int r = 0;
	for (i = vm->n_mirror; i-- > 0 && r != -ETIMEDOUT;) {
		if (vm->mirror[i].seen)
			continue;
		r = vm->mirror[i].registered ? unregister(vm, &vm->mirror[i]) : 0;
		if (r == 0)
			mirror_del(vm, i);
	}
	for (i = 0; i < vm->n_mirror && r != -ETIMEDOUT; i++)
		if (vm->mirror[i].seen && !vm->mirror[i].registered)
			r = try_register(vm, &vm->mirror[i]);
}

static size_t n_registered(const struct qmpd_vm *vm)
{
	size_t n = 0;

	for (size_t i = 0; i < vm->n_mirror; i++)
		n += vm->mirror[i].registered;
	return n;
}

/* Tell the registry what we know of QEMU's health, when that changed. */
static void mark(struct qmpd_vm *vm)
{
	int r;

	pthread_mutex_lock(&vm->lock);
	vm->silent = vm->unresponsive;
	pthread_mutex_unlock(&vm->lock);
	if (vm->marked == vm->unresponsive)
		return;
	r = yank_set_unresponsive(vm->reg, vm->ns, vm->unresponsive);
	if (r >= 0)
		vm->marked = vm->unresponsive;
	else
		qmpd_log("%s: cannot mark its instances %s: %s", vm->rec.name,
			 vm->unresponsive ? "unresponsive" : "responsive", yank_strerror(r));
}

/* ---- attach, run, detach ---- */

static void on_notify(void *arg, const char *event)
{
	struct qmpd_vm *vm = arg;

	if (event && strncmp(event, "BLOCK_JOB_", 10) && strcmp(event, "MIGRATION") &&
	    strcmp(event, "DEVICE_DELETED"))
		return;
	pthread_mutex_lock(&vm->lock);
	if (event)
		vm->resync = 1;
	else
		vm->lost = 1;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

static int stop_requested(struct qmpd_vm *vm)
{
	int s;

	pthread_mutex_lock(&vm->lock);
	s = vm->stop;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

/* Is query-chardev's @filename the unix socket @path (as QEMU spells it, or the same file)? */
static int same_socket(const char *filename, const char *path)
{
	size_t plen = strlen(path);
	char buf[QMPD_SOCKET_MAX + 1];
	struct stat a, b;
	const char *end;

	if (strncmp(filename, "unix:", 5))
		return 0;
	filename += 5;
	if (strncmp(filename, path, plen) == 0 && (filename[plen] == 0 || filename[plen] == ','))
		return 1;
	/* Another spelling of the same socket (a symlink, a relative path). */
	end = strstr(filename, ",server");
	if (!end)
		end = filename + strlen(filename);
	if ((size_t)(end - filename) >= sizeof(buf))
		return 0;
	memcpy(buf, filename, (size_t)(end - filename));
	buf[end - filename] = 0;
	return stat(buf, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int find_own_chardev(struct qmpd_vm *vm, const json_t *list)
{
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o) {
		const char *label = json_string_value(json_object_get(o, "label"));
		const char *fn = json_string_value(json_object_get(o, "filename"));

		if (label && fn && strlen(label) < sizeof(vm->own_chardev) &&
		    same_socket(fn, vm->rec.socket)) {
			memcpy(vm->own_chardev, label, strlen(label) + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* One step of the attach: -ETIMEDOUT/-EPIPE explained in @why. */
static int step(struct qmp_conn *c, const char *cmd, json_t *args, int flags, json_t **rep,
		char *why, size_t whylen)
{
	int r = qmp_request(c, cmd, args, flags, qmpd_now_ms() + ATTACH_STEP_MS, rep);

	if (r == -ETIMEDOUT)
		snprintf(why, whylen, "%s not answered within 1 s%s", cmd,
			 flags & QMP_OOB ? "" : " (main loop busy or stuck?)");
	else if (r == -EPIPE)
		snprintf(why, whylen, "monitor lost during %s: %s", cmd,
			 qmp_lost(c) ? qmp_lost(c) : "it closed the connection");
	else if (r < 0)
		snprintf(why, whylen, "%s: %s", cmd, strerror(-r));
	return r;
}

static int attach(struct qmpd_vm *vm, char *why, size_t whylen)
{
	json_t *greeting = NULL, *rep = NULL, *yq = NULL, *caps, *cap;
	struct qmp_conn *c;
	const char *cls;
	pid_t peer = 0;
	size_t i;
	int r, oob = 0;

	pthread_mutex_lock(&vm->lock);
	vm->lost = 0; /* before the reader can report a loss */
	pthread_mutex_unlock(&vm->lock);
	r = qmp_connect(vm->rec.socket, on_notify, vm, &c, &peer, why, whylen);
	if (r < 0)
		return r;
	pthread_mutex_lock(&vm->lock);
	if (vm->stop) {
		pthread_mutex_unlock(&vm->lock);
		qmp_close(c);
		return -ECANCELED;
	}
	vm->conn = c;
	pthread_mutex_unlock(&vm->lock);

	r = -EPROTO;
	if (vm->rec.pid && peer != vm->rec.pid) {
		snprintf(why, whylen, "%s is served by pid %d, not by pid %d as the record says",
			 vm->rec.socket, (int)peer, (int)vm->rec.pid);
		goto fail;
	}
	r = qmp_greeting(c, qmpd_now_ms() + ATTACH_STEP_MS, &greeting);
	if (r == -ETIMEDOUT) {
		snprintf(why, whylen,
			 "no greeting within 1 s (another client holds this monitor? "
			 "QEMU serves one client per monitor)");
		goto fail;
	}
	if (r < 0) {
		snprintf(why, whylen, "monitor lost before its greeting: %s",
			 qmp_lost(c) ? qmp_lost(c) : "it closed the connection");
		goto fail;
	}
	caps = json_object_get(json_object_get(greeting, "QMP"), "capabilities");
	json_array_foreach(caps, i, cap) {
		if (json_is_string(cap) && strcmp(json_string_value(cap), "oob") == 0)
			oob = 1;
	}
	if (!oob) {
		r = -EPROTO;
		snprintf(why, whylen,
			 "no oob: the greeting does not offer out-of-band commands, without which "
			 "a stuck main loop could not be reached");
		goto fail;
	}
	r = step(c, "qmp_capabilities", json_pack("{s:[s]}", "enable", "oob"), 0, &rep, why, whylen);
	if (r < 0)
		goto fail;
	if ((cls = qmp_error_class(rep))) {
		r = -EPROTO;
		snprintf(why, whylen, "qmp_capabilities refused: %s", qmp_error_desc(rep));
		goto fail;
	}
	json_decref(rep);
	rep = NULL;

	r = step(c, "query-yank", NULL, QMP_OOB, &yq, why, whylen);
	if (r < 0)
		goto fail;
	if ((cls = qmp_error_class(yq))) {
		r = -EPROTO;
		if (strcmp(cls, "CommandNotFound") == 0)
			snprintf(why, whylen,
				 "no query-yank: QEMU older than 6.0, or qemu-storage-daemon "
				 "(neither has yank)");
		else
			snprintf(why, whylen, "query-yank failed: %s", qmp_error_desc(yq));
		goto fail;
	}
	if (!json_is_array(json_object_get(yq, "return"))) {
		r = -EPROTO;
		snprintf(why, whylen, "query-yank answered something that is not a list");
		goto fail;
	}

	r = step(c, "query-chardev", NULL, 0, &rep, why, whylen);
	if (r < 0)
		goto fail;
	if (qmp_error_class(rep) || find_own_chardev(vm, json_object_get(rep, "return")) < 0) {
		r = -EPROTO;
		snprintf(why, whylen,
			 "query-chardev names no chardev listening on %s: cannot tell this "
			 "monitor's own chardev, which must never be mirrored",
			 vm->rec.socket);
		goto fail;
	}
	json_decref(rep);
	rep = NULL;

	pthread_mutex_lock(&vm->lock);
	vm->attached = 1;
	pthread_mutex_unlock(&vm->lock);
	apply(vm, json_object_get(yq, "return"));
	qmpd_log("attached %s (%zu instance%s; QEMU pid %d, monitor chardev %s)", vm->rec.name,
		 n_registered(vm), n_registered(vm) == 1 ? "" : "s", (int)peer, vm->own_chardev);
	json_decref(yq);
	json_decref(greeting);
	return 0;
fail:
	json_decref(rep);
	json_decref(yq);
	json_decref(greeting);
	pthread_mutex_lock(&vm->lock);
	vm->conn = NULL;
	pthread_mutex_unlock(&vm->lock);
	qmp_close(c);
	return r;
}

/* One query-yank; -ETIMEDOUT (now unresponsive), -EPIPE (connection lost). */
static int sync_once(struct qmpd_vm *vm, struct qmp_conn *c)
{
	int64_t wait = vm->unresponsive ? vm->unresp_wait : SYNC_TIMEOUT_MS;
	json_t *rep = NULL;
	const char *cls;
	int r;

	r = qmp_request(c, "query-yank", NULL, QMP_OOB, qmpd_now_ms() + wait, &rep);
	if (r == -ETIMEDOUT) {
		if (!vm->unresponsive) {
			vm->unresponsive = 1;
			vm->unresp_wait = 2 * SYNC_TIMEOUT_MS;
			qmpd_log("%s unresponsive: query-yank not answered within 1 s; "
				 "its instances stay, marked",
				 vm->rec.name);
		} else if (vm->unresp_wait < UNRESPONSIVE_MAX_MS) {
			vm->unresp_wait = vm->unresp_wait * 2 > UNRESPONSIVE_MAX_MS
						  ? UNRESPONSIVE_MAX_MS
						  : vm->unresp_wait * 2;
		}
		mark(vm);
		return r;
	}
	if (r < 0)
		return r;
	if (vm->unresponsive) {
		vm->unresponsive = 0;
		qmpd_log("%s responsive again", vm->rec.name);
	}
	mark(vm);
	cls = qmp_error_class(rep);
	if (cls || !json_is_array(json_object_get(rep, "return"))) {
		char err[sizeof(vm->sync_err)];

		/* Said once, not five times a second; the mirror stays as it was. */
		if (cls)
			snprintf(err, sizeof(err), "%s: %s", cls, qmp_error_desc(rep));
		else
			snprintf(err, sizeof(err), "its answer is not a list");
		if (strcmp(err, vm->sync_err))
			qmpd_log("%s: query-yank failed: %s", vm->rec.name, err);
		memcpy(vm->sync_err, err, sizeof(err));
	} else {
		vm->sync_err[0] = 0;
		apply(vm, json_object_get(rep, "return"));
	}
	json_decref(rep);
	return 0;
}

/* Mirror until the connection is lost or a stop is asked for. */
static void run(struct qmpd_vm *vm, struct qmp_conn *c)
{
	int64_t next = qmpd_now_ms() + qmpd_poll_ms;

	for (;;) {
		char note[sizeof(vm->note)];
		struct timespec ts;
		int now_sync = 0, done = 0;

		note[0] = 0;
		qmpd_deadline_ts(next, &ts);
		pthread_mutex_lock(&vm->lock);
		while (!vm->stop && !vm->lost && !vm->note[0] && !vm->resync &&
		       qmpd_now_ms() < next)
			pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
		if (vm->stop || vm->lost) {
			done = 1;
		} else {
			memcpy(note, vm->note, sizeof(note));
			vm->note[0] = 0;
			now_sync = vm->resync || qmpd_now_ms() >= next;
			vm->resync = 0;
		}
		pthread_mutex_unlock(&vm->lock);
		if (done)
			return;
		if (note[0])
			qmpd_log("%s", note);
		if (!now_sync)
			continue;
		switch (sync_once(vm, c)) {
		case 0:
			next = qmpd_now_ms() + qmpd_poll_ms;
			break;
		case -ETIMEDOUT:
			next = qmpd_now_ms(); /* the next one goes out at once, waited for longer */
			break;
		default:
			if (qmp_dead(c))
				return;
			next = qmpd_now_ms() + qmpd_poll_ms;
			break;
		}
	}
}

/* Unregister what can be; what cannot stays listed in the mirror (all
 * that is left, at the first lock timeout: see apply()). */
static void unregister_all(struct qmpd_vm *vm)
{
	int r = 0;
	for (size_t i = vm->n_mirror; i-- > 0 && r != -ETIMEDOUT;) {
		r = vm->mirror[i].registered ? unregister(vm, &vm->mirror[i]) : 0;
		if (r == 0)
			mirror_del(vm, i);
	}
	if (vm->marked && !vm->n_mirror)
		vm->marked = 0;
	vm->unresponsive = 0;
	mark(vm);
}

static void detach(struct qmpd_vm *vm)
{
	int64_t until = qmpd_now_ms() + STOP_DRAIN_MS;
	struct qmp_conn *c;
	struct timespec ts;

	unregister_all(vm);
	qmpd_deadline_ts(until, &ts);
	pthread_mutex_lock(&vm->lock);
	vm->attached = 0;
	c = vm->conn;
	qmp_cancel(c);
	while (vm->users && qmpd_now_ms() < until)
		pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
	vm->conn = NULL;
	if (vm->users)
		c = NULL; /* still in use past every deadline: leak it rather than free it */
	pthread_mutex_unlock(&vm->lock);
	if (c)
		qmp_close(c);
	else
		qmpd_log("%s: a yank still uses its closed monitor connection: left open",
			 vm->rec.name);
}

static void *worker_main(void *arg)
{
	struct qmpd_vm *vm = arg;
	int64_t backoff = BACKOFF_MIN_MS;

	while (!stop_requested(vm)) {
		char why[sizeof(vm->refusal)] = "";
		struct timespec ts;
		int64_t until;

		if (attach(vm, why, sizeof(why)) == 0) {
			int lost;

			backoff = BACKOFF_MIN_MS;
			vm->refusal[0] = 0;
			run(vm, vm->conn);
			lost = !stop_requested(vm);
			vm->was_attached = !lost;
			if (qmp_lost(vm->conn))
				snprintf(why, sizeof(why), "monitor lost: %s", qmp_lost(vm->conn));
			else
				snprintf(why, sizeof(why),
					 "its monitor closed the connection (QEMU exited?)");
			detach(vm);
			if (lost)
				qmpd_log("%s gone: %s", vm->rec.name, why);
		} else if (!stop_requested(vm) && strcmp(why, vm->refusal)) {
			qmpd_log("refused %s: %s", vm->rec.name, why);
			memcpy(vm->refusal, why, sizeof(why));
		}
		until = qmpd_now_ms() + backoff;
		qmpd_deadline_ts(until, &ts);
		pthread_mutex_lock(&vm->lock);
		while (!vm->stop && !vm->poke && qmpd_now_ms() < until)
			pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
		if (vm->poke)
			backoff = BACKOFF_MIN_MS / 2;
		vm->poke = 0;
		pthread_mutex_unlock(&vm->lock);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int qmpd_vm_start(yank_registry *reg, const struct qmpd_record *rec, struct qmpd_vm **out)
{
	struct qmpd_vm *vm = calloc(1, sizeof(*vm));
	int r;

	if (!vm)
		return -ENOMEM;
	memcpy(vm->rec.name, rec->name, sizeof(vm->rec.name));
	memcpy(vm->rec.socket, rec->socket, sizeof(vm->rec.socket));
	vm->rec.pid = rec->pid;
	vm->rec.hide = calloc(rec->n_hide + 1, sizeof(char *));
	if (!vm->rec.hide) {
		free(vm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rec->n_hide; i++) {
		vm->rec.hide[i] = strdup(rec->hide[i]);
		if (!vm->rec.hide[i]) {
			qmpd_record_free(&vm->rec);
			free(vm);
			return -ENOMEM;
		}
		vm->rec.n_hide = i + 1;
	}
	snprintf(vm->ns, sizeof(vm->ns), "qemu:%s", rec->name);
	vm->reg = reg;
	pthread_mutex_init(&vm->lock, NULL);
	qmpd_cond_init(&vm->cond);
	r = pthread_create(&vm->thread, NULL, worker_main, vm);
	if (r) {
		pthread_cond_destroy(&vm->cond);
		pthread_mutex_destroy(&vm->lock);
		qmpd_record_free(&vm->rec);
		free(vm);
		return -r;
	}
	*out = vm;
	return 0;
}

void qmpd_vm_poke(struct qmpd_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->poke = 1;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

void qmpd_vm_request_stop(struct qmpd_vm *vm, const char *why)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->stop) {
		vm->stop = 1;
		snprintf(vm->stop_why, sizeof(vm->stop_why), "%s", why);
		if (vm->conn)
			qmp_cancel(vm->conn);
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

void qmpd_vm_stop(struct qmpd_vm *vm, const char *why)
{
	qmpd_vm_request_stop(vm, why);
	pthread_join(vm->thread, NULL);
	if (vm->was_attached)
		qmpd_log("%s gone: %s", vm->rec.name, vm->stop_why);
	else
		qmpd_log("%s no longer watched: %s", vm->rec.name, vm->stop_why);
	if (vm->n_mirror) {
		/* Their records still name qmpd_proxy_yank(vm): vm must outlive them. */
		qmpd_log("%s: %zu instances could not be unregistered; they stay until yank-qmpd exits",
			 vm->rec.name, vm->n_mirror);
		return;
	}
	free(vm->mirror);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	qmpd_record_free(&vm->rec);
	free(vm);
}
