/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Writes the seed corpora of the fuzz targets: tests/fuzz/gen-seeds.sh
 * builds and runs it.  Only files named seed-* are written (and old ones
 * removed first); crash regressions saved next to them stay.
 *
 * Segment seeds are real registries: made through the public API in a
 * private segment with small capacities, copied out of /dev/shm, then made
 * deterministic (pids, start times, agent addresses, socket identities and
 * the mutex are rewritten) so that a rerun gives the same bytes.  Owners
 * are "alive" by living in a foreign pid namespace (the reaper cannot judge
 * them, so it keeps them) or "dead" by a pid no kernel hands out.  Damaged
 * variants of them follow, one kind of damage each.
 *
 * Wire seeds are yank__wire_encode() output and hand-made bad msgpack;
 * QMP seeds are transcripts; argument seeds are NUL-separated argv lists.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <yank.h>

#include "agent-recs.h"
#include "layout.h"
#include "registry.h"
#include "segment.h"
#include "wire.h"

#define PID_DEAD 4194304 /* PID_MAX_LIMIT: never a live pid */
#define PIDNS_FOREIGN 1  /* no real pid namespace has inode 1 */
#define PAGE_ALIGN 4096

static const char *root;
static char seg_name[64];

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "gen-seeds: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (seg_name[0])
		shm_unlink(seg_name);
	exit(1);
}

