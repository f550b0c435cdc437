/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Discovery records: DIR/<name>.json, one per QEMU, written by whoever
 * starts the VM, e.g. {"name": "vm1", "socket": "/run/yank/mon/vm1.sock",
 * "pid": 4242, "hide": ["charmonitor"]}.
 *
 * The directory is watched with inotify.  Whatever an event says, the
 * file it names is reconciled with what is on disk now: read and parsed,
 * compared with the record being served, and the worker started, left
 * alone, restarted or stopped.  That makes every sequence of events safe
 * (a write then a delete, a rename over an old record, a lost event after
 * a queue overflow, which triggers a full rescan).  Only names ending in
 * ".json" and not starting with "." are records, so writers can write a
 * temporary file and rename it into place; a regular file is read when it
 * is closed after writing or renamed in, never half-written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmpd.h"

/* A record is a few hundred bytes; anything this big is not one. */
#define RECORD_MAX 65536
#define HIDE_MAX 256

struct entry {
	struct entry *next;
	char file[NAME_MAX + 1];
	struct qmpd_record rec;
	struct qmpd_vm *vm;
};

/*
 * No fd of the directory is kept open: an open fd would keep its dentry,
 * and with it delay the IN_DELETE_SELF that tells us it was removed.
 */
struct qmpd_dir {
	char *path;
	int ifd;
	int wd;
	yank_registry *reg;
	struct entry *entries;
};

int qmpd_record_file(const char *file)
{
	size_t n = strlen(file);

	return file[0] != '.' && n > 5 && strcmp(file + n - 5, ".json") == 0;
}

static int valid_name(const char *s, size_t len)
{
	if (len < 1 || len > QMPD_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

void qmpd_record_free(struct qmpd_record *r)
{
	for (size_t i = 0; i < r->n_hide; i++)
		free(r->hide[i]);
	free(r->hide);
	r->hide = NULL;
	r->n_hide = 0;
}

int qmpd_record_same(const struct qmpd_record *a, const struct qmpd_record *b)
{
	if (strcmp(a->name, b->name) || strcmp(a->socket, b->socket) || a->pid != b->pid ||
	    a->n_hide != b->n_hide)
		return 0;
	for (size_t i = 0; i < a->n_hide; i++)
		if (strcmp(a->hide[i], b->hide[i]))
			return 0;
	return 1;
}

static int parse_hide(json_t *v, struct qmpd_record *out, char *why, size_t whylen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v)) {
		snprintf(why, whylen, "\"hide\" must be an array of chardev ids");
		return -EINVAL;
	}
	if (json_array_size(v) > HIDE_MAX) {
		snprintf(why, whylen, "\"hide\" has more than %d ids", HIDE_MAX);
		return -EINVAL;
	}
	out->hide = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!out->hide)
		return -ENOMEM;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);

		if (!s || !*s || strlen(s) != json_string_length(e)) {
			snprintf(why, whylen, "\"hide\"[%zu] is not a chardev id", i);
			return -EINVAL;
		}
		out->hide[i] = strdup(s);
		if (!out->hide[i])
			return -ENOMEM;
		out->n_hide = i + 1;
	}
	return 0;
}

