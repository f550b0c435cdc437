/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The exported yank_* entry points but opening and closing (handle.c):
 * argument checks, then composition of the modules.  Writers take the
 * registry lock, bounded; readers never do.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yank.h>

#include "adopt.h"
#include "audit.h"
#include "agent.h"
#include "dispatch.h"
#include "handle.h"
#include "handoff.h"
#include "internal.h"
#include "local.h"
#include "lock.h"
#include "owner.h"
#include "recover.h"
#include "registry.h"
#include "segment.h"
#include "utf8.h"

/* ---- names ---- */

/* Strict UTF-8 (utf8.h, which yankctl shares) and no control characters. */
static int check_name(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = yank__utf8_seq(s + i, len - i, &cp);
		if (!n || yank__utf8_control(cp))
			return -EINVAL;
		i += n;
	}
	return 0;
}

/* yank_check_instance(), also giving the name's length (0 for migration). */
static int check_instance(const struct yank_instance *inst, size_t *len)
{
	*len = 0;
	if (!inst)
		return -EINVAL;
	if (inst->type == YANK_MIGRATION)
		return inst->name ? -EINVAL : 0;
	if (inst->type != YANK_BLOCK_NODE && inst->type != YANK_CHARDEV)
		return -EINVAL;
	if (!inst->name || !inst->name[0])
		return -EINVAL;
	/* Printable ASCII, the usual name, in one pass; anything else the long way. */
	const unsigned char *p = (const unsigned char *)inst->name;
	size_t i = 0;
	while (i <= YANK_NAME_MAX && (unsigned char)(p[i] - 0x20) < 0x5f)
		i++;
	if (i <= YANK_NAME_MAX && p[i] == '\0') {
		*len = i;
		return 0;
	}
	size_t n = strnlen(inst->name, YANK_NAME_MAX + 1);
	if (n > YANK_NAME_MAX)
		return -ENAMETOOLONG;
	*len = n;
	return check_name(p, n);
}

YANK_PUBLIC int yank_check_instance(const struct yank_instance *inst)
{
	size_t len;
	return check_instance(inst, &len);
}

YANK_PUBLIC const char *yank_type_name(enum yank_type type)
{
	switch (type) {
	case YANK_BLOCK_NODE:
		return "block-node";
	case YANK_CHARDEV:
		return "chardev";
	case YANK_MIGRATION:
		return "migration";
	}
	return NULL;
}

/* From yank.h's numbers, so that a release bumps one place (and the Makefile). */
#define STR_(x) #x
#define STR(x) STR_(x)

YANK_PUBLIC const char *yank_version(void)
{
	return STR(YANK_VERSION_MAJOR) "." STR(YANK_VERSION_MINOR) "." STR(YANK_VERSION_PATCH);
}

/* ---- writers ---- */

static int locked(yank_registry *reg)
{
	int r = yank__lock(&reg->seg, reg->lock_ms);
	/* Periodic reaping is hygiene (a name held by a dead owner, or a full
	 * table, is reaped on the spot): look at its clock every 64th write. */
	if (r == 0 && (reg->writes++ & 63) == 0)
		yank__reap_maybe(&reg->seg);
	return r;
}

/* yank__start_agent(), then the registry lock. */
static int locked_with_agent(yank_registry *reg)
{
	int r = yank__start_agent(reg);
	return r < 0 ? r : locked(reg);
}

/*
 * Lock held, yank__start_agent() done: our process slot, claimed on first use
 * (or anew, when ours was reaped or repaired away), leading yankers to
 * our agent.
 */
static int ensure_proc(yank_registry *reg)
{
	const struct owner_id *me = yank__self();
	if (reg->have_proc && yank__proc_owned(&reg->seg, reg->proc, reg->proc_gen, me->pid))
		return 0;
	int r = yank__proc_claim(&reg->seg, me, reg->uid, &reg->proc, &reg->proc_gen);
	if (r == -ENOSPC && yank__reap(&reg->seg) > 0)
		r = yank__proc_claim(&reg->seg, me, reg->uid, &reg->proc, &reg->proc_gen);
	if (r < 0)
		return r;
	reg->have_proc = 1;
	uint32_t len;
	const char *addr = yank__agent_addr(reg->agent, &len);
	yank__proc_set_agent(&reg->seg, reg->proc, addr, len);
	return 0;
}