static void write_seed(const char *target, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/seed-%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

static void clear_seeds(const char *target)
{
	char dir[512], path[1024];
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/%s", root, target);
	mkdir(dir, 0755);
	dp = opendir(dir);
	if (!dp)
		die("%s: %s", dir, strerror(errno));
	while ((d = readdir(dp)))
		if (!strncmp(d->d_name, "seed-", 5)) {
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			unlink(path);
		}
	closedir(dp);
}

/* ---- segment ---- */

struct image {
	char *buf;
	size_t size;
	struct seg s;
};

static void fake_fn(void *opaque)
{
	(void)opaque;
}

static yank_registry *open_reg(const char *name, uint32_t cp, uint32_t ci, uint32_t cr)
{
	struct yank_open_opts o = { .max_instances = ci, .max_records = cr, .max_processes = cp };
	yank_registry *reg;
	int r = yank_open_with(name, &o, &reg);

	if (r < 0)
		die("yank_open_with %s: %s", name, yank_strerror(r));
	return reg;
}

static void must(int r, const char *what)
{
	if (r < 0)
		die("%s: %s", what, yank_strerror(r));
}

static int sock(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	return sv[0];
}

static void reinit_mutex(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;

	memset(m, 0, sizeof(*m));
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

/* Copy segment @name out of /dev/shm and make it deterministic. */
static void snapshot(const char *name, int dead_mask, struct image *im)
{
	char path[300];
	void *buf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	im->size = (size_t)lseek(fd, 0, SEEK_END);
	if (posix_memalign(&buf, PAGE_ALIGN, im->size))
		die("out of memory");
	im->buf = buf;
	n = pread(fd, im->buf, im->size, 0);
	close(fd);
	if (n != (ssize_t)im->size)
		die("%s: short read", path);
	if (yank__seg_validate(im->buf, im->size, &im->s) < 0)
		die("%s: does not validate", path);

	struct seg_hdr *h = im->s.hdr;
	h->holder_pid = 0;
	h->holder_start = 0;
	h->last_reap_ns = 0;
	reinit_mutex(&h->lock);
	for (uint32_t i = 0; i < im->s.cap_proc; i++) {
		struct proc_slot *p = &im->s.procs[i];
		int dead = (dead_mask >> i) & 1;

		if (p->h.state == SLOT_FREE && !p->pid)
			continue;
		p->pid = dead ? PID_DEAD + (int32_t)i : 1000 + (int32_t)i;
		p->uid = 1000;
		p->start_time = 4242;
		p->pidns_ino = dead ? 0 : PIDNS_FOREIGN;
		memset(p->agent, 0, sizeof(p->agent));
		if (p->agent_len) {
			snprintf(p->agent, sizeof(p->agent), "yank/%d/fuzz", (int)p->pid);
			p->agent_len = (uint32_t)strlen(p->agent);
		}
	}
	for (uint32_t i = 0; i < im->s.cap_rec; i++) {
		struct rec_slot *r = &im->s.recs[i];

		if (r->h.state == SLOT_FREE && !r->kind)
			continue;
		if (r->kind == REC_FD) {
			r->fd = 10 + (int32_t)i;
			r->dev = 8;
			r->ino = 100 + i;
		}
	}
}

/* Up to the audit ring: the fuzzer adds it back, zeroed (fuzz-segment.c). */
static void save(const char *name, const struct image *im)
{
	size_t len = im->s.hdr->off_audit;
	if (len > im->size)
		len = im->size;
	write_seed("segment", name, im->buf, len);
}

static void copy_image(const struct image *from, struct image *to)
{
	void *buf;

	if (posix_memalign(&buf, PAGE_ALIGN, from->size))
		die("out of memory");
	memcpy(buf, from->buf, from->size);
	to->buf = buf;
	to->size = from->size;
	if (yank__seg_validate(to->buf, to->size, &to->s) < 0)
		die("copy does not validate");
}

static void close_all(yank_registry **regs, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		yank_close(regs[i]);
	shm_unlink(name);
}

static const struct yank_instance C0 = { YANK_CHARDEV, "c0" };
static const struct yank_instance DISK0 = { YANK_BLOCK_NODE, "disk0" };
static const struct yank_instance MIG = { YANK_MIGRATION, NULL };

/* chardev:c0 with two fds, block-node:disk0 with a callback, migration with both. */
static void basic(const char *name, yank_registry *reg)
{
	must(yank_register_instance(reg, &C0), "register c0");
	must(yank_register_instance(reg, &DISK0), "register disk0");
	must(yank_register_instance(reg, &MIG), "register migration");
	must(yank_register_fd(reg, &C0, sock()), "fd c0");
	must(yank_register_fd(reg, &C0, sock()), "fd c0");
	must(yank_register_function(reg, &DISK0, fake_fn, NULL), "fn disk0");
	must(yank_register_function(reg, &MIG, fake_fn, NULL), "fn migration");
	must(yank_register_fd(reg, &MIG, sock()), "fd migration");
	(void)name;
}

static void gen_segments(void)
{
	const char *name = seg_name;
	yank_registry *regs[4];
	struct image basic_im, full_im, im;

	clear_seeds("segment");
	snprintf(seg_name, sizeof(seg_name), "/yank-test-genseeds-%d", (int)getpid());
	shm_unlink(name);

	/* Nothing registered yet. */
	regs[0] = open_reg(name, 4, 8, 16);
	snapshot(name, 0, &im);
	save("empty", &im);
	free(im.buf);

	basic(name, regs[0]);
	snapshot(name, 0, &basic_im);
	save("basic", &basic_im);
	snapshot(name, 1, &im);
	save("basic-dead", &im);
	free(im.buf);
	close_all(regs, 1, name);

	/* Three processes (handles), every slot used, hash chains shared. */
	for (int i = 0; i < 3; i++)
		regs[i] = open_reg(name, 4, 8, 16);
	for (int i = 0; i < 7; i++) {
		char n[16];
		struct yank_instance in = { i % 2 ? YANK_BLOCK_NODE : YANK_CHARDEV, n };

		snprintf(n, sizeof(n), "dev%d", i);
		must(yank_register_instance(regs[i % 3], &in), n);
		must(yank_register_fd(regs[i % 3], &in, sock()), "fd");
		must(yank_register_function(regs[i % 3], &in, fake_fn, &regs[i % 3]), "fn");
	}
	must(yank_register_instance(regs[2], &MIG), "register migration");
	must(yank_register_fd(regs[2], &MIG, sock()), "fd migration");
	must(yank_register_fd(regs[2], &MIG, sock()), "fd migration");
	snapshot(name, 0, &full_im);
	save("full", &full_im);
	snapshot(name, 2, &im);
	save("full-one-dead", &im);
	free(im.buf);
	close_all(regs, 3, name);

	/* Churn: free lists in use, slots reused with new generations. */
	regs[0] = open_reg(name, 4, 8, 16);
	regs[1] = open_reg(name, 4, 8, 16);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 4; i++) {
			char n[16];
			struct yank_instance in = { YANK_CHARDEV, n };

			snprintf(n, sizeof(n), "r%dc%d", round, i);
			must(yank_register_instance(regs[i % 2], &in), n);
			must(yank_register_function(regs[i % 2], &in, fake_fn, NULL), "fn");
		}
		for (int i = 0; i < 4; i += 2) {
			char n[16];
			struct yank_instance in = { YANK_CHARDEV, n };

			snprintf(n, sizeof(n), "r%dc%d", round, i);
			must(yank_unregister_function(regs[i % 2], &in, fake_fn, NULL), "unfn");
			must(yank_unregister_instance(regs[i % 2], &in), "unregister");
		}
	}
	yank_close(regs[1]);
	snapshot(name, 0, &im);
	save("churn", &im);
	free(im.buf);
	close_all(regs, 1, name);

	/* Other geometries that still fit in five pages. */
	regs[0] = open_reg(name, 1, 1, 1);
	must(yank_register_instance(regs[0], &C0), "register");
	must(yank_register_fd(regs[0], &C0, sock()), "fd");
	snapshot(name, 0, &im);
	save("tiny", &im);
	free(im.buf);
	close_all(regs, 1, name);
	regs[0] = open_reg(name, 34, 10, 56);
	basic(name, regs[0]);
	snapshot(name, 0, &im);
	if (im.s.hdr->off_audit != 5 * PAGE_ALIGN)
		die("wide geometry is %llu bytes before the audit ring",
		    (unsigned long long)im.s.hdr->off_audit);
	save("wide", &im);
	free(im.buf);
	close_all(regs, 1, name);

	/* ---- damage, one kind per seed ---- */
	struct image d;
	struct seg *s;

#define DAMAGED(from, label, code)                                                               \
	do {                                                                                     \
		copy_image(&(from), &d);                                                         \
		s = &d.s;                                                                        \
		code;                                                                            \
		save(label, &d);                                                                 \
		free(d.buf);                                                                     \
	} while (0)

	DAMAGED(basic_im, "bad-magic", s->hdr->magic ^= 1);
	DAMAGED(basic_im, "bad-format", s->hdr->format = (s->hdr->format & ~0xffu) | 2);
	DAMAGED(basic_im, "state-init", s->hdr->state = SEG_STATE_INIT);
	DAMAGED(basic_im, "size-mismatch", s->hdr->size += PAGE_ALIGN);
	DAMAGED(basic_im, "caps-zero", s->hdr->cap_inst = 0);
	DAMAGED(basic_im, "hwm-huge", {
		s->hdr->inst_hwm = UINT32_MAX;
		s->hdr->rec_hwm = 0x80000000u;
		s->hdr->proc_hwm = s->cap_proc + 1;
	});
	DAMAGED(full_im, "bad-indices", {
		s->insts[0].proc = 200;
		s->insts[1].next = 2; /* a cycle: slot 1 -> slot 1 */
		s->recs[0].inst = 1000;
		s->recs[1].proc = 77;
		s->recs[2].next = 0xffff;
		s->hdr->proc_free = 0xffffffffu;
		s->hdr->inst_free = s->cap_inst + 1;
		s->hdr->rec_free = 3; /* a live slot on the free list */
		s->buckets[0] = 0x7fffffffu;
		s->buckets[1] = s->cap_inst;
	});
	DAMAGED(full_im, "names", {
		memset(s->insts[0].name, 'A', sizeof(s->insts[0].name));
		s->insts[0].name_len = 255;
		s->insts[1].name_len = 300;
		s->insts[2].name[1] = '\0';
		s->insts[7].name_len = 3; /* migration with a name */
		memcpy(s->insts[7].name, "mig", 4);
		s->insts[3].name_len = 0; /* block-node without one */
		s->insts[3].name[0] = '\0';
	});
	DAMAGED(basic_im, "agent-len", {
		s->procs[0].agent_len = AGENT_ADDR_MAX + 1;
		memset(s->procs[0].agent, 'x', sizeof(s->procs[0].agent));
	});
	DAMAGED(full_im, "agent-len-huge", s->procs[1].agent_len = UINT32_MAX);
	DAMAGED(full_im, "bad-enums", {
		s->insts[0].type = 0;
		s->insts[1].type = 7;
		s->insts[2].h.state = 2;
		s->recs[0].kind = 9;
		s->recs[1].fd = -1;
		s->procs[1].pid = 0;
		s->procs[2].pid = -5;
	});
	DAMAGED(basic_im, "negative-fd", s->recs[0].fd = -1);
	DAMAGED(full_im, "torn", {
		s->insts[0].h.seq |= 1;   /* a writer stopped inside a live slot */
		s->recs[3].h.seq |= 1;    /* ... inside a record */
		s->procs[0].h.seq |= 1;   /* ... inside a process slot */
	});
	DAMAGED(basic_im, "torn-claim", {
		/* Killed mid-claim: the slot is odd and not yet LIVE. */
		uint32_t i = s->hdr->rec_hwm;
		struct rec_slot *r = &s->recs[i];

		r->h.seq = 1;
		r->kind = REC_CB;
		r->inst = 0;
		r->proc = 0;
		r->inst_gen = s->insts[0].h.gen;
		s->hdr->rec_hwm = i + 1;
	});
	DAMAGED(full_im, "duplicate", {
		/* Two live instances with one name: the later must go. */
		memcpy(&s->insts[2].name, s->insts[0].name, sizeof(s->insts[0].name));
		s->insts[2].name_len = s->insts[0].name_len;
		s->insts[2].type = s->insts[0].type;
	});
	DAMAGED(full_im, "derived-wrong", {
		s->insts[0].n_fds = UINT32_MAX;
		s->insts[1].n_cbs = 5;
		s->insts[2].hash ^= 0x5a5a;
		s->hdr->n_inst = 99;
		s->hdr->n_rec = 0;
		memset(s->buckets, 0, s->nbuckets * sizeof(uint32_t));
	});
	DAMAGED(full_im, "generations", {
		s->recs[0].inst_gen += 1000;
		s->insts[1].proc_gen = 0;
		s->insts[2].proc = (s->insts[2].proc + 1) % 3;
		s->hdr->gen_counter = UINT64_MAX;
		s->hdr->order_counter = UINT64_MAX;
	});
	DAMAGED(basic_im, "wrong-owner-record", s->recs[0].proc = 1);
	/* Live slots past a high-water mark, and references to them. */
	DAMAGED(full_im, "inst-past-hwm", s->hdr->inst_hwm = 0);
	DAMAGED(full_im, "proc-past-hwm", s->hdr->proc_hwm = 1);

	/* A header alone: only the validator sees it. */
	write_seed("segment", "short", basic_im.buf, sizeof(struct seg_hdr));
	free(basic_im.buf);
	free(full_im.buf);
}

