/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The registry rules of SPEC §2 (1-3, 7-9) and the error values of §3, with
 * real processes where a rule is about processes.  White-box where a test
 * must corrupt or fake segment state.
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <yank.h>

#include "handle.h"
#include "internal.h"
#include "layout.h"
#include "registry.h"
#include "testutil.h"

TestSuite(registry, .timeout = 60);

static const struct yank_instance C0 = { YANK_CHARDEV, "c0" };
static const struct yank_instance N0 = { YANK_BLOCK_NODE, "c0" };
static const struct yank_instance MIG = { YANK_MIGRATION, NULL };

static yank_registry *open_small(const char *name, uint32_t inst, uint32_t recs)
{
	struct yank_open_opts o = { .max_instances = inst, .max_records = recs, .max_processes = 16,
				    .lock_timeout_ms = 5000 };
	yank_registry *r = NULL;
	int e = yank_open_with(name, &o, &r);
	cr_assert_eq(e, 0, "yank_open_with(%s): %s", name, yank_strerror(e));
	return r;
}

static void nop(void *o)
{
	(void)o;
}

static int count_instances(yank_registry *r)
{
	struct yank_instance_info *info;
	size_t n;
	int e = yank_query(r, &info, &n);
	if (e < 0)
		return e;
	yank_query_free(info, n);
	return (int)n;
}

static void assert_consistent(yank_registry *r)
{
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.integrity, 0, "integrity: %s", st.integrity_detail);
}

Test(registry, names_up_to_255_bytes_work_256_is_enametoolong)
{
	yank_registry *r = open_small(tu_segment("names"), 64, 64);
	char name[300];
	memset(name, 'a', 255);
	name[255] = '\0';
	struct yank_instance in = { YANK_CHARDEV, name };
	cr_assert_eq(yank_register_instance(r, &in), 0);
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(info[0].name, name);
	yank_query_free(info, n);
	name[255] = 'a';
	name[256] = '\0';
	cr_assert_eq(yank_register_instance(r, &in), -ENAMETOOLONG);
	cr_assert_eq(yank_yank(r, &in, 1), -ENAMETOOLONG);
	yank_close(r);
}

Test(registry, bad_arguments_are_einval)
{
	yank_registry *r = open_small(tu_segment("inval"), 64, 64);
	const char *bad[] = { "", "a\x01", "tab\there", "del\x7f", "\xff", "\xc0\xaf", "\xed\xa0\x80",
			      "\xc2\x85", "\xe2\x82", "\xf4\x90\x80\x80", "ok\n" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct yank_instance in = { YANK_CHARDEV, bad[i] };
		cr_assert_eq(yank_register_instance(r, &in), -EINVAL, "name %zu accepted", i);
		cr_assert_eq(yank_check_instance(&in), -EINVAL);
	}
	struct yank_instance null_name = { YANK_BLOCK_NODE, NULL };
	struct yank_instance named_mig = { YANK_MIGRATION, "x" };
	struct yank_instance type0 = { 0, "x" }, type4 = { 4, "x" };
	cr_assert_eq(yank_register_instance(r, &null_name), -EINVAL);
	cr_assert_eq(yank_register_instance(r, &named_mig), -EINVAL);
	cr_assert_eq(yank_register_instance(r, &type0), -EINVAL);
	cr_assert_eq(yank_register_instance(r, &type4), -EINVAL);
	cr_assert_eq(yank_register_instance(r, NULL), -EINVAL);
	cr_assert_eq(yank_register_instance(NULL, &C0), -EINVAL);
	cr_assert_eq(yank_register_function(r, &C0, NULL, NULL), -EINVAL);
	cr_assert_eq(yank_register_fd(r, &C0, -1), -EBADF);
	cr_assert_eq(yank_query(r, NULL, NULL), -EINVAL);
	cr_assert_eq(yank_open(NULL, NULL), -EINVAL);
	/* Multi-byte UTF-8 is fine. */
	struct yank_instance utf = { YANK_CHARDEV, "d\xc3\xa9j\xc3\xa0-\xe6\x97\xa5\xf0\x9f\x98\x80" };
	cr_assert_eq(yank_register_instance(r, &utf), 0);
	cr_assert_eq(count_instances(r), 1, "a rejected name was registered");
	yank_close(NULL);
	yank_query_free(NULL, 0);
	yank_failures_free(NULL, 0);
	yank_close(r);
}