/* NULL and "" are native; otherwise 1 to YANK_NS_MAX of [A-Za-z0-9._:-]. */
static int check_ns(const char *ns, size_t *len)
{
	if (!ns || !*ns) {
		*len = 0;
		return 0;
	}
	size_t n = strnlen(ns, YANK_NS_MAX + 1);
	if (n > YANK_NS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)ns[i]) && !strchr("._:-", ns[i]))
			return -EINVAL;
	*len = n;
	return 0;
}

/* Check @ns and @inst and make their key: 0, or the check's error. */
static int key_of(const char *ns, const struct yank_instance *inst, struct inst_key *k)
{
	size_t ns_len = 0, len;
	/* Native is the common case: no call for it. */
	int r = ns && *ns ? check_ns(ns, &ns_len) : 0;
	if (r == 0)
		r = check_instance(inst, &len);
	if (r < 0)
		return r;
	*k = inst_key_ns(ns_len ? ns : "", ns_len, (uint32_t)inst->type, len ? inst->name : "",
			 len);
	return 0;
}

/* Lock held: find an instance this process owns. */
static int find_mine(yank_registry *reg, const struct inst_key *k, uint32_t *idx, uint64_t *gen)
{
	int r = yank__inst_find_mend(&reg->seg, k, idx);
	if (r < 0)
		return r;
	const struct inst_slot *in = &reg->seg.insts[*idx];
	if (!reg->have_proc || in->proc != reg->proc || in->proc_gen != reg->proc_gen)
		return -ENOENT;
	*gen = in->h.gen;
	return 0;
}

static int check_args(yank_registry *reg, const char *ns, const struct yank_instance *inst,
		      struct inst_key *k)
{
	if (!reg)
		return -EINVAL;
	return key_of(ns, inst, k);
}

/* A function record needs a function, an fd record an fd number. */
static int check_record(yank_registry *reg, const char *ns, const struct yank_instance *inst,
			struct inst_key *k, uint32_t kind, yank_fn *fn, int fd)
{
	int r = check_args(reg, ns, inst, k);
	if (r == 0 && kind != REC_FD && !fn)
		r = -EINVAL;
	if (r == 0 && kind == REC_FD && fd < 0)
		r = -EBADF;
	return r;
}

static int do_register_instance(yank_registry *reg, const char *ns,
				const struct yank_instance *inst)
{
	struct inst_key k;
	int r = check_args(reg, ns, inst, &k);
	if (r == 0)
		r = locked_with_agent(reg);
	if (r < 0)
		return r;
	FAULT("register.locked");
	uint32_t idx;
	uint64_t gen;
	r = yank__name_free(&reg->seg, &k);
	if (r == 0)
		r = ensure_proc(reg);
	if (r == 0)
		r = yank__inst_claim_key(&reg->seg, reg->proc, reg->proc_gen, &k, &idx, &gen);
	if (r == -ENOSPC && yank__reap(&reg->seg) > 0)
		r = yank__inst_claim_key(&reg->seg, reg->proc, reg->proc_gen, &k, &idx, &gen);
	yank__unlock(&reg->seg);
	return r;
}

/*
 * Unlike the other calls, these two run without a guard of their own: they
 * wait for nothing but the registry lock, which is no cancellation point,
 * and each cancellation point they can reach (starting the agent, reading
 * /proc or probing an agent to reap, a nap) disables cancellation itself.
 * Two pthread_setcancelstate() per call were a tenth of a registration.
 */
YANK_PUBLIC int yank_register_instance_ns(yank_registry *reg, const char *ns,
					  const struct yank_instance *inst)
{
	return do_register_instance(reg, ns, inst);
}

YANK_PUBLIC int yank_register_instance(yank_registry *reg, const struct yank_instance *inst)
{
	return yank_register_instance_ns(reg, NULL, inst);
}

static int do_unregister_instance(yank_registry *reg, const char *ns,
				  const struct yank_instance *inst)
{
	struct inst_key k;
	int r = check_args(reg, ns, inst, &k);
	if (r == 0)
		r = locked(reg);
	if (r < 0)
		return r;
	uint32_t idx;
	uint64_t gen;
	FAULT("unregister.locked");
	r = find_mine(reg, &k, &idx, &gen);
	if (r == 0 && (reg->seg.insts[idx].n_fds || reg->seg.insts[idx].n_cbs ||
		       reg->seg.insts[idx].n_pxs))
		r = -EBUSY;
	if (r == 0)
		yank__inst_release(&reg->seg, idx);
	yank__unlock(&reg->seg);
	return r;
}

