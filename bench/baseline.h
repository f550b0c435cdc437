/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The in-process baseline: a yank registry the way QEMU's util/yank.c
 * keeps one (QEMU 6.0 to 9.x).  One process-wide mutex; a singly linked
 * list of instance entries, newest first; register walks the whole list
 * for a duplicate (yank_find_entry), then allocates the entry and a
 * QAPI_CLONE of the instance (a struct plus a strdup'd name) and inserts
 * at the head; unregister walks the list to find the entry, unlinks it and
 * frees all three allocations.  QEMU asserts on misuse; this returns
 * -EEXIST / -ENOENT / -EBUSY instead, which costs nothing measurable.
 *
 * It is what libyank's registration is compared against (SPEC §8).
 */
#ifndef YANK_BENCH_BASELINE_H
#define YANK_BENCH_BASELINE_H

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <yank.h>

struct base_fn {
	yank_fn *fn;
	void *opaque;
	struct base_fn *next;
};

struct base_entry {
	struct yank_instance *instance; /* QAPI_CLONE: struct + strdup'd name */
	struct base_fn *fns;
	struct base_entry *next, **pprev; /* QLIST_ENTRY */
};

struct base_registry {
	pthread_mutex_t lock;
	struct base_entry *head;
};

static inline void base_init(struct base_registry *b)
{
	pthread_mutex_init(&b->lock, NULL);
	b->head = NULL;
}

/* yank_instance_equal(): type, then g_str_equal on the name. */
static inline int base_equal(const struct yank_instance *a, const struct yank_instance *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type == YANK_MIGRATION)
		return 1;
	return strcmp(a->name, b->name) == 0;
}

static inline struct base_entry *base_find(struct base_registry *b,
					   const struct yank_instance *inst)
{
	for (struct base_entry *e = b->head; e; e = e->next)
		if (base_equal(e->instance, inst))
			return e;
	return NULL;
}

static inline int base_register(struct base_registry *b, const struct yank_instance *inst)
{
	int r = 0;
	pthread_mutex_lock(&b->lock);
	if (base_find(b, inst)) {
		r = -EEXIST;
		goto out;
	}
	struct base_entry *e = calloc(1, sizeof(*e));
	struct yank_instance *copy = malloc(sizeof(*copy));
	char *name = inst->name ? strdup(inst->name) : NULL;
	if (!e || !copy || (inst->name && !name)) {
		free(e);
		free(copy);
		free(name);
		r = -ENOMEM;
		goto out;
	}
	copy->type = inst->type;
	copy->name = name;
	e->instance = copy;
	e->next = b->head;
	if (b->head)
		b->head->pprev = &e->next;
	e->pprev = &b->head;
	b->head = e;
out:
	pthread_mutex_unlock(&b->lock);
	return r;
}

static inline int base_unregister(struct base_registry *b, const struct yank_instance *inst)
{
	int r = 0;
	pthread_mutex_lock(&b->lock);
	struct base_entry *e = base_find(b, inst);
	if (!e) {
		r = -ENOENT;
		goto out;
	}
	if (e->fns) {
		r = -EBUSY;
		goto out;
	}
	if (e->next)
		e->next->pprev = e->pprev;
	*e->pprev = e->next;
	free((char *)e->instance->name);
	free(e->instance);
	free(e);
out:
	pthread_mutex_unlock(&b->lock);
	return r;
}

static inline void base_destroy(struct base_registry *b)
{
	for (struct base_entry *e = b->head, *n; e; e = n) {
		n = e->next;
		free((char *)e->instance->name);
		free(e->instance);
		free(e);
	}
	b->head = NULL;
	pthread_mutex_destroy(&b->lock);
}

#endif