int qmpd_record_parse(const char *file, const char *text, size_t len, struct qmpd_record *out,
		      char *why, size_t whylen)
{
	size_t stem = strlen(file) - 5; /* a record file ends in ".json" */
	json_error_t err;
	json_t *root, *v;
	const char *key, *s;
	int r = -EINVAL;

	memset(out, 0, sizeof(*out));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		snprintf(why, whylen, "not JSON: %s (line %d, column %d)", err.text, err.line,
			 err.column);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(why, whylen, "not a JSON object");
		goto out;
	}
	/* A misspelt "hide" must not pass unnoticed: it would expose a monitor. */
	json_object_foreach(root, key, v) {
		if (strcmp(key, "name") && strcmp(key, "socket") && strcmp(key, "pid") &&
		    strcmp(key, "hide")) {
			snprintf(why, whylen, "unknown member \"%.64s\"", key);
			goto out;
		}
	}

	v = json_object_get(root, "name");
	s = json_string_value(v);
	if (!s) {
		snprintf(why, whylen, "\"name\" (a string) is missing");
		goto out;
	}
	if (strlen(s) != json_string_length(v) || !valid_name(s, strlen(s))) {
		snprintf(why, whylen, "\"name\" must be 1 to %d of [A-Za-z0-9._-]", QMPD_NAME_MAX);
		goto out;
	}
	if (strlen(s) != stem || strncmp(s, file, stem)) {
		snprintf(why, whylen, "\"name\" \"%s\" does not match the file name (%s.json expected)",
			 s, s);
		goto out;
	}
	memcpy(out->name, s, strlen(s) + 1);

	v = json_object_get(root, "socket");
	s = json_string_value(v);
	if (!s) {
		snprintf(why, whylen, "\"socket\" (a string) is missing");
		goto out;
	}
	if (s[0] != '/' || strlen(s) != json_string_length(v)) {
		snprintf(why, whylen, "\"socket\" must be an absolute path");
		goto out;
	}
	if (strlen(s) > QMPD_SOCKET_MAX) {
		snprintf(why, whylen, "\"socket\" is longer than %d bytes", QMPD_SOCKET_MAX);
		goto out;
	}
	memcpy(out->socket, s, strlen(s) + 1);

	v = json_object_get(root, "pid");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > INT_MAX) {
			snprintf(why, whylen, "\"pid\" must be a positive integer");
			goto out;
		}
		out->pid = (pid_t)json_integer_value(v);
	}

	v = json_object_get(root, "hide");
	if (v) {
		r = parse_hide(v, out, why, whylen);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		qmpd_record_free(out);
	json_decref(root);
	return r;
}

/*
 * Read record @file.  -ENOENT when it is not there (any more); other
 * errors with a sentence in @why.  Only regular files owned by root or by
 * us, and not writable by everyone, are trusted: a record makes us
 * connect to a socket and register names in our registry.
 */
static int load(struct qmpd_dir *d, const char *file, struct qmpd_record *out, char *why,
		size_t whylen)
{
	char *buf = NULL, *path;
	struct stat st;
	size_t len = 0;
	int fd, r;

	if (asprintf(&path, "%s/%s", d->path, file) < 0) {
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	free(path);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return r;
		if (r == -ELOOP) {
			snprintf(why, whylen, "a symbolic link, not a regular file");
			return -EPERM;
		}
		snprintf(why, whylen, "cannot open it: %s", strerror(-r));
		return r;
	}
	/* -EPERM: a file we must not trust; -EINVAL below: one we cannot use. */
	r = -EPERM;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, whylen, "fstat: %s", strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, whylen, "owned by uid %u: only root or uid %u may write records",
			 (unsigned int)st.st_uid, (unsigned int)geteuid());
		goto out;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(why, whylen, "writable by every user");
		goto out;
	}
	r = -EINVAL;
	if (st.st_size > RECORD_MAX) {
		snprintf(why, whylen, "larger than %d bytes", RECORD_MAX);
		goto out;
	}
	buf = malloc(RECORD_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, RECORD_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(why, whylen, "read: %s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > RECORD_MAX) {
			snprintf(why, whylen, "larger than %d bytes", RECORD_MAX);
			goto out;
		}
	}
	r = qmpd_record_parse(file, buf, len, out, why, whylen);
out:
	free(buf);
	close(fd);
	return r;
}

static struct entry *find(struct qmpd_dir *d, const char *file)
{
	for (struct entry *e = d->entries; e; e = e->next)
		if (strcmp(e->file, file) == 0)
			return e;
	return NULL;
}

