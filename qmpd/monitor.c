/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * A QMP client connection, shared by a QEMU's worker thread and libyank's
 * agent thread (which runs the proxied yanks).
 *
 * One reader thread per connection is the only reader of the socket.  It
 * frames the byte stream into JSON objects (QEMU may pretty-print, so
 * lines mean nothing), keeps the greeting, hands each reply to the request
 * waiting for its id, and reports events through the notify callback.
 * Writers take a write lock so that two requests never interleave on the
 * wire; every request carries an id, which is how replies find their
 * waiter while events arrive in between.  Every wait has a deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmpd.h"

/* A monitor that sends more than this in one object is not a QEMU we know. */
#define QMP_OBJECT_MAX (1024 * 1024)
#define QMP_READ_CHUNK 65536

/* A request waiting for its reply; it lives on the waiter's stack. */
struct pending {
	struct pending *next;
	char id[32];
	json_t *reply;
	int done;
};

struct qmp_conn {
	int fd;
	pthread_t reader;
	qmp_notify_fn *notify;
	void *arg;
	int closing;            /* atomic: qmp_close() is tearing down */

	pthread_mutex_t lock;   /* everything below */
	pthread_cond_t cond;    /* greeting, replies, loss */
	int dead;
	const char *lost;       /* why, once dead */
	char read_err[96];      /* lost's text when a read failed */
	json_t *greeting;
	struct pending *pending;
	uint64_t next_id;

	pthread_mutex_t wlock;  /* one request on the wire at a time */
};

long qmp_frame(const char *buf, size_t len, size_t *skip)
{
	size_t i = 0, j;
	int depth = 0, in_str = 0, esc = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	*skip = i;
	if (i == len)
		return 0;
	if (buf[i] != '{')
		return -1;
	for (j = i; j < len; j++) {
		char ch = buf[j];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (ch == '\\')
				esc = 1;
			else if (ch == '"')
				in_str = 0;
			continue;
		}
		if (ch == '"') {
			in_str = 1;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (--depth == 0)
				return (long)(j - i + 1);
		}
	}
	return 0;
}

