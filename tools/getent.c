/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * getent(1) as a child process: spawned without a shell, its output read
 * through a close-on-exec pipe with a bounded wait, killed if it hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "getent.h"

#define GETENT_WAIT_MS 2000

extern char **environ;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int spawn(const char *db, const char *key, int out, pid_t *pid)
{
	static const char *const paths[] = { "/usr/bin/getent", "/bin/getent" };
	posix_spawn_file_actions_t fa;
	char *argv[] = { "getent", (char *)db, (char *)key, NULL };
	int r = ENOENT;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -ENOMEM;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && r == ENOENT; i++)
		r = posix_spawn(pid, paths[i], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/* Read until EOF, a full buffer or the deadline: the bytes read, or -ETIMEDOUT. */
static ssize_t read_all(int fd, char *buf, size_t cap, long until)
{
	size_t n = 0;

	while (n < cap) {
		long left = until - now_ms();
		struct pollfd p = { fd, POLLIN, 0 };

		if (left <= 0)
			return -ETIMEDOUT;
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	return (ssize_t)n;
}

/*
 * Reap @pid, killed once @until has passed (a child that closed its output
 * and went on): 0 and its status, or -ETIMEDOUT, -errno.  Even killed, a
 * child stuck in the kernel (a hung NFS home, say) is waited for a second
 * at most, then left to init.
 */
static int reap(pid_t pid, long until, int *st)
{
	int killed = 0;
	for (;;) {
		pid_t w = waitpid(pid, st, WNOHANG);
		if (w == pid)
			return killed ? -ETIMEDOUT : 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		long now = now_ms();
		if (killed && now >= until)
			return -ETIMEDOUT;
		if (!killed && now >= until) {
			kill(pid, SIGKILL);
			killed = 1;
			until = now + 1000;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

int yc_getent(const char *db, const char *key, char *line, size_t cap)
{
	int fds[2];
	pid_t pid;
	char buf[4096];
	long until = now_ms() + GETENT_WAIT_MS;

	/* An option or an empty key would be getent's to misread. */
	if (!*key || *key == '-' || cap == 0)
		return -ENOENT;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	int r = spawn(db, key, fds[1], &pid);
	close(fds[1]);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	ssize_t n = read_all(fds[0], buf, sizeof(buf) - 1, until);
	close(fds[0]);
	int st;
	int w = reap(pid, n < 0 ? now_ms() : until, &st);
	if (n < 0)
		return (int)n;
	if (w < 0)
		return w;
	/* getent: 0 found, 2 no such key; anything else is its failure. */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return WIFEXITED(st) && WEXITSTATUS(st) == 2 ? -ENOENT : -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strlen(buf) >= cap)
		return -ENAMETOOLONG;
	memcpy(line, buf, strlen(buf) + 1);
	return 0;
}

int yc_user_uid(const char *name, uid_t *uid)
{
	char line[1024], *end;
	int r = yc_getent("passwd", name, line, sizeof(line));

	if (r < 0)
		return r;
	/* name:password:uid:... */
	char *p = strchr(line, ':');
	p = p ? strchr(p + 1, ':') : NULL;
	if (!p)
		return -EIO;
	errno = 0;
	unsigned long v = strtoul(p + 1, &end, 10);
	if (errno || end == p + 1 || *end != ':' || v >= (uid_t)-1)
		return -EIO;
	*uid = (uid_t)v;
	return 0;
}
