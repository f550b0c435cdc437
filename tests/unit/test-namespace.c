/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Owner namespaces, proxied functions and the audit log (SPEC §11, §13):
 * names per namespace, one call per proxy and namespace with a result per
 * instance, and every yank recorded in the ring, torn entries never
 * trusted.  Proxies run in a forked owner, as yank-qmpd's do.
 */
#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <yank.h>

#include "audit.h"
#include "handle.h"
#include "internal.h"
#include "layout.h"
#include "testutil.h"

TestSuite(namespace, .timeout = 90);

static const struct yank_instance C0 = { YANK_CHARDEV, "c0" };
static const struct yank_instance MIG = { YANK_MIGRATION, NULL };

static yank_registry *open_seg(const char *tag)
{
	yank_registry *r = NULL;
	int e = yank_open(tu_segment(tag), &r);
	cr_assert_eq(e, 0, "yank_open: %s", yank_strerror(e));
	return r;
}

static void nop(void *o)
{
	(void)o;
}

Test(namespace, same_name_lives_once_per_namespace)
{
	yank_registry *r = open_seg("ns-names");
	cr_assert_eq(yank_register_instance(r, &C0), 0);
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm1", &C0), 0);
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm2", &C0), 0);
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm1", &C0), -EEXIST);
	cr_assert_eq(yank_register_instance(r, &C0), -EEXIST);
	/* Migration is unique per namespace, not per registry. */
	cr_assert_eq(yank_register_instance(r, &MIG), 0);
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm1", &MIG), 0);
	cr_assert_eq(yank_register_instance_ns(r, "", &MIG), -EEXIST, "\"\" is native");

	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 5);
	int native = 0, vm1 = 0, vm2 = 0;
	for (size_t i = 0; i < n; i++) {
		if (!info[i].ns)
			native++;
		else if (strcmp(info[i].ns, "qemu:vm1") == 0)
			vm1++;
		else if (strcmp(info[i].ns, "qemu:vm2") == 0)
			vm2++;
		cr_assert_eq(info[i].unresponsive, 0);
		cr_assert_eq(info[i].n_proxies, 0);
	}
	cr_assert(native == 2 && vm1 == 2 && vm2 == 1, "native %d vm1 %d vm2 %d", native, vm1, vm2);
	yank_query_free(info, n);

	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.integrity, 0, "%s", st.integrity_detail);
	cr_assert_eq(st.layout_version, 2);

	/* Unregistering one namespace's copy leaves the others. */
	cr_assert_eq(yank_unregister_instance_ns(r, "qemu:vm1", &C0), 0);
	cr_assert_eq(yank_unregister_instance_ns(r, "qemu:vm1", &C0), -ENOENT);
	cr_assert_eq(yank_unregister_instance(r, &C0), 0);
	cr_assert_eq(yank_unregister_instance_ns(r, "qemu:vm2", &C0), 0);
	yank_close(r);
}

Test(namespace, bad_namespaces_are_einval)
{
	yank_registry *r = open_seg("ns-bad");
	char longer[YANK_NS_MAX + 2];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	const char *bad[] = { "qemu:vm1/x", "with space", "caf\xc3\xa9", "tab\t", longer };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(yank_register_instance_ns(r, bad[i], &C0), -EINVAL, "%s", bad[i]);
		const char *ns[] = { bad[i] };
		cr_assert_eq(yank_yank_ns(r, ns, &C0, 1, NULL, NULL), -EINVAL, "%s", bad[i]);
	}
	longer[YANK_NS_MAX] = '\0'; /* exactly the maximum */
	cr_assert_eq(yank_register_instance_ns(r, longer, &C0), 0);
	cr_assert_eq(yank_set_unresponsive(NULL, "x", 1), -EINVAL);
	cr_assert_eq(yank_register_proxy(r, "qemu:vm1", &C0, NULL, NULL), -EINVAL);
	yank_close(r);
}

/* A plain name finds native instances only; a namespaced one only its own. */
Test(namespace, yank_matches_the_namespace_exactly)
{
	yank_registry *r = open_seg("ns-match");
	int hits = 0;
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm1", &C0), 0);
	cr_assert_eq(yank_register_function(r, &C0, nop, NULL), -ENOENT, "no native c0 yet");
	cr_assert_eq(yank_yank(r, &C0, 1), -ENOENT);
	const char *other[] = { "qemu:vm2" };
	cr_assert_eq(yank_yank_ns(r, other, &C0, 1, NULL, NULL), -ENOENT);
	const char *vm1[] = { "qemu:vm1" };
	cr_assert_eq(yank_yank_ns(r, vm1, &C0, 1, NULL, NULL), 0);
	(void)hits;
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.yanks_not_found, 2);
	cr_assert_eq(st.yanks_ok, 1);
	yank_close(r);
}

