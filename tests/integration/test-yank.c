/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Cross-process yank (SPEC §2 rules 4-6, §4): peers are separate programs
 * (tests/helpers/peer.c) blocked in recv(); this process yanks them.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <yank.h>

#include "testutil.h"

TestSuite(yank, .timeout = 60);

struct peer {
	pid_t pid;
	int in, out;
	char log[8192]; /* every line read so far */
};

static void peer_start(struct peer *p, const char *seg, const char *const specs[])
{
	char *argv[64] = { "peer", (char *)seg };
	int n = 2;
	for (; specs[n - 2]; n++)
		argv[n] = (char *)specs[n - 2];
	argv[n] = NULL;
	memset(p, 0, sizeof(*p));
	p->pid = tu_spawn("peer", argv, &p->in, &p->out);
	cr_assert_gt(p->pid, 0);
}

/* Read lines until one starts with @prefix; the line (or NULL on timeout). */
static const char *peer_expect(struct peer *p, const char *prefix, long ms)
{
	static char line[512];
	long end = tu_now_ms() + ms * tu_mult();
	while (tu_now_ms() < end) {
		if (tu_read_line(p->out, line, sizeof(line), end - tu_now_ms()) < 0)
			return NULL;
		strncat(p->log, line, sizeof(p->log) - strlen(p->log) - 2);
		strcat(p->log, "\n");
		if (!strncmp(line, prefix, strlen(prefix)))
			return line;
	}
	return NULL;
}