YANK_PUBLIC int yank_unregister_instance_ns(yank_registry *reg, const char *ns,
					    const struct yank_instance *inst)
{
	return do_unregister_instance(reg, ns, inst);
}

YANK_PUBLIC int yank_unregister_instance(yank_registry *reg, const struct yank_instance *inst)
{
	return yank_unregister_instance_ns(reg, NULL, inst);
}

/* Lock held: the local table and the agent, started on the first record. */
/* What a proxied function is told of its record's instance. */
static int make_ident(const struct inst_key *k, struct local_ident **out)
{
	struct local_ident *id = calloc(1, sizeof(*id));
	if (!id)
		return -ENOMEM;
	memcpy(id->ns, k->ns, k->ns_len);
	memcpy(id->name, k->name, k->len);
	id->inst.type = (enum yank_type)k->type;
	id->inst.name = k->type == YANK_MIGRATION ? NULL : id->name;
	*out = id;
	return 0;
}

static int add_record_nc(yank_registry *reg, const char *ns, const struct yank_instance *inst,
			 uint32_t kind, int fd, yank_fn *fn, void *opaque)
{
	struct local_rec lr = { .kind = kind, .fd = fd, .fn = fn, .opaque = opaque };
	struct inst_key k;
	int r = check_record(reg, ns, inst, &k, kind, fn, fd);
	if (r == 0 && kind == REC_FD)
		r = yank__sock_identity(fd, &lr.dev, &lr.ino);
	if (r == 0 && kind == REC_PX)
		r = make_ident(&k, &lr.id);
	if (r == 0)
		r = locked_with_agent(reg);
	if (r < 0) {
		free(lr.id);
		return r;
	}
	r = find_mine(reg, &k, &lr.inst, &lr.inst_gen);
	if (r == 0)
		r = yank__rec_claim(&reg->seg, lr.inst, kind, fd, lr.dev, lr.ino, &lr.rec,
				    &lr.rec_gen);
	if (r == -ENOSPC && yank__reap(&reg->seg) > 0)
		r = yank__rec_claim(&reg->seg, lr.inst, kind, fd, lr.dev, lr.ino, &lr.rec,
				    &lr.rec_gen);
	FAULT("record.claimed");
	if (r == 0) {
		r = yank__local_add(reg->local, &lr);
		if (r < 0)
			yank__rec_release(&reg->seg, lr.rec);
	} else {
		free(lr.id);
	}
	yank__unlock(&reg->seg);
	return r;
}

static int remove_record_nc(yank_registry *reg, const char *ns, const struct yank_instance *inst,
			    uint32_t kind, int fd, yank_fn *fn, void *opaque)
{
	struct inst_key k;
	int r = check_record(reg, ns, inst, &k, kind, fn, fd);
	if (r < 0)
		return r;
	/* Waiting for a grace period inside a read-side section would never end. */
	if (yank__in_callback())
		return -EDEADLK;
	r = locked(reg);
	if (r < 0)
		return r;
	uint32_t idx;
	uint64_t gen;
	r = find_mine(reg, &k, &idx, &gen);
	yank__unlock(&reg->seg);
	if (r < 0)
		return r;
	if (!reg->local)
		return -ENOENT;
	struct local_rec lr;
	/* Unpublish and drain outside the registry lock: the drain may wait
	 * for a yanker, and no other process should wait behind that. */
	r = yank__local_take(reg->local, idx, gen, kind, fd, fn, opaque, reg->agent_ms + 1000, &lr);
	if (r < 0 && r != -ETIMEDOUT)
		return r;
	FAULT("record.unpublished");
	int l = yank__lock(&reg->seg, reg->lock_ms);
	if (l < 0) {
		/* The segment record cannot be freed now: publish the entry again,
		 * so that a failed unregister changes nothing and can be retried. */
		yank__local_add(reg->local, &lr);
		return l;
	}
	const struct rec_slot *rs = &reg->seg.recs[lr.rec];
	if (rs->h.state == SLOT_LIVE && rs->h.gen == lr.rec_gen)
		yank__rec_release(&reg->seg, lr.rec);
	yank__unlock(&reg->seg);
	/* On -ETIMEDOUT the table keeps the entry, and with it the ident. */
	if (r == 0)
		free(lr.id);
	return r;
}

static int add_record(yank_registry *reg, const char *ns, const struct yank_instance *inst,
		      uint32_t kind, int fd, yank_fn *fn, void *opaque)
{
	int c = yank__cancel_off();
	int r = add_record_nc(reg, ns, inst, kind, fd, fn, opaque);
	yank__cancel_restore(c);
	return r;
}