static void drop(struct qmpd_dir *d, struct entry *e, const char *why)
{
	for (struct entry **pp = &d->entries; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	qmpd_vm_stop(e->vm, why);
	qmpd_record_free(&e->rec);
	free(e);
}

/* Make what is served for @file match what is on disk now. */
static void reconcile(struct qmpd_dir *d, const char *file)
{
	struct entry *e = find(d, file);
	struct qmpd_record rec;
	char why[256] = "";
	int r;

	r = load(d, file, &rec, why, sizeof(why));
	if (r == -ENOENT) {
		if (e)
			drop(d, e, "record removed");
		return;
	}
	if (r < 0) {
		qmpd_log("%s/%s: bad record, skipped: %s", d->path, file, why);
		/* Untrusted now (another owner, a link): what it named goes.
		 * Merely unusable (half edited, a typo): bad input changes
		 * nothing, and the QEMU it named keeps its mirror. */
		if (e && r == -EPERM)
			drop(d, e, "record no longer trusted");
		return;
	}
	if (e && qmpd_record_same(&e->rec, &rec)) {
		/* Written again as it was (QEMU restarted, libvirt reconnected). */
		qmpd_vm_poke(e->vm);
		qmpd_record_free(&rec);
		return;
	}
	if (e)
		drop(d, e, "record changed");
	e = calloc(1, sizeof(*e));
	if (!e) {
		qmpd_log("%s/%s: skipped: %s", d->path, file, strerror(ENOMEM));
		qmpd_record_free(&rec);
		return;
	}
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->rec = rec;
	r = qmpd_vm_start(d->reg, &e->rec, &e->vm);
	if (r < 0) {
		qmpd_log("%s: cannot start serving it: %s", rec.name, strerror(-r));
		qmpd_record_free(&e->rec);
		free(e);
		return;
	}
	e->next = d->entries;
	d->entries = e;
}

int qmpd_dir_open(const char *path, yank_registry *reg, struct qmpd_dir **out)
{
	struct qmpd_dir *d = calloc(1, sizeof(*d));
	DIR *dir;
	int r;

	if (!d || !(d->path = strdup(path))) {
		free(d);
		qmpd_log("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	d->reg = reg;
	d->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (d->ifd < 0) {
		r = -errno;
		qmpd_log("inotify: %s", strerror(-r));
		goto fail_ifd;
	}
	d->wd = inotify_add_watch(d->ifd, path,
				  IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
					  IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
	if (d->wd < 0) {
		r = -errno;
		qmpd_log("cannot watch %s: %s", path, strerror(-r));
		goto fail_watch;
	}
	dir = opendir(path);
	if (!dir) {
		r = -errno;
		qmpd_log("cannot read %s: %s", path, strerror(-r));
		goto fail_watch;
	}
	closedir(dir);
	*out = d;
	return 0;
fail_watch:
	close(d->ifd);
fail_ifd:
	free(d->path);
	free(d);
	return r;
}

int qmpd_dir_fd(const struct qmpd_dir *d)
{
	return d->ifd;
}

void qmpd_dir_scan(struct qmpd_dir *d)
{
	size_t n = 0, i;
	char **files = NULL;
	struct dirent *de;
	DIR *dir;

	/* What we serve first (some may be gone), then what is there. */
	for (struct entry *e = d->entries; e; e = e->next)
		n++;
	files = calloc(n + 1, sizeof(char *));
	if (!files) {
		qmpd_log("cannot rescan %s: %s", d->path, strerror(ENOMEM));
		return;
	}
	i = 0;
	for (struct entry *e = d->entries; e; e = e->next)
		files[i++] = strdup(e->file);
	for (i = 0; i < n; i++)
		if (files[i])
			reconcile(d, files[i]);
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);

	dir = opendir(d->path); /* O_CLOEXEC in glibc */
	if (!dir) {
		qmpd_log("cannot read %s: %s", d->path, strerror(errno));
		return;
	}
	while ((de = readdir(dir)))
		if (qmpd_record_file(de->d_name))
			reconcile(d, de->d_name);
	closedir(dir);
}

int qmpd_dir_events(struct qmpd_dir *d)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int gone = 0, rescan = 0;

	for (;;) {
		ssize_t n = read(d->ifd, buf, sizeof(buf));
		const struct inotify_event *ev;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				rescan = 1;
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))
				gone = 1;
			if (!ev->len || !qmpd_record_file(ev->name))
				continue;
			/* A new regular file is read once it is closed: it may be half-written. */
			if (ev->mask == IN_CREATE) {
				struct stat st;
				char *path;
				int reg = 0;

				if (asprintf(&path, "%s/%s", d->path, ev->name) >= 0) {
					reg = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
					free(path);
				}
				if (reg)
					continue;
			}
			reconcile(d, ev->name);
		}
	}
	if (gone)
		return -ENOENT;
	if (rescan) {
		qmpd_log("%s: inotify queue overflowed: reading every record again", d->path);
		qmpd_dir_scan(d);
	}
	return 0;
}

void qmpd_dir_close(struct qmpd_dir *d)
{
	if (!d)
		return;
	/* All told first, so that they stop side by side. */
	for (struct entry *e = d->entries; e; e = e->next)
		qmpd_vm_request_stop(e->vm, "stopping");
	while (d->entries)
		drop(d, d->entries, "stopping");
	close(d->ifd);
	free(d->path);
	free(d);
}
