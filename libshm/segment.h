/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/* The mapping of one segment and bounds-checked access to its slots. */
#ifndef YANK_SEGMENT_H
#define YANK_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"

#define SEG_NAME_MAX 255

struct seg {
	struct seg_hdr *hdr;
	size_t size;
	/* Validated copies of the header's geometry: never re-read from shm. */
	uint32_t cap_proc, cap_inst, cap_rec, nbuckets;
	struct proc_slot *procs;
	struct inst_slot *insts;
	struct rec_slot *recs;
	uint32_t *buckets;
	struct audit_slot *audit;
	char name[SEG_NAME_MAX + 1];
	/* The group the file grants access to, from fstat: the header's copy
	 * is writable by every member and never trusted for access control. */
	int file_group;
	gid_t file_gid;
	uid_t file_uid;
};

struct seg_params {
	uint32_t cap_proc, cap_inst, cap_rec;
	int use_group;
	gid_t group;
	uint32_t wait_ms; /* how long to wait for a creator that is still initialising */
	/* Open the default registry of uid @user (not ours): it must be that
	 * user's or root's, as our own default must be ours or root's. */
	int user_registry;
	uid_t user;
};

/*
 * The detail behind yank_error_detail() (error.c).  The open path sets it
 * where it knows why it fails; open_common clears it first, so a success
 * leaves it empty.
 */
__attribute__((format(printf, 1, 2))) void yank__detail_set(const char *fmt, ...);
void yank__detail_clear(void);

/* Resolve @arg, $YANK_SEGMENT, or "/yank-<uid>" into @out. */
int yank__seg_resolve_name(const char *arg, char *out, size_t len);

/* Open (and with @create, create) and validate; 0 or negative errno. */
int yank__seg_open(const char *name, const struct seg_params *p, int create, struct seg *out);
void yank__seg_close(struct seg *s);

/*
 * Check a header against the @size bytes at @base and fill @out's geometry.
 * The same check serves the library, yankctl and the fuzz target.
 */
int yank__seg_validate(void *base, size_t size, struct seg *out);

/* Size of a segment with these capacities; 0 when they are out of range. */
size_t yank__seg_bytes(uint32_t cap_proc, uint32_t cap_inst, uint32_t cap_rec);

/* Read the high-water mark @hwm (an atomic word in the header), clamped to @cap. */
static inline uint32_t seg_hwm(const uint32_t *hwm, uint32_t cap)
{
	uint32_t v = __atomic_load_n(hwm, __ATOMIC_ACQUIRE);
	return v > cap ? cap : v;
}

#endif
