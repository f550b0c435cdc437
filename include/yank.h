/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * libyank: a cross-process registry of "yank" instances.
 *
 * A program registers instances (a block node, a chardev, the migration
 * stream) and the functions or socket fds that yank them.  Any process of
 * the same user that opens the same registry, and the yankctl(1) tool, can
 * then list them and yank them: fds are shut down with
 * shutdown(fd, SHUT_RDWR), callbacks run in their owner's process.
 *
 * Every call returns 0 (or a count) on success and a negative errno value
 * on failure; yank_strerror() describes it.  All calls are thread-safe.
 *
 * Caveats:
 *  - After fork() the child owns nothing the parent registered, and the
 *    child's handle may only be used to register anew or to be closed.
 *  - The first yank_register_function() or yank_register_fd() on a handle
 *    starts one agent thread for it, with every signal blocked.  Callbacks
 *    run on that thread: they must not block and must not take locks a hung
 *    thread could hold.
 *  - The library installs no signal handler, never exits or aborts its
 *    host, prints nothing, and opens every fd close-on-exec.
 *  - The segment is shared memory: a process that can open it can corrupt
 *    it.  Readers check everything they read and answer -EPROTO.
 */
#ifndef YANK_H
#define YANK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define YANK_VERSION_MAJOR 0
#define YANK_VERSION_MINOR 2
#define YANK_VERSION_PATCH 0

/* Longest instance name, in bytes, without the terminating NUL. */
#define YANK_NAME_MAX 255
/* Longest owner namespace, in bytes, without the terminating NUL. */
#define YANK_NS_MAX 71

typedef struct yank_registry yank_registry;

enum yank_type { YANK_BLOCK_NODE = 1, YANK_CHARDEV, YANK_MIGRATION };

/* @name is NULL for YANK_MIGRATION and a UTF-8 string for the others. */
struct yank_instance {
	enum yank_type type;
	const char *name;
};

typedef void yank_fn(void *opaque);

/* What yank_query() reports for each instance. */
struct yank_instance_info {
	enum yank_type type;
	const char *name;       /* NULL for migration */
	pid_t pid;              /* owner process */
	unsigned int n_fds;     /* fd records */
	unsigned int n_callbacks; /* callback records */
	int owner_alive;        /* 0 when the owner died and was not reaped yet */
	uint64_t order;         /* registration sequence number, increasing */
	int adopted;            /* registered from outside with yank_adopt_fd() */
	unsigned int n_proxies; /* proxied-function records */
	const char *ns;         /* owner namespace, NULL for a native instance */
	int unresponsive;       /* its proxy marked the system behind it unresponsive */
	uint32_t reserved0;     /* zero */
	uint64_t reserved[2];   /* zero: room to grow without changing the size */
};

/* Options for yank_open_with(); zero fields take the defaults. */
struct yank_open_opts {
	uint32_t max_instances;   /* default 16384; fixed when the segment is created */
	uint32_t max_records;     /* default 65536; fixed when the segment is created */
	uint32_t max_processes;   /* default 4096; fixed when the segment is created */
	uint32_t lock_timeout_ms; /* registry lock wait bound, default 5000 */
	uint32_t agent_timeout_ms; /* wait for another process's agent, default 1000 */
	int use_group;            /* non-zero: the segment is mode 0660 for @group */
	gid_t group;
	/* Must be zero (-EINVAL otherwise): options of later releases go here,
	 * so that a caller built today keeps working and says "default". */
	uint32_t reserved[8];
};

/* Why one record of a yank could not be carried out. */
enum yank_failure_kind {
	YANK_FAIL_STALE = 1,    /* fd number now names another file: left alone */
	YANK_FAIL_OWNER_GONE,   /* owner exited before it could be reached */
	YANK_FAIL_NO_AGENT,     /* owner's agent did not answer (stopped?) */
	YANK_FAIL_FALLBACK,     /* pidfd fallback refused (see err) */
	YANK_FAIL_CALLBACK,     /* callback could not be run (owner stopped or gone) */
	YANK_FAIL_SHUTDOWN,     /* shutdown() itself failed (see err) */
	YANK_FAIL_PROTOCOL,     /* the agent answered something malformed */
	YANK_FAIL_VANISHED,     /* proxied: the system behind it no longer has it */
	YANK_FAIL_PROXY,        /* proxied: the system behind it failed (see err) */
};