Test(registry, segment_names_are_checked)
{
	yank_registry *r = NULL;
	cr_assert_eq(yank_open("no-slash", &r), -EINVAL);
	cr_assert_eq(yank_open("/a/b", &r), -EINVAL);
	char longname[400];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(yank_open(longname, &r), -ENAMETOOLONG);
	cr_assert_null(r);
	/* $YANK_SEGMENT names the default; an explicit argument wins over it. */
	const char *env = tu_segment("env");
	setenv("YANK_SEGMENT", env, 1);
	cr_assert_eq(yank_open(NULL, &r), 0);
	cr_assert_str_eq(yank_segment_name(r), env);
	yank_close(r);
	const char *explicit = tu_segment("explicit");
	cr_assert_eq(yank_open(explicit, &r), 0);
	cr_assert_str_eq(yank_segment_name(r), explicit);
	yank_close(r);
	unsetenv("YANK_SEGMENT");
	char def[64];
	snprintf(def, sizeof(def), "/yank-%u", (unsigned)geteuid());
	r = NULL;
	int e = yank_open_existing(NULL, NULL, &r);
	if (e == 0) {
		cr_assert_str_eq(yank_segment_name(r), def);
		yank_close(r);
	} else {
		cr_assert_eq(e, -ENOENT, "default segment: %s", yank_strerror(e));
	}
	cr_assert_eq(yank_open_existing(tu_segment("absent"), NULL, &r), -ENOENT);
	struct stat st;
	cr_assert_neq(stat("/dev/shm/yank-test-absent", &st), 0, "open_existing created a segment");
}

Test(registry, segment_is_created_0600)
{
	const char *name = tu_segment("mode");
	yank_registry *r = open_small(name, 8, 8);
	char path[256];
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	yank_close(r);
}

Test(registry, duplicates_are_eexist_keys_are_per_type_and_exact)
{
	yank_registry *r = open_small(tu_segment("dup"), 64, 64);
	cr_assert_eq(yank_register_instance(r, &C0), 0);
	cr_assert_eq(yank_register_instance(r, &C0), -EEXIST);
	cr_assert_str_eq(yank_strerror(-EEXIST), "duplicate yank instance");
	cr_assert_eq(yank_register_instance(r, &N0), 0, "same key, other type");
	struct yank_instance upper = { YANK_CHARDEV, "C0" };
	cr_assert_eq(yank_register_instance(r, &upper), 0, "keys are case-sensitive");
	cr_assert_eq(yank_register_instance(r, &MIG), 0);
	cr_assert_eq(yank_register_instance(r, &MIG), -EEXIST, "migration is a singleton");
	cr_assert_eq(count_instances(r), 4);
	/* After unregistering, the same key registers again. */
	cr_assert_eq(yank_unregister_instance(r, &C0), 0);
	cr_assert_eq(yank_register_instance(r, &C0), 0);
	assert_consistent(r);
	yank_close(r);
}

Test(registry, unregister_missing_is_enoent_with_functions_is_ebusy)
{
	yank_registry *r = open_small(tu_segment("unreg"), 64, 64);
	cr_assert_eq(yank_unregister_instance(r, &C0), -ENOENT);
	cr_assert_eq(yank_register_function(r, &C0, nop, NULL), -ENOENT);
	cr_assert_eq(yank_register_instance(r, &C0), 0);
	cr_assert_eq(yank_register_function(r, &C0, nop, NULL), 0);
	cr_assert_eq(yank_register_function(r, &C0, nop, NULL), 0, "same pair twice: two records");
	cr_assert_eq(yank_unregister_instance(r, &C0), -EBUSY);
	cr_assert_eq(yank_unregister_function(r, &C0, nop, (void *)1), -ENOENT, "wrong opaque");
	cr_assert_eq(yank_unregister_function(r, &C0, nop, NULL), 0);
	cr_assert_eq(yank_unregister_instance(r, &C0), -EBUSY, "one record remains");
	cr_assert_eq(yank_unregister_function(r, &C0, nop, NULL), 0);
	cr_assert_eq(yank_unregister_function(r, &C0, nop, NULL), -ENOENT);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(yank_register_fd(r, &C0, sv[0]), 0);
	cr_assert_eq(yank_unregister_instance(r, &C0), -EBUSY);
	cr_assert_eq(yank_unregister_fd(r, &C0, sv[1]), -ENOENT, "fd never registered");
	cr_assert_eq(yank_unregister_fd(r, &C0, sv[0]), 0);
	cr_assert_eq(yank_unregister_instance(r, &C0), 0);
	cr_assert_eq(yank_unregister_instance(r, &C0), -ENOENT);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(yank_register_instance(r, &C0), 0);
	cr_assert_eq(yank_register_fd(r, &C0, fd), -ENOTSOCK);
	close(fd);
	close(sv[0]);
	close(sv[1]);
	assert_consistent(r);
	yank_close(r);
}

