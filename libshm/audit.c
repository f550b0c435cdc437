/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The audit log.  A yank must work while a stopped process holds the
 * registry lock, so auditing takes no lock: an entry is claimed with one
 * atomic increment and published through its own sequence word (layout.h
 * has the protocol).  Whatever cannot be read back whole (a writer died
 * in it, two writers a lap apart collided on it, someone scribbled on it)
 * is reported torn and nothing of it is believed.
 *
 * The syslog line goes straight to /dev/log in one non-blocking datagram
 * on a socket opened and closed here: syslog(3) would keep an fd open in
 * the host and could block on a full log socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "internal.h"
#include "layout.h"
#include "owner.h"
#include "segment.h"
#include "utf8.h"

const char *yank__syslog_path = "/dev/log";

int yank__spell(const char *ns, uint32_t type, const char *name, char *buf, size_t cap)
{
	const char *t = yank_type_name((enum yank_type)type);
	int n = snprintf(buf, cap, "%s%s%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "",
			 t ? t : "?", name ? ":" : "", name ? name : "");
	if (n < 0)
		return -EINVAL;
	return (size_t)n < cap ? n : -ENOSPC;
}

/* FNV-1a over everything after the sequence word and the sum itself. */
static uint64_t slot_sum(const struct audit_slot *a)
{
	const unsigned char *p = (const unsigned char *)a + offsetof(struct audit_slot, time_ns);
	size_t len = sizeof(*a) - offsetof(struct audit_slot, time_ns);
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The command line, NULs as spaces, with anything unprintable as '?'. */
static void read_command(char *out, size_t cap)
{
	char buf[AUDIT_CMD];
	int len = yank__proc_file(0, "cmdline", buf, sizeof(buf));
	if (len <= 0) {
		snprintf(out, cap, "?");
		return;
	}
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	size_t o = 0;
	for (int i = 0; i < len && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)buf[i];
		out[o++] = c == '\0' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o] = '\0';
}

static void fill(struct audit_slot *a, const struct audit_input *in)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	a->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	a->pid = yank__self_pid();
	a->uid = (uint32_t)geteuid();
	a->result = in->result;
	a->n_instances = (uint32_t)(in->n > UINT32_MAX ? UINT32_MAX : in->n);
	a->failures = in->failures;
	read_command(a->command, sizeof(a->command));
	uint32_t used = 0, items = 0;
	for (size_t i = 0; i < in->n && items < AUDIT_ITEMS; i++) {
		int len = yank__spell(in->ns ? in->ns[i] : NULL, (uint32_t)in->list[i].type,
				      in->list[i].name, a->text + used, AUDIT_TEXT - used);
		if (len < 0)
			break; /* the rest does not fit: n_instances still counts it */
		used += (uint32_t)len + 1;
		a->items[items].failures = in->pos_fail ? in->pos_fail[i] : 0;
		a->items[items].kind = in->pos_kind ? in->pos_kind[i] : 0;
		items++;
	}
	a->n_items = items;
	a->text_len = used;
	a->sum = slot_sum(a);
}

/* Quote @s for a key="value" field: backslash and double quote escaped. */
static size_t quote(char *out, size_t cap, size_t at, const char *s, size_t len)
{
	if (at + 1 < cap)
		out[at++] = '"';
	for (size_t i = 0; i < len && at + 3 < cap; i++) {
		char c = s[i] == '\0' ? ' ' : s[i];
		if (c == '"' || c == '\\')
			out[at++] = '\\';
		out[at++] = c;
	}
	if (at + 1 < cap)
		out[at++] = '"';
	out[at] = '\0';
	return at;
}

static void send_syslog(const struct audit_slot *a, const char *segment)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg),
			 "<%d>yank[%d]: yank segment=%s pid=%d uid=%u result=%s instances=%u "
			 "failures=%u names=",
			 1 * 8 + 5 /* LOG_USER | LOG_NOTICE */, (int)a->pid, segment, (int)a->pid,
			 a->uid, a->result == 0 ? "ok" : "failed", a->n_instances, a->failures);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	size_t at = quote(msg, sizeof(msg), (size_t)n, a->text,
			  a->text_len ? a->text_len - 1 : 0);
	if (at + 10 < sizeof(msg)) {
		memcpy(msg + at, " command=", 10);
		at += 9;
		at = quote(msg, sizeof(msg), at, a->command, strlen(a->command));
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t pl = strlen(yank__syslog_path);
	if (pl < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, yank__syslog_path, pl + 1);
		/* Lost when nobody listens or the log is full: never waited for. */
		sendto(fd, msg, at, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa));
	}
	close(fd);
}