/* ---- wire ---- */

struct pk {
	msgpack_sbuffer sb;
	msgpack_packer p;
};

static void pk_init(struct pk *k)
{
	msgpack_sbuffer_init(&k->sb);
	msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
}

static void pk_str(struct pk *k, const char *s)
{
	msgpack_pack_str(&k->p, strlen(s));
	msgpack_pack_str_body(&k->p, s, strlen(s));
}

static void pk_save_to(struct pk *k, const char *target, const char *name)
{
	write_seed(target, name, k->sb.data, k->sb.size);
	msgpack_sbuffer_destroy(&k->sb);
}

static void pk_save(struct pk *k, const char *name)
{
	pk_save_to(k, "wire", name);
}

static size_t encode(const struct wire_msg *m, char *buf)
{
	size_t len;

	if (yank__wire_encode(m, buf, WIRE_MAX_MSG, &len) < 0)
		die("wire encode failed");
	return len;
}

static void gen_wire(void)
{
	static struct wire_item items[WIRE_MAX_ITEMS];
	static char buf[WIRE_MAX_MSG];
	struct wire_msg m = { .items = items };
	struct pk k;
	size_t len;

	clear_seeds("wire");
	for (uint32_t i = 0; i < WIRE_MAX_ITEMS; i++)
		items[i] = (struct wire_item){ i * 7, (uint64_t)i << 33 | i, i % 4,
					       i % 4 == WS_FAILED ? -(int32_t)(i % 130) : 0 };

	m.op = WIRE_YANK;
	m.n = 0;
	m.deadline = 123456789012345ull;
	write_seed("wire", "yank-empty", buf, encode(&m, buf));
	m.n = 3;
	for (uint32_t i = 0; i < 3; i++)
		items[i].status = 0, items[i].err = 0;
	write_seed("wire", "yank-3", buf, encode(&m, buf));
	m.op = WIRE_RES;
	m.deadline = 0;
	m.more = 1;
	m.n = 4;
	items[0].status = WS_FD;
	items[1].status = WS_RAN;
	items[2].status = WS_GONE;
	items[3].status = WS_FAILED;
	items[3].err = -ESTALE;
	write_seed("wire", "res-more", buf, encode(&m, buf));
	m.more = 0;
	m.n = 1;
	write_seed("wire", "res-last", buf, encode(&m, buf));
	m.op = WIRE_DONE;
	m.n = 0;
	write_seed("wire", "done", buf, encode(&m, buf));
	m.op = WIRE_ERR;
	m.err = -EACCES;
	write_seed("wire", "err", buf, encode(&m, buf));

	/* The most records a message may carry, and one more. */
	m.op = WIRE_YANK;
	m.deadline = UINT64_MAX;
	m.n = WIRE_MAX_ITEMS;
	for (uint32_t i = 0; i < m.n; i++)
		items[i].status = 0, items[i].err = 0;
	len = encode(&m, buf);
	write_seed("wire", "yank-max", buf, len);
	pk_init(&k);
	msgpack_pack_map(&k.p, 4);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, WIRE_VERSION);
	pk_str(&k, "op"), pk_str(&k, "yank");
	pk_str(&k, "dl"), msgpack_pack_uint64(&k.p, UINT64_MAX);
	pk_str(&k, "recs"), msgpack_pack_array(&k.p, WIRE_MAX_ITEMS + 1);
	for (uint32_t i = 0; i <= WIRE_MAX_ITEMS; i++)
		msgpack_pack_array(&k.p, 2), msgpack_pack_uint32(&k.p, i), msgpack_pack_uint32(&k.p, 1);
	pk_save(&k, "yank-too-many");

	/* Truncations of a good message. */
	m.op = WIRE_RES;
	m.deadline = 0;
	m.n = 4;
	m.more = 1;
	len = encode(&m, buf);
	write_seed("wire", "res-truncated-1", buf, len - 1);
	write_seed("wire", "res-truncated-half", buf, len / 2);
	buf[len] = (char)0xc0;
	write_seed("wire", "res-trailing", buf, len + 1);

	/* Allocation bombs: counts no message could fill. */
	write_seed("wire", "array32-bomb", "\xdd\xff\xff\xff\xff", 5);
	write_seed("wire", "map32-bomb", "\xdf\xff\xff\xff\xff", 5);
	write_seed("wire", "str32-bomb", "\xdb\xff\xff\xff\xff", 5);
	write_seed("wire", "nested-bomb", "\x81\xa4recs\xdd\x00\xff\xff\xff\x90", 12);
	write_seed("wire", "reserved", "\xc1", 1);
	write_seed("wire", "nil", "\xc0", 1);
	write_seed("wire", "empty-map", "\x80", 1);
	write_seed("wire", "ext", "\xd4\x01\x02", 3);

	/* Well-formed msgpack, wrong message. */
	pk_init(&k);
	msgpack_pack_map(&k.p, 2);
	pk_str(&k, "v"), pk_str(&k, "1");
	pk_str(&k, "op"), pk_str(&k, "done");
	pk_save(&k, "version-string");
	pk_init(&k);
	msgpack_pack_map(&k.p, 3);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 2);
	pk_str(&k, "op"), pk_str(&k, "done");
	pk_str(&k, "future"), msgpack_pack_true(&k.p);
	pk_save(&k, "version-2");
	pk_init(&k);
	msgpack_pack_map(&k.p, 2);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 0);
	pk_str(&k, "op"), pk_str(&k, "done");
	pk_save(&k, "version-0");
	pk_init(&k);
	msgpack_pack_map(&k.p, 3);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "done");
	pk_str(&k, "op"), pk_str(&k, "err");
	pk_save(&k, "duplicate-key");
	pk_init(&k);
	msgpack_pack_map(&k.p, 3);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "done");
	pk_str(&k, "x"), msgpack_pack_nil(&k.p);
	pk_save(&k, "extra-key");
	pk_init(&k);
	msgpack_pack_map(&k.p, 2);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "nope");
	pk_save(&k, "unknown-op");
	pk_init(&k);
	msgpack_pack_map(&k.p, 2);
	msgpack_pack_bin(&k.p, 1), msgpack_pack_bin_body(&k.p, "v", 1);
	msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), msgpack_pack_int(&k.p, 3);
	pk_save(&k, "wrong-key-types");
	pk_init(&k);
	msgpack_pack_map(&k.p, 4);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "yank");
	pk_str(&k, "dl"), msgpack_pack_uint64(&k.p, 1);
	pk_str(&k, "recs"), msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 1), msgpack_pack_array(&k.p, 1), msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 1), msgpack_pack_uint32(&k.p, 1);
	pk_save(&k, "too-deep");
	pk_init(&k);
	msgpack_pack_map(&k.p, 4);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "yank");
	pk_str(&k, "dl"), msgpack_pack_uint64(&k.p, 0);
	pk_str(&k, "recs"), msgpack_pack_array(&k.p, 3);
	msgpack_pack_array(&k.p, 2), msgpack_pack_int(&k.p, -1), msgpack_pack_uint32(&k.p, 1);
	msgpack_pack_array(&k.p, 2), msgpack_pack_uint64(&k.p, 1ull << 32), msgpack_pack_uint32(&k.p, 1);
	msgpack_pack_array(&k.p, 3), msgpack_pack_uint32(&k.p, 1), msgpack_pack_uint64(&k.p, UINT64_MAX);
	msgpack_pack_uint32(&k.p, 0);
	pk_save(&k, "bad-items");
	pk_init(&k);
	msgpack_pack_map(&k.p, 4);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "res");
	pk_str(&k, "more"), msgpack_pack_int(&k.p, 1);
	pk_str(&k, "recs"), msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 4), msgpack_pack_uint32(&k.p, 1), msgpack_pack_uint64(&k.p, UINT64_MAX);
	msgpack_pack_uint32(&k.p, 4), msgpack_pack_int32(&k.p, 5);
	pk_save(&k, "bad-res");
	pk_init(&k);
	msgpack_pack_map(&k.p, 3);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "err");
	pk_str(&k, "errno"), msgpack_pack_int32(&k.p, 0);
	pk_save(&k, "err-zero");
	pk_init(&k);
	msgpack_pack_map(&k.p, 3);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "yank");
	pk_str(&k, "recs"), msgpack_pack_array(&k.p, 0);
	pk_save(&k, "yank-no-deadline");
	pk_init(&k);
	msgpack_pack_map(&k.p, 3);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_str(&k, "op"), pk_str(&k, "done");
	pk_str(&k, "dl"), msgpack_pack_uint64(&k.p, 5);
	pk_save(&k, "done-with-deadline");
	pk_init(&k);
	msgpack_pack_array(&k.p, 2);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 1);
	pk_save(&k, "array-root");
}

