/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The agent's listening socket and the identity of the library's own fds.
 * See endpoint.h for why.
 *
 * Directories are named yank-agent.PID.START.XXXXXX, so that a later agent
 * of the same user can tell which ones a dead process left (kill -9 runs
 * no clean-up) and remove them.  A directory of a live pid whose image
 * exec'd is kept until that pid exits: its socket is closed, which is what
 * tells yankers (and the reaper) that the old image is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "endpoint.h"
#include "internal.h"
#include "owner.h"

#define BASE "/dev/shm"
#define PREFIX "yank-agent."
#define SWEEP_MAX 65536 /* directory entries looked at per sweep */

int yank__own_fd_set(struct own_fd *o, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		o->fd = -1;
		return -e;
	}
	o->fd = fd;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	return 0;
}

int yank__own_fd_ok(const struct own_fd *o)
{
	struct stat st;
	if (o->fd < 0 || fstat(o->fd, &st) < 0)
		return 0;
	return st.st_dev == o->dev && st.st_ino == o->ino;
}

void yank__own_fd_close(struct own_fd *o)
{
	if (yank__own_fd_ok(o))
		close(o->fd);
	o->fd = -1;
}

/* /dev/shm must be root's and sticky if others may write it: then nobody
 * can rename or remove what we create there. */
static int base_trusted(void)
{
	struct stat st;
	if (lstat(BASE, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
		return -EACCES;
	if ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX))
		return -EACCES;
	return 0;
}

/* PREFIX "PID.START." + anything: 1 and the owner, or 0. */
static int parse_name(const char *name, pid_t *pid, uint64_t *start)
{
	if (strncmp(name, PREFIX, sizeof(PREFIX) - 1))
		return 0;
	const char *p = name + sizeof(PREFIX) - 1;
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || *end != '.' || v == 0 || v > 0x7fffffff)
		return 0;
	*pid = (pid_t)v;
	p = end + 1;
	*start = strtoull(p, &end, 10);
	return end != p && *end == '.';
}

void yank__endpoint_sweep(void)
{
	int dfd = open(BASE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	uid_t me = geteuid();
	struct dirent *de;
	for (int n = 0; n < SWEEP_MAX && (de = readdir(d)); n++) {
		pid_t pid;
		uint64_t start;
		struct stat st;
		if (!parse_name(de->d_name, &pid, &start))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != me || yank__owner_alive(pid, start))
			continue;
		char sock[300];
		snprintf(sock, sizeof(sock), "%s/s", de->d_name);
		unlinkat(dfd, sock, 0);
		snprintf(sock, sizeof(sock), "%s/s.new", de->d_name);
		unlinkat(dfd, sock, 0);
		unlinkat(dfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

static int make_dir(struct endpoint *e)
{
	const struct owner_id *me = yank__self();
	char dir[AGENT_ADDR_MAX];
	int n = snprintf(dir, sizeof(dir), BASE "/" PREFIX "%d.%llu.XXXXXX", (int)me->pid,
			 (unsigned long long)me->start_time);
	/* Room for "/s" and, while it is made, ".new". */
	if (n < 0 || (size_t)n + 7 > sizeof(dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(dir))
		return -errno;
	if (e->use_group && (chown(dir, (uid_t)-1, e->group) < 0 || chmod(dir, 0750) < 0)) {
		int err = -errno;
		rmdir(dir);
		return err;
	}
	memcpy(e->path, dir, (size_t)n);
	e->dir_len = (uint32_t)n;
	memcpy(e->path + n, "/s", 3);
	e->len = (uint32_t)n + 2;
	return 0;
}

/*
 * Listen on e->path.  The socket is bound beside it and renamed over it,
 * so that the path never goes missing while a listener the host closed is
 * replaced: a yanker finds the old socket (refused) or the new one.
 */
int yank__endpoint_rebind(struct endpoint *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (e->len + 4 >= sizeof(sa.sun_path) || e->len + 4 >= sizeof(e->path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, e->path, e->len);
	memcpy(sa.sun_path + e->len, ".new", 5);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path); /* left by an attempt that failed half-way */
	int r = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	/* Connecting needs write permission on the socket file; the directory
	 * already keeps out everyone else, this says the same thing twice. */
	if (r == 0 && e->use_group && chown(sa.sun_path, (uid_t)-1, e->group) < 0)
		r = -errno;
	if (r == 0 && chmod(sa.sun_path, e->use_group ? 0660 : 0600) < 0)
		r = -errno;
	if (r == 0 && listen(fd, 128) < 0)
		r = -errno;
	if (r == 0 && rename(sa.sun_path, e->path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(sa.sun_path);
		close(fd);
		return r;
	}
	return yank__own_fd_set(&e->lfd, fd);
}

int yank__endpoint_open(struct endpoint *e, int use_group, gid_t group)
{
	memset(e, 0, sizeof(*e));
	e->lfd.fd = -1;
	e->use_group = use_group;
	e->group = group;
	int r = base_trusted();
	if (r < 0)
		return r;
	r = make_dir(e);
	if (r < 0)
		return r;
	r = yank__endpoint_rebind(e);
	if (r < 0)
		yank__endpoint_close(e, 1);
	return r;
}

void yank__endpoint_close(struct endpoint *e, int remove)
{
	yank__own_fd_close(&e->lfd);
	if (!remove || !e->len)
		return;
	unlink(e->path);
	e->path[e->dir_len] = '\0';
	rmdir(e->path);
	e->path[e->dir_len] = '/';
}
