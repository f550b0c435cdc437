/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * SPEC §12, yank_adopt_fd() and yank_unadopt() through the library: an
 * adopted record belongs to the adopted process, never to the adopter's
 * handle (yank_close leaves it), is yanked through pidfd_getfd, is
 * reaped when that process exits, and unadopt removes it without
 * touching the socket; a native instance cannot be unadopted.
 *
 * The adopted process is a child forked before this test process touches
 * libyank (no agent thread, no urcu state to inherit): it holds one end
 * of a socketpair and reports through its exit status what recv() saw.
 */
#include <criterion/criterion.h>
#include <sys/socket.h>

#include <yank.h>

#include "testutil.h"

TestSuite(adopt, .timeout = 30);

#define SAW_SHUTDOWN 0
#define SAW_DATA 3

/* Also open in the target: a pipe, to adopt something that is not a socket. */
static int its_pipe = -1;

/* A process that knows nothing of yank, blocked in recv() on *fd. */
static pid_t start_target(int *our_end, int *its_fd)
{
	int sv[2], p[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		tu_child_init();
		close(sv[0]);
		char c;
		ssize_t n = recv(sv[1], &c, 1, 0);
		_exit(n == 0 ? SAW_SHUTDOWN : n > 0 ? SAW_DATA : 100);
	}
	close(sv[1]);
	close(p[1]);
	its_pipe = p[0]; /* the number it has in the child; ours is closed at exit */
	*our_end = sv[0];
	*its_fd = sv[1];
	return pid;
}

static const struct yank_instance_info *find(const struct yank_instance_info *info, size_t n,
					     const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (info[i].name && !strcmp(info[i].name, name))
			return &info[i];
	return NULL;
}

Test(adopt, belongs_to_the_adopted_process_not_the_adopter)
{
	int ours, its;
	pid_t child = start_target(&ours, &its);
	const char *seg = tu_segment("adopt-owner");
	yank_registry *reg;
	cr_assert_eq(yank_open(seg, &reg), 0);
	struct yank_instance own = { YANK_CHARDEV, "own" }, adopted = { YANK_CHARDEV, "adopted" };
	cr_assert_eq(yank_register_instance(reg, &own), 0);
	int r = yank_adopt_fd(reg, &adopted, child, its);
	cr_assert_eq(r, 0, "yank_adopt_fd: %s", yank_strerror(r));
	cr_assert_eq(yank_adopt_fd(reg, &adopted, child, its), -EEXIST);
	struct yank_instance self = { YANK_CHARDEV, "self" };
	cr_assert_eq(yank_adopt_fd(reg, &self, getpid(), ours), -EINVAL);
	cr_assert_eq(yank_unadopt(reg, &own), -EPERM, "a native instance is not unadopted");

	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(reg, &info, &n), 0);
	const struct yank_instance_info *a = find(info, n, "adopted"), *o = find(info, n, "own");
	cr_assert(a && o);
	cr_assert(a->adopted && a->pid == child && a->n_fds == 1 && a->owner_alive);
	cr_assert(!o->adopted && o->pid == getpid());
	yank_query_free(info, n);

	/* The adopter's close releases its own instance only. */
	yank_close(reg);
	cr_assert_eq(yank_open(seg, &reg), 0);
	cr_assert_eq(yank_query(reg, &info, &n), 0);
	cr_assert(find(info, n, "adopted") && !find(info, n, "own"));
	yank_query_free(info, n);

	r = yank_yank(reg, &adopted, 1);
	cr_assert_eq(r, 0, "yank: %s", yank_strerror(r));
	cr_assert_eq(tu_exit_code(child, 5000), SAW_SHUTDOWN, "the adopted socket was shut down");
	size_t reaped = 0;
	cr_assert_eq(yank_gc(reg, &reaped), 0);
	cr_assert_eq(reaped, 1, "the exited process's adopted instance is reaped");
	cr_assert_eq(yank_query(reg, &info, &n), 0);
	cr_assert_eq(n, 0);
	yank_query_free(info, n);
	yank_close(reg);
	close(ours);
	shm_unlink(seg);
}

Test(adopt, unadopt_removes_the_record_and_leaves_the_socket)
{
	int ours, its;
	pid_t child = start_target(&ours, &its);
	const char *seg = tu_segment("adopt-unadopt");
	yank_registry *reg;
	cr_assert_eq(yank_open(seg, &reg), 0);
	struct yank_instance inst = { YANK_BLOCK_NODE, "disk0" };
	cr_assert_eq(yank_adopt_fd(reg, &inst, child, its), 0);
	cr_assert_eq(yank_unadopt(reg, &inst), 0);
	cr_assert_eq(yank_unadopt(reg, &inst), -ENOENT);
	cr_assert_eq(yank_yank(reg, &inst, 1), -ENOENT);
	struct yank_status st;
	cr_assert_eq(yank_status(reg, &st), 0);
	cr_assert_eq(st.used_processes, 0, "the adopted process slot went with its last instance");
	cr_assert_eq(st.integrity, 0, "%s", st.integrity_detail);
	/* Still connected: a byte reaches the child, which was never shut down. */
	tu_write_byte(ours, 'x');
	cr_assert_eq(tu_exit_code(child, 5000), SAW_DATA);
	yank_close(reg);
	close(ours);
	shm_unlink(seg);
}

Test(adopt, bad_arguments)
{
	int ours, its;
	pid_t child = start_target(&ours, &its);
	const char *seg = tu_segment("adopt-args");
	yank_registry *reg;
	cr_assert_eq(yank_open(seg, &reg), 0);
	struct yank_instance inst = { YANK_CHARDEV, "c" };
	cr_assert_eq(yank_adopt_fd(NULL, &inst, child, its), -EINVAL);
	cr_assert_eq(yank_adopt_fd(reg, &inst, 0, its), -EINVAL);
	cr_assert_eq(yank_adopt_fd(reg, &inst, child, -1), -EBADF);
	cr_assert_eq(yank_adopt_fd(reg, &inst, child, 999), -EBADF);
	cr_assert_eq(yank_adopt_fd(reg, &inst, child, its_pipe), -ENOTSOCK);
	cr_assert_eq(yank_unadopt(reg, NULL), -EINVAL);
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(reg, &info, &n), 0);
	cr_assert_eq(n, 0, "no failed adopt leaves anything behind");
	yank_query_free(info, n);
	kill(child, SIGKILL);
	tu_wait(child, 5000);
	cr_assert_eq(yank_adopt_fd(reg, &inst, child, its), -ESRCH);
	yank_close(reg);
	close(ours);
	shm_unlink(seg);
}