Test(registry, query_is_registration_order_even_when_slots_are_reused)
{
	yank_registry *r = open_small(tu_segment("order"), 64, 64);
	const char *names[] = { "a", "b", "c", "d", "e" };
	for (int i = 0; i < 4; i++) {
		struct yank_instance in = { YANK_CHARDEV, names[i] };
		cr_assert_eq(yank_register_instance(r, &in), 0);
	}
	struct yank_instance b = { YANK_CHARDEV, "b" }, e = { YANK_CHARDEV, "e" };
	cr_assert_eq(yank_unregister_instance(r, &b), 0);
	cr_assert_eq(yank_register_instance(r, &e), 0); /* takes b's free slot */
	cr_assert_eq(yank_register_instance(r, &MIG), 0);
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	const char *want[] = { "a", "c", "d", "e", NULL };
	cr_assert_eq(n, 5);
	for (size_t i = 0; i < 4; i++)
		cr_assert_str_eq(info[i].name, want[i], "position %zu", i);
	cr_assert_eq(info[4].type, YANK_MIGRATION);
	cr_assert_null(info[4].name);
	cr_assert_eq(info[0].pid, getpid());
	cr_assert_eq(info[0].owner_alive, 1);
	yank_query_free(info, n);
	yank_close(r);
}

/* A child that registers @name (and an fd), reports, then waits on @hold. */
static pid_t holder(const char *seg, const char *name, int report, int hold)
{
	pid_t pid = fork();
	if (pid == 0) {
		tu_child_init();
		yank_registry *r;
		if (yank_open(seg, &r) < 0)
			_exit(10);
		struct yank_instance in = { YANK_CHARDEV, name };
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
		if (yank_register_instance(r, &in) < 0 || yank_register_fd(r, &in, sv[0]) < 0)
			_exit(11);
		tu_write_byte(report, 'R');
		tu_read_byte(hold, 60000);
		yank_unregister_fd(r, &in, sv[0]);
		yank_close(r);
		_exit(0);
	}
	return pid;
}

/* A holder process, started and registered: its pid and the pipe that releases it. */
struct held {
	pid_t pid;
	int release;
};

static struct held hold_name(const char *seg, const char *name)
{
	int rep[2], hold[2];
	cr_assert_eq(pipe(rep), 0);
	cr_assert_eq(pipe(hold), 0);
	struct held h = { holder(seg, name, rep[1], hold[0]), hold[1] };
	cr_assert_eq(tu_read_byte(rep[0], 10000), 'R', "holder of %s did not register", name);
	close(rep[0]);
	close(rep[1]);
	close(hold[0]);
	return h;
}

static void kill_holder(struct held *h)
{
	kill(h->pid, SIGKILL);
	cr_assert_neq(tu_wait(h->pid, 10000), -1);
	close(h->release);
}

Test(registry, duplicate_from_another_process_is_eexist)
{
	const char *seg = tu_segment("xproc");
	struct held h = hold_name(seg, "shared");
	pid_t pid = h.pid;
	yank_registry *r = open_small(seg, 64, 64);
	struct yank_instance in = { YANK_CHARDEV, "shared" };
	cr_assert_eq(yank_register_instance(r, &in), -EEXIST);
	cr_assert_eq(yank_unregister_instance(r, &in), -ENOENT, "not ours to unregister");
	cr_assert_eq(yank_register_function(r, &in, nop, NULL), -ENOENT, "not ours");
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(info[0].pid, pid);
	cr_assert_eq(info[0].n_fds, 1);
	yank_query_free(info, n);
	tu_write_byte(h.release, 'G');
	cr_assert_eq(tu_exit_code(pid, 10000), 0);
	close(h.release);
	/* Its owner closed the registry: the name is free again. */
	cr_assert_eq(yank_register_instance(r, &in), 0);
	assert_consistent(r);
	yank_close(r);
}

