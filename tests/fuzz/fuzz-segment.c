/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The segment reader (SPEC §5, §9): arbitrary bytes as a segment image,
 * through yank__seg_validate(), the check the library and yankctl make
 * before they trust a mapping.  An image that passes is then put through
 * everything that reads or repairs a segment written by someone else:
 *
 *  1. the lock-free readers (yank__read_proc/inst/rec at every index up to
 *     and past the capacities, yank__lookup), yank__check() without and
 *     with the lock's view, on a read-only mapping: readers never write;
 *  2. yank_open_existing() + yank_query() on a real shm copy, and yankctl's
 *     list and status printers on what they return;
 *  3. a registrant's writes on the unrepaired image (the reap every
 *     locker runs first, then claims and releases): never out of bounds;
 *  4. yank__repair(), as run by the next lock holder after a crash, on a
 *     private writable copy; afterwards the registry must be consistent
 *     by yank__check()'s own standard, every slot readable, every live
 *     instance found, and it must stay so through a register/unregister.
 *
 * Images are mapped between PROT_NONE guard pages, so a read or write
 * past either end faults even where ASan does not look.  The pthread mutex
 * in the image is never touched: yank__lock() is not called.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <yank.h>

#include "fuzz.h"
#include "layout.h"
#include "output.h"
#include "owner.h"
#include "recover.h"
#include "registry.h"
#include "segment.h"

#define PAGE 4096u
/* A torn slot costs a reader ~64 bounded retries; more than this many per
 * image would make the fuzzer crawl without reaching any new code. */
#define MAX_TORN 1
#define MAX_NAMES 4

struct image {
	char *map;  /* guard page, image, guard page */
	size_t len; /* of the whole mapping */
	char *base;
	size_t size;
};

static void image_map(struct image *im, const void *data, size_t size)
{
	im->size = size;
	im->len = size + 2 * PAGE;
	im->map = mmap(NULL, im->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FUZZ_ASSERT(im->map != MAP_FAILED);
	im->base = im->map + PAGE;
	FUZZ_ASSERT(mprotect(im->base, size, PROT_READ | PROT_WRITE) == 0);
	memcpy(im->base, data, size);
}

static void image_protect(struct image *im, int prot)
{
	FUZZ_ASSERT(mprotect(im->base, im->size, prot) == 0);
}

static void image_unmap(struct image *im)
{
	munmap(im->map, im->len);
}

/* Instances seen by the readers, to look up again. */
struct names {
	uint32_t n;
	struct {
		uint32_t type, len;
		char name[256];
	} e[MAX_NAMES];
};

struct tally {
	uint32_t procs, insts, recs, torn, corrupt;
};

static void note(struct tally *t, int r, uint32_t *used)
{
	FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -EAGAIN || r == -EPROTO);
	if (r == 0)
		(*used)++;
	else if (r == -EAGAIN)
		t->torn++;
	else if (r == -EPROTO)
		t->corrupt++;
}

/* Indices worth trying in a table: all of [0, cap), then the edges past it. */
static uint32_t probe_count(uint32_t cap)
{
	return cap + 4;
}

static uint32_t probe(uint32_t cap, uint32_t hwm_raw, uint32_t k)
{
	if (k < cap)
		return k;
	switch (k - cap) {
	case 0:
		return cap;
	case 1:
		return cap + 1;
	case 2:
		return hwm_raw;
	default:
		return UINT32_MAX;
	}
}

static void check_proc(const struct seg *s, uint32_t idx, int r, const struct proc_view *v)
{
	if (idx >= s->cap_proc)
		FUZZ_ASSERT(r == -EPROTO);
	if (r)
		return;
	FUZZ_ASSERT(v->idx == idx && v->pid > 0 && v->agent_len <= AGENT_ADDR_MAX);
}

static void check_inst(const struct seg *s, uint32_t idx, int r, const struct inst_view *v)
{
	if (idx >= s->cap_inst)
		FUZZ_ASSERT(r == -EPROTO);
	if (r)
		return;
	FUZZ_ASSERT(v->idx == idx && v->type >= 1 && v->type <= 3);
	FUZZ_ASSERT(v->proc < s->cap_proc && v->name_len <= 255);
	FUZZ_ASSERT(v->name[v->name_len] == '\0' && strlen(v->name) == v->name_len);
	FUZZ_ASSERT((v->type == YANK_MIGRATION) == (v->name_len == 0));
}

static void check_rec(const struct seg *s, uint32_t idx, int r, const struct rec_view *v)
{
	if (idx >= s->cap_rec)
		FUZZ_ASSERT(r == -EPROTO);
	if (r)
		return;
	FUZZ_ASSERT(v->idx == idx && v->kind >= REC_FD && v->kind <= REC_PX);
	FUZZ_ASSERT(v->inst < s->cap_inst && v->proc < s->cap_proc);
	if (v->kind == REC_FD)
		FUZZ_ASSERT(v->fd >= 0);
}

