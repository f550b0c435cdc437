/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * preload-sigclose: does closing a registered socket stay clear of the
 * allocator?  close() is async-signal-safe, so a program may call it from
 * a signal handler that interrupted malloc() on the same thread; if the
 * shim's unregister then called malloc or free, it could deadlock on the
 * arena lock or corrupt the thread's cache.  A signal landing inside
 * malloc cannot be aimed at reliably, so this program checks the cause
 * instead: it replaces malloc, calloc, realloc and free with wrappers
 * around glibc's that count calls while close() runs.
 *
 * Run under libyank-preload.so by tests/cli/test-preload.sh: it connects a
 * loopback TCP socket (which the shim registers), prints "ready PID FD",
 * waits for a line on stdin, closes the socket and prints "allocs N", N
 * being the allocator calls made inside that close(); then it waits for
 * the end of stdin before it exits.  Knows nothing of yank.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static int counting, calls;

/* Exported (the build hides symbols by default, and links this with
 * -rdynamic), so that the shim's calls reach these and not glibc's. */
#define EXPORTED __attribute__((visibility("default")))

static void count(void)
{
	if (__atomic_load_n(&counting, __ATOMIC_RELAXED))
		__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
}

EXPORTED void *malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}

EXPORTED void *calloc(size_t n, size_t size)
{
	count();
	return __libc_calloc(n, size);
}

EXPORTED void *realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}

EXPORTED void free(void *p)
{
	if (p)
		count();
	__libc_free(p);
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0) {
		perror("preload-sigclose: listen");
		return 1;
	}
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("preload-sigclose: connect");
		return 1;
	}
	int s = accept(l, NULL, NULL);
	if (s < 0) {
		perror("preload-sigclose: accept");
		return 1;
	}
	printf("ready %d %d\n", (int)getpid(), c);
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	__atomic_store_n(&counting, 1, __ATOMIC_RELAXED);
	int r = close(c);
	__atomic_store_n(&counting, 0, __ATOMIC_RELAXED);
	if (r < 0) {
		perror("preload-sigclose: close");
		return 1;
	}
	printf("allocs %d\n", __atomic_load_n(&calls, __ATOMIC_RELAXED));
	fflush(stdout);
	/* Until stdin ends, the test may look at what the close left behind. */
	while (fgets(line, sizeof(line), stdin))
		;
	close(s);
	close(l);
	return 0;
}