Test(registry, kill9_owner_is_reaped_and_its_names_reusable)
{
	const char *seg = tu_segment("kill9");
	struct held h = hold_name(seg, "victim");
	kill_holder(&h);
	yank_registry *r = open_small(seg, 64, 64);
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 1, "not reaped before anyone asked");
	cr_assert_eq(info[0].owner_alive, 0);
	yank_query_free(info, n);
	struct yank_instance in = { YANK_CHARDEV, "victim" };
	cr_assert_eq(yank_register_instance(r, &in), 0, "a dead owner still holds the name");
	cr_assert_eq(count_instances(r), 1);
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.integrity, 0, "%s", st.integrity_detail);
	cr_assert_eq(st.used_records, 0, "the dead owner's fd record was not reaped");
	cr_assert_eq(st.dead_processes, 0);
	yank_close(r);
}

Test(registry, gc_reaps_dead_owners)
{
	const char *seg = tu_segment("gc");
	struct held h = hold_name(seg, "g0");
	kill_holder(&h);
	yank_registry *r = open_small(seg, 64, 64);
	size_t reaped = 99;
	cr_assert_eq(yank_gc(r, &reaped), 0);
	cr_assert_eq(reaped, 1);
	cr_assert_eq(count_instances(r), 0);
	cr_assert_eq(yank_gc(r, &reaped), 0);
	cr_assert_eq(reaped, 0);
	yank_close(r);
}

/* SPEC §2.8: a pid reused by another process is not the owner. */
Test(registry, reused_pid_with_other_start_time_is_not_the_owner)
{
	const char *seg = tu_segment("pidreuse");
	struct held h = hold_name(seg, "p0");
	pid_t pid = h.pid;
	yank_registry *r = open_small(seg, 64, 64);
	struct yank_instance in = { YANK_CHARDEV, "p0" };
	cr_assert_eq(yank_register_instance(r, &in), -EEXIST, "live owner");
	/* Fake a reused pid: same pid, another start time. */
	struct seg *s = &r->seg;
	uint32_t found = 0;
	for (uint32_t i = 0; i < s->hdr->proc_hwm; i++)
		if (s->procs[i].h.state == SLOT_LIVE && s->procs[i].pid == pid) {
			s->procs[i].start_time += 1;
			found++;
		}
	cr_assert_eq(found, 1);
	cr_assert_eq(yank_register_instance(r, &in), 0, "start time not compared");
	kill_holder(&h);
	assert_consistent(r);
	yank_close(r);
}

Test(registry, eight_processes_create_one_segment_one_owner_per_name, .timeout = 60)
{
	const char *seg = tu_segment("race");
	int go[2], rep[2], hold[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(rep), 0);
	cr_assert_eq(pipe(hold), 0);
	pid_t pids[8];
	for (int i = 0; i < 8; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			tu_child_init();
			close(go[1]);
			close(hold[1]);
			tu_read_byte(go[0], 30000); /* EOF: everyone starts at once */
			yank_registry *r;
			if (yank_open(seg, &r) < 0) {
				tu_write_byte(rep[1], 'O');
				_exit(1);
			}
			struct yank_instance in = { YANK_CHARDEV, "contested" };
			int e = yank_register_instance(r, &in);
			tu_write_byte(rep[1], e == 0 ? 'W' : e == -EEXIST ? 'E' : 'X');
			tu_read_byte(hold[0], 30000);
			yank_close(r);
			_exit(0);
		}
	}
	close(go[1]);
	int winners = 0, losers = 0;
	for (int i = 0; i < 8; i++) {
		int c = tu_read_byte(rep[0], 30000);
		winners += c == 'W';
		losers += c == 'E';
	}
	yank_registry *r = open_small(seg, 64, 64);
	cr_assert_eq(count_instances(r), 1);
	close(hold[1]);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(tu_exit_code(pids[i], 30000), 0);
	cr_assert_eq(winners, 1);
	cr_assert_eq(losers, 7);
	assert_consistent(r);
	cr_assert_eq(count_instances(r), 0);
	yank_close(r);
}

