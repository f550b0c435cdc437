/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/* Registering sockets of a process that knows nothing of yank, from outside. */
#ifndef YANK_ADOPT_H
#define YANK_ADOPT_H

#include <sys/types.h>

struct yank_registry;
struct inst_key;

/*
 * Record socket @fd of process @pid under new instance @k, owned by that
 * process.  Arguments already checked.  0, -ESRCH (no such process),
 * -EPERM (pidfd_getfd refused: no ptrace permission), -EBADF (@fd not open
 * there), -ENOTSOCK, -EACCES (the registry may not name processes of its
 * uid), -EEXIST, -ENOSPC, -ETIMEDOUT, -EPROTO.
 */
int yank__adopt_fd(struct yank_registry *reg, const struct inst_key *k, pid_t pid, int fd);

/* Remove adopted instance @k and its records: 0, -ENOENT, -EPERM (not adopted). */
int yank__unadopt(struct yank_registry *reg, const struct inst_key *k);

#endif