/* One object from QEMU: the greeting, an event, or a reply. */
static void dispatch(struct qmp_conn *c, json_t *obj)
{
	json_t *id;
	const char *event;

	if (json_object_get(obj, "QMP")) {
		pthread_mutex_lock(&c->lock);
		if (!c->greeting)
			c->greeting = json_incref(obj);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	event = json_string_value(json_object_get(obj, "event"));
	if (event) {
		if (c->notify)
			c->notify(c->arg, event);
		return;
	}
	id = json_object_get(obj, "id");
	if (!json_is_string(id))
		return; /* we always send an id: nobody waits for this one */
	pthread_mutex_lock(&c->lock);
	for (struct pending *p = c->pending; p; p = p->next) {
		if (!p->done && strcmp(p->id, json_string_value(id)) == 0) {
			p->reply = json_incref(obj);
			p->done = 1;
			pthread_cond_broadcast(&c->cond);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Dispatch every complete object in @buf; keep the rest.  -1: not QMP (@why). */
static int drain(struct qmp_conn *c, char *buf, size_t *len, const char **why)
{
	for (;;) {
		size_t skip;
		long n = qmp_frame(buf, *len, &skip);
		json_error_t err;
		json_t *obj;

		if (n < 0) {
			*why = "it sent something that is not a JSON object";
			return -1;
		}
		if (n == 0) {
			memmove(buf, buf + skip, *len - skip);
			*len -= skip;
			if (*len <= QMP_OBJECT_MAX)
				return 0;
			*why = "it sent an object larger than 1 MiB";
			return -1;
		}
		obj = json_loadb(buf + skip, (size_t)n, JSON_REJECT_DUPLICATES, &err);
		if (!json_is_object(obj)) {
			json_decref(obj);
			*why = "it sent invalid JSON";
			return -1;
		}
		dispatch(c, obj);
		json_decref(obj);
		memmove(buf, buf + skip + n, *len - skip - (size_t)n);
		*len -= skip + (size_t)n;
	}
}

static void *reader_main(void *arg)
{
	struct qmp_conn *c = arg;
	size_t cap = QMP_READ_CHUNK, len = 0;
	char *buf = malloc(cap);
	const char *why = buf ? NULL : "no memory";

	while (buf && !__atomic_load_n(&c->closing, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;
		int r;

		/* Bounded, so that a close is noticed even if shutdown() were lost. */
		r = poll(&pfd, 1, 1000);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (cap - len < QMP_READ_CHUNK / 4) {
			char *nb;

			if (cap >= QMP_OBJECT_MAX + QMP_READ_CHUNK) {
				why = "it sent an object larger than 1 MiB";
				break;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				why = "no memory";
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(c->fd, buf + len, cap - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			const char *e = strerrordesc_np(errno);

			snprintf(c->read_err, sizeof(c->read_err), "reading failed: %s",
				 e ? e : "unknown error");
			why = c->read_err;
		}
		if (n <= 0)
			break;
		len += (size_t)n;
		if (drain(c, buf, &len, &why) < 0)
			break;
	}
	free(buf);
	pthread_mutex_lock(&c->lock);
	c->dead = 1;
	c->lost = why;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->notify && !__atomic_load_n(&c->closing, __ATOMIC_ACQUIRE))
		c->notify(c->arg, NULL);
	return NULL;
}

int qmp_connect(const char *path, qmp_notify_fn *notify, void *arg, struct qmp_conn **out,
		pid_t *peer_pid, char *why, size_t whylen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct qmp_conn *c;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "socket: %s", strerror(-r));
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (r == -EAGAIN)
			snprintf(why, whylen,
				 "connect %s: the monitor's backlog is full (another client holds it?)",
				 path);
		else if (r == -ECONNREFUSED)
			snprintf(why, whylen, "connect %s: %s (no QEMU listens there)", path,
				 strerror(-r));
		else
			snprintf(why, whylen, "connect %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		r = -errno;
		snprintf(why, whylen, "SO_PEERCRED on %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	c->fd = fd;
	c->notify = notify;
	c->arg = arg;
	c->next_id = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	qmpd_cond_init(&c->cond);
	r = pthread_create(&c->reader, NULL, reader_main, c);
	if (r) {
		snprintf(why, whylen, "cannot start a reader thread: %s", strerror(r));
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->wlock);
		pthread_mutex_destroy(&c->lock);
		close(fd);
		free(c);
		return -r;
	}
	*peer_pid = cred.pid;
	*out = c;
	return 0;
}

void qmp_close(struct qmp_conn *c)
{
	if (!c)
		return;
	__atomic_store_n(&c->closing, 1, __ATOMIC_RELEASE);
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(c->reader, NULL);
	close(c->fd);
	json_decref(c->greeting);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->wlock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *qmp_lost(struct qmp_conn *c)
{
	const char *why;

	pthread_mutex_lock(&c->lock);
	why = c->lost;
	pthread_mutex_unlock(&c->lock);
	return why;
}

void qmp_cancel(struct qmp_conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
}

int qmp_dead(struct qmp_conn *c)
{
	int d;

	pthread_mutex_lock(&c->lock);
	d = c->dead;
	pthread_mutex_unlock(&c->lock);
	return d;
}

int qmp_greeting(struct qmp_conn *c, int64_t deadline_ms, json_t **greeting)
{
	struct timespec ts;
	int r = 0;

	qmpd_deadline_ts(deadline_ms, &ts);
	pthread_mutex_lock(&c->lock);
	while (!c->greeting && !c->dead && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	if (c->greeting) {
		*greeting = json_incref(c->greeting);
		r = 0;
	} else {
		r = c->dead ? -EPIPE : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/*
 * Write all of @buf before @deadline_ms.  A request cut in the middle
 * would desynchronise QEMU's parser, so a partial write breaks the
 * connection (-EPIPE); nothing written at all is a plain -ETIMEDOUT.
 */
static int send_all(struct qmp_conn *c, const char *buf, size_t len, int64_t deadline_ms)
{
	struct timespec ts;
	size_t off = 0;
	int r;

	qmpd_deadline_ts(deadline_ms, &ts);
	r = pthread_mutex_clocklock(&c->wlock, CLOCK_MONOTONIC, &ts);
	if (r)
		return -r;
	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		int64_t left;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};

			left = deadline_ms - qmpd_now_ms();
			if (left > 0) {
				poll(&pfd, 1, (int)left);
				continue;
			}
			r = off ? -EPIPE : -ETIMEDOUT;
		} else {
			r = -EPIPE;
		}
		if (r == -EPIPE)
			shutdown(c->fd, SHUT_RDWR); /* the reader sees the end */
		pthread_mutex_unlock(&c->wlock);
		return r;
	}
	pthread_mutex_unlock(&c->wlock);
	return 0;
}

static void unlink_pending(struct qmp_conn *c, struct pending *p)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

int qmp_request(struct qmp_conn *c, const char *cmd, json_t *args, int flags, int64_t deadline_ms,
		json_t **reply)
{
	struct pending p = {.next = NULL};
	struct timespec ts;
	json_t *req = json_object();
	char *text = NULL, *line = NULL;
	int r, w;

	if (!req || json_object_set_new(req, (flags & QMP_OOB) ? "exec-oob" : "execute",
					json_string(cmd)) < 0 ||
	    (args && json_object_set(req, "arguments", args) < 0)) {
		json_decref(args);
		json_decref(req);
		return -ENOMEM;
	}
	json_decref(args);

	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		json_decref(req);
		return -EPIPE;
	}
	snprintf(p.id, sizeof(p.id), "qmpd-%" PRIu64, c->next_id++);
	p.next = c->pending;
	c->pending = &p;
	pthread_mutex_unlock(&c->lock);

	r = -ENOMEM;
	if (json_object_set_new(req, "id", json_string(p.id)) == 0) {
		text = json_dumps(req, JSON_COMPACT);
		if (text && asprintf(&line, "%s\n", text) < 0)
			line = NULL;
	}
	json_decref(req);
	free(text);
	if (line) {
		r = send_all(c, line, strlen(line), deadline_ms);
		free(line);
	}

	qmpd_deadline_ts(deadline_ms, &ts);
	pthread_mutex_lock(&c->lock);
	w = 0;
	while (r == 0 && !p.done && !c->dead && w != ETIMEDOUT)
		w = pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	unlink_pending(c, &p);
	if (r == 0) {
		if (p.done) {
			*reply = p.reply;
			p.reply = NULL;
		} else {
			r = c->dead ? -EPIPE : -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(p.reply);
	return r;
}

const char *qmp_error_class(const json_t *reply)
{
	json_t *err = json_object_get(reply, "error");
	const char *cls;

	if (!err)
		return NULL;
	cls = json_string_value(json_object_get(err, "class"));
	return cls ? cls : "GenericError";
}

const char *qmp_error_desc(const json_t *reply)
{
	const char *d = json_string_value(json_object_get(json_object_get(reply, "error"), "desc"));

	return d ? d : "";
}