Test(registry, writer_killed_holding_the_lock_is_repaired)
{
	const char *points[] = { "register.locked", "inst.claim.mid", "inst.claim.before_link",
				 "rec.claim.mid", "rec.claim.before_count", "record.claimed",
				 "unregister.locked", "inst.release.mid" };
	for (size_t p = 0; p < ARRAY_SIZE(points); p++) {
		char tag[64];
		snprintf(tag, sizeof(tag), "repair%zu", p);
		const char *seg = tu_segment(tag);
		yank_registry *r = open_small(seg, 64, 64);
		struct yank_instance keep = { YANK_CHARDEV, "keep" };
		cr_assert_eq(yank_register_instance(r, &keep), 0);
		cr_assert_eq(yank_register_function(r, &keep, nop, NULL), 0);
		pid_t pid = fork();
		if (pid == 0) {
			tu_child_init();
			yank_registry *c;
			if (yank_open(seg, &c) < 0)
				_exit(10);
			struct yank_instance in = { YANK_BLOCK_NODE, "dying" };
			int sv[2];
			socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
			if (!strcmp(points[p], "unregister.locked") ||
			    !strcmp(points[p], "inst.release.mid")) {
				yank_register_instance(c, &in);
				setenv("YANK_FAULT", points[p], 1);
				yank_unregister_instance(c, &in);
			} else if (!strncmp(points[p], "rec", 3) || !strcmp(points[p], "record.claimed")) {
				yank_register_instance(c, &in);
				setenv("YANK_FAULT", points[p], 1);
				yank_register_fd(c, &in, sv[0]);
			} else {
				setenv("YANK_FAULT", points[p], 1);
				yank_register_instance(c, &in);
			}
			_exit(0); /* the fault point was not reached */
		}
		int st = tu_wait(pid, 20000);
		bool killed = st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		cr_assert(killed, "%s: child was not killed at its fault point", points[p]);
		/* The next locker sees EOWNERDEAD and repairs. */
		struct yank_instance other = { YANK_CHARDEV, "after" };
		cr_assert_eq(yank_register_instance(r, &other), 0, "%s", points[p]);
		struct yank_instance dying = { YANK_BLOCK_NODE, "dying" };
		cr_assert_eq(yank_register_instance(r, &dying), 0, "%s: dead records not reaped",
			     points[p]);
		assert_consistent(r);
		struct yank_instance_info *info;
		size_t n;
		cr_assert_eq(yank_query(r, &info, &n), 0);
		cr_assert_eq(n, 3, "%s", points[p]);
		cr_assert_str_eq(info[0].name, "keep");
		cr_assert_eq(info[0].n_callbacks, 1, "%s: a live record was lost", points[p]);
		yank_query_free(info, n);
		yank_close(r);
	}
}

static void write_file(const char *seg, const void *buf, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "/dev/shm%s", seg);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

