/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/* Process identity (pid + start time + pid namespace) and liveness. */
#ifndef YANK_OWNER_H
#define YANK_OWNER_H

#include <stdint.h>
#include <sys/types.h>

struct owner_id {
	pid_t pid;
	uint64_t start_time;
	uint64_t pidns_ino;
};

/* This process, cached; refreshed in a forked child. */
const struct owner_id *yank__self(void);
/* Its pid and pid namespace only, without the /proc read the start time
 * costs: all a yanker needs, on the path an operator waits for. */
pid_t yank__self_pid(void);
uint64_t yank__self_pidns(void);

/* Start time of @pid from /proc: 0 and *out, -ESRCH when gone or a zombie. */
/*
 * /proc/PID/@name (PID <= 0: /proc/self) into @buf, NUL-terminated after
 * what was read: the byte count (> 0), -ENOENT (gone, or a /proc that does
 * not show it), -ESRCH (empty), or -errno.
 */
int yank__proc_file(pid_t pid, const char *name, char *buf, size_t len);
int yank__proc_start_time(pid_t pid, uint64_t *out);

/* 1: the process @pid started at @start_time is alive; 0: it is gone.
 * When /proc cannot tell, the answer is "alive": a live process's records
 * must never be lost to a guess. */
int yank__owner_alive(pid_t pid, uint64_t start_time);

/* Effective uid of @pid, from /proc/PID/status: 0 and *out, or -errno. */
int yank__proc_euid(pid_t pid, uid_t *out);

/* Incremented in every forked child: lets handles notice a fork. */
unsigned int yank__fork_generation(void);

#endif