/*
 * Slot @idx of table @tab through its lock-free reader, checked; the
 * reader's result.  An instance's view is left in @iv for the caller.
 */
static int read_slot(const struct seg *s, enum table_id tab, uint32_t idx, struct inst_view *iv)
{
	struct proc_view pv;
	struct rec_view rv;
	int r;

	switch (tab) {
	case T_PROC:
		r = yank__read_proc(s, idx, &pv);
		check_proc(s, idx, r, &pv);
		break;
	case T_INST:
		r = yank__read_inst(s, idx, iv);
		check_inst(s, idx, r, iv);
		break;
	default:
		r = yank__read_rec(s, idx, &rv);
		check_rec(s, idx, r, &rv);
		break;
	}
	return r;
}

/*
 * Every slot of every table, as the lock-free readers see it.  The tally
 * covers [0, hwm) only, the range yank__check() walks.
 */
static void read_all(const struct seg *s, struct tally *t, struct names *nm)
{
	const struct seg_hdr *h = s->hdr;

	memset(t, 0, sizeof(*t));
	if (nm)
		nm->n = 0;
	const struct {
		enum table_id tab;
		uint32_t cap, hwm;
		uint32_t *used;
	} tabs[] = { { T_PROC, s->cap_proc, h->proc_hwm, &t->procs },
		     { T_INST, s->cap_inst, h->inst_hwm, &t->insts },
		     { T_REC, s->cap_rec, h->rec_hwm, &t->recs } };

	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++)
		for (uint32_t k = 0; k < probe_count(tabs[i].cap); k++) {
			uint32_t idx = probe(tabs[i].cap, tabs[i].hwm, k);
			struct inst_view v;
			int r = read_slot(s, tabs[i].tab, idx, &v);

			if (k < tabs[i].cap && idx < tabs[i].hwm)
				note(t, r, tabs[i].used);
			/* yank__lookup() scans below the high-water mark only. */
			if (tabs[i].tab == T_INST && r == 0 && nm && nm->n < MAX_NAMES &&
			    idx < tabs[i].hwm) {
				nm->e[nm->n].type = v.type;
				nm->e[nm->n].len = v.name_len;
				memcpy(nm->e[nm->n].name, v.name, v.name_len + 1);
				nm->n++;
			}
		}
}

/*
 * Look up the instances the readers saw, and a few that may not exist.
 * With @must_find (a consistent registry) each seen one is found.
 */
static void lookups(const struct seg *s, const struct names *nm, bool must_find)
{
	static const struct {
		uint32_t type;
		const char *name;
	} fixed[] = { { YANK_CHARDEV, "c0" }, { YANK_MIGRATION, "" }, { 0, "" } };
	struct inst_view v;
	uint32_t torn = 0;
	int r;

	for (uint32_t i = 0; i < nm->n; i++) {
		r = yank__lookup(s, nm->e[i].type, nm->e[i].name, nm->e[i].len, &v, &torn);
		FUZZ_ASSERT(r == 0 || r == -ENOENT);
		if (must_find)
			FUZZ_ASSERT(r == 0);
		if (r == 0)
			FUZZ_ASSERT(v.type == nm->e[i].type && v.name_len == nm->e[i].len &&
				    !memcmp(v.name, nm->e[i].name, v.name_len));
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		r = yank__lookup(s, fixed[i].type, fixed[i].name, strlen(fixed[i].name), &v, NULL);
		FUZZ_ASSERT(r == 0 || r == -ENOENT);
		if (r == 0)
			FUZZ_ASSERT(v.type == fixed[i].type);
	}
}

static void check_result(const struct check_result *c)
{
	FUZZ_ASSERT(c->ok == 0 || c->ok == 1);
	FUZZ_ASSERT(strnlen(c->detail, sizeof(c->detail)) < sizeof(c->detail));
	if (c->ok)
		FUZZ_ASSERT(c->detail[0] == '\0');
	else
		FUZZ_ASSERT(c->detail[0] != '\0');
}

/* A seqlock left odd makes every read of that slot retry until it gives up. */
static void limit_torn(struct seg *s)
{
	struct table t[3];
	int odd = 0;

	yank__table(s, T_PROC, &t[0]);
	yank__table(s, T_INST, &t[1]);
	yank__table(s, T_REC, &t[2]);
	for (int k = 0; k < 3; k++)
		for (uint32_t i = 0; i < t[k].cap; i++) {
			struct slot_head *h = table_slot(&t[k], i);

			if ((h->seq & 1) && ++odd > MAX_TORN)
				h->seq &= ~1u;
		}
}

static FILE *devnull(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "w");
	FUZZ_ASSERT(f != NULL);
	return f;
}