Test(registry, corrupt_segments_are_eproto)
{
	yank_registry *r = NULL;
	const char *seg = tu_segment("corrupt");
	unsigned char *junk = malloc(1 << 20);
	srand(42);
	for (size_t i = 0; i < (1 << 20); i++)
		junk[i] = (unsigned char)rand();
	write_file(seg, junk, 1 << 20);
	cr_assert_eq(yank_open(seg, &r), -EPROTO, "random bytes");
	write_file(seg, junk, 100);
	cr_assert_eq(yank_open(seg, &r), -EPROTO, "truncated");
	free(junk);

	/* A real segment, then damaged one way at a time. */
	size_t size = 0;
	unsigned char *good = NULL;
	{
		yank_registry *g = open_small(seg == NULL ? "" : tu_segment("good"), 8, 8);
		struct yank_instance in = { YANK_CHARDEV, "abc" };
		cr_assert_eq(yank_register_instance(g, &in), 0);
		size = g->seg.size;
		good = malloc(size);
		memcpy(good, g->seg.hdr, size);
		yank_close(g);
	}
	struct seg_hdr *h;
	unsigned char *img = malloc(size);
	struct {
		const char *what;
		size_t off;
		uint32_t val;
	} cases[] = {
		{ "magic", offsetof(struct seg_hdr, magic), 0x12345678 },
		{ "format", offsetof(struct seg_hdr, format), SEG_LAYOUT_VERSION + 1 },
		{ "size", offsetof(struct seg_hdr, size), 4096 },
		{ "capacity", offsetof(struct seg_hdr, cap_inst), 1u << 30 },
		{ "offset", offsetof(struct seg_hdr, off_rec), 7 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memcpy(img, good, size);
		memcpy(img + cases[i].off, &cases[i].val, sizeof(uint32_t));
		write_file(seg, img, size);
		cr_assert_eq(yank_open(seg, &r), -EPROTO, "bad %s accepted", cases[i].what);
	}
	/* Slot-level damage: the header is fine, one slot lies. */
	h = (struct seg_hdr *)img;
	struct inst_slot *in0 = (struct inst_slot *)(img + h->off_inst);
	struct {
		const char *what;
		void (*damage)(struct inst_slot *);
	} slot_cases[] = {
		{ "owner index", NULL },
		{ "name terminator", NULL },
		{ "name length", NULL },
		{ "type", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(slot_cases); i++) {
		memcpy(img, good, size);
		h = (struct seg_hdr *)img;
		in0 = (struct inst_slot *)(img + h->off_inst);
		if (i == 0)
			in0->proc = 0x7fffffff;
		else if (i == 1)
			in0->name[3] = 'x';
		else if (i == 2)
			in0->name_len = 4000;
		else
			in0->type = 9;
		write_file(seg, img, size);
		cr_assert_eq(yank_open(seg, &r), 0, "%s", slot_cases[i].what);
		struct yank_instance_info *info;
		size_t n;
		cr_assert_eq(yank_query(r, &info, &n), -EPROTO, "%s: query", slot_cases[i].what);
		struct yank_status st;
		cr_assert_eq(yank_status(r, &st), 0);
		cr_assert_eq(st.integrity, -EPROTO, "%s: status", slot_cases[i].what);
		struct yank_instance abc = { YANK_CHARDEV, "abc" };
		cr_assert_eq(yank_yank(r, &abc, 1), -ENOENT, "%s: a corrupt slot was trusted",
			     slot_cases[i].what);
		yank_close(r);
	}
	/* High-water marks beyond capacity are clamped, never followed. */
	memcpy(img, good, size);
	h = (struct seg_hdr *)img;
	h->inst_hwm = 0xffffffff;
	h->rec_hwm = 0xffffffff;
	h->proc_hwm = 0xffffffff;
	write_file(seg, img, size);
	cr_assert_eq(yank_open(seg, &r), 0);
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.integrity, -EPROTO);
	struct yank_instance_info *info;
	size_t n;
	int q = yank_query(r, &info, &n);
	if (q == 0)
		yank_query_free(info, n);
	cr_assert(q == 0 || q == -EPROTO);
	yank_close(r);
	free(img);
	free(good);
}

Test(registry, full_registry_is_enospc_and_space_is_reused)
{
	yank_registry *r = open_small(tu_segment("full"), 8, 4);
	char names[9][8];
	for (int i = 0; i < 9; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		struct yank_instance in = { YANK_CHARDEV, names[i] };
		cr_assert_eq(yank_register_instance(r, &in), i < 8 ? 0 : -ENOSPC, "instance %d", i);
	}
	struct yank_instance n0 = { YANK_CHARDEV, names[0] };
	for (int i = 0; i < 5; i++)
		cr_assert_eq(yank_register_function(r, &n0, nop, (void *)(long)i), i < 4 ? 0 : -ENOSPC);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 4; i++)
			cr_assert_eq(yank_unregister_function(r, &n0, nop, (void *)(long)i), 0);
		for (int i = 0; i < 8; i++) {
			struct yank_instance in = { YANK_CHARDEV, names[i] };
			cr_assert_eq(yank_unregister_instance(r, &in), 0);
		}
		assert_consistent(r);
		for (int i = 0; i < 8; i++) {
			struct yank_instance in = { YANK_CHARDEV, names[i] };
			cr_assert_eq(yank_register_instance(r, &in), 0, "round %d: slot not reused", round);
		}
		for (int i = 0; i < 4; i++)
			cr_assert_eq(yank_register_function(r, &n0, nop, (void *)(long)i), 0);
	}
	assert_consistent(r);
	yank_close(r);
}

static int ran;
static void count_run(void *o)
{
	(void)o;
	ran++;
}