static void peer_say(struct peer *p, const char *cmd)
{
	cr_assert_eq(write(p->in, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
}

static void peer_stop(struct peer *p)
{
	close(p->in);
	cr_assert_eq(tu_exit_code(p->pid, 20000), 0, "peer %d did not exit cleanly", p->pid);
	close(p->out);
}

static int peer_fd(struct peer *p, const char *label)
{
	char want[300];
	snprintf(want, sizeof(want), "FD %s ", label);
	const char *l = peer_expect(p, want, 10000);
	cr_assert_not_null(l, "no FD line for %s", label);
	return atoi(l + strlen(want));
}

/* A loopback server that accepts nothing and answers nothing. */
static int silent_server(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s, 128), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return s;
}

static yank_registry *open_reg(const char *seg, uint32_t agent_ms)
{
	struct yank_open_opts o = { .agent_timeout_ms = agent_ms * (uint32_t)tu_mult() };
	yank_registry *r;
	int e = yank_open_with(seg, &o, &r);
	cr_assert_eq(e, 0, "open: %s", yank_strerror(e));
	return r;
}

/*
 * A peer owning @specs on a segment of its own (@tag), once it says READY,
 * and our registry on that segment.
 */
static yank_registry *ready_peer(struct peer *p, const char *tag, const char *const specs[],
				 uint32_t agent_ms)
{
	const char *seg = tu_segment(tag);
	peer_start(p, seg, specs);
	cr_assert_not_null(peer_expect(p, "READY", 10000), "peer %d never got READY: %s",
			   (int)p->pid, p->log);
	return open_reg(seg, agent_ms);
}

Test(yank, unblocks_recv_on_tcp_and_socketpair_in_another_process)
{
	int port;
	int srv = silent_server(&port);
	char tcp[64];
	snprintf(tcp, sizeof(tcp), "tcp:chardev:c0:%d", port);
	const char *specs[] = { tcp, "pair:block-node:n0", "inst:migration:-", NULL };
	struct peer p;
	yank_registry *r = ready_peer(&p, "basic", specs, 2000);
	struct yank_instance list[] = { { YANK_CHARDEV, "c0" }, { YANK_BLOCK_NODE, "n0" },
					{ YANK_MIGRATION, NULL } };
	cr_assert_eq(yank_yank(r, list, 3), 0);
	cr_assert_not_null(peer_expect(&p, "EOF chardev:c0", 10000), "tcp recv not unblocked");
	cr_assert_not_null(strstr(p.log, "EOF chardev:c0") ? p.log : NULL);
	if (!strstr(p.log, "EOF block-node:n0"))
		cr_assert_not_null(peer_expect(&p, "EOF block-node:n0", 10000));
	/* The fds stay open and owned by the peer: only shut down. */
	struct yank_instance_info *info;
	size_t n;
	cr_assert_eq(yank_query(r, &info, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(info[0].n_fds, 1);
	cr_assert_eq(info[0].pid, p.pid);
	yank_query_free(info, n);
	peer_stop(&p);
	close(srv);
	yank_close(r);
}

Test(yank, a_missing_instance_means_nothing_is_yanked)
{
	const char *specs[] = { "pair:chardev:a", "cb:chardev:b", NULL };
	struct peer p;
	yank_registry *r = ready_peer(&p, "missing", specs, 2000);
	struct yank_instance list[] = { { YANK_CHARDEV, "a" }, { YANK_CHARDEV, "b" },
					{ YANK_CHARDEV, "nope" } };
	cr_assert_eq(yank_yank(r, list, 3), -ENOENT);
	struct yank_instance rev[] = { { YANK_BLOCK_NODE, "a" }, { YANK_CHARDEV, "a" } };
	cr_assert_eq(yank_yank(r, rev, 2), -ENOENT, "types are part of the key");
	/* The owner was never contacted: nothing can have run. */
	peer_say(&p, "conns\n");
	const char *l = peer_expect(&p, "CONNS", 10000);
	cr_assert_not_null(l);
	cr_assert_str_eq(l, "CONNS 0");
	peer_say(&p, "probe 3\n");
	cr_assert_null(strstr(p.log, "CB "), "a callback ran");
	cr_assert_null(strstr(p.log, "EOF "), "an fd was shut");
	/* Empty list: success, nothing done.  Then a real yank works. */
	cr_assert_eq(yank_yank(r, NULL, 0), 0);
	cr_assert_eq(yank_yank(r, list, 2), 0);
	cr_assert_not_null(peer_expect(&p, "CB chardev:b", 10000));
	peer_stop(&p);
	yank_close(r);
}

Test(yank, callbacks_run_in_their_owner_in_list_order_and_twice_if_listed_twice)
{
	const char *specs[] = { "cb:chardev:x", "cb:block-node:y", NULL };
	struct peer p;
	yank_registry *r = ready_peer(&p, "cb", specs, 2000);
	struct yank_instance list[] = { { YANK_BLOCK_NODE, "y" }, { YANK_CHARDEV, "x" },
					{ YANK_BLOCK_NODE, "y" } };
	cr_assert_eq(yank_yank(r, list, 3), 0);
	const char *want[] = { "CB block-node:y", "CB chardev:x", "CB block-node:y" };
	for (int i = 0; i < 3; i++) {
		const char *l = peer_expect(&p, "CB ", 10000);
		cr_assert_not_null(l);
		char expect[128];
		snprintf(expect, sizeof(expect), "%s %d", want[i], p.pid);
		cr_assert_str_eq(l, expect, "call %d", i);
	}
	peer_stop(&p);
	yank_close(r);
}

Test(yank, a_stopped_owner_still_has_its_fds_shut_and_callbacks_reported)
{
	const char *specs[] = { "pair:chardev:s0", "cb:chardev:s1", "pair:chardev:s2", NULL };
	struct peer p;
	yank_registry *r = ready_peer(&p, "stopped", specs, 300);
	cr_assert_eq(tu_stop_all(p.pid, 5000), 0, "the owner did not stop");
	struct yank_instance s0 = { YANK_CHARDEV, "s0" };
	cr_assert_eq(yank_yank(r, &s0, 1), 0, "fallback did not shut the fd");
	struct yank_instance s1 = { YANK_CHARDEV, "s1" };
	struct yank_failure *f;
	size_t nf;
	cr_assert_eq(yank_yank_detailed(r, &s1, 1, &f, &nf), -EIO);
	cr_assert_eq(nf, 1);
	cr_assert_eq(f[0].kind, YANK_FAIL_CALLBACK);
	cr_assert_str_eq(f[0].name, "s1");
	cr_assert_eq(f[0].pid, p.pid);
	cr_assert_eq(f[0].fd, -1);
	yank_failures_free(f, nf);
	kill(p.pid, SIGCONT);
	cr_assert_not_null(peer_expect(&p, "EOF chardev:s0", 10000));
	/* The agent, awake again, must not run the callback its yanker gave up on:
	 * it serves connections in order, so once s2's yank is through, a late
	 * run of s1 would already be in the log. */
	struct yank_instance s2 = { YANK_CHARDEV, "s2" };
	cr_assert_eq(yank_yank(r, &s2, 1), 0);
	cr_assert_not_null(peer_expect(&p, "EOF chardev:s2", 10000));
	cr_assert_null(strstr(p.log, "CB chardev:s1"), "callback ran after being reported not run");
	peer_stop(&p);
	yank_close(r);
}

Test(yank, a_reused_fd_number_is_left_alone_and_reported_stale)
{
	const char *seg = tu_segment("stale");
	const char *specs[] = { "pair:chardev:r0", "pair:chardev:r1", NULL };
	struct peer p;
	peer_start(&p, seg, specs);
	int fd0 = peer_fd(&p, "chardev:r0");
	cr_assert_not_null(peer_expect(&p, "READY", 10000));
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "reuse-fd %d\n", fd0);
	peer_say(&p, cmd);
	cr_assert_not_null(peer_expect(&p, "REUSED", 10000));
	yank_registry *r = open_reg(seg, 2000);
	struct yank_instance list[] = { { YANK_CHARDEV, "r0" }, { YANK_CHARDEV, "r1" } };
	struct yank_failure *f;
	size_t nf;
	cr_assert_eq(yank_yank_detailed(r, list, 2, &f, &nf), -EIO);
	cr_assert_eq(nf, 1);
	cr_assert_eq(f[0].kind, YANK_FAIL_STALE);
	cr_assert_eq(f[0].fd, fd0);
	cr_assert_str_eq(f[0].name, "r0");
	yank_failures_free(f, nf);
	cr_assert_not_null(peer_expect(&p, "EOF chardev:r1", 10000), "the good record was not run");
	snprintf(cmd, sizeof(cmd), "probe %d\n", fd0);
	peer_say(&p, cmd);
	const char *l = peer_expect(&p, "PROBE", 10000);
	cr_assert_not_null(l);
	cr_assert_not_null(strstr(l, "open"), "the new file at the old number was shut: %s", l);
	/* The same through the pidfd fallback: owner stopped. */
	cr_assert_eq(tu_stop_all(p.pid, 5000), 0, "the owner did not stop");
	yank_close(r);
	r = open_reg(seg, 300);
	cr_assert_eq(yank_yank_detailed(r, list, 1, &f, &nf), -EIO);
	cr_assert_eq(nf, 1);
	cr_assert_eq(f[0].kind, YANK_FAIL_STALE);
	yank_failures_free(f, nf);
	kill(p.pid, SIGCONT);
	peer_say(&p, cmd);
	l = peer_expect(&p, "PROBE", 10000);
	cr_assert_not_null(l);
	cr_assert_not_null(strstr(l, "open"), "fallback shut the new file: %s", l);
	peer_stop(&p);
	yank_close(r);
}

struct bg_yank {
	yank_registry *r;
	struct yank_instance in;
	int result;
};

static void *bg_yank(void *arg)
{
	struct bg_yank *b = arg;
	b->result = yank_yank(b->r, &b->in, 1);
	return NULL;
}

Test(yank, unregister_waits_for_a_running_callback_which_never_runs_again)
{
	const char *specs[] = { "slowcb:chardev:w", NULL };
	struct peer p;
	yank_registry *r = ready_peer(&p, "race", specs, 5000);
	struct bg_yank b = { r, { YANK_CHARDEV, "w" }, 1 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, bg_yank, &b), 0);
	cr_assert_not_null(peer_expect(&p, "CBSTART", 10000));
	peer_say(&p, "unreg-cb chardev:w\n");
	cr_assert_not_null(peer_expect(&p, "UNREG", 10000));
	pthread_join(t, NULL);
	cr_assert_eq(b.result, 0);
	/* UNREG came after CBEND: unregister waited for the running callback. */
	char *end = strstr(p.log, "CBEND"), *unreg = strstr(p.log, "UNREG 0");
	cr_assert_not_null(end, "log: %s", p.log);
	cr_assert_not_null(unreg, "log: %s", p.log);
	cr_assert_lt(end, unreg, "unregister returned while the callback ran");
	/* And it never runs again. */
	size_t before = strlen(p.log);
	cr_assert_eq(yank_yank(r, &b.in, 1), 0);
	peer_say(&p, "conns\n");
	cr_assert_not_null(peer_expect(&p, "CONNS", 10000));
	cr_assert_null(strstr(p.log + before, "CBSTART"), "ran after its unregister returned");
	peer_stop(&p);
	yank_close(r);
}

Test(yank, hundred_instances_over_five_processes_contact_each_once, .timeout = 90)
{
	const char *seg = tu_segment("many");
	struct peer p[5];
	static char specs_buf[5][20][64];
	struct yank_instance list[100];
	static char names[100][16];
	for (int k = 0; k < 5; k++) {
		const char *specs[21];
		for (int i = 0; i < 20; i++) {
			int id = k * 20 + i;
			snprintf(names[id], sizeof(names[id]), "m%d", id);
			snprintf(specs_buf[k][i], sizeof(specs_buf[k][i]), "pair:%s:%s",
				 id % 2 ? "chardev" : "block-node", names[id]);
			specs[i] = specs_buf[k][i];
			list[id] = (struct yank_instance){ id % 2 ? YANK_CHARDEV : YANK_BLOCK_NODE,
							   names[id] };
		}
		specs[20] = NULL;
		peer_start(&p[k], seg, specs);
	}
	for (int k = 0; k < 5; k++)
		cr_assert_not_null(peer_expect(&p[k], "READY", 20000));
	yank_registry *r = open_reg(seg, 5000);
	cr_assert_eq(yank_yank(r, list, 100), 0);
	for (int k = 0; k < 5; k++) {
		int eofs = 0;
		for (const char *s = p[k].log; (s = strstr(s, "EOF ")); s++)
			eofs++;
		while (eofs < 20 && peer_expect(&p[k], "EOF ", 10000))
			eofs++;
		cr_assert_eq(eofs, 20, "peer %d: %d of 20 fds shut", k, eofs);
		peer_say(&p[k], "conns\n");
		const char *l = peer_expect(&p[k], "CONNS", 10000);
		cr_assert_not_null(l);
		cr_assert_str_eq(l, "CONNS 1", "peer %d contacted more than once", k);
	}
	for (int k = 0; k < 5; k++)
		peer_stop(&p[k]);
	yank_close(r);
}

Test(yank, instances_of_the_calling_process_are_yanked_in_process)
{
	const char *seg = tu_segment("self");
	yank_registry *r = open_reg(seg, 2000);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct yank_instance in = { YANK_CHARDEV, "me" };
	cr_assert_eq(yank_register_instance(r, &in), 0);
	cr_assert_eq(yank_register_fd(r, &in, sv[0]), 0);
	cr_assert_eq(yank_yank(r, &in, 1), 0);
	char c;
	cr_assert_eq(recv(sv[1], &c, 1, MSG_DONTWAIT), 0, "peer side did not see EOF");
	cr_assert_eq(yank_unregister_fd(r, &in, sv[0]), 0);
	cr_assert_eq(yank_unregister_instance(r, &in), 0);
	close(sv[0]);
	close(sv[1]);
	yank_close(r);
}

static yank_registry *cb_reg;
static int cb_result = 1;
static void unregister_from_callback(void *o)
{
	cb_result = yank_unregister_function(cb_reg, o, unregister_from_callback, o);
}

Test(yank, unregister_from_inside_a_callback_is_edeadlk_not_a_hang)
{
	cb_reg = open_reg(tu_segment("deadlk"), 2000);
	static struct yank_instance in = { YANK_CHARDEV, "self" };
	cr_assert_eq(yank_register_instance(cb_reg, &in), 0);
	cr_assert_eq(yank_register_function(cb_reg, &in, unregister_from_callback, &in), 0);
	cr_assert_eq(yank_yank(cb_reg, &in, 1), 0);
	cr_assert_eq(cb_result, -EDEADLK);
	cr_assert_eq(yank_unregister_function(cb_reg, &in, unregister_from_callback, &in), 0);
	yank_close(cb_reg);
}
