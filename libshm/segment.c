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
	uint64_t off_proc, off_inst, off_rec, off_bucket, size;
};

static int geometry(uint32_t cp, uint32_t ci, uint32_t cr, uint32_t nb, struct geometry *g)
{
	if (!cp || !ci || !cr || cp > MAX_CAP || ci > MAX_CAP || cr > MAX_CAP || nb > 2 * MAX_CAP)
		return -EINVAL;
	g->off_proc = round_page(sizeof(struct seg_hdr));
	g->off_inst = round_page(g->off_proc + (uint64_t)cp * sizeof(struct proc_slot));
	g->off_rec = round_page(g->off_inst + (uint64_t)ci * sizeof(struct inst_slot));
	g->off_bucket = round_page(g->off_rec + (uint64_t)cr * sizeof(struct rec_slot));
	g->size = round_page(g->off_bucket + (uint64_t)nb * sizeof(uint32_t));
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
	if (n >= len || n > SEG_NAME_MAX)
		return -ENAMETOOLONG;
	/* shm_open wants "/name" with no further slash. */
	if (name[0] != '/' || n < 2 || strchr(name + 1, '/'))
		return -EINVAL;
	memcpy(out, name, n + 1);
	return 0;
}

int yank__seg_validate(void *base, size_t size, struct seg *out)
{
	if (size < sizeof(struct seg_hdr))
		return -EPROTO;
	struct seg_hdr *h = base;
	if (h->magic != SEG_MAGIC || h->format != seg_format())
		return -EPROTO;
	if (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE) != SEG_STATE_READY)
		return -EPROTO;
	uint32_t cp = h->cap_proc, ci = h->cap_inst, cr = h->cap_rec, nb = h->nbuckets;
	struct geometry g;
	if (geometry(cp, ci, cr, nb, &g) < 0 || nb != buckets_for(ci))
		return -EPROTO;
	if (h->size != size || g.size != size || h->off_proc != g.off_proc ||
	    h->off_inst != g.off_inst || h->off_rec != g.off_rec || h->off_bucket != g.off_bucket)
		return -EPROTO;
	char *b = base;
	out->hdr = h;
	out->size = size;
	out->cap_proc = cp;
	out->cap_inst = ci;
	out->cap_rec = cr;
	out->nbuckets = nb;
	out->procs = (struct proc_slot *)(b + g.off_proc);
	out->insts = (struct inst_slot *)(b + g.off_inst);
	out->recs = (struct rec_slot *)(b + g.off_rec);
	out->buckets = (uint32_t *)(b + g.off_bucket);
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
	if ((uint64_t)st.st_size > g.size)
		return -EPROTO;
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

/*
 * A segment we did not create is used only if it is ours, root's, or a
 * group segment of one of our groups.  The default name is ours alone:
 * anyone can create /yank-<our uid> first, so another owner there is a squatter.
 */
static int trusted(const struct stat *st, int own_only)
{
	if (st->st_mode & 0007)
		return 0;
	uid_t me = geteuid();
	if (st->st_uid == me || st->st_uid == 0)
		return 1;
	if (own_only || (st->st_mode & 0070) == 0)
		return 0;
	if (st->st_gid == getegid())
		return 1;
	gid_t groups[256];
	int n = getgroups(ARRAY_SIZE(groups), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == st->st_gid)
			return 1;
	return 0;
}

/*
 * Try to attach to a READY segment: 0, -EAGAIN (not ready), or an error.
 * The creator stores the magic only after READY, so "magic but not READY"
 * is damage, never a creator at work, and is not re-initialised.
 */
static int try_attach(int fd, int own_only, struct seg *out)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!trusted(&st, own_only))
		return -EACCES;
	if (st.st_size == 0)
		return -EAGAIN;
	if ((size_t)st.st_size < sizeof(struct seg_hdr))
		return -EPROTO;
	size_t size = (size_t)st.st_size;
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	struct seg_hdr *h = base;
	int r;
	uint32_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
	uint32_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
	if (magic == 0 && state != SEG_STATE_READY)
		r = -EAGAIN; /* a creator at work, or one that died */
	else if (magic == 0)
		r = -EAGAIN; /* READY, magic not yet stored: being published */
	else if (state != SEG_STATE_READY)
		r = -EPROTO;
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

int yank__seg_open(const char *name, const struct seg_params *p, int create, struct seg *out)
{
	struct seg s = { 0 };
	int r = yank__seg_resolve_name(name, s.name, sizeof(s.name));
	if (r < 0)
		return r;
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
	int fd = shm_open(s.name, flags, p->use_group ? 0660 : 0600);
	if (fd < 0)
		return -errno;
	int own_only = (!name || !*name) && !getenv("YANK_SEGMENT");
	uint64_t deadline = yank__now_ns() + (uint64_t)p->wait_ms * 1000000u;
	for (;;) {
		r = try_attach(fd, own_only, &s);
		if (r != -EAGAIN)
			break;
		if (ofd_lock(fd, F_WRLCK) == 0) {
			/* Alone among initialisers: check again, then finish the job. */
			r = try_attach(fd, own_only, &s);
			if (r == -EAGAIN)
				r = create ? initialise(fd, p, &s) : -ENOENT;
			ofd_lock(fd, F_UNLCK);
			if (r != -EAGAIN)
				break;
		}
		if (yank__now_ns() > deadline) {
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
