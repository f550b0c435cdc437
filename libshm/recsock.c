/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Fd records with their instances' order and owners' pids, read without
 * the lock through the slots' seqlocks (registry.c's readers).  Only reads:
 * nothing here writes to the segment, blocks, or calls user code.
 */
#include <errno.h>
#include <stdlib.h>

#include "handle.h"
#include "owner.h"
#include "recsock.h"
#include "registry.h"
#include "segment.h"

struct raw {
	uint32_t inst;
	uint64_t inst_gen;
	int fd;
	uint64_t dev, ino;
};

static int cmp_raw(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;

	if (x->inst != y->inst)
		return x->inst < y->inst ? -1 : 1;
	return (x->inst_gen > y->inst_gen) - (x->inst_gen < y->inst_gen);
}

static int cmp_out(const void *a, const void *b)
{
	const struct yank__recsock *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/*
 * Does @pv's pid name its owner here?  Callers read /proc/PID: a pid from
 * another pid namespace, or one reused since its owner died, would be
 * some other process's.
 */
static int this_pid(const struct proc_view *pv)
{
	uint64_t mine = yank__self_pidns();
	if (pv->pidns_ino && mine && pv->pidns_ino != mine)
		return 0;
	return yank__owner_alive(pv->pid, pv->start_time);
}

/* The fd records, as copied from their slots. */
static int gather(const struct seg *s, struct raw **out, size_t *n)
{
	uint32_t hwm = seg_hwm(&s->hdr->rec_hwm, s->cap_rec);
	size_t cap = 64, k = 0;
	struct raw *v = malloc(cap * sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < hwm; i++) {
		struct rec_view rv;

		if (__atomic_load_n(&s->recs[i].h.state, __ATOMIC_RELAXED) != SLOT_LIVE &&
		    !(__atomic_load_n(&s->recs[i].h.seq, __ATOMIC_RELAXED) & 1))
			continue;
		int r = yank__read_rec(s, i, &rv);
		if (r == -EPROTO) {
			free(v);
			return r;
		}
		if (r < 0 || rv.kind != REC_FD)
			continue;
		if (k == cap) {
			struct raw *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[k++] = (struct raw){ rv.inst, rv.inst_gen, rv.fd, rv.dev, rv.ino };
	}
	*out = v;
	*n = k;
	return 0;
}

int yank__recsock_list(yank_registry *reg, struct yank__recsock **out, size_t *n)
{
	struct raw *raw = NULL;
	size_t nraw = 0, k = 0;

	if (!reg || !out || !n)
		return -EINVAL;
	const struct seg *s = &reg->seg;
	int r = gather(s, &raw, &nraw);
	if (r < 0)
		return r;
	struct yank__recsock *v = malloc((nraw ? nraw : 1) * sizeof(*v));
	if (!v) {
		free(raw);
		return -ENOMEM;
	}
	/* Records of one instance together: each instance and owner read once. */
	qsort(raw, nraw, sizeof(*raw), cmp_raw);
	struct inst_view iv;
	int have_inst = 0;
	uint32_t last_proc = UINT32_MAX;
	uint64_t last_proc_gen = 0;
	pid_t pid = 0;
	for (size_t i = 0; i < nraw; i++) {
		if (i == 0 || raw[i].inst != raw[i - 1].inst ||
		    raw[i].inst_gen != raw[i - 1].inst_gen) {
			r = yank__read_inst(s, raw[i].inst, &iv);
			if (r == -EPROTO) {
				free(raw);
				free(v);
				return r;
			}
			/* Gone or reused since the record was read: not this record's. */
			have_inst = r == 0 && iv.gen == raw[i].inst_gen;
			if (have_inst && (iv.proc != last_proc || iv.proc_gen != last_proc_gen)) {
				struct proc_view pv;

				last_proc = iv.proc;
				last_proc_gen = iv.proc_gen;
				pid = yank__read_proc(s, iv.proc, &pv) == 0 && pv.gen == iv.proc_gen &&
						      this_pid(&pv)
					      ? pv.pid
					      : 0;
			}
		}
		if (!have_inst)
			continue;
		v[k++] = (struct yank__recsock){ iv.order, pid, raw[i].fd, raw[i].dev, raw[i].ino };
	}
	free(raw);
	qsort(v, k, sizeof(*v), cmp_out);
	*out = v;
	*n = k;
	return 0;
}
