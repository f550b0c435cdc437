/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Instance names for the sockets the shim registers (SPEC §12) and the
 * YANK_PRELOAD_MATCH patterns.  Every name is plain printable ASCII: bytes
 * a yank name may not hold (controls, non-UTF-8, and anything outside
 * ASCII, since a comm or an abstract socket name is arbitrary bytes) are
 * written as \xHH, so yank_check_instance() always accepts the result.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "preload.h"

/* Appends to a fixed buffer; past the end it silently truncates. */
struct out {
	char *p;
	size_t len, size;
};

static void put_c(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->p[o->len++] = c;
	o->p[o->len] = '\0';
}

static void put_s(struct out *o, const char *s)
{
	while (*s)
		put_c(o, *s++);
}

/* A byte that would need escaping never appears half-written: \xHH fits or is dropped. */
static void put_escaped(struct out *o, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			put_c(o, (char)c);
			continue;
		}
		if (o->len + 4 >= o->size)
			return;
		put_c(o, '\\');
		put_c(o, 'x');
		put_c(o, hex[c >> 4]);
		put_c(o, hex[c & 15]);
	}
}

void yank__pl_escape(const char *in, size_t len, char *out, size_t size)
{
	struct out o = { out, 0, size };
	out[0] = '\0';
	put_escaped(&o, in, len);
}

static void peer_unix(const struct sockaddr_un *su, socklen_t len, struct out *o)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	put_s(o, "unix:");
	if (len <= off) {
		put_c(o, '-'); /* unnamed: a socketpair end, or a client that never bound */
		return;
	}
	size_t n = len - off;
	if (n > sizeof(su->sun_path))
		n = sizeof(su->sun_path);
	if (su->sun_path[0] == '\0') {
		/* Abstract: the name is every byte after the NUL, NULs included. */
		put_c(o, '@');
		put_escaped(o, su->sun_path + 1, n - 1);
		return;
	}
	put_escaped(o, su->sun_path, strnlen(su->sun_path, n));
}

void yank__pl_peer(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
	struct out o = { out, 0, size };
	char addr[INET6_ADDRSTRLEN], port[8];
	out[0] = '\0';
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *si = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &si->sin_addr, addr, sizeof(addr));
		snprintf(port, sizeof(port), "%u", ntohs(si->sin_port));
		put_s(&o, "tcp:");
		put_s(&o, addr);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *si = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &si->sin6_addr, addr, sizeof(addr));
		snprintf(port, sizeof(port), "%u", ntohs(si->sin6_port));
		put_s(&o, "tcp:[");
		put_s(&o, addr);
		put_c(&o, ']');
	} else if (sa->sa_family == AF_UNIX) {
		peer_unix((const struct sockaddr_un *)sa, len, &o);
		return;
	} else {
		put_s(&o, "-");
		return;
	}
	put_c(&o, ':');
	put_s(&o, port);
}

void yank__pl_name(const char *tmpl, const char *comm, int fd, char dir, const char *peer,
		   char *out, size_t size)
{
	struct out o = { out, 0, size };
	char num[16];
	out[0] = '\0';
	for (const char *t = tmpl; *t; t++) {
		if (*t != '%' || !t[1]) {
			put_escaped(&o, t, 1);
			continue;
		}
		switch (*++t) {
		case 'c':
			put_s(&o, comm);
			break;
		case 'p':
			snprintf(num, sizeof(num), "%d", (int)getpid());
			put_s(&o, num);
			break;
		case 'f':
			snprintf(num, sizeof(num), "%d", fd);
			put_s(&o, num);
			break;
		case 'a':
			put_s(&o, peer);
			break;
		case 'd':
			put_c(&o, dir);
			break;
		case '%':
			put_c(&o, '%');
			break;
		default:
			/* Unknown: kept as written, so a typo shows in the name. */
			put_c(&o, '%');
			put_escaped(&o, t, 1);
		}
	}
}

int yank__pl_template_has_fd(const char *tmpl)
{
	for (const char *t = tmpl; *t; t++) {
		if (*t != '%' || !t[1])
			continue;
		if (*++t == 'f')
			return 1;
	}
	return 0;
}

/* '*' matches any run of bytes, everything else itself: '[' in "tcp:[::1]" is literal. */
static int wild(const char *p, const char *pend, const char *s)
{
	for (; p < pend; p++, s++) {
		if (*p == '*') {
			for (const char *t = s;; t++) {
				if (wild(p + 1, pend, t))
					return 1;
				if (!*t)
					return 0;
			}
		}
		if (*p != *s)
			return 0;
	}
	return *s == '\0';
}

int yank__pl_match(const char *list, const char *peer)
{
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if (end > p && wild(p, end, peer))
			return 1;
		p = *end ? end + 1 : end;
	}
	return 0;
}
