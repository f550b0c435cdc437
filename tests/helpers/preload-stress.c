/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * preload-stress: a program that is hard on libyank-preload.so, run under
 * it by tests/cli/test-preload.sh.  Two threads connect and close loopback
 * sockets as fast as they can, a third accepts, a SIGALRM handler every
 * millisecond closes the main thread's registered socket (close() is
 * async-signal-safe, so a program may), and the main thread forks while
 * the others run; each child connects, closes and exits.  Any deadlock
 * shows as the run overstaying its bound.  Exit 0 and "ok" when all went
 * through; 1 with the reason otherwise.  Knows nothing of yank.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 3000
#define FORKS 50

static struct sockaddr_in addr;
static int victim = -1; /* the socket the signal handler closes */
static int handler_closes;

static int dial(void)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -1;
	if (connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(c);
		return -1;
	}
	return c;
}

static void on_alarm(int sig)
{
	(void)sig;
	int e = errno;
	int fd = __atomic_exchange_n(&victim, -1, __ATOMIC_ACQ_REL);
	if (fd >= 0) {
		close(fd);
		__atomic_add_fetch(&handler_closes, 1, __ATOMIC_RELAXED);
	}
	errno = e;
}

static void *acceptor(void *arg)
{
	int l = *(int *)arg;
	for (;;) {
		int s = accept(l, NULL, NULL);
		if (s >= 0)
			close(s);
	}
	return NULL;
}

static void *churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int c = dial();
		if (c >= 0)
			close(c);
	}
	return NULL;
}

/* The child of a multithreaded parent: it must be able to register and close. */
static int forked(void)
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		alarm(10); /* a child that hangs dies of it, and the parent sees that */
		int c = dial();
		if (c < 0)
			_exit(2);
		close(c);
		_exit(0);
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(void)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)&addr, &len) < 0) {
		perror("preload-stress: listen");
		return 1;
	}
	pthread_t acc, t[2];
	pthread_create(&acc, NULL, acceptor, &l);
	pthread_create(&t[0], NULL, churn, NULL);
	pthread_create(&t[1], NULL, churn, NULL);
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	int bad_forks = 0;
	for (int i = 0; i < ROUNDS; i++) {
		int c = dial();
		int old = __atomic_exchange_n(&victim, c, __ATOMIC_ACQ_REL);
		if (old >= 0)
			close(old);
		if (i % (ROUNDS / FORKS) == 0 && forked() < 0)
			bad_forks++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	if (bad_forks) {
		printf("preload-stress: %d fork children failed\n", bad_forks);
		return 1;
	}
	printf("ok: %d closes in the signal handler\n", handler_closes);
	return 0;
}
