/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The shim's record of which fds it registered, indexed by fd number and
 * touched only with atomics: close() may run in a signal handler, after a
 * fork of a multithreaded program, or while another thread is half-way
 * through a registration, and none of those may find a lock held.  Pages
 * come from mmap, never malloc, for the same reason.  Nothing here ever
 * calls into libyank.
 */
#include <sys/mman.h>

#include "preload.h"

#define CHUNK_FDS 256
#define MAX_CHUNKS 4096 /* fds up to 1,048,575, the kernel's default nr_open */

struct chunk {
	struct fd_slot slot[CHUNK_FDS];
};

static struct chunk *chunks[MAX_CHUNKS];
static uint32_t generation;
static int hwm = -1;

/* A chunk installed by compare-and-swap: the loser of a race unmaps its own. */
static struct chunk *chunk_get(unsigned idx)
{
	struct chunk *c = __atomic_load_n(&chunks[idx], __ATOMIC_ACQUIRE);
	if (c)
		return c;
	void *m = mmap(NULL, sizeof(struct chunk), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct chunk *expect = NULL;
	if (__atomic_compare_exchange_n(&chunks[idx], &expect, m, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return m;
	munmap(m, sizeof(struct chunk));
	return expect;
}

struct fd_slot *yank__pl_slot(int fd, int create)
{
	if (fd < 0 || (unsigned)fd / CHUNK_FDS >= MAX_CHUNKS)
		return NULL;
	unsigned idx = (unsigned)fd / CHUNK_FDS;
	struct chunk *c = create ? chunk_get(idx) : __atomic_load_n(&chunks[idx], __ATOMIC_ACQUIRE);
	if (!c)
		return NULL;
	if (create) {
		int h = __atomic_load_n(&hwm, __ATOMIC_RELAXED);
		while (fd > h && !__atomic_compare_exchange_n(&hwm, &h, fd, 1, __ATOMIC_RELAXED,
							      __ATOMIC_RELAXED))
			;
	}
	return &c->slot[fd % CHUNK_FDS];
}

/* The state a word stands for: one written before the last fork is FREE. */
static enum fd_state state_of(uint64_t w, uint32_t gen)
{
	return (uint32_t)(w >> 32) == gen ? (enum fd_state)(uint32_t)w : FD_FREE;
}

enum fd_state yank__pl_state(const struct fd_slot *s)
{
	uint64_t w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
	return state_of(w, __atomic_load_n(&generation, __ATOMIC_ACQUIRE));
}

int yank__pl_move(struct fd_slot *s, enum fd_state from, enum fd_state to)
{
	uint32_t gen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
	uint64_t w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
	if (state_of(w, gen) != from)
		return 0;
	return __atomic_compare_exchange_n(&s->word, &w, (uint64_t)gen << 32 | to, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

int yank__pl_hwm(void)
{
	return __atomic_load_n(&hwm, __ATOMIC_RELAXED);
}

/* Called in the fork child, which has one thread: one store forgets every slot. */
void yank__pl_forget_all(void)
{
	__atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
}
