/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The audit log of yanks: a ring in the segment (layout.h), written
 * without the registry lock, and one syslog line per yank.
 */
#ifndef YANK_AUDIT_H
#define YANK_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <yank.h>

struct seg;

/* One yank that was carried out, as dispatch.c saw it. */
struct audit_input {
	const char *segment;
	const struct yank_instance *list;
	const char *const *ns; /* NULL, or one per instance (NULL or "": native) */
	size_t n;
	int result;            /* what the yank returns */
	uint32_t failures;     /* records that could not be done */
	/* Per instance, for the first AUDIT_ITEMS: failures and the first kind. */
	const uint32_t *pos_fail, *pos_kind;
};

/* Record it in the ring and in syslog.  Never blocks, never fails the yank. */
void yank__audit_record(struct seg *s, const struct audit_input *in);

/* A yank refused because a name was missing: counted, not logged. */
void yank__audit_not_found(struct seg *s);

/* Entries with seq >= @since, oldest first: 0, -ENOMEM. */
int yank__audit_read(const struct seg *s, uint64_t since, struct yank_audit_entry **out,
		     size_t *n);
void yank__audit_free(struct yank_audit_entry *e, size_t n);

/*
 * An instance as the command line spells it: "chardev:x", "migration",
 * "qemu:vm1/block-node:nbd0".  Its length, or -ENOSPC when @cap is short
 * (then @buf holds as much as fits, NUL-terminated, when @cap > 0).
 */
int yank__spell(const char *ns, uint32_t type, const char *name, char *buf, size_t cap);

/* Where syslog lines go: "/dev/log", or a test's socket. */
extern const char *yank__syslog_path;

#endif
