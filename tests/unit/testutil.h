/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Helpers shared by the Criterion suites: unique segment names, children
 * that report only through their exit status, bounded waits.
 * Never cr_assert in a forked child: it wedges the Criterion runner.
 */
#ifndef YANK_TESTUTIL_H
#define YANK_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Criterion 2.4.1's runner process itself leaks one 48-byte block (frames in
 * libcriterion.so only) when many tests run with --jobs 2, and LeakSanitizer
 * then fails the whole binary under `make SANITIZE=1`.  Not ours: suppressed
 * for that library only.  The hook is read by the sanitizer runtime and is
 * inert in an uninstrumented build.
 */
const char *__lsan_default_suppressions(void);
__attribute__((used, visibility("default"))) const char *__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}

static inline int tu_mult(void)
{
	const char *m = getenv("YANK_TEST_TIMEOUT_MULTIPLIER");
	int v = m ? atoi(m) : 1;
	return v > 0 ? v : 1;
}

/* A segment name private to this test process, under the run's prefix
 * (which the runner sweeps at its end) when it has one. */
static inline const char *tu_segment(const char *tag)
{
	static char buf[192];
	const char *prefix = getenv("YANK_TEST_PREFIX");
	if (!prefix || strlen(prefix) > 100)
		prefix = "/yank-test";
	snprintf(buf, sizeof(buf), "%s-%d-%s", prefix, (int)getpid(), tag);
	shm_unlink(buf);
	return buf;
}

static inline long tu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Child setup: die with the test, never outlive it. */
static inline void tu_child_init(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Wait for @pid at most @ms (scaled); SIGKILL it after that.  Returns the status or -1. */
/*
 * SIGSTOP @pid and wait (bounded, @ms scaled) until every thread of it is
 * stopped: the signal reaches the threads one by one, and an agent thread
 * still running for a moment answers a yank meant to find it stopped.
 * 0, or -1 when they did not all stop in time.
 */
static inline int tu_stop_all(pid_t pid, long ms)
{
	char dir[64];
	long end = tu_now_ms() + ms * tu_mult();

	kill(pid, SIGSTOP);
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	while (tu_now_ms() < end) {
		int running = 0;
		DIR *d = opendir(dir);
		struct dirent *de;

		if (!d)
			return -1;
		while ((de = readdir(d))) {
			char path[400], line[512];
			FILE *f;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/stat", dir, de->d_name);
			f = fopen(path, "re");
			if (f && fgets(line, sizeof(line), f)) {
				char *p = strrchr(line, ')');
				running |= p && p[1] == ' ' && p[2] != 'T' && p[2] != 't';
			}
			if (f)
				fclose(f);
		}
		closedir(d);
		if (!running)
			return 0;
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static inline int tu_wait(pid_t pid, long ms)
{
	long end = tu_now_ms() + ms * tu_mult();
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		if (tu_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

/* Exit code of a child that exited normally, or -1. */
static inline int tu_exit_code(pid_t pid, long ms)
{
	int st = tu_wait(pid, ms);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Read one byte from @fd within @ms (scaled): the byte, or -1. */
static inline int tu_read_byte(int fd, long ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, (int)(ms * tu_mult())) <= 0)
		return -1;
	unsigned char c;
	return read(fd, &c, 1) == 1 ? c : -1;
}

static inline void tu_write_byte(int fd, int c)
{
	unsigned char b = (unsigned char)c;
	if (write(fd, &b, 1) != 1)
		_exit(120);
}

/*
 * Read one line from @fd into @buf (NUL-terminated, newline dropped) within
 * @ms (scaled).  Byte by byte, so nothing past the line is consumed.
 * Returns the length, or -1 on timeout or EOF.
 */
static inline int tu_read_line(int fd, char *buf, size_t cap, long ms)
{
	long end = tu_now_ms() + ms * tu_mult();
	size_t n = 0;
	while (n + 1 < cap) {
		long left = end - tu_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		char c;
		if (read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return (int)n;
}

/*
 * Start $HELPERS/@prog with @argv (NULL-terminated, argv[0] ignored);
 * *to_child writes its stdin, *from_child reads its stdout.  Returns the pid.
 */
static inline pid_t tu_spawn(const char *prog, char *const argv[], int *to_child, int *from_child)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		char path[4096];
		const char *dir = getenv("HELPERS");
		snprintf(path, sizeof(path), "%s/%s", dir ? dir : "build/tests/helpers", prog);
		execv(path, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	return pid;
}

/* Count open fds of this process. */
static inline int tu_count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

#endif