/*
 * What the proxy in the child saw, in shared memory: how many calls, how
 * many instances each, and the namespace of the last.
 */
struct seen {
	int calls;
	int sizes[8];
	char ns[YANK_NS_MAX + 1];
	uint64_t deadline; /* yank_proxy_deadline() in the last call */
};

static struct seen *seen;

/* Answers by name: "gone" vanished, "bad" failed, "mute" timed out, else done. */
static void proxy(void *opaque, const char *ns, const struct yank_instance *list, size_t n,
		  int *res)
{
	(void)opaque;
	if (seen->calls < 8)
		seen->sizes[seen->calls] = (int)n;
	seen->calls++;
	seen->deadline = yank_proxy_deadline();
	snprintf(seen->ns, sizeof(seen->ns), "%s", ns);
	for (size_t i = 0; i < n; i++) {
		const char *nm = list[i].name ? list[i].name : "";
		if (!strcmp(nm, "slow")) {
			struct timespec ts = { 0, 600000000 };
			nanosleep(&ts, NULL);
		}
		res[i] = !strcmp(nm, "gone") ? -ENOENT :
			 !strcmp(nm, "bad")  ? -EIO :
			 !strcmp(nm, "mute") ? -ETIMEDOUT :
					       0;
	}
}

static const char *const PX_NAMES[] = { "ok", "gone", "bad", "mute" };

