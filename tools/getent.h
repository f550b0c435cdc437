/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The user and group databases through getent(1).  yankctl is linked
 * statically so that it starts as fast as a static binary can, and a
 * static glibc cannot load NSS modules safely (nss-systemd, LDAP, ...):
 * asking getent, a program of the same glibc with NSS working, keeps
 * every source of names the host has configured.  Only the commands that
 * print or take a user name pay for it.
 */
#ifndef YANKCTL_GETENT_H
#define YANKCTL_GETENT_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The first line getent(1) prints for @key in @db ("passwd", "group"),
 * without its newline: 0, -ENOENT (no such entry), or another negative
 * errno when getent could not be run or did not answer within 2 s.
 */
int yc_getent(const char *db, const char *key, char *line, size_t cap);

/* The uid of user @name: 0, -ENOENT, or another error of yc_getent(). */
int yc_user_uid(const char *name, uid_t *uid);

#endif