Test(registry, forked_child_owns_nothing_of_the_parent)
{
	const char *seg = tu_segment("fork");
	yank_registry *r = open_small(seg, 64, 64);
	struct yank_instance f0 = { YANK_CHARDEV, "f0" };
	cr_assert_eq(yank_register_instance(r, &f0), 0);
	cr_assert_eq(yank_register_function(r, &f0, count_run, NULL), 0);
	pid_t pid = fork();
	if (pid == 0) {
		tu_child_init();
		struct yank_instance f1 = { YANK_CHARDEV, "f1" };
		if (yank_unregister_function(r, &f0, count_run, NULL) != -ENOENT)
			_exit(1);
		if (yank_unregister_instance(r, &f0) != -ENOENT)
			_exit(2);
		if (yank_register_function(r, &f0, count_run, NULL) != -ENOENT)
			_exit(3);
		if (yank_register_instance(r, &f1) != 0)
			_exit(4);
		yank_close(r); /* must unregister f1 only */
		_exit(0);
	}
	cr_assert_eq(tu_exit_code(pid, 20000), 0);
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 1, "the child's close touched the parent's records or left its own");
	cr_assert_str_eq(info[0].name, "f0");
	cr_assert_eq(info[0].n_callbacks, 1);
	yank_query_free(info, n);
	cr_assert_eq(yank_yank(r, &f0, 1), 0);
	cr_assert_eq(ran, 1);
	assert_consistent(r);
	yank_close(r);
}

Test(registry, close_unregisters_everything_and_leaks_no_fd)
{
	const char *seg = tu_segment("close");
	int before = tu_count_fds();
	for (int round = 0; round < 3; round++) {
		yank_registry *r = open_small(seg, 64, 64);
		int sv[2];
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		cr_assert_eq(yank_register_instance(r, &C0), 0);
		cr_assert_eq(yank_register_fd(r, &C0, sv[0]), 0);
		cr_assert_eq(yank_register_function(r, &C0, nop, NULL), 0);
		cr_assert_eq(yank_yank(r, &C0, 1), 0);
		yank_close(r);
		close(sv[0]);
		close(sv[1]);
	}
	cr_assert_eq(tu_count_fds(), before, "fds leaked");
	yank_registry *r = open_small(seg, 64, 64);
	cr_assert_eq(count_instances(r), 0);
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.used_records, 0);
	cr_assert_eq(st.used_processes, 0);
	yank_close(r);
}

Test(registry, strerror_names_every_error)
{
	cr_assert_str_eq(yank_strerror(-ENOENT), "Instance not found");
	cr_assert_str_eq(yank_strerror(EEXIST), "duplicate yank instance");
	int errs[] = { EBUSY, EINVAL, ENAMETOOLONG, ENOSPC, ETIMEDOUT, EACCES, EPROTO, EIO };
	for (size_t i = 0; i < ARRAY_SIZE(errs); i++)
		cr_assert_gt(strlen(yank_strerror(-errs[i])), 5);
	cr_assert_str_eq(yank_type_name(YANK_BLOCK_NODE), "block-node");
	cr_assert_null(yank_type_name(0));
}

