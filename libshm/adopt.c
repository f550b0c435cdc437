/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Adopted sockets: fds of a running process that knows nothing of yank
 * (a static binary, a Go program, raw syscalls), registered from outside.
 * The owner is a process slot for that process (its pid, start time and
 * euid) with no agent and the adopted tag (registry.h), so a yank of its
 * records goes straight to the pidfd fallback, the reaper judges it by
 * pid and start time alone, and no handle takes it for its own: a
 * handle's own slot is the one it claimed, by index and generation.
 *
 * The adopter keeps no copy of the socket.  Its identity (st_dev/st_ino)
 * is read once from a pidfd_getfd copy that is closed at once, so the
 * program's own close still ends the connection.
 */
#include <errno.h>
#include <unistd.h>

#include "dispatch.h"
#include "handle.h"
#include "handoff.h"
#include "lock.h"
#include "owner.h"
#include "adopt.h"
#include "recover.h"
#include "registry.h"
#include "segment.h"

/* The socket at @fd in process (@pid, @start): 0, -ESRCH, -EPERM, -EBADF, -ENOTSOCK. */
static int read_identity(pid_t pid, uint64_t start, int fd, uint64_t *dev, uint64_t *ino)
{
	int pidfd, copy;
	int r = yank__pidfd_open(pid, start, &pidfd);
	if (r < 0)
		return r;
	r = yank__pidfd_getfd(pidfd, fd, &copy);
	close(pidfd);
	if (r < 0)
		return r;
	r = yank__sock_identity(copy, dev, ino);
	close(copy);
	return r;
}

/* The process as an owner: pid, start time, our pid namespace, its euid. */
static int identify(pid_t pid, struct owner_id *id, uid_t *euid)
{
	id->pid = pid;
	id->pidns_ino = yank__self()->pidns_ino;
	int r = yank__proc_start_time(pid, &id->start_time);
	if (r == 0)
		r = yank__proc_euid(pid, euid);
	return r == -ENOENT ? -ESRCH : r;
}

/* Lock held: claim what the adopted record needs, or leave nothing behind. */
static int record(struct seg *s, const struct inst_key *k, const struct owner_id *id, uid_t euid,
		  int fd, uint64_t dev, uint64_t ino)
{
	uint32_t proc, inst, rec;
	uint64_t proc_gen, inst_gen, rec_gen;
	int r = yank__name_free(s, k);
	if (r < 0)
		return r;
	int fresh = yank__proc_find_adopted(s, id, euid, &proc, &proc_gen) < 0;
	if (fresh) {
		r = yank__proc_claim_adopted(s, id, euid, &proc, &proc_gen);
		if (r == -ENOSPC && yank__reap(s) > 0)
			r = yank__proc_claim_adopted(s, id, euid, &proc, &proc_gen);
		if (r < 0)
			return r;
	}
	r = yank__inst_claim_key(s, proc, proc_gen, k, &inst, &inst_gen);
	if (r == 0) {
		r = yank__rec_claim(s, inst, REC_FD, fd, dev, ino, &rec, &rec_gen);
		if (r < 0)
			yank__inst_release(s, inst);
	}
	if (r < 0 && fresh)
		yank__proc_release(s, proc);
	return r;
}

int yank__adopt_fd(struct yank_registry *reg, const struct inst_key *k, pid_t pid, int fd)
{
	struct owner_id id;
	uid_t euid;
	uint64_t dev, ino;
	int r = identify(pid, &id, &euid);
	/* The kernel's permission first: it is the one an operator can act on. */
	if (r == 0)
		r = read_identity(pid, id.start_time, fd, &dev, &ino);
	if (r == 0 && !yank__uid_allowed(reg, euid))
		r = -EACCES;
	if (r == 0)
		r = yank__lock(&reg->seg, reg->lock_ms);
	if (r < 0)
		return r;
	r = record(&reg->seg, k, &id, euid, fd, dev, ino);
	yank__unlock(&reg->seg);
	return r;
}

/* Lock held: remove adopted instance @idx, and its owner once it owns nothing. */
static int drop(struct seg *s, uint32_t idx)
{
	const struct inst_slot *in = &s->insts[idx];
	uint32_t pi = in->proc;
	uint64_t pgen = in->proc_gen;
	if (pi >= s->cap_proc)
		return -EPROTO;
	const struct proc_slot *p = &s->procs[pi];
	if (p->h.state != SLOT_LIVE || p->h.gen != pgen || !proc_adopted(p->flags))
		return -EPERM;
	yank__inst_drop(s, idx);
	if (!yank__proc_has_insts(s, pi, pgen))
		yank__proc_release(s, pi);
	return 0;
}

int yank__unadopt(struct yank_registry *reg, const struct inst_key *k)
{
	int r = yank__lock(&reg->seg, reg->lock_ms);
	if (r < 0)
		return r;
	uint32_t idx;
	r = yank__inst_find_mend(&reg->seg, k, &idx);
	if (r == 0)
		r = drop(&reg->seg, idx);
	yank__unlock(&reg->seg);
	return r;
}
