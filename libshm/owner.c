/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Who a process is and whether it still lives.  The only file that reads
 * /proc.  A pid alone is not an identity: pids are reused, so every owner
 * is (pid, start time), the start time being field 22 of /proc/PID/stat.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "owner.h"

static struct owner_id self_id;
static unsigned int fork_gen;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int self_valid;

/* open, read and close are cancellation points, and writers get here with
 * the registry lock held: the guard is here rather than around every call
 * that may read. */
int yank__proc_file(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", name);
	int c = yank__cancel_off();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
	int e = errno;
	if (fd >= 0)
		close(fd);
	yank__cancel_restore(c);
	if (fd < 0)
		return -e;
	if (n <= 0)
		return n == 0 ? -ESRCH : -e;
	buf[n] = '\0';
	return (int)n;
}

int yank__proc_start_time(pid_t pid, uint64_t *out)
{
	char buf[1024];
	int r = yank__proc_file(pid, "stat", buf, sizeof(buf));
	if (r < 0)
		return r;
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EPROTO;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return -ESRCH;
	/* p is at field 3 (state); start time is field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EPROTO;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EPROTO;
	*out = v;
	return 0;
}

int yank__proc_euid(pid_t pid, uid_t *out)
{
	char buf[2048];
	int r = yank__proc_file(pid, "status", buf, sizeof(buf));
	if (r < 0)
		return r;
	/* "Uid:\treal\teffective\tsaved\tfs" */
	const char *p = strstr(buf, "\nUid:");
	unsigned long ruid, euid;
	if (!p || sscanf(p + 5, "%lu %lu", &ruid, &euid) != 2)
		return -EPROTO;
	*out = (uid_t)euid;
	return 0;
}

int yank__owner_alive(pid_t pid, uint64_t start_time)
{
	if (pid <= 0)
		return 0;
	uint64_t st;
	int r = yank__proc_start_time(pid, &st);
	if (r == -ESRCH)
		return 0; /* a zombie: its fds are gone */
	if (r == -ENOENT) /* no such entry: ask the kernel, /proc may hide it */
		return !(kill(pid, 0) < 0 && errno == ESRCH);
	if (r < 0)
		return 1;
	/* A start time of 0 was recorded without /proc: a reused pid cannot be
	 * told apart, so only a pid that is gone counts as dead. */
	return start_time == 0 || st == start_time;
}

/* The pid and pid namespace alone: what a yanker needs, with no /proc read. */
static struct {
	pid_t pid;
	uint64_t pidns_ino;
	int valid;
} light;

static void fill_light(void)
{
	struct stat ns;
	light.pid = getpid();
	light.pidns_ino = stat("/proc/self/ns/pid", &ns) == 0 ? (uint64_t)ns.st_ino : 0;
	__atomic_store_n(&light.valid, 1, __ATOMIC_RELEASE);
}

static void need_light(void)
{
	if (!__atomic_load_n(&light.valid, __ATOMIC_ACQUIRE))
		fill_light();
}

static void fill_self(void)
{
	need_light();
	self_id.pid = light.pid;
	self_id.pidns_ino = light.pidns_ino;
	if (yank__proc_start_time(self_id.pid, &self_id.start_time) < 0)
		self_id.start_time = 0;
	__atomic_store_n(&self_valid, 1, __ATOMIC_RELEASE);
}

static void child_after_fork(void)
{
	/* Single-threaded here: the child is a new owner (and, after an
	 * unshare(CLONE_NEWPID) in its parent, in another pid namespace). */
	fork_gen++;
	self_valid = 0;
	light.valid = 0;
}

static void init_once(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

const struct owner_id *yank__self(void)
{
	pthread_once(&once, init_once);
	if (!__atomic_load_n(&self_valid, __ATOMIC_ACQUIRE))
		fill_self();
	return &self_id;
}

pid_t yank__self_pid(void)
{
	pthread_once(&once, init_once);
	need_light();
	return light.pid;
}

uint64_t yank__self_pidns(void)
{
	pthread_once(&once, init_once);
	need_light();
	return light.pidns_ino;
}

unsigned int yank__fork_generation(void)
{
	pthread_once(&once, init_once);
	return fork_gen;
}