struct yank_failure {
	enum yank_type type;
	const char *name;       /* NULL for migration */
	pid_t pid;              /* owner */
	int fd;                 /* fd number in the owner, or -1 for a callback */
	enum yank_failure_kind kind;
	int err;                /* negative errno with more detail, or 0 */
	const char *ns;         /* owner namespace, NULL for a native instance */
	uint64_t reserved[1];   /* zero: room to grow without changing the size */
};

/* Health of a segment, from yank_status(). */
struct yank_status {
	uint32_t layout_version;
	uint64_t segment_bytes;
	uint32_t max_instances, max_records, max_processes;
	uint32_t used_instances, used_records, used_processes;
	uint32_t live_processes, dead_processes;
	pid_t lock_holder;        /* 0 when the registry lock is free */
	int lock_holder_alive;
	uint32_t torn_slots;      /* slots a writer left mid-update */
	int integrity;            /* 0, or -EPROTO when the check failed */
	char integrity_detail[160];
	/* Yanks through this registry since it was created, by outcome. */
	uint64_t yanks_ok;        /* every record done */
	uint64_t yanks_failed;    /* carried out, some records could not be */
	uint64_t yanks_not_found; /* refused: a name was missing, nothing done */
	uint64_t audit_next;      /* sequence number the next audit entry gets */
	uint64_t reserved[4];     /* zero: room to grow without changing the size */
};

/*
 * Open (creating it if needed) the registry in POSIX shared-memory segment
 * @segment, e.g. "/yank-test".  NULL means $YANK_SEGMENT, or "/yank-<uid>".
 * Returns 0, -EINVAL, -ENAMETOOLONG, -EACCES (not ours, or not permitted),
 * -EPROTO (not a registry, or another layout version), -ETIMEDOUT (its
 * creator did not finish), -ENOMEM.
 */
int yank_open(const char *segment, yank_registry **out);
int yank_open_with(const char *segment, const struct yank_open_opts *opts, yank_registry **out);

/*
 * Open an existing segment only: -ENOENT when there is none.  Creates
 * nothing, which is what a tool that only looks should use.
 */
int yank_open_existing(const char *segment, const struct yank_open_opts *opts,
		       yank_registry **out);

/*
 * The default registry of user @uid, "/yank-<uid>", which must exist: what
 * root opens to see another user's registrations.  It is trusted only
 * when that user or root owns it and it gives no access to every user.
 * Errors as yank_open_existing().
 */
int yank_open_user(uid_t uid, const struct yank_open_opts *opts, yank_registry **out);

/* One user's default registry found on this host by yank_open_host(). */
struct yank_host_registry {
	uid_t uid;            /* whose it is */
	char segment[32];     /* "/yank-<uid>" */
	yank_registry *reg;   /* open, or NULL when it could not be */
	int err;              /* then why: a negative errno */
	char detail[256];     /* and yank_error_detail()'s words for it */
	uint64_t reserved[4]; /* zero: room to grow without changing the size */
};

/*
 * Every user's default registry on this host (each /dev/shm/yank-<uid>),
 * in uid order, each opened with yank_open_user().  One that cannot be
 * opened (corrupt, another layout, refused by a trust rule) is still
 * listed, with its reason, so that a tool can report it and go on with
 * the others.  Meant for root, who may open them all; another caller gets
 * its own registry and the refusals.  0 and *out (free with
 * yank_close_host()), -ENOMEM, or -errno reading /dev/shm.
 */
int yank_open_host(const struct yank_open_opts *opts, struct yank_host_registry **out,
		   size_t *n);
void yank_close_host(struct yank_host_registry *list, size_t n);

/* Unregister everything this process owns in @reg, stop its agent, free it. */
void yank_close(yank_registry *reg);

/*
 * Instances.  Returns 0, -EINVAL (bad type or name), -ENAMETOOLONG,
 * -EEXIST (registered by any process), -ENOENT (unregister: none such, or
 * not ours), -EBUSY (unregister: functions remain), -ENOSPC, -ETIMEDOUT,
 * -EPROTO.
 */
int yank_register_instance(yank_registry *reg, const struct yank_instance *inst);
int yank_unregister_instance(yank_registry *reg, const struct yank_instance *inst);

/*
 * Callback records.  @fn(@opaque) runs on this process's agent thread when
 * the instance is yanked.  Once yank_unregister_function() returns, that
 * record is not running and will not run.  -ENOENT when the instance is not
 * this process's, or (unregister) no such record.
 */
int yank_register_function(yank_registry *reg, const struct yank_instance *inst, yank_fn *fn,
			   void *opaque);
int yank_unregister_function(yank_registry *reg, const struct yank_instance *inst, yank_fn *fn,
			     void *opaque);