/* Child: register the four proxied chardevs and a migration in qemu:vm1, then wait. */
static pid_t proxy_owner(const char *seg, int *ready, int *quit)
{
	int up[2], down[2];
	cr_assert(pipe2(up, O_CLOEXEC) == 0 && pipe2(down, O_CLOEXEC) == 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		tu_child_init();
		yank_registry *r;
		if (yank_open(seg, &r) < 0)
			_exit(2);
		for (size_t i = 0; i < 4; i++) {
			struct yank_instance in = { YANK_CHARDEV, PX_NAMES[i] };
			if (yank_register_instance_ns(r, "qemu:vm1", &in) < 0 ||
			    yank_register_proxy(r, "qemu:vm1", &in, proxy, NULL) < 0)
				_exit(3);
		}
		if (yank_register_instance_ns(r, "qemu:vm1", &MIG) < 0 ||
		    yank_register_proxy(r, "qemu:vm1", &MIG, proxy, NULL) < 0)
			_exit(3);
		/* Still registered: the instance cannot go. */
		struct yank_instance ok = { YANK_CHARDEV, "ok" };
		if (yank_unregister_instance_ns(r, "qemu:vm1", &ok) != -EBUSY)
			_exit(4);
		tu_write_byte(up[1], 'r');
		tu_read_byte(down[0], 60000);
		if (yank_unregister_proxy(r, "qemu:vm1", &ok, proxy, NULL) != 0 ||
		    yank_unregister_proxy(r, "qemu:vm1", &ok, proxy, NULL) != -ENOENT ||
		    yank_unregister_instance_ns(r, "qemu:vm1", &ok) != 0)
			_exit(5);
		yank_close(r);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	*ready = up[0];
	*quit = down[1];
	cr_assert_eq(tu_read_byte(up[0], 10000), 'r', "proxy owner did not come up");
	return pid;
}

Test(namespace, one_call_per_proxy_with_a_result_per_instance)
{
	seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(seen != MAP_FAILED);
	memset(seen, 0, sizeof(*seen));
	const char *seg = tu_segment("ns-proxy");
	yank_registry *r;
	cr_assert_eq(yank_open(seg, &r), 0);
	int ready, quit;
	pid_t pid = proxy_owner(seg, &ready, &quit);

	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 5);
	for (size_t i = 0; i < n; i++)
		cr_assert(info[i].n_proxies == 1 && info[i].pid == pid && info[i].ns &&
			  !strcmp(info[i].ns, "qemu:vm1"));
	yank_query_free(info, n);

	/* All five in one yank: the proxy is called once with all of them. */
	struct yank_instance list[5];
	const char *ns[5];
	for (int i = 0; i < 4; i++)
		list[i] = (struct yank_instance){ YANK_CHARDEV, PX_NAMES[i] };
	list[4] = MIG;
	for (int i = 0; i < 5; i++)
		ns[i] = "qemu:vm1";
	struct yank_failure *f;
	size_t nf;
	uint64_t t0 = yank__now_ns();
	cr_assert_eq(yank_yank_ns(r, ns, list, 5, &f, &nf), -EIO);
	uint64_t t1 = yank__now_ns();
	cr_assert_eq(seen->calls, 1, "calls %d", seen->calls);
	/* Told the yanker's deadline: its agent timeout (1 s) from its request. */
	cr_assert(seen->deadline >= t0 + 1000000000u && seen->deadline <= t1 + 1000000000u,
		  "the proxy was told %llu, not within [%llu, %llu]",
		  (unsigned long long)seen->deadline, (unsigned long long)(t0 + 1000000000u),
		  (unsigned long long)(t1 + 1000000000u));
	cr_assert_eq(yank_proxy_deadline(), 0, "a deadline outside any proxied function");
	cr_assert_eq(seen->sizes[0], 5);
	cr_assert_str_eq(seen->ns, "qemu:vm1");
	cr_assert_eq(nf, 3);
	int kinds = 0;
	for (size_t i = 0; i < nf; i++) {
		cr_assert_str_eq(f[i].ns, "qemu:vm1");
		cr_assert_eq(f[i].pid, pid);
		cr_assert_eq(f[i].fd, -1);
		if (!strcmp(f[i].name, "gone"))
			kinds |= (f[i].kind == YANK_FAIL_VANISHED && f[i].err == -ENOENT) << 0;
		if (!strcmp(f[i].name, "bad"))
			kinds |= (f[i].kind == YANK_FAIL_PROXY && f[i].err == -EIO) << 1;
		if (!strcmp(f[i].name, "mute"))
			kinds |= (f[i].kind == YANK_FAIL_NO_AGENT && f[i].err == -ETIMEDOUT) << 2;
	}
	cr_assert_eq(kinds, 7, "failure kinds wrong: %d", kinds);
	yank_failures_free(f, nf);

	/* The audit entry says which instance failed how. */
	struct yank_audit_entry *e;
	size_t ne;
	cr_assert_eq(yank_audit_read(r, 0, &e, &ne), 0);
	cr_assert_eq(ne, 1);
	cr_assert_eq(e[0].torn, 0);
	cr_assert_eq(e[0].result, -EIO);
	cr_assert_eq(e[0].n_instances, 5);
	cr_assert_eq(e[0].failures, 3);
	cr_assert_eq(e[0].n_items, 5);
	cr_assert_str_eq(e[0].items[1].instance, "qemu:vm1/chardev:gone");
	cr_assert_eq(e[0].items[1].kind, YANK_FAIL_VANISHED);
	cr_assert_eq(e[0].items[0].failures, 0);
	cr_assert_str_eq(e[0].items[4].instance, "qemu:vm1/migration");
	cr_assert_eq(e[0].pid, getpid());
	cr_assert_eq(e[0].uid, geteuid());
	/* Criterion's worker has a command line of its own: compare with it. */
	char cmd[64] = "";
	FILE *cf = fopen("/proc/self/cmdline", "re");
	cr_assert(cf && fgets(cmd, sizeof(cmd), cf));
	fclose(cf);
	cr_assert(cmd[0] && strncmp(e[0].command, cmd, strlen(cmd)) == 0, "command %s, not %s",
		  e[0].command, cmd);
	yank_audit_free(e, ne);

	/* Just the good one: done, no failure. */
	cr_assert_eq(yank_yank_ns(r, ns, list, 1, NULL, NULL), 0);
	cr_assert_eq(seen->calls, 2);

	tu_write_byte(quit, 'q');
	cr_assert_eq(tu_exit_code(pid, 20000), 0);
	yank_close(r);
}

Test(namespace, a_stopped_proxy_is_no_agent_and_nothing_is_taken)
{
	seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(seen != MAP_FAILED);
	const char *seg = tu_segment("ns-stopped");
	struct yank_open_opts o = { .agent_timeout_ms = 300 };
	yank_registry *r;
	cr_assert_eq(yank_open_with(seg, &o, &r), 0);
	int ready, quit;
	pid_t pid = proxy_owner(seg, &ready, &quit);
	cr_assert_eq(tu_stop_all(pid, 10000), 0);
	const char *ns[] = { "qemu:vm1" };
	struct yank_instance ok = { YANK_CHARDEV, "ok" };
	struct yank_failure *f;
	size_t nf;
	cr_assert_eq(yank_yank_ns(r, ns, &ok, 1, &f, &nf), -EIO);
	cr_assert_eq(nf, 1);
	cr_assert_eq(f[0].kind, YANK_FAIL_NO_AGENT);
	yank_failures_free(f, nf);
	kill(pid, SIGCONT);
	tu_write_byte(quit, 'q');
	cr_assert_eq(tu_exit_code(pid, 20000), 0);
	cr_assert_eq(seen->calls, 0, "a yanker that gave up must not have it run later");
	yank_close(r);
}

