/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * rb-rawclient: talks to an owner's agent directly, below yank_yank(), to
 * play the yankers the library itself would never be: one that takes the
 * fds and then never says "done" (stopped mid-hand-off), one that connects
 * and says nothing, one of another uid.
 *
 *   rb-rawclient SEG INST [--as UID:GID[:G1,G2...]] [--hold] [--silent]
 *
 * INST is c:NAME, b:NAME or m.  It reads the instance's records and its
 * owner's agent address from the segment (with the ids it started with),
 * then drops to --as ids if given, connects, and (unless --silent) sends
 * one yank request for every record of INST.  One line on stdout:
 *
 *   res n=N nfds=F st=S,S,...   the agent answered (S: wire status per record)
 *   err errno=E                 the agent refused (WIRE_ERR)
 *   fail E WHAT                 something else went wrong (E negative errno)
 *   silent                      connected, sent nothing (--silent)
 *
 * It reads replies until one says no more follow (the agent sends the fds
 * listed before a callback, waits for "done", then runs the callback).
 * Received fds are never shut down: each batch is closed and acknowledged
 * with "done", except with --hold, which stops at the first batch of fds,
 * keeps them, and sends nothing more until stdin reaches EOF.
 * White-box: it uses libshm's internal reader and wire code.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <yank.h>

#include "handle.h"
#include "handoff.h"
#include "internal.h"
#include "registry.h"
#include "segment.h"
#include "wire.h"

static char buf[WIRE_MAX_MSG];
static struct wire_item items[WIRE_MAX_ITEMS];

static void wait_stdin_eof(void)
{
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
}

static int become(const char *spec)
{
	unsigned uid, gid;
	int n = 0;
	if (sscanf(spec, "%u:%u%n", &uid, &gid, &n) < 2)
		return -EINVAL;
	gid_t groups[16];
	int ng = 0;
	if (spec[n] == ':') {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", spec + n + 1);
		char *save;
		for (char *t = strtok_r(tmp, ",", &save); t && ng < 16;
		     t = strtok_r(NULL, ",", &save))
			groups[ng++] = (gid_t)atoi(t);
	}
	if (setgroups((size_t)ng, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

int main(int argc, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3) {
		fprintf(stderr,
			"usage: rb-rawclient SEG INST [--as U:G[:GROUPS]] [--hold] [--silent]\n");
		return 2;
	}
	const char *as = NULL;
	int hold = 0, silent = 0;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--as") && i + 1 < argc)
			as = argv[++i];
		else if (!strcmp(argv[i], "--hold"))
			hold = 1;
		else if (!strcmp(argv[i], "--silent"))
			silent = 1;
	}
	uint32_t type;
	const char *name = "";
	if (!strcmp(argv[2], "m"))
		type = YANK_MIGRATION;
	else if (argv[2][0] == 'c' && argv[2][1] == ':')
		type = YANK_CHARDEV, name = argv[2] + 2;
	else if (argv[2][0] == 'b' && argv[2][1] == ':')
		type = YANK_BLOCK_NODE, name = argv[2] + 2;
	else
		return 2;

	yank_registry *reg;
	int r = yank_open_existing(argv[1], NULL, &reg);
	if (r < 0) {
		printf("fail %d open\n", r);
		return 0;
	}
	struct inst_view iv;
	r = yank__lookup(&reg->seg, type, name, strlen(name), &iv, NULL);
	struct proc_view pv;
	if (r == 0 && (r = yank__read_proc(&reg->seg, iv.proc, &pv)) == 0 && pv.gen != iv.proc_gen)
		r = -ESRCH;
	if (r < 0) {
		printf("fail %d lookup\n", r);
		return 0;
	}
	uint32_t n = 0, hwm = seg_hwm(&reg->seg.hdr->rec_hwm, reg->seg.cap_rec);
	for (uint32_t i = 0; i < hwm && n < WIRE_MAX_ITEMS; i++) {
		struct rec_view rv;
		if (yank__read_rec(&reg->seg, i, &rv) == 0 && rv.inst == iv.idx &&
		    rv.inst_gen == iv.gen)
			items[n++] = (struct wire_item){ rv.idx, rv.gen, 0, 0 };
	}
	if (as && (r = become(as)) < 0) {
		printf("fail %d setuid\n", r);
		return 0;
	}
	int c;
	r = yank__agent_connect(pv.agent, pv.agent_len, &c);
	if (r < 0) {
		printf("fail %d connect\n", r);
		return 0;
	}
	if (silent) {
		printf("silent\n");
		fflush(stdout);
		wait_stdin_eof();
		return 0;
	}
	struct wire_msg m = { .op = WIRE_YANK, .n = n, .items = items,
			      .deadline = yank__now_ns() + 10000000000ull };
	size_t len;
	r = yank__wire_encode(&m, buf, sizeof(buf), &len);
	if (r == 0)
		r = yank__send(c, buf, len, NULL, 0);
	/* An agent that refuses us may have answered and closed already: read on. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
		printf("fail %d send\n", r);
		return 0;
	}
	/* Replies until one says no more follow; each batch of fds is acknowledged
	 * ("done") unless --hold, which stops at the first batch of fds. */
	uint32_t total = 0;
	int total_fds = 0;
	char st[8192];
	size_t stl = 0;
	st[0] = '\0';
	for (;;) {
		int fds[WIRE_MAX_FDS], nfds = 0;
		r = yank__recv(c, buf, sizeof(buf), &len, fds, WIRE_MAX_FDS, &nfds, 10000);
		/* The reset of a peer that closed with our request unread comes
		 * before the answer it queued for us: that is still there. */
		if (r == -ECONNRESET)
			r = yank__recv(c, buf, sizeof(buf), &len, fds, WIRE_MAX_FDS, &nfds, 10000);
		if (r < 0) {
			printf("fail %d recv\n", r);
			return 0;
		}
		struct wire_msg a = { .items = items };
		r = yank__wire_decode(buf, len, &a);
		if (r < 0) {
			printf("fail %d decode\n", r);
			return 0;
		}
		if (a.op == WIRE_ERR) {
			printf("err errno=%d nfds=%d\n", a.err, nfds);
			return 0;
		}
		total += a.n;
		total_fds += nfds;
		for (uint32_t i = 0; i < a.n && stl < sizeof(st) - 16; i++)
			stl += (size_t)snprintf(st + stl, sizeof(st) - stl, "%s%u", stl ? "," : "",
						a.items[i].status);
		if (hold && nfds) {
			printf("res n=%u nfds=%d st=%s\n", total, total_fds, st);
			fflush(stdout);
			wait_stdin_eof();
			return 0;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (nfds) {
			struct wire_msg d = { .op = WIRE_DONE };
			if (yank__wire_encode(&d, buf, sizeof(buf), &len) == 0)
				yank__send(c, buf, len, NULL, 0);
		}
		if (!a.more)
			break;
	}
	printf("res n=%u nfds=%d st=%s\n", total, total_fds, st);
	fflush(stdout);
	if (hold)
		wait_stdin_eof();
	close(c);
	return 0;
}