/*
 * Fd records: @fd must be a socket; a yank calls shutdown(fd, SHUT_RDWR) on
 * it and nothing else.  Once yank_unregister_fd() returns, no shutdown of
 * @fd is in flight (except on the pidfd fallback path, see yank(7)).
 * -ENOTSOCK when @fd is not a socket, -EBADF when it is not open.
 */
int yank_register_fd(yank_registry *reg, const struct yank_instance *inst, int fd);
int yank_unregister_fd(yank_registry *reg, const struct yank_instance *inst, int fd);

/*
 * Adopt socket @fd of process @pid, a process that knows nothing of yank:
 * register it as new instance @inst owned by that process.  The socket's
 * identity (st_dev/st_ino) is read once through pidfd_getfd(2), whose copy
 * is closed at once: nothing of it is kept, so the process's own close()
 * still closes it.  A yank takes the fd again with pidfd_getfd, shuts it
 * down only if it is still that socket (otherwise it is reported stale,
 * YANK_FAIL_STALE) and closes its copy.  The record goes when @pid exits,
 * like any dead owner's, or with yank_unadopt().  yank_query() reports
 * the instance with @adopted set.
 *
 * Needs the ptrace permission pidfd_getfd(2) needs over @pid (same uid and
 * no more privileged, or CAP_SYS_PTRACE; see kernel.yama.ptrace_scope),
 * and @pid's euid must be one a yank through @reg may act on: the
 * registry file owner's (for root's registry, root's processes only), any
 * member's but root's in a group registry.
 *
 * Returns 0, -EINVAL (bad instance, @pid not positive or the caller's
 * own), -ENAMETOOLONG, -ESRCH (no such process), -EBADF (@fd not open in
 * it), -ENOTSOCK, -EPERM (no ptrace permission), -EACCES (this registry
 * may not name @pid's uid), -EEXIST, -ENOSPC, -ETIMEDOUT, -EPROTO.
 */
int yank_adopt_fd(yank_registry *reg, const struct yank_instance *inst, pid_t pid, int fd);

/*
 * Remove adopted instance @inst and its records, whoever adopted it.
 * Returns 0, -EINVAL, -ENOENT, -EPERM (a process registered it itself:
 * only that process may unregister it), -ETIMEDOUT, -EPROTO.
 */
int yank_unadopt(yank_registry *reg, const struct yank_instance *inst);

/*
 * Yank the @n instances of @list, whichever processes own them.  All are
 * looked up first: if one is missing, -ENOENT and nothing is yanked.
 * Returns 0 when every function ran, -EIO when some could not be run.
 */
int yank_yank(yank_registry *reg, const struct yank_instance *list, size_t n);

/*
 * As yank_yank(), and on -EIO (or 0) also hands back what could not be
 * done: *out (free with yank_failures_free()) and *n_out.
 */
int yank_yank_detailed(yank_registry *reg, const struct yank_instance *list, size_t n,
		       struct yank_failure **out, size_t *n_out);
void yank_failures_free(struct yank_failure *f, size_t n);

/*
 * Owner namespaces.  Every instance belongs to one: "" for a program's own
 * instances ("native"), something like "qemu:vm1" for instances a proxy
 * mirrors from another system (yank-qmpd(8) does that for QEMU).  (type,
 * name) is unique per namespace, so each namespace has its own migration.
 * A namespace is 1 to YANK_NS_MAX bytes of [A-Za-z0-9._:-]; NULL or ""
 * means native.  The calls without _ns act on native instances only, and
 * yank_yank() finds native instances only.  Errors as their native
 * counterparts, and -EINVAL for a bad namespace.
 */
int yank_register_instance_ns(yank_registry *reg, const char *ns, const struct yank_instance *inst);
int yank_unregister_instance_ns(yank_registry *reg, const char *ns,
				const struct yank_instance *inst);

/*
 * A proxied function yanks instances that live in another system (a QEMU
 * behind its monitor) and reports how it went.  When a yank names several
 * instances one proxy registered with the same @fn, @opaque and
 * namespace, @fn is called once with all of them, so that the system
 * behind can check them together; it sets results[i] for list[i]: 0 done,
 * -ENOENT (that system no longer has it), -ETIMEDOUT (it did not answer),
 * or another negative errno (-EIO) when it failed.  It runs on the agent
 * thread, must return by the yanker's deadline (yank_proxy_deadline()),
 * and must not call into @reg.  Once yank_unregister_proxy() returns, it
 * is not running for that record and will not run.
 */
