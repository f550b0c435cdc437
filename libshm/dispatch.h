/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/* Carrying out a yank: validation, then each owner contacted once. */
#ifndef YANK_DISPATCH_H
#define YANK_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <yank.h>

struct yank_registry;

/* The body of yank_yank_ns(); arguments already checked. */
int yank__yank(struct yank_registry *reg, const char *const *ns, const struct yank_instance *list,
	       size_t n, struct yank_failure **out, size_t *n_out);

/*
 * May a yank through @reg act on processes of @uid?  Adoption (adopt.c)
 * asks the same before it records one: a record no yank may act on is a
 * record nobody should be able to make.
 */
int yank__uid_allowed(const struct yank_registry *reg, uint32_t uid);

#endif