/* SPEC §5: a writer stopped inside a slot blocks no reader and tears only that slot. */
Test(registry, a_writer_stopped_mid_slot_blocks_no_reader)
{
	const char *seg = tu_segment("torn");
	yank_registry *r = open_small(seg, 64, 64);
	struct yank_instance keep = { YANK_CHARDEV, "keep" }, tmp = { YANK_CHARDEV, "tmp" };
	cr_assert_eq(yank_register_instance(r, &keep), 0);
	/* A freed slot below the high-water mark: the next claim is visible to readers. */
	cr_assert_eq(yank_register_instance(r, &tmp), 0);
	cr_assert_eq(yank_unregister_instance(r, &tmp), 0);
	pid_t pid = fork();
	if (pid == 0) {
		tu_child_init();
		yank_registry *c;
		if (yank_open(seg, &c) < 0)
			_exit(10);
		setenv("YANK_FAULT", "inst.claim.mid:stop", 1);
		struct yank_instance in = { YANK_CHARDEV, "half" };
		yank_register_instance(c, &in);
		_exit(0);
	}
	/* Wait (bounded) until the child is stopped at its fault point. */
	int st;
	cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(st), "child did not stop at the fault point");
	long t0 = tu_now_ms();
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(info[0].name, "keep");
	yank_query_free(info, n);
	struct yank_instance half = { YANK_CHARDEV, "half" };
	cr_assert_eq(yank_yank(r, &half, 1), -ENOENT, "a torn slot was trusted");
	cr_assert_eq(yank_yank(r, &keep, 1), 0);
	cr_assert_lt(tu_now_ms() - t0, 5000 * tu_mult(), "readers waited on the writer");
	struct yank_status s;
	cr_assert_eq(yank_status(r, &s), 0);
	cr_assert_eq(s.torn_slots, 1);
	cr_assert_eq(s.lock_holder, pid);
	cr_assert_eq(s.lock_holder_alive, 1);
	/* Writers wait, bounded. */
	yank_registry *w;
	struct yank_open_opts o = { .lock_timeout_ms = 200 };
	cr_assert_eq(yank_open_with(seg, &o, &w), 0);
	struct yank_instance other = { YANK_CHARDEV, "other" };
	cr_assert_eq(yank_register_instance(w, &other), -ETIMEDOUT);
	yank_close(w);
	/* The stopped writer dies: the next writer repairs its slot. */
	kill(pid, SIGKILL);
	cr_assert_neq(tu_wait(pid, 10000), -1);
	cr_assert_eq(yank_register_instance(r, &half), 0);
	cr_assert_eq(yank_status(r, &s), 0);
	cr_assert_eq(s.torn_slots, 0);
	cr_assert_eq(s.integrity, 0, "%s", s.integrity_detail);
	cr_assert_eq(count_instances(r), 2);
	yank_close(r);
}

/* Anyone can create /yank-<uid> before its user does: another owner there is a squatter. */
Test(registry, a_squatted_default_segment_is_refused)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to play two users");
	const uid_t victim = 65534, squatter = 65533;
	char path[64];
	snprintf(path, sizeof(path), "/dev/shm/yank-%u", (unsigned)victim);
	unlink(path);
	/* The squatter's segment: a valid registry, group-accessible to the victim. */
	struct yank_open_opts o = { .max_instances = 8, .max_records = 8, .max_processes = 4,
				    .use_group = 1, .group = victim };
	yank_registry *r;
	char name[64];
	snprintf(name, sizeof(name), "/yank-%u", (unsigned)victim);
	cr_assert_eq(yank_open_with(name, &o, &r), 0);
	yank_close(r);
	cr_assert_eq(chown(path, squatter, victim), 0);
	pid_t pid = fork();
	if (pid == 0) {
		tu_child_init();
		unsetenv("YANK_SEGMENT");
		if (setgroups(0, NULL) < 0 || setresgid(victim, victim, victim) < 0 ||
		    setresuid(victim, victim, victim) < 0)
			_exit(10);
		yank_registry *v;
		int e = yank_open(NULL, &v); /* the default name: /yank-65534 */
		_exit(e == -EACCES ? 0 : 1);
	}
	int code = tu_exit_code(pid, 20000);
	unlink(path);
	cr_assert_eq(code, 0, "the victim trusted a squatted default segment");
}

/* Later options go in the reserved space: today it must be zero, so that
 * its zero can keep meaning "default" for programs built now. */
Test(registry, open_options_reserved_space_must_be_zero)
{
	struct yank_open_opts o = { 0 };
	yank_registry *r = NULL;
	o.reserved[3] = 1;
	cr_assert_eq(yank_open_with(tu_segment("reserved"), &o, &r), -EINVAL);
	cr_assert(strstr(yank_error_detail(), "reserved"), "detail: '%s'", yank_error_detail());
	o.reserved[3] = 0;
	cr_assert_eq(yank_open_with(tu_segment("reserved"), &o, &r), 0);
	struct yank_instance_info *info;
	size_t n;
	struct yank_instance in = { YANK_CHARDEV, "r0" };
	cr_assert_eq(yank_register_instance(r, &in), 0);
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 1);
	for (size_t i = 0; i < sizeof(info[0].reserved) / sizeof(info[0].reserved[0]); i++)
		cr_assert_eq(info[0].reserved[i], 0, "reserved space handed out not zeroed");
	yank_query_free(info, n);
	yank_close(r);
}