/* ---- agent ---- */

static void fake_px(void *opaque, const char *ns, const struct yank_instance *list, size_t n,
		    int *results)
{
	(void)opaque, (void)ns, (void)list, (void)n, (void)results;
}

/*
 * The records fuzz-agent.c's setup() makes, by the same steps
 * (agent-recs.h): @recs[t] names agent_recs[t].  Which functions and
 * arguments they get changes no index or generation.
 */
static void agent_records(struct wire_item *recs)
{
	static char args[2];
	struct seg_params p = { .cap_proc = 4, .cap_inst = 16, .cap_rec = 24, .wait_ms = 1000 };
	yank_registry *reg = open_reg(seg_name, 4, 16, 24);
	struct agent_env env = { fake_fn, NULL, { sock(), sock() }, { fake_px, fake_px },
				 { &args[0], &args[1] } };
	size_t n = 0;
	struct seg s;

	must(agent_register(reg, &env), "agent records");
	if (yank__seg_open(seg_name, &p, 0, &s) < 0)
		die("cannot reopen %s", seg_name);
	for (uint32_t i = 0; i < s.hdr->rec_hwm && n < AGENT_NRECS; i++) {
		struct rec_view rv;

		if (yank__read_rec(&s, i, &rv) < 0)
			continue;
		if (rv.kind != agent_recs[n].kind)
			die("agent record %zu is of kind %u", n, rv.kind);
		recs[n++] = (struct wire_item){ rv.idx, rv.gen, 0, 0 };
	}
	if (n != AGENT_NRECS)
		die("%zu agent records, not %zu", n, AGENT_NRECS);
	yank__seg_close(&s);
	yank_close(reg);
	shm_unlink(seg_name);
}