static int remove_record(yank_registry *reg, const char *ns, const struct yank_instance *inst,
			 uint32_t kind, int fd, yank_fn *fn, void *opaque)
{
	int c = yank__cancel_off();
	int r = remove_record_nc(reg, ns, inst, kind, fd, fn, opaque);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC int yank_register_function(yank_registry *reg, const struct yank_instance *inst,
				       yank_fn *fn, void *opaque)
{
	return add_record(reg, NULL, inst, REC_CB, -1, fn, opaque);
}

YANK_PUBLIC int yank_unregister_function(yank_registry *reg, const struct yank_instance *inst,
					 yank_fn *fn, void *opaque)
{
	return remove_record(reg, NULL, inst, REC_CB, -1, fn, opaque);
}

YANK_PUBLIC int yank_register_fd(yank_registry *reg, const struct yank_instance *inst, int fd)
{
	return add_record(reg, NULL, inst, REC_FD, fd, NULL, NULL);
}

YANK_PUBLIC int yank_unregister_fd(yank_registry *reg, const struct yank_instance *inst, int fd)
{
	return remove_record(reg, NULL, inst, REC_FD, fd, NULL, NULL);
}

/*
 * Stored as a yank_fn and cast back before the call (agent.c): function
 * pointers convert to one another and back unchanged.
 */
YANK_PUBLIC int yank_register_proxy(yank_registry *reg, const char *ns,
				    const struct yank_instance *inst, yank_proxy_fn *fn,
				    void *opaque)
{
	return add_record(reg, ns, inst, REC_PX, -1, (yank_fn *)(void (*)(void))fn, opaque);
}

YANK_PUBLIC int yank_unregister_proxy(yank_registry *reg, const char *ns,
				      const struct yank_instance *inst, yank_proxy_fn *fn,
				      void *opaque)
{
	return remove_record(reg, ns, inst, REC_PX, -1, (yank_fn *)(void (*)(void))fn, opaque);
}

static int do_set_unresponsive(yank_registry *reg, const char *ns, int on)
{
	size_t ns_len;
	int r = reg ? check_ns(ns, &ns_len) : -EINVAL;
	if (r == 0)
		r = locked(reg);
	if (r < 0)
		return r;
	if (reg->have_proc)
		r = yank__inst_set_flag(&reg->seg, reg->proc, reg->proc_gen, ns_len ? ns : "",
					ns_len, INST_F_UNRESPONSIVE, on);
	yank__unlock(&reg->seg);
	return r;
}

YANK_PUBLIC int yank_set_unresponsive(yank_registry *reg, const char *ns, int unresponsive)
{
	int c = yank__cancel_off();
	int r = do_set_unresponsive(reg, ns, unresponsive);
	yank__cancel_restore(c);
	return r;
}

/* ---- adopted sockets ---- */

static int do_adopt_fd(yank_registry *reg, const struct yank_instance *inst, pid_t pid, int fd)
{
	struct inst_key k;
	int r = check_args(reg, NULL, inst, &k);
	if (r < 0)
		return r;
	/* Our own fds are registered with yank_register_fd(), agent and all. */
	if (pid <= 0 || pid == yank__self()->pid)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	return yank__adopt_fd(reg, &k, pid, fd);
}

YANK_PUBLIC int yank_adopt_fd(yank_registry *reg, const struct yank_instance *inst, pid_t pid,
			      int fd)
{
	int c = yank__cancel_off();
	int r = do_adopt_fd(reg, inst, pid, fd);
	yank__cancel_restore(c);
	return r;
}

static int do_unadopt(yank_registry *reg, const struct yank_instance *inst)
{
	struct inst_key k;
	int r = check_args(reg, NULL, inst, &k);
	return r < 0 ? r : yank__unadopt(reg, &k);
}

YANK_PUBLIC int yank_unadopt(yank_registry *reg, const struct yank_instance *inst)
{
	int c = yank__cancel_off();
	int r = do_unadopt(reg, inst);
	yank__cancel_restore(c);
	return r;
}

/* ---- yank ---- */

static int do_yank(yank_registry *reg, const char *const *ns, const struct yank_instance *list,
		   size_t n, struct yank_failure **out, size_t *n_out)
{
	if (!reg || (n && !list) || n > (1u << 20))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t ns_len;
		int r = ns ? check_ns(ns[i], &ns_len) : 0;
		if (r == 0)
			r = yank_check_instance(&list[i]);
		if (r < 0)
			return r;
	}
	if (out) {
		*out = NULL;
		*n_out = 0;
	}
	if (n == 0)
		return 0;
	return yank__yank(reg, ns, list, n, out, n_out);
}