void yank__audit_record(struct seg *s, const struct audit_input *in)
{
	struct audit_slot a;
	memset(&a, 0, sizeof(a));
	fill(&a, in);
	uint64_t *counter = in->result == 0 ? &s->hdr->yanks_ok : &s->hdr->yanks_failed;
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
	uint64_t n = __atomic_fetch_add(&s->hdr->audit_next, 1, __ATOMIC_RELAXED);
	struct audit_slot *slot = &s->audit[n % AUDIT_SLOTS];
	__atomic_store_n(&slot->seq, 2 * n + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy((char *)slot + sizeof(slot->seq), (const char *)&a + sizeof(a.seq),
	       sizeof(a) - sizeof(a.seq));
	__atomic_store_n(&slot->seq, 2 * n + 2, __ATOMIC_RELEASE);
	send_syslog(&a, s->name);
}

void yank__audit_not_found(struct seg *s)
{
	__atomic_add_fetch(&s->hdr->yanks_not_found, 1, __ATOMIC_RELAXED);
}

/* How much of @s is printable UTF-8: a name, a command line. */
static size_t clean_prefix(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t at = 0;
	while (at < len) {
		uint32_t cp;
		size_t k = yank__utf8_seq(p + at, len - at, &cp);
		if (!k || yank__utf8_control(cp))
			break;
		at += k;
	}
	return at;
}

/* Everything a reader relies on; anything else makes the entry torn. */
static int slot_valid(const struct audit_slot *a)
{
	if (a->sum != slot_sum(a) || a->n_items > AUDIT_ITEMS || a->n_items > a->n_instances ||
	    a->text_len > AUDIT_TEXT || (a->result != 0 && a->result != -EIO) || a->pid <= 0)
		return 0;
	if (strnlen(a->command, sizeof(a->command)) == sizeof(a->command))
		return 0;
	size_t at = 0;
	for (uint32_t i = 0; i < a->n_items; i++) {
		if (a->items[i].kind > YANK_FAIL_PROXY)
			return 0;
		size_t len = strnlen(a->text + at, a->text_len - at);
		if (at + len >= a->text_len || len == 0 || clean_prefix(a->text + at, len) != len)
			return 0;
		at += len + 1;
	}
	return at == a->text_len;
}

/* 1 and a checked copy, 0 for torn, -1 when a later entry took the slot. */
static int read_slot(const struct seg *s, uint64_t n, struct audit_slot *out)
{
	const struct audit_slot *slot = &s->audit[n % AUDIT_SLOTS];
	uint64_t want = 2 * n + 2;
	uint64_t s0 = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);
	if (s0 > want)
		return -1;
	if (s0 != want)
		return 0;
	memcpy(out, slot, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	uint64_t s1 = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED);
	if (s1 != s0)
		return s1 > want ? -1 : 0;
	return slot_valid(out);
}

static int convert(const struct audit_slot *a, struct yank_audit_entry *e)
{
	struct yank_audit_item *items = malloc(a->n_items * sizeof(*items) + a->text_len + 1);
	if (!items)
		return -ENOMEM;
	char *text = (char *)(items + a->n_items);
	memcpy(text, a->text, a->text_len);
	size_t at = 0;
	for (uint32_t i = 0; i < a->n_items; i++) {
		items[i].instance = text + at;
		items[i].failures = a->items[i].failures;
		items[i].kind = (enum yank_failure_kind)a->items[i].kind;
		at += strlen(text + at) + 1;
	}
	e->torn = 0;
	e->result = a->result;
	e->time_ns = a->time_ns;
	e->pid = a->pid;
	e->uid = a->uid;
	/* Truncation may have cut a character in two: up to the first bad one. */
	size_t cl = clean_prefix(a->command, strnlen(a->command, sizeof(a->command)));
	memcpy(e->command, a->command, cl);
	e->command[cl] = '\0';
	e->n_instances = a->n_instances;
	e->failures = a->failures;
	e->items = items;
	e->n_items = a->n_items;
	return 0;
}

int yank__audit_read(const struct seg *s, uint64_t since, struct yank_audit_entry **out,
		     size_t *n)
{
	uint64_t next = __atomic_load_n(&s->hdr->audit_next, __ATOMIC_ACQUIRE);
	uint64_t first = next > AUDIT_SLOTS ? next - AUDIT_SLOTS : 0;
	if (since > first)
		first = since;
	size_t cap = next > first ? (size_t)(next - first) : 0;
	struct yank_audit_entry *e = calloc(cap ? cap : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	size_t cnt = 0;
	for (uint64_t i = first; i < next; i++) {
		struct audit_slot a;
		int r = read_slot(s, i, &a);
		if (r < 0)
			continue; /* overwritten since we looked: no longer in the log */
		struct yank_audit_entry *it = &e[cnt];
		memset(it, 0, sizeof(*it));
		it->seq = i;
		it->torn = !r;
		if (r && convert(&a, it) < 0) {
			yank__audit_free(e, cnt);
			return -ENOMEM;
		}
		cnt++;
	}
	*out = e;
	*n = cnt;
	return 0;
}

void yank__audit_free(struct yank_audit_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].items);
	free(e);
}
