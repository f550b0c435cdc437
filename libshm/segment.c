/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The segment: its name, creation, attachment and validation.  This is the
 * only file that calls shm_open, ftruncate or mmap.
 *
 * Creation race: whoever holds an OFD write lock on byte 0 may initialise
 * a segment that is not READY; everybody else waits, bounded, until state
 * turns READY.  OFD locks (unlike classic fcntl locks) are not dropped when
 * some other fd of the host process on the same file is closed, and they
 * vanish with a creator that dies mid-way, so the next opener finishes the
 * job instead of waiting forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "segment.h"

#define PAGE 4096u
#define MAX_CAP (1u << 22)

static size_t round_page(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static uint32_t buckets_for(uint32_t cap_inst)
{
	uint32_t n = 1;
	while (n < cap_inst)
		n <<= 1;
	return n;
}

struct geometry {
	uint64_t off_proc, off_inst, off_rec, off_bucket, off_audit, size;
};

static int geometry(uint32_t cp, uint32_t ci, uint32_t cr, uint32_t nb, struct geometry *g)
{
	if (!cp || !ci || !cr || cp > MAX_CAP || ci > MAX_CAP || cr > MAX_CAP || nb > 2 * MAX_CAP)
		return -EINVAL;
	g->off_proc = round_page(sizeof(struct seg_hdr));
	g->off_inst = round_page(g->off_proc + (uint64_t)cp * sizeof(struct proc_slot));
	g->off_rec = round_page(g->off_inst + (uint64_t)ci * sizeof(struct inst_slot));
	g->off_bucket = round_page(g->off_rec + (uint64_t)cr * sizeof(struct rec_slot));
	g->off_audit = round_page(g->off_bucket + (uint64_t)nb * sizeof(uint32_t));
	g->size = round_page(g->off_audit + (uint64_t)AUDIT_SLOTS * sizeof(struct audit_slot));
	return 0;
}

size_t yank__seg_bytes(uint32_t cap_proc, uint32_t cap_inst, uint32_t cap_rec)
{
	struct geometry g;
	if (geometry(cap_proc, cap_inst, cap_rec, buckets_for(cap_inst), &g) < 0)
		return 0;
	return g.size;
}

int yank__seg_resolve_name(const char *arg, char *out, size_t len)
{
	char buf[64];
	const char *name = arg;
	if (!name || !*name)
		name = getenv("YANK_SEGMENT");
	if (!name || !*name) {
		snprintf(buf, sizeof(buf), "/yank-%u", (unsigned)geteuid());
		name = buf;
	}
	size_t n = strlen(name);
	if (n >= len || n > SEG_NAME_MAX) {
		yank__detail_set("segment name longer than %d bytes", SEG_NAME_MAX);
		return -ENAMETOOLONG;
	}
	/* shm_open wants "/name" with no further slash. */
	if (name[0] != '/' || n < 2 || strchr(name + 1, '/')) {
		yank__detail_set("not a segment name: expected '/' and up to %d more bytes "
				 "with no other '/'",
				 SEG_NAME_MAX - 1);
		return -EINVAL;
	}
	memcpy(out, name, n + 1);
	return 0;
}

/* Which part of the format word differs: each part is a different cause. */
static int format_mismatch(uint32_t got)
{
	uint32_t want = seg_format();
	if ((got & 0xff) != (want & 0xff))
		yank__detail_set("layout version %u, where this library reads version %u",
				 got & 0xff, want & 0xff);
	else if ((got >> 8 & 0xff) != (want >> 8 & 0xff))
		yank__detail_set("created with a %u-byte pthread mutex, %u bytes here "
				 "(another C library or ABI)",
				 got >> 8 & 0xff, want >> 8 & 0xff);
	else if ((got >> 16 & 0xff) != (want >> 16 & 0xff))
		yank__detail_set("created by a process with %u-byte pointers, %u bytes here "
				 "(a 32-bit and a 64-bit build)",
				 got >> 16 & 0xff, want >> 16 & 0xff);
	else
		yank__detail_set("instance slots of %u bytes, %u bytes here (another build "
				 "of the same layout version)",
				 (got >> 24) * 8, (want >> 24) * 8);
	return -EPROTO;
}

static int not_ready(uint32_t state)
{
	yank__detail_set("header has its magic but is not marked ready (state %u): its "
			 "creator was interrupted or it was damaged",
			 state);
	return -EPROTO;
}

/*
 * The stored geometry against the one the capacities imply.  The caller
 * read the capacities once: any writer can change the header, and what was
 * checked must be what is used.
 */
static int check_geometry(const struct seg_hdr *h, const struct seg *caps, size_t size,
			  struct geometry *g)
{
	uint32_t ci = caps->cap_inst, nb = caps->nbuckets;
	if (geometry(caps->cap_proc, ci, caps->cap_rec, nb, g) < 0) {
		yank__detail_set("capacities out of range: %u processes, %u instances, "
				 "%u records, %u buckets",
				 caps->cap_proc, ci, caps->cap_rec, nb);
		return -EPROTO;
	}
	if (nb != buckets_for(ci)) {
		yank__detail_set("%u hash buckets for %u instances, where %u were expected", nb,
				 ci, buckets_for(ci));
		return -EPROTO;
	}
	if (h->size != size) {
		yank__detail_set("size mismatch: the header says %llu bytes, the file is %zu "
				 "(truncated or extended by another process?)",
				 (unsigned long long)h->size, size);
		return -EPROTO;
	}
	if (g->size != size) {
		yank__detail_set("size mismatch: its capacities need %llu bytes, the file is "
				 "%zu",
				 (unsigned long long)g->size, size);
		return -EPROTO;
	}
	if (h->off_proc != g->off_proc || h->off_inst != g->off_inst ||
	    h->off_rec != g->off_rec || h->off_bucket != g->off_bucket ||
	    h->off_audit != g->off_audit) {
		yank__detail_set("table offsets do not match the capacities (process, "
				 "instance, record, bucket tables and audit ring at %llu, %llu, "
				 "%llu, %llu, %llu; expected %llu, %llu, %llu, %llu, %llu)",
				 (unsigned long long)h->off_proc, (unsigned long long)h->off_inst,
				 (unsigned long long)h->off_rec, (unsigned long long)h->off_bucket,
				 (unsigned long long)h->off_audit,
				 (unsigned long long)g->off_proc, (unsigned long long)g->off_inst,
				 (unsigned long long)g->off_rec, (unsigned long long)g->off_bucket,
				 (unsigned long long)g->off_audit);
		return -EPROTO;
	}
	return 0;
}

int yank__seg_validate(void *base, size_t size, struct seg *out)
{
	if (size < sizeof(struct seg_hdr)) {
		yank__detail_set("truncated: %zu bytes, shorter than a header (%zu bytes)", size,
				 sizeof(struct seg_hdr));
		return -EPROTO;
	}
	struct seg_hdr *h = base;
	if (h->magic != SEG_MAGIC) {
		yank__detail_set("bad magic 0x%08x, expected 0x%08x: not a yank registry",
				 h->magic, SEG_MAGIC);
		return -EPROTO;
	}
	if (h->format != seg_format())
		return format_mismatch(h->format);
	uint32_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
	if (state != SEG_STATE_READY)
		return not_ready(state);
	struct seg caps = {
		.cap_proc = h->cap_proc,
		.cap_inst = h->cap_inst,
		.cap_rec = h->cap_rec,
		.nbuckets = h->nbuckets,
	};
	struct geometry g;
	int r = check_geometry(h, &caps, size, &g);
	if (r < 0)
		return r;
	char *b = base;
	out->hdr = h;
	out->size = size;
	out->cap_proc = caps.cap_proc;
	out->cap_inst = caps.cap_inst;
	out->cap_rec = caps.cap_rec;
	out->nbuckets = caps.nbuckets;
	out->procs = (struct proc_slot *)(b + g.off_proc);
	out->insts = (struct inst_slot *)(b + g.off_inst);
	out->recs = (struct rec_slot *)(b + g.off_rec);
	out->buckets = (uint32_t *)(b + g.off_bucket);
	out->audit = (struct audit_slot *)(b + g.off_audit);
	return 0;
}

static int ofd_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
		return -errno;
	return 0;
}