static void agent_seed(const char *name, struct wire_msg *m)
{
	static char buf[WIRE_MAX_MSG];

	write_seed("agent", name, buf, encode(m, buf));
}

static void gen_agent(void)
{
	static struct wire_item items[WIRE_MAX_ITEMS];
	struct wire_item recs[AGENT_NRECS];
	struct wire_msg m = { .op = WIRE_YANK, .items = items, .deadline = UINT64_MAX };
	struct pk k;

	clear_seeds("agent");
	agent_records(recs);
	const struct wire_item cb = recs[0], fd0 = recs[1], fd1 = recs[2], *px = &recs[3];
	const size_t npx = AGENT_NRECS - 3;
	items[0] = cb, items[1] = fd0, items[2] = fd1, m.n = 3;
	agent_seed("yank-each", &m);
	/* Callbacks run only after the fds listed before them are handed over. */
	items[0] = fd0, items[1] = cb, items[2] = fd1, items[3] = cb, m.n = 4;
	agent_seed("yank-fd-cb-order", &m);
	items[0] = (struct wire_item){ cb.idx, cb.gen + 100, 0, 0 };
	items[1] = (struct wire_item){ 15, fd0.gen, 0, 0 };
	items[2] = (struct wire_item){ UINT32_MAX, UINT64_MAX, 0, 0 };
	m.n = 3;
	agent_seed("yank-gone", &m);
	/* More fds than one message may carry. */
	for (uint32_t i = 0; i < 300; i++)
		items[i] = i % 2 ? fd1 : fd0;
	m.n = 300;
	agent_seed("yank-many-fds", &m);
	for (uint32_t i = 0; i < WIRE_MAX_ITEMS; i++)
		items[i] = i % 3 ? cb : (struct wire_item){ i, i, 0, 0 };
	m.n = WIRE_MAX_ITEMS;
	agent_seed("yank-max-items", &m);

	/* Proxied records: every one, the groups interleaved, one twice. */
	static const size_t mix[] = { 8, 0, 6, 1, 5, 9, 2, 7, 3, 4, 0 };
	for (m.n = 0; m.n < sizeof(mix) / sizeof(mix[0]); m.n++)
		items[m.n] = px[mix[m.n]];
	agent_seed("yank-proxies", &m);
	/* Among fds, callbacks, a repeat and a proxied record gone stale. */
	items[0] = fd0, items[1] = px[0], items[2] = cb, items[3] = px[7], items[4] = fd1;
	items[5] = px[0], items[6] = (struct wire_item){ px[1].idx, px[1].gen + 100, 0, 0 };
	items[7] = px[4], items[8] = cb, items[9] = px[9], m.n = 10;
	agent_seed("yank-proxies-mixed", &m);
	/* Results in several batches: the fds need more than one message. */
	for (uint32_t i = 0; i < 600; i++)
		items[i] = i % 2 ? (i % 4 == 1 ? fd0 : fd1) : px[i / 2 % npx];
	m.n = 600;
	agent_seed("yank-proxies-many", &m);
	items[0] = px[0], items[1] = px[8], m.n = 2, m.deadline = 1;
	agent_seed("yank-proxies-expired", &m);

	items[0] = cb, m.n = 1, m.deadline = 1;
	agent_seed("yank-expired", &m);
	m.n = 0;
	m.deadline = UINT64_MAX;
	agent_seed("yank-empty", &m);
	m.op = WIRE_DONE;
	agent_seed("done", &m);
	m.op = WIRE_RES;
	m.n = 1;
	agent_seed("res", &m);
	m.op = WIRE_ERR;
	m.n = 0;
	m.err = -EIO;
	agent_seed("err", &m);
	write_seed("agent", "array32-bomb", "\xdd\xff\xff\xff\xff", 5);
	write_seed("agent", "garbage", "\xc1yank", 5);
	pk_init(&k);
	msgpack_pack_map(&k.p, 4);
	pk_str(&k, "v"), msgpack_pack_uint32(&k.p, 2);
	pk_str(&k, "op"), pk_str(&k, "yank");
	pk_str(&k, "dl"), msgpack_pack_uint64(&k.p, UINT64_MAX);
	pk_str(&k, "recs"), msgpack_pack_array(&k.p, 0);
	pk_save_to(&k, "agent", "version-2");
}