/* yankctl status, from what the check found. */
static void print_status(const struct seg *s, const struct check_result *c)
{
	struct yank_status st = {
		.layout_version = SEG_LAYOUT_VERSION,
		.segment_bytes = s->size,
		.max_instances = s->cap_inst,
		.max_records = s->cap_rec,
		.max_processes = s->cap_proc,
		.used_instances = c->used_inst,
		.used_records = c->used_rec,
		.used_processes = c->used_proc,
		.live_processes = c->live_procs,
		.dead_processes = c->dead_procs,
		.lock_holder = s->hdr->holder_pid,
		.torn_slots = c->torn,
		.integrity = c->ok ? 0 : -EPROTO,
	};

	memcpy(st.integrity_detail, c->detail, sizeof(st.integrity_detail));
	yc_print_status(devnull(), "/yank-fuzz", &st, NULL, 0);
	yc_print_status_json(devnull(), "/yank-fuzz", &st, NULL, 0);
}

/*
 * The library's own path: a real shm segment, opened as yankctl opens one
 * (existing only), queried, and printed as "yankctl list" would.
 */
static void query_via_library(const void *data, size_t size, uint32_t cap_inst)
{
	char name[64];
	struct yank_instance_info *info;
	yank_registry *reg;
	size_t n;
	int fd, r;

	snprintf(name, sizeof(name), "/yank-test-fuzz-%d", (int)getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
	close(fd);
	r = yank_open_existing(name, NULL, &reg);
	shm_unlink(name);
	/* It passed yank__seg_validate(), so the library must take it. */
	FUZZ_ASSERT(r == 0);
	r = yank_query(reg, &info, &n);
	FUZZ_ASSERT(r == 0 || r == -EPROTO);
	if (r == 0) {
		FUZZ_ASSERT(n <= cap_inst);
		for (size_t i = 0; i < n; i++) {
			FUZZ_ASSERT(info[i].type >= YANK_BLOCK_NODE &&
				    info[i].type <= YANK_MIGRATION);
			FUZZ_ASSERT((info[i].type == YANK_MIGRATION) == (info[i].name == NULL));
			if (info[i].name)
				FUZZ_ASSERT(strnlen(info[i].name, 256) <= 255);
			if (i)
				FUZZ_ASSERT(info[i - 1].order <= info[i].order);
		}
		yc_print_list(devnull(), info, NULL, n);
		yc_print_list_json(devnull(), info, NULL, n);
		yank_query_free(info, n);
	}
	yank_close(reg);
}

/*
 * A registrant's life under the lock: claim a process slot, an instance
 * and two records, then give them back, as api.c does.  With @consistent
 * the registry must pass the locked check after every step.
 */
static void registrant(struct seg *s, bool consistent)
{
	const struct owner_id *me = yank__self();
	struct check_result c;
	uint32_t p, i, rf, rc, found;
	uint64_t pg, ig, g;
	bool have_i = false, have_rf = false, have_rc = false;
	int r;

	yank__reap(s);
	if (yank__proc_claim(s, me, 0, &p, &pg) < 0)
		return;
	FUZZ_ASSERT(p < s->cap_proc);
	FUZZ_ASSERT(yank__proc_owned(s, p, pg, me->pid));
	yank__proc_set_agent(s, p, "yank-fuzz-agent", 15);
	r = yank__inst_find(s, YANK_CHARDEV, "fuzz-new", 8, &found);
	FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -EPROTO);
	if (consistent)
		FUZZ_ASSERT(r != -EPROTO);
	if (r == -ENOENT && yank__inst_claim(s, p, pg, YANK_CHARDEV, "fuzz-new", 8, &i, &ig) == 0) {
		FUZZ_ASSERT(i < s->cap_inst);
		have_i = true;
		have_rf = yank__rec_claim(s, i, REC_FD, 0, 1, 2, &rf, &g) == 0;
		have_rc = yank__rec_claim(s, i, REC_CB, -1, 0, 0, &rc, &g) == 0;
		FUZZ_ASSERT(!have_rf || rf < s->cap_rec);
		FUZZ_ASSERT(!have_rc || rc < s->cap_rec);
	}
	if (consistent) {
		yank__check(s, 1, &c);
		check_result(&c);
		if (!c.ok)
			fprintf(stderr, "after registering: %s\n", c.detail);
		FUZZ_ASSERT(c.ok && !c.torn);
		if (have_i)
			FUZZ_ASSERT(yank__inst_find(s, YANK_CHARDEV, "fuzz-new", 8, &found) == 0 &&
				    found == i);
	}
	if (have_rf)
		yank__rec_release(s, rf);
	if (have_rc)
		yank__rec_release(s, rc);
	if (have_i)
		yank__inst_release(s, i);
	yank__proc_release(s, p);
	if (consistent) {
		yank__check(s, 1, &c);
		check_result(&c);
		if (!c.ok)
			fprintf(stderr, "after unregistering: %s\n", c.detail);
		FUZZ_ASSERT(c.ok && !c.torn);
	}
}