typedef void yank_proxy_fn(void *opaque, const char *ns, const struct yank_instance *list,
			   size_t n, int *results);
/*
 * Inside a proxied function: the CLOCK_MONOTONIC instant, in nanoseconds,
 * after which the yanker no longer waits for its answer (its agent
 * timeout, 1 s by default, from when it asked).  0 anywhere else.
 */
uint64_t yank_proxy_deadline(void);
int yank_register_proxy(yank_registry *reg, const char *ns, const struct yank_instance *inst,
			yank_proxy_fn *fn, void *opaque);
int yank_unregister_proxy(yank_registry *reg, const char *ns, const struct yank_instance *inst,
			  yank_proxy_fn *fn, void *opaque);

/*
 * Mark (@unresponsive non-zero) or clear the instances of namespace @ns
 * this process registered as belonging to a system that stopped
 * answering: yank_query() reports it, the records stay.  Returns the
 * number of instances changed, -EINVAL, -ETIMEDOUT, -EPROTO.
 */
int yank_set_unresponsive(yank_registry *reg, const char *ns, int unresponsive);

/*
 * As yank_yank_detailed(), for instances of any namespace: @ns[i] is the
 * namespace of @list[i] (a NULL @ns, or a NULL or "" element, is native).
 */
int yank_yank_ns(yank_registry *reg, const char *const *ns, const struct yank_instance *list,
		 size_t n, struct yank_failure **out, size_t *n_out);

/*
 * The audit log: every yank carried out through a registry, by any
 * process, is kept in a ring in the segment (the last YANK_AUDIT_SIZE)
 * and sent to syslog.  An entry a writer left half-written (it died, or
 * is writing right now) is reported with @torn set and nothing else in
 * it trusted.
 */
#define YANK_AUDIT_SIZE 256
struct yank_audit_item {
	const char *instance;   /* command-line spelling: "chardev:x", "qemu:vm1/migration" */
	unsigned int failures;  /* records of it that could not be done */
	enum yank_failure_kind kind; /* the first such failure's kind, or 0 */
};
struct yank_audit_entry {
	uint64_t seq;           /* position in the log, from 0, increasing */
	int torn;               /* half-written: only @seq is meaningful */
	int result;             /* what the yank returned: 0 or -EIO */
	int64_t time_ns;        /* wall clock (CLOCK_REALTIME) when it ended */
	pid_t pid;              /* the yanker */
	uid_t uid;
	char command[96];       /* the yanker's command line, truncated */
	unsigned int n_instances; /* instances yanked; @items may list fewer */
	unsigned int failures;  /* records that could not be done, in all */
	struct yank_audit_item *items;
	size_t n_items;
	uint64_t reserved[4];   /* zero: room to grow without changing the size */
};
/* Entries with seq >= @since, oldest first.  Free with yank_audit_free(). */
int yank_audit_read(yank_registry *reg, uint64_t since, struct yank_audit_entry **out,
		    size_t *n);
void yank_audit_free(struct yank_audit_entry *e, size_t n);

/* Every instance, oldest registration first.  Free with yank_query_free(). */
int yank_query(yank_registry *reg, struct yank_instance_info **out, size_t *n);
void yank_query_free(struct yank_instance_info *info, size_t n);

/* Remove the records of processes that are gone; *reaped counts the instances. */
int yank_gc(yank_registry *reg, size_t *reaped);

/* Fill @out; returns 0 even when the integrity check fails (see out->integrity). */
int yank_status(yank_registry *reg, struct yank_status *out);

/* The segment name @reg was opened with. */
const char *yank_segment_name(const yank_registry *reg);

const char *yank_strerror(int err);

/*
 * Why the calling thread's last yank_open(), yank_open_with() or
 * yank_open_existing() failed, beyond its errno: which trust rule refused
 * the segment (its owner, mode or group), which header field is wrong
 * (magic, layout version, size), or that no registry has that name.
 * Each of those calls clears it first, so it is "" after a success and
 * after a failure with nothing more to say.  Never NULL.  The string is
 * the thread's own and stays valid until its next open call.
 */
const char *yank_error_detail(void);
const char *yank_version(void);

/* "block-node", "chardev", "migration", or NULL for a bad value. */
const char *yank_type_name(enum yank_type type);

/*
 * Check a name as the library would: 0, -EINVAL (NULL for a named type,
 * empty, not UTF-8, control bytes, or a name for migration), -ENAMETOOLONG.
 */
int yank_check_instance(const struct yank_instance *inst);

#ifdef __cplusplus
}
#endif
#endif
