/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/* The registry lock: a robust, process-shared mutex in the segment. */
#ifndef YANK_LOCK_H
#define YANK_LOCK_H

#include <stdint.h>

struct seg;

/*
 * Take the lock, waiting at most @timeout_ms: 0, -ETIMEDOUT, or -EPROTO
 * (the mutex is unrecoverable).  A dead previous holder is handled here:
 * the registry is repaired before the mutex is marked consistent.
 */
int yank__lock(struct seg *s, uint32_t timeout_ms);
void yank__unlock(struct seg *s);

#endif