YANK_PUBLIC int yank_yank_ns(yank_registry *reg, const char *const *ns,
			     const struct yank_instance *list, size_t n, struct yank_failure **out,
			     size_t *n_out)
{
	int c = yank__cancel_off();
	int r = do_yank(reg, ns, list, n, out, n_out);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC int yank_yank_detailed(yank_registry *reg, const struct yank_instance *list, size_t n,
				   struct yank_failure **out, size_t *n_out)
{
	return yank_yank_ns(reg, NULL, list, n, out, n_out);
}

YANK_PUBLIC int yank_yank(yank_registry *reg, const struct yank_instance *list, size_t n)
{
	return yank_yank_ns(reg, NULL, list, n, NULL, NULL);
}

YANK_PUBLIC void yank_failures_free(struct yank_failure *f, size_t n)
{
	if (!f)
		return;
	for (size_t i = 0; i < n; i++) {
		free((char *)f[i].name);
		free((char *)f[i].ns);
	}
	free(f);
}

/* ---- query ---- */

static int cmp_order(const void *a, const void *b)
{
	const struct yank_instance_info *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* kill(pid, 0) is enough for display; reaping uses the start time. */
static int pid_exists(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

static int do_query(yank_registry *reg, struct yank_instance_info **out, size_t *n)
{
	if (!reg || !out || !n)
		return -EINVAL;
	const struct seg *s = &reg->seg;
	uint32_t hwm = seg_hwm(&s->hdr->inst_hwm, s->cap_inst);
	/* One extra element at the end carries the name block, for the free. */
	struct yank_instance_info *info = calloc((size_t)hwm + 1, sizeof(*info));
	size_t names_cap = 4096, names_len = 0;
	char *names = malloc(names_cap);
	if (!info || !names) {
		free(info);
		free(names);
		return -ENOMEM;
	}
	size_t cnt = 0;
	int sorted = 1;
	uint32_t last_proc = UINT32_MAX;
	uint64_t last_gen = 0;
	pid_t last_pid = 0;
	int last_alive = 0, last_adopted = 0;
	for (uint32_t i = 0; i < hwm; i++) {
		if (__atomic_load_n(&s->insts[i].h.state, __ATOMIC_RELAXED) != SLOT_LIVE &&
		    !(__atomic_load_n(&s->insts[i].h.seq, __ATOMIC_RELAXED) & 1))
			continue;
		struct inst_view v;
		int rr = yank__read_inst(s, i, &v);
		if (rr == -EPROTO) {
			free(names);
			free(info);
			return -EPROTO;
		}
		if (rr < 0)
			continue; /* freed meanwhile, or a writer is in it: in flux */
		if (v.proc != last_proc || v.proc_gen != last_gen) {
			struct proc_view pv;
			last_proc = v.proc;
			last_gen = v.proc_gen;
			if (yank__read_proc(s, v.proc, &pv) == 0 && pv.gen == v.proc_gen) {
				last_pid = pv.pid;
				last_alive = pid_exists(pv.pid);
				last_adopted = proc_adopted(pv.flags);
			} else {
				last_pid = 0;
				last_alive = 0;
				last_adopted = 0;
			}
		}
		size_t need = v.name_len + 1 + (v.ns_len ? v.ns_len + 1 : 0);
		if (names_len + need > names_cap) {
			names_cap = names_cap * 2 + need;
			char *nn = realloc(names, names_cap);
			if (!nn) {
				free(names);
				free(info);
				return -ENOMEM;
			}
			names = nn;
		}
		struct yank_instance_info *it = &info[cnt++];
		it->type = (enum yank_type)v.type;
		/* An offset for now: names may still move. */
		it->name = v.type == YANK_MIGRATION ? NULL : (const char *)(uintptr_t)(names_len + 1);
		memcpy(names + names_len, v.name, v.name_len + 1);
		names_len += v.name_len + 1;
		if (v.ns_len) {
			it->ns = (const char *)(uintptr_t)(names_len + 1);
			memcpy(names + names_len, v.ns, v.ns_len + 1);
			names_len += v.ns_len + 1;
		}
		it->n_proxies = v.n_pxs;
		it->unresponsive = (v.flags & INST_F_UNRESPONSIVE) != 0;
		it->pid = last_pid;
		it->n_fds = v.n_fds;
		it->n_callbacks = v.n_cbs;
		it->owner_alive = last_alive;
		it->order = v.order;
		it->adopted = last_adopted;
		if (cnt > 1 && info[cnt - 2].order > v.order)
			sorted = 0;
	}
	for (size_t i = 0; i < cnt; i++) {
		if (info[i].name)
			info[i].name = names + ((uintptr_t)info[i].name - 1);
		if (info[i].ns)
			info[i].ns = names + ((uintptr_t)info[i].ns - 1);
	}
	if (!sorted)
		qsort(info, cnt, sizeof(*info), cmp_order);
	memset(&info[cnt], 0, sizeof(info[cnt]));
	info[cnt].name = names;
	*out = info;
	*n = cnt;
	return 0;
}

YANK_PUBLIC int yank_query(yank_registry *reg, struct yank_instance_info **out, size_t *n)
{
	int c = yank__cancel_off();
	int r = do_query(reg, out, n);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC void yank_query_free(struct yank_instance_info *info, size_t n)
{
	if (!info)
		return;
	free((char *)info[n].name);
	free(info);
}

/* ---- maintenance ---- */

static int do_gc(yank_registry *reg, size_t *reaped)
{
	if (!reg)
		return -EINVAL;
	int r = yank__lock(&reg->seg, reg->lock_ms);
	if (r < 0)
		return r;
	size_t n = yank__reap(&reg->seg);
	yank__unlock(&reg->seg);
	if (reaped)
		*reaped = n;
	return 0;
}

YANK_PUBLIC int yank_gc(yank_registry *reg, size_t *reaped)
{
	int c = yank__cancel_off();
	int r = do_gc(reg, reaped);
	yank__cancel_restore(c);
	return r;
}

static int do_status(yank_registry *reg, struct yank_status *out)
{
	if (!reg || !out)
		return -EINVAL;
	const struct seg *s = &reg->seg;
	memset(out, 0, sizeof(*out));
	out->layout_version = SEG_LAYOUT_VERSION;
	out->segment_bytes = s->size;
	out->max_instances = s->cap_inst;
	out->max_records = s->cap_rec;
	out->max_processes = s->cap_proc;
	out->lock_holder = __atomic_load_n(&s->hdr->holder_pid, __ATOMIC_RELAXED);
	out->lock_holder_alive = out->lock_holder > 0 && pid_exists(out->lock_holder);
	/* The derived state is only stable under the lock; without it, check the slots. */
	uint32_t wait = reg->lock_ms < 500 ? reg->lock_ms : 500;
	int have = yank__lock(&reg->seg, wait) == 0;
	struct check_result c;
	yank__check(s, have, &c);
	if (have)
		yank__unlock(&reg->seg);
	out->used_instances = c.used_inst;
	out->used_records = c.used_rec;
	out->used_processes = c.used_proc;
	out->live_processes = c.live_procs;
	out->dead_processes = c.dead_procs;
	out->torn_slots = c.torn;
	out->integrity = c.ok ? 0 : -EPROTO;
	memcpy(out->integrity_detail, c.detail, sizeof(out->integrity_detail));
	out->yanks_ok = __atomic_load_n(&s->hdr->yanks_ok, __ATOMIC_RELAXED);
	out->yanks_failed = __atomic_load_n(&s->hdr->yanks_failed, __ATOMIC_RELAXED);
	out->yanks_not_found = __atomic_load_n(&s->hdr->yanks_not_found, __ATOMIC_RELAXED);
	out->audit_next = __atomic_load_n(&s->hdr->audit_next, __ATOMIC_RELAXED);
	return 0;
}

YANK_PUBLIC int yank_status(yank_registry *reg, struct yank_status *out)
{
	int c = yank__cancel_off();
	int r = do_status(reg, out);
	yank__cancel_restore(c);
	return r;
}

/* ---- audit log ---- */

static int do_audit_read(yank_registry *reg, uint64_t since, struct yank_audit_entry **out,
			 size_t *n)
{
	if (!reg || !out || !n)
		return -EINVAL;
	return yank__audit_read(&reg->seg, since, out, n);
}

YANK_PUBLIC int yank_audit_read(yank_registry *reg, uint64_t since, struct yank_audit_entry **out,
				size_t *n)
{
	int c = yank__cancel_off();
	int r = do_audit_read(reg, since, out, n);
	yank__cancel_restore(c);
	return r;
}

YANK_PUBLIC void yank_audit_free(struct yank_audit_entry *e, size_t n)
{
	yank__audit_free(e, n);
}