/* Only images that pass validation go further: see the file comment. */
static void fuzz_image(const uint8_t *data, size_t size)
{
	struct image a, b;
	struct seg s, sb;
	struct check_result c0, c1;
	struct tally t;
	struct names nm;

	image_map(&a, data, size);
	if (yank__seg_validate(a.base, a.size, &s) < 0) {
		image_unmap(&a);
		return;
	}
	FUZZ_ASSERT(s.size == size && s.hdr == (struct seg_hdr *)a.base);
	FUZZ_ASSERT(size == yank__seg_bytes(s.cap_proc, s.cap_inst, s.cap_rec));
	limit_torn(&s);

	/* 1. Readers, on a mapping they cannot write. */
	image_protect(&a, PROT_READ);
	read_all(&s, &t, &nm);
	lookups(&s, &nm, false);
	yank__check(&s, 0, &c0);
	check_result(&c0);
	/* Within the high-water marks the check sees exactly what we saw. */
	if (s.hdr->proc_hwm <= s.cap_proc && s.hdr->inst_hwm <= s.cap_inst &&
	    s.hdr->rec_hwm <= s.cap_rec) {
		FUZZ_ASSERT(c0.used_proc == t.procs && c0.used_inst == t.insts &&
			    c0.used_rec == t.recs && c0.torn == t.torn);
		FUZZ_ASSERT(c0.live_procs + c0.dead_procs == c0.used_proc);
		if (t.corrupt)
			FUZZ_ASSERT(!c0.ok);
	} else {
		FUZZ_ASSERT(!c0.ok);
	}
	yank__check(&s, 1, &c1);
	check_result(&c1);
	if (!c0.ok)
		FUZZ_ASSERT(!c1.ok);
	print_status(&s, &c1);

	/* 2. The library and yankctl, on a shared copy of the same bytes. */
	query_via_library(a.base, a.size, s.cap_inst);

	/* 3. A registrant's writes on the image as it is. */
	image_map(&b, a.base, a.size);
	FUZZ_ASSERT(yank__seg_validate(b.base, b.size, &sb) == 0);
	registrant(&sb, false);
	image_unmap(&b);

	/* 4. The repair, then a registry that must be consistent. */
	image_protect(&a, PROT_READ | PROT_WRITE);
	FUZZ_ASSERT(yank__repair(&s) == 0);
	image_protect(&a, PROT_READ);
	FUZZ_ASSERT(s.hdr->proc_hwm <= s.cap_proc && s.hdr->inst_hwm <= s.cap_inst &&
		    s.hdr->rec_hwm <= s.cap_rec);
	yank__check(&s, 1, &c1);
	check_result(&c1);
	if (!c1.ok)
		fprintf(stderr, "after repair: %s\n", c1.detail);
	FUZZ_ASSERT(c1.ok && c1.torn == 0);
	read_all(&s, &t, &nm);
	FUZZ_ASSERT(t.torn == 0 && t.corrupt == 0);
	lookups(&s, &nm, true);
	image_protect(&a, PROT_READ | PROT_WRITE);
	registrant(&s, true);
	image_unmap(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;

	if (!once) {
		/* Readers nap 20 us between retries of a torn slot: make that 20 us. */
		prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
		once = true;
	}
	/* Valid images are whole pages; anything else only meets the validator. */
	if (size < sizeof(struct seg_hdr) || size % PAGE) {
		struct seg s;
		void *copy = NULL;

		/* Aligned as a mapping would be: the header holds 64-bit fields. */
		FUZZ_ASSERT(posix_memalign(&copy, 64, size ? size : 1) == 0);
		memcpy(copy, data, size);
		FUZZ_ASSERT(yank__seg_validate(copy, size, &s) == -EPROTO);
		free(copy);
		return 0;
	}
	/*
	 * The audit ring, at the end, is fifty pages: inputs that size would
	 * make the fuzzer crawl.  An image that stops where its header says
	 * the ring starts gets a zeroed ring; a whole image is taken as it is.
	 */
	const struct seg_hdr *h = (const void *)data;
	size_t ring = (AUDIT_SLOTS * sizeof(struct audit_slot) + PAGE - 1) / PAGE * PAGE;
	uint64_t off, whole;
	memcpy(&off, &h->off_audit, sizeof(off));
	memcpy(&whole, &h->size, sizeof(whole));
	if (off == size && whole == size + ring) {
		uint8_t *full = calloc(1, size + ring);
		FUZZ_ASSERT(full);
		memcpy(full, data, size);
		fuzz_image(full, size + ring);
		free(full);
		return 0;
	}
	fuzz_image(data, size);
	return 0;
}