/* ---- QMP ---- */

#define NEG "{\"execute\":\"qmp_capabilities\"}\n"
#define NEG_OOB "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}\n"
#define YANK(list) "{\"execute\":\"yank\",\"arguments\":{\"instances\":[" list "]}}\n"

#define A(s) { s, sizeof(s) - 1 }
struct text {
	const char *s;
	size_t len;
};

static const struct {
	const char *name;
	struct text t;
} qmp_seeds[] = {
	{ "query", A(NEG "{\"execute\":\"query-yank\"}\n") },
	{ "ids-no-newline", A("{\"execute\":\"qmp_capabilities\",\"id\":1}"
			      "{\"execute\":\"query-yank\",\"id\":\"q\"}"
			      "{\"execute\":\"query-yank\",\"id\":{\"x\":[1,2.5,null,true]}}") },
	{ "yank-every-type", A(NEG YANK("{\"type\":\"chardev\",\"id\":\"c0\"},"
					"{\"type\":\"block-node\",\"node-name\":\"disk0\"},"
					"{\"type\":\"migration\"}")) },
	{ "yank-empty", A(NEG YANK("")) },
	{ "yank-twice", A(NEG YANK("{\"type\":\"migration\"},{\"type\":\"migration\"}")) },
	{ "yank-missing", A(NEG YANK("{\"type\":\"chardev\",\"id\":\"c0\"},"
				     "{\"type\":\"chardev\",\"id\":\"missing0\"}")) },
	{ "yank-failures", A(NEG YANK("{\"type\":\"block-node\",\"node-name\":\"fail-5\"}")
			     YANK("{\"type\":\"chardev\",\"id\":\"fail-110-and-more-x\"}")
			     YANK("{\"type\":\"chardev\",\"id\":\"fail\"}")
			     YANK("{\"type\":\"chardev\",\"id\":\"fail0123456789abcdef\"}")) },
	{ "yank-locked", A(NEG YANK("{\"type\":\"chardev\",\"id\":\"locked\"}")) },
	{ "oob", A(NEG_OOB "{\"exec-oob\":\"query-yank\",\"id\":7}\n"
		   "{\"exec-oob\":\"yank\",\"arguments\":{\"instances\":[]},\"id\":8}\n"
		   "{\"exec-oob\":\"qmp_capabilities\"}\n"
		   "{\"execute\":\"query-yank\",\"exec-oob\":\"query-yank\"}\n") },
	{ "oob-not-enabled", A(NEG "{\"exec-oob\":\"query-yank\"}\n") },
	{ "before-negotiation", A("{\"execute\":\"query-yank\"}\n" NEG NEG) },
	{ "malformed", A("{\"execute\":}\n" NEG "[1,2}\n}\n\"str\"\n123 true null\n"
			 "{\"a\":\"\x01\"}\n{\"execute\":\"query-yank\"}\n") },
	{ "unterminated-string",
	  A(NEG "{\"execute\":\"query-yank\n{\"execute\":\"query-yank\"}\n") },
	{ "eof-in-object", A(NEG "{\"execute\":\"query-yank\"") },
	{ "eof-in-token", A(NEG "nul") },
	{ "capabilities-args",
	  A("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":\"oob\"}}\n"
	    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[1]}}\n"
	    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"x\"]}}\n"
	    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"other\":1}}\n"
	    "{\"execute\":\"qmp_capabilities\",\"arguments\":[]}\n" NEG) },
	{ "request-shape", A(NEG "{\"execute\":5}\n{\"id\":1}\n{\"execute\":\"query-yank\",\"x\":1}\n"
			     "{\"execute\":\"nope\"}\n"
			     "{\"execute\":\"query-yank\",\"arguments\":{\"a\":1}}\n"
			     "{\"execute\":\"query-yank\",\"execute\":\"yank\"}\n") },
	{ "yank-arguments", A(NEG "{\"execute\":\"yank\"}\n{\"execute\":\"yank\",\"arguments\":{}}\n"
			      "{\"execute\":\"yank\",\"arguments\":{\"instances\":{}}}\n"
			      YANK("1") YANK("{}") YANK("{\"type\":5}") YANK("{\"type\":\"foo\"}")
			      YANK("{\"type\":\"chardev\"}") YANK("{\"type\":\"chardev\",\"id\":5}")
			      YANK("{\"type\":\"chardev\",\"id\":\"c0\",\"x\":1}")
			      YANK("{\"type\":\"migration\",\"id\":\"m\"}")
			      "{\"execute\":\"yank\",\"arguments\":{\"instances\":[],\"x\":1}}\n") },
	{ "yank-bad-names", A(NEG YANK("{\"type\":\"chardev\",\"id\":\"\"}")
			      YANK("{\"type\":\"chardev\",\"id\":\"a\\u0001b\"}")
			      YANK("{\"type\":\"chardev\",\"id\":\"\\u0085\"}")
			      YANK("{\"type\":\"chardev\",\"id\":\"\\ud800\"}")
			      YANK("{\"type\":\"chardev\",\"id\":\"a\\u0000b\"}")
			      YANK("{\"type\":\"chardev\",\"id\":\"\xff\"}")
			      YANK("{\"type\":\"block-node\",\"node-name\":\""
				   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				   "\"}")) },
	{ "deep", A(NEG "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]\n"
		    "{\"execute\":\"query-yank\"}\n") },
	{ "escapes", A(NEG "{\"execute\":\"query-yank\",\"id\":\"\\\"}{\\\\\"}\n") },
	{ "whitespace", A("\r\n\t " NEG "  \n\n{ \"execute\" : \"query-yank\" }\r\n") },
	/* 0x01: the rest up to a NUL once, then what follows it repeated past 1 MiB. */
	{ "huge-token", A("\x01tok") },
	{ "huge-string", A("\x01" NEG "\"\0xy") },
	{ "huge-object", A("\x01" NEG "{\"execute\":\"query-yank\",\"id\":[\0" "1,") },
};