/*
 * Two namespaces of one owner in one yank: the first proxy takes longer
 * than the yanker waits, so the second's turn comes after the deadline
 * and it must not be called at all.
 */
Test(namespace, a_proxy_whose_turn_comes_too_late_is_not_called)
{
	seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(seen != MAP_FAILED);
	memset(seen, 0, sizeof(*seen));
	const char *seg = tu_segment("ns-late");
	const struct yank_instance slow = { YANK_CHARDEV, "slow" }, quick = { YANK_CHARDEV, "quick" };
	int up[2], down[2];
	cr_assert(pipe2(up, O_CLOEXEC) == 0 && pipe2(down, O_CLOEXEC) == 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		tu_child_init();
		yank_registry *r;
		if (yank_open(seg, &r) < 0 || yank_register_instance_ns(r, "qemu:a", &slow) < 0 ||
		    yank_register_proxy(r, "qemu:a", &slow, proxy, NULL) < 0 ||
		    yank_register_instance_ns(r, "qemu:b", &quick) < 0 ||
		    yank_register_proxy(r, "qemu:b", &quick, proxy, NULL) < 0)
			_exit(3);
		tu_write_byte(up[1], 'r');
		tu_read_byte(down[0], 60000);
		yank_close(r);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(up[0], 10000), 'r', "proxy owner did not come up");
	struct yank_open_opts o = { .agent_timeout_ms = 300 };
	yank_registry *r;
	cr_assert_eq(yank_open_with(seg, &o, &r), 0);
	const struct yank_instance list[] = { slow, quick };
	const char *ns[] = { "qemu:a", "qemu:b" };
	struct yank_failure *f;
	size_t nf;
	cr_assert_eq(yank_yank_ns(r, ns, list, 2, &f, &nf), -EIO);
	cr_assert_eq(nf, 2);
	cr_assert(f[0].kind == YANK_FAIL_NO_AGENT && f[1].kind == YANK_FAIL_NO_AGENT);
	yank_failures_free(f, nf);
	yank_close(r);
	/* The agent serves one request at a time: once this one is answered,
	 * the first is over, and qemu:b was called only now. */
	cr_assert_eq(yank_open(seg, &r), 0);
	cr_assert_eq(yank_yank_ns(r, &ns[1], &quick, 1, NULL, NULL), 0);
	cr_assert_eq(seen->calls, 2, "calls %d: qemu:b was run after its yanker gave up",
		     seen->calls);
	cr_assert_str_eq(seen->ns, "qemu:b");
	tu_write_byte(down[1], 'q');
	cr_assert_eq(tu_exit_code(pid, 20000), 0);
	yank_close(r);
}

Test(namespace, unresponsive_marks_only_the_callers_namespace)
{
	yank_registry *r = open_seg("ns-unresp");
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm1", &C0), 0);
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm1", &MIG), 0);
	cr_assert_eq(yank_register_instance_ns(r, "qemu:vm2", &C0), 0);
	cr_assert_eq(yank_set_unresponsive(r, "qemu:vm1", 1), 2);
	cr_assert_eq(yank_set_unresponsive(r, "qemu:vm1", 1), 0, "already marked");
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(info[i].unresponsive, !strcmp(info[i].ns, "qemu:vm1"));
	yank_query_free(info, n);
	cr_assert_eq(yank_set_unresponsive(r, "qemu:vm1", 0), 2);
	yank_close(r);
}

static void count_cb(void *o)
{
	(*(int *)o)++;
}