static int init_mutex(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int r = pthread_mutexattr_init(&a);
	if (r)
		return -r;
	/* NORMAL, not ERRORCHECK: the owner TID is namespace-local, and an
	 * errorcheck mutex then reports EDEADLK across pid namespaces. */
	r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
	if (!r)
		r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -r;
}

/* Called holding the OFD write lock, on a segment nobody finished. */
static int initialise(int fd, const struct seg_params *p, struct seg *out)
{
	uint32_t nb = buckets_for(p->cap_inst);
	struct geometry g;
	if (geometry(p->cap_proc, p->cap_inst, p->cap_rec, nb, &g) < 0)
		return -EINVAL;
	mode_t mode = p->use_group ? 0660 : 0600;
	/* shm_open's mode went through the umask; state it exactly. */
	if (p->use_group && fchown(fd, (uid_t)-1, p->group) < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		return -errno;
	/* Never shrink: an opener may have it mapped, and would fault.  A dead
	 * creator wrote only the header (nobody writes slots before READY),
	 * so clearing the header is starting afresh. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < g.size && ftruncate(fd, (off_t)g.size) < 0)
		return -errno;
	if ((uint64_t)st.st_size > g.size) {
		yank__detail_set("an uninitialised segment of %llu bytes, more than the %llu "
				 "bytes its capacities need",
				 (unsigned long long)st.st_size, (unsigned long long)g.size);
		return -EPROTO;
	}
	void *base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	FAULT("seg.after_truncate");
	struct seg_hdr *h = base;
	memset(h, 0, sizeof(*h));
	h->format = seg_format();
	h->size = g.size;
	h->flags = p->use_group ? SEG_F_GROUP : 0;
	h->gid = p->use_group ? (uint32_t)p->group : 0;
	h->cap_proc = p->cap_proc;
	h->cap_inst = p->cap_inst;
	h->cap_rec = p->cap_rec;
	h->nbuckets = nb;
	h->off_proc = g.off_proc;
	h->off_inst = g.off_inst;
	h->off_rec = g.off_rec;
	h->off_bucket = g.off_bucket;
	h->off_audit = g.off_audit;
	int r = init_mutex(&h->lock);
	if (r < 0) {
		munmap(base, g.size);
		return r;
	}
	FAULT("seg.before_publish");
	/* Everything above must be visible before anyone sees READY; the magic
	 * comes last, so that a header with a magic but no READY is damage. */
	__atomic_store_n(&h->state, SEG_STATE_READY, __ATOMIC_RELEASE);
	__atomic_store_n(&h->magic, SEG_MAGIC, __ATOMIC_RELEASE);
	r = yank__seg_validate(base, g.size, out);
	out->file_group = p->use_group;
	out->file_gid = p->group;
	out->file_uid = geteuid();
	if (r < 0)
		munmap(base, g.size);
	return r;
}

/* " (name)" for @uid when the user database knows it, else "". */
static const char *user_label(uid_t uid, char *out, size_t len)
{
	char name[64];
	out[0] = '\0';
	if (yank__user_name(uid, name, sizeof(name)) == 0)
		snprintf(out, len, " (%s)", name);
	return out;
}

static const char *group_label(gid_t gid, char *out, size_t len)
{
	char name[64];
	out[0] = '\0';
	if (yank__group_name(gid, name, sizeof(name)) == 0)
		snprintf(out, len, " (%s)", name);
	return out;
}

static int in_our_groups(gid_t gid)
{
	if (gid == getegid())
		return 1;
	gid_t groups[256];
	int n = getgroups(ARRAY_SIZE(groups), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/*
 * A segment we did not create is used only if it is ours, root's, or a
 * group segment of one of our groups.  The default name is ours alone:
 * anyone can create /yank-<our uid> first, so another owner there is a squatter.
 * 0 or -EACCES, with the rule that refused in the detail.
 */
/* @owner: the one uid (besides root) the file must belong to, or -1 for any. */
static int trusted(const struct stat *st, uid_t owner)
{
	char who[80], grp[80];
	if (!S_ISREG(st->st_mode)) {
		yank__detail_set("not a regular shared-memory file (file type 0%o)",
				 (unsigned)(st->st_mode & S_IFMT) >> 12);
		return -EACCES;
	}
	if (st->st_mode & 0007) {
		yank__detail_set("mode %04o gives every user access (%s): refused",
				 (unsigned)(st->st_mode & 07777),
				 st->st_mode & 0002 ? "world-writable" : "world-readable");
		return -EACCES;
	}
	uid_t me = geteuid();
	if (st->st_uid == me || st->st_uid == 0)
		return 0;
	user_label(st->st_uid, who, sizeof(who));
	if (owner != (uid_t)-1) {
		if (st->st_uid == owner)
			return 0;
		if (owner == me)
			yank__detail_set("owned by uid %u%s: the default registry name is trusted "
					 "only when it is ours (uid %u) or root's",
					 (unsigned)st->st_uid, who, (unsigned)me);
		else
			yank__detail_set("owned by uid %u%s: the registry of uid %u is trusted only "
					 "when it is that user's or root's",
					 (unsigned)st->st_uid, who, (unsigned)owner);
		return -EACCES;
	}
	if ((st->st_mode & 0070) == 0) {
		yank__detail_set("owned by uid %u%s, neither us (uid %u) nor root, and not "
				 "shared with a group",
				 (unsigned)st->st_uid, who, (unsigned)me);
		return -EACCES;
	}
	if (!in_our_groups(st->st_gid)) {
		yank__detail_set("owned by uid %u%s and shared with group %u%s, which we "
				 "are not in",
				 (unsigned)st->st_uid, who, (unsigned)st->st_gid,
				 group_label(st->st_gid, grp, sizeof(grp)));
		return -EACCES;
	}
	return 0;
}

/*
 * Try to attach to a READY segment: 0, -EAGAIN (not ready), or an error.
 * The creator stores the magic only after READY, so "magic but not READY"
 * is damage, never a creator at work, and is not re-initialised.
 */
static int try_attach(int fd, uid_t owner, struct seg *out)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	int r = trusted(&st, owner);
	if (r < 0)
		return r;
	if (st.st_size == 0)
		return -EAGAIN;
	if ((size_t)st.st_size < sizeof(struct seg_hdr)) {
		yank__detail_set("truncated: the file is %llu bytes, shorter than a header "
				 "(%zu bytes)",
				 (unsigned long long)st.st_size, sizeof(struct seg_hdr));
		return -EPROTO;
	}
	size_t size = (size_t)st.st_size;
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	struct seg_hdr *h = base;
	uint32_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
	uint32_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
	if (magic == 0)
		r = -EAGAIN; /* a creator at work, one that died, or publishing */
	else if (magic == SEG_MAGIC && state != SEG_STATE_READY)
		r = not_ready(state);
	else
		r = yank__seg_validate(base, size, out);
	if (r == 0) {
		out->file_group = (st.st_mode & 0070) != 0;
		out->file_gid = st.st_gid;
		out->file_uid = st.st_uid;
	}
	if (r < 0)
		munmap(base, size);
	return r;
}

/*
 * Why shm_open refused, with what the file says about itself.  glibc opens
 * with O_NOFOLLOW, so a symbolic link planted under the name is ELOOP:
 * that is a trust refusal, not a lookup failure.
 */
static int open_failed(const char *name, int err)
{
	char path[sizeof("/dev/shm") + SEG_NAME_MAX], who[80];
	struct stat st;
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	if (err == -ENOENT) {
		yank__detail_set("no registry named %s", name);
		return err;
	}
	if (err == -ELOOP) {
		yank__detail_set("%s is a symbolic link: refused", path);
		return -EACCES;
	}
	if (err != -EACCES || stat(path, &st) < 0) {
		yank__detail_set("cannot open %s: %s", path, strerror(-err));
		return err;
	}
	yank__detail_set("%s (owner uid %u%s, group %u, mode %04o) does not let uid %u read "
			 "and write it",
			 path, (unsigned)st.st_uid, user_label(st.st_uid, who, sizeof(who)),
			 (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777),
			 (unsigned)geteuid());
	return err;
}

int yank__seg_open(const char *name, const struct seg_params *p, int create, struct seg *out)
{
	struct seg s = { 0 };
	int r = yank__seg_resolve_name(name, s.name, sizeof(s.name));
	if (r < 0)
		return r;
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
	int fd = shm_open(s.name, flags, p->use_group ? 0660 : 0600);
	if (fd < 0)
		return open_failed(s.name, -errno);
	/* Anyone can create /yank-<uid> first: a default name is trusted only
	 * when it belongs to the uid it names (or root). */
	uid_t owner = (uid_t)-1;
	if (p->user_registry)
		owner = p->user;
	else if ((!name || !*name) && !getenv("YANK_SEGMENT"))
		owner = geteuid();
	uint64_t deadline = yank__now_ns() + (uint64_t)p->wait_ms * 1000000u;
	for (;;) {
		r = try_attach(fd, owner, &s);
		if (r != -EAGAIN)
			break;
		if (ofd_lock(fd, F_WRLCK) == 0) {
			/* Alone among initialisers: check again, then finish the job. */
			r = try_attach(fd, owner, &s);
			if (r == -EAGAIN && !create)
				yank__detail_set("no registry named %s: the segment exists but "
						 "was never initialised",
						 s.name);
			if (r == -EAGAIN)
				r = create ? initialise(fd, p, &s) : -ENOENT;
			ofd_lock(fd, F_UNLCK);
			if (r != -EAGAIN)
				break;
		}
		if (yank__now_ns() > deadline) {
			yank__detail_set("its creator did not finish initialising it within %u ms",
					 p->wait_ms);
			r = -ETIMEDOUT;
			break;
		}
		yank__nap(500);
	}
	close(fd);
	if (r == 0)
		*out = s;
	return r;
}

void yank__seg_close(struct seg *s)
{
	if (s->hdr)
		munmap(s->hdr, s->size);
	s->hdr = NULL;
}