/* ---- yankctl arguments: strings separated by NUL ---- */

static const struct {
	const char *name;
	struct text a;
} arg_seeds[] = {
	{ "list", A("list") },
	{ "list-json", A("--json\0list") },
	{ "json-after", A("list\0--json") },
	{ "short-opts", A("-j\0-s\0/yank-x\0-t\0" "250\0status") },
	{ "segment", A("--segment\0/yank-x\0list") },
	{ "segment-inline", A("--segment=/yank-x\0gc") },
	{ "segment-empty", A("--segment=\0list") },
	{ "timeout", A("--timeout\0" "100\0yank\0chardev:c0") },
	{ "timeout-range", A("--timeout=0\0list") },
	{ "timeout-big", A("--timeout=600001\0list") },
	{ "timeout-huge", A("--timeout=99999999999999999999999\0list") },
	{ "timeout-junk", A("--timeout=12ms\0list") },
	{ "timeout-missing", A("list\0-t") },
	{ "yank-none", A("yank") },
	{ "yank-all-types", A("yank\0migration\0block-node:disk0\0chardev:c0") },
	{ "yank-migration-name", A("yank\0migration:x") },
	{ "yank-empty-name", A("yank\0chardev:") },
	{ "yank-no-colon", A("yank\0chardev") },
	{ "yank-unknown-type", A("yank\0foo:bar") },
	{ "yank-unknown", A("yank\0foo") },
	{ "yank-empty-arg", A("yank\0") },
	{ "yank-long", A("yank\0block-node:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") },
	{ "yank-not-utf8", A("yank\0chardev:\xff\xfe") },
	{ "yank-control", A("yank\0chardev:a\x01" "b") },
	{ "yank-c1", A("yank\0chardev:\xc2\x85") },
	{ "yank-overlong", A("yank\0chardev:\xc0\xaf") },
	{ "yank-surrogate", A("yank\0chardev:\xed\xa0\x80") },
	{ "yank-dashdash", A("yank\0--\0-x:y") },
	{ "yank-colon-type", A("yank\0:name") },
	{ "help", A("--help") },
	{ "help-cmd", A("help\0yank") },
	{ "help-unknown", A("help\0nope") },
	{ "help-extra", A("help\0list\0extra") },
	{ "help-bad-yank", A("yank\0--help\0bad:inst") },
	{ "version", A("--version") },
	{ "version-list", A("-V\0list") },
	{ "json-value", A("--json=1\0list") },
	{ "unknown-option", A("--bogus") },
	{ "unknown-option-ctl", A("--\x1b[31m") },
	{ "extra-arg", A("list\0extra") },
	{ "qmp", A("qmp") },
	{ "status-json", A("status\0--json") },
	{ "empty", A("") },
	{ "empty-arg", A("\0") },
	{ "dash", A("-") },
	{ "dashdash", A("--") },
	{ "segment-missing", A("--segment") },
};

static void gen_text(void)
{
	clear_seeds("qmp");
	for (size_t i = 0; i < sizeof(qmp_seeds) / sizeof(qmp_seeds[0]); i++)
		write_seed("qmp", qmp_seeds[i].name, qmp_seeds[i].t.s, qmp_seeds[i].t.len);
	clear_seeds("args");
	for (size_t i = 0; i < sizeof(arg_seeds) / sizeof(arg_seeds[0]); i++)
		write_seed("args", arg_seeds[i].name, arg_seeds[i].a.s, arg_seeds[i].a.len);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-ROOT\n", argv[0]);
		return 1;
	}
	root = argv[1];
	gen_segments();
	gen_wire();
	gen_agent();
	gen_text();
	return 0;
}
