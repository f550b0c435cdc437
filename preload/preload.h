/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Internals of libyank-preload.so, shared by its three files: shim.c (the
 * interposed libc calls), fdtab.c (what this process registered, per fd)
 * and name.c (instance names and the match list).  Nothing here is
 * exported: the version script keeps every name but the libc ones local.
 */
#ifndef YANK_PRELOAD_H
#define YANK_PRELOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <yank.h>

/* The interposed libc names, the only symbols the shim exports (see its map). */
#define PRELOAD_PUBLIC __attribute__((visibility("default")))

/*
 * The registration state of one fd number.  The word packs the fork
 * generation it was written in (high 32 bits) with one of these states, so
 * that a fork child forgets every entry by bumping the generation.
 */
enum fd_state {
	FD_FREE = 0,   /* nothing registered */
	FD_BUSY,       /* a thread is registering or unregistering it */
	FD_REG,        /* registered under ->name */
	FD_STALE,      /* closed while it could not be unregistered: the record remains */
	FD_PARKED,     /* unregistered for an exec; registered again if the exec fails */
};

struct fd_slot {
	uint64_t word;  /* (generation << 32) | enum fd_state, atomic */
	uint64_t ino;   /* the socket's st_ino when it was registered */
	char name[YANK_NAME_MAX + 1];
};

/* The slot of @fd, NULL when @fd is out of range or (!create) never used. */
struct fd_slot *yank__pl_slot(int fd, int create);
/* Current state of @s, FD_FREE when written before the last fork. */
enum fd_state yank__pl_state(const struct fd_slot *s);
/* Move @s from @from to @to; 0 when another thread got there first. */
int yank__pl_move(struct fd_slot *s, enum fd_state from, enum fd_state to);
/* Highest fd number that ever had a slot: bounds every scan. */
int yank__pl_hwm(void);
/* Forget everything: the fork child owns nothing. */
void yank__pl_forget_all(void);

/* Peer text of @sa ("tcp:127.0.0.1:80", "tcp:[::1]:80", "unix:/p", "unix:@a", "unix:-"). */
void yank__pl_peer(const struct sockaddr *sa, socklen_t len, char *out, size_t size);
/* The instance name for one socket from the template; @dir is '>' or '<'. */
void yank__pl_name(const char *tmpl, const char *comm, int fd, char dir, const char *peer,
		   char *out, size_t size);
/* 1 when @tmpl names each fd apart (has %f). */
int yank__pl_template_has_fd(const char *tmpl);
/* 1 when @peer matches one of the comma-separated patterns in @list ('*' wildcards). */
int yank__pl_match(const char *list, const char *peer);
/* Copy @in into @out, escaping every byte a yank name may not hold. */
void yank__pl_escape(const char *in, size_t len, char *out, size_t size);

/* register.c: the private libyank handle and what goes through it. */
void yank__pl_config_load(void);
/* Register @fd (about to connect, or just accepted) with @peer; @dir '>' or '<'. */
void yank__pl_register(int fd, char dir, const char *peer);
/* The fd is being closed or replaced: drop its record first. */
void yank__pl_closing(int fd);
/* Before an exec: unregister everything; after a failed exec: register it again. */
void yank__pl_exec_park(void);
void yank__pl_exec_unpark(void);
/* In the fork child, from the atfork handler. */
void yank__pl_fork_child(void);

/* shim.c: libc's own functions, past this library. */
int yank__pl_real_close(int fd);

#endif