/* A registry @tag where c0, with a counting callback, was yanked @n times. */
static yank_registry *yanked_times(const char *tag, int n, int *runs)
{
	yank_registry *r = open_seg(tag);
	cr_assert_eq(yank_register_instance(r, &C0), 0);
	cr_assert_eq(yank_register_function(r, &C0, count_cb, runs), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(yank_yank(r, &C0, 1), 0);
	cr_assert_eq(*runs, n);
	return r;
}

Test(namespace, the_ring_keeps_the_last_256_in_order)
{
	int runs = 0;
	yank_registry *r = yanked_times("audit-wrap", 300, &runs);
	struct yank_audit_entry *e;
	size_t n;
	cr_assert_eq(yank_audit_read(r, 0, &e, &n), 0);
	cr_assert_eq(n, 256);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(e[i].seq, 44 + i);
		cr_assert_eq(e[i].torn, 0);
		cr_assert_eq(e[i].n_items, 1);
		cr_assert_str_eq(e[i].items[0].instance, "chardev:c0");
		if (i)
			cr_assert_geq(e[i].time_ns, e[i - 1].time_ns);
	}
	yank_audit_free(e, n);
	cr_assert_eq(yank_audit_read(r, 290, &e, &n), 0);
	cr_assert_eq(n, 10);
	cr_assert_eq(e[0].seq, 290);
	yank_audit_free(e, n);
	struct yank_status st;
	cr_assert_eq(yank_status(r, &st), 0);
	cr_assert_eq(st.yanks_ok, 300);
	cr_assert_eq(st.audit_next, 300);
	cr_assert_eq(yank_unregister_function(r, &C0, count_cb, &runs), 0);
	yank_close(r);
}

/* White-box: a writer that died mid-entry, and a scribble. */
Test(namespace, torn_and_scribbled_entries_are_reported_not_trusted)
{
	int runs = 0;
	yank_registry *r = yanked_times("audit-torn", 3, &runs);
	struct audit_slot *ring = r->seg.audit;
	ring[0].seq = 1;        /* entry 0 claimed, never finished */
	ring[1].text[0] = 'X';  /* entry 1 changed under its sum */
	struct yank_audit_entry *e;
	size_t n;
	cr_assert_eq(yank_audit_read(r, 0, &e, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert(e[0].torn && !e[0].items && e[0].pid == 0);
	cr_assert(e[1].torn && !e[1].items);
	cr_assert(!e[2].torn && e[2].n_items == 1);
	yank_audit_free(e, n);
	/* A sum recomputed over a bad entry does not make it believed. */
	ring[1].text[0] = 'c';
	ring[1].n_items = 200;
	ring[1].sum = 0;
	cr_assert_eq(yank_audit_read(r, 0, &e, &n), 0);
	cr_assert(e[1].torn);
	yank_audit_free(e, n);
	cr_assert_eq(yank_unregister_function(r, &C0, count_cb, &runs), 0);
	yank_close(r);
}

Test(namespace, each_yank_is_one_syslog_line_with_key_values)
{
	char dir[] = "/tmp/yank-syslog.XXXXXX";
	cr_assert(mkdtemp(dir));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/log", dir);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	static char path[sizeof(sa.sun_path)];
	memcpy(path, sa.sun_path, sizeof(path));
	yank__syslog_path = path;

	int runs = 0;
	yank_registry *r = yanked_times("audit-syslog", 0, &runs);
	int fds = tu_count_fds();
	cr_assert_eq(yank_yank(r, &C0, 1), 0);
	cr_assert_eq(tu_count_fds(), fds, "the log socket must not stay open");
	char line[1100];
	struct pollfd p = { s, POLLIN, 0 };
	cr_assert_eq(poll(&p, 1, 10000), 1);
	ssize_t len = recv(s, line, sizeof(line) - 1, 0);
	cr_assert_gt(len, 0);
	line[len] = '\0';
	char want[128];
	snprintf(want, sizeof(want), "<13>yank[%d]: yank segment=%s pid=%d uid=%u result=ok ",
		 (int)getpid(), yank_segment_name(r), (int)getpid(), (unsigned)geteuid());
	cr_assert(strncmp(line, want, strlen(want)) == 0, "line: %s", line);
	cr_assert(strstr(line, " names=\"chardev:c0\""), "line: %s", line);
	cr_assert(strstr(line, " command=\""), "line: %s", line);
	cr_assert(strstr(line, " failures=0 "), "line: %s", line);

	/* Nobody listening: the yank neither fails nor waits. */
	unlink(sa.sun_path);
	cr_assert_eq(yank_yank(r, &C0, 1), 0);
	cr_assert_eq(runs, 2);
	yank__syslog_path = "/dev/log";
	close(s);
	rmdir(dir);
	cr_assert_eq(yank_unregister_function(r, &C0, count_cb, &runs), 0);
	yank_close(r);
}
