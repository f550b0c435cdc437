/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * peer: a scriptable registrant for the integration tests.
 *
 *   peer SEGMENT SPEC...
 *
 *   inst:TYPE:NAME          register the instance only
 *   tcp:TYPE:NAME:PORT      connect to 127.0.0.1:PORT, register instance + fd,
 *                           block in recv() on it in a thread
 *   pair:TYPE:NAME          a socketpair; register one end, recv() on it
 *   cb:TYPE:NAME            register a callback (instance created if needed)
 *   slowcb:TYPE:NAME        a callback that prints CBSTART, takes 300 ms, prints CBEND
 *
 * TYPE is block-node, chardev or migration (NAME then "-").  Reports on
 * stdout, one line each: "FD <type>:<name> <fd>" per registered fd and
 * "READY <pid>" after setup; "EOF <type>:<name> <fd>"
 * when a recv() returns; "CB <type>:<name> <pid>" when a callback runs.
 * Commands on stdin, one per line: "close-fd N" (close fd N), "reuse-fd N"
 * (close N and put a fresh socket at the same number), "unreg-fd TYPE:NAME N",
 * "unreg-cb TYPE:NAME", "conns" (prints "CONNS <n>", the connections its
 * agent accepted), "probe N" (prints "PROBE N open" or "PROBE N shut"), "quit".  EOF on stdin also quits; the registry is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#include <yank.h>

#include "agent.h"
#include "handle.h"

#define MAXI 256

struct watch {
	int fd;
	char label[300];
};

static yank_registry *reg;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static char cb_labels[MAXI][300];
static yank_fn *cb_fn[MAXI];
static int ncb;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&out_mu);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static void *watcher(void *arg)
{
	struct watch *w = arg;
	char c;
	ssize_t r;
	do
		r = recv(w->fd, &c, 1, 0);
	while (r > 0 || (r < 0 && errno == EINTR));
	say("EOF %s %d\n", w->label, w->fd);
	free(w);
	return NULL;
}

static void callback(void *opaque)
{
	say("CB %s %ld\n", (const char *)opaque, (long)getpid());
}

static void slow_callback(void *opaque)
{
	say("CBSTART %s\n", (const char *)opaque);
	struct timespec ts = { 0, 300 * 1000000L };
	nanosleep(&ts, NULL);
	say("CBEND %s\n", (const char *)opaque);
}

static int parse_inst(char *s, struct yank_instance *in, char **rest)
{
	char *type = strtok_r(s, ":", rest);
	char *name = strtok_r(NULL, ":", rest);
	if (!type || !name)
		return -1;
	if (!strcmp(type, "block-node"))
		in->type = YANK_BLOCK_NODE;
	else if (!strcmp(type, "chardev"))
		in->type = YANK_CHARDEV;
	else if (!strcmp(type, "migration"))
		in->type = YANK_MIGRATION;
	else
		return -1;
	/* Points into argv or the command line: used before either changes. */
	in->name = in->type == YANK_MIGRATION ? NULL : name;
	return 0;
}

static void ensure_instance(const struct yank_instance *in)
{
	int r = yank_register_instance(reg, in);
	if (r < 0 && r != -EEXIST) {
		fprintf(stderr, "peer: register %s: %s\n", in->name ? in->name : "migration",
			yank_strerror(r));
		exit(3);
	}
}

static void watch_fd(int fd, const struct yank_instance *in)
{
	struct watch *w = calloc(1, sizeof(*w));
	w->fd = fd;
	snprintf(w->label, sizeof(w->label), "%s:%s", yank_type_name(in->type),
		 in->name ? in->name : "-");
	pthread_t t;
	pthread_create(&t, NULL, watcher, w);
	pthread_detach(t);
}

static int tcp_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("peer: connect");
		exit(3);
	}
	return s;
}

static void setup(char *spec)
{
	char *rest;
	char *kind = strtok_r(spec, ":", &rest);
	struct yank_instance in;
	char *more;
	if (!kind || parse_inst(rest, &in, &more) < 0) {
		fprintf(stderr, "peer: bad spec\n");
		exit(2);
	}
	ensure_instance(&in);
	int fd = -1, r = 0;
	if (!strcmp(kind, "tcp")) {
		fd = tcp_connect(atoi(strtok_r(NULL, ":", &more)));
	} else if (!strcmp(kind, "pair")) {
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
		fd = sv[0]; /* sv[1] stays open: no EOF until a yank */
	} else if (!strcmp(kind, "cb") || !strcmp(kind, "slowcb")) {
		snprintf(cb_labels[ncb], sizeof(cb_labels[ncb]), "%s:%s", yank_type_name(in.type),
			 in.name ? in.name : "-");
		cb_fn[ncb] = strcmp(kind, "cb") ? slow_callback : callback;
		r = yank_register_function(reg, &in, cb_fn[ncb], cb_labels[ncb]);
		ncb++;
	} else if (strcmp(kind, "inst")) {
		fprintf(stderr, "peer: bad kind %s\n", kind);
		exit(2);
	}
	if (fd >= 0) {
		r = yank_register_fd(reg, &in, fd);
		say("FD %s:%s %d\n", yank_type_name(in.type), in.name ? in.name : "-", fd);
		watch_fd(fd, &in);
	}
	if (r < 0) {
		fprintf(stderr, "peer: register function: %s\n", yank_strerror(r));
		exit(3);
	}
}

static int unregister_cb(const struct yank_instance *in)
{
	char label[300];
	snprintf(label, sizeof(label), "%s:%s", yank_type_name(in->type), in->name ? in->name : "-");
	for (int i = 0; i < ncb; i++)
		if (!strcmp(cb_labels[i], label))
			return yank_unregister_function(reg, in, cb_fn[i], cb_labels[i]);
	return -ENOENT;
}

static void command(char *line)
{
	char *rest;
	char *cmd = strtok_r(line, " ", &rest);
	if (!cmd)
		return;
	if (!strcmp(cmd, "close-fd")) {
		close(atoi(rest));
	} else if (!strcmp(cmd, "reuse-fd")) {
		int n = atoi(rest);
		close(n);
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		if (sv[0] != n) {
			dup2(sv[0], n);
			close(sv[0]);
		}
		/* sv[1] stays open: the new socket at n would see EOF only if shut. */
		say("REUSED %d\n", n);
	} else if (!strcmp(cmd, "unreg-fd") || !strcmp(cmd, "unreg-cb")) {
		struct yank_instance in;
		char *more;
		char *spec = strtok_r(NULL, " ", &rest);
		if (!spec || parse_inst(spec, &in, &more) < 0)
			return;
		int r;
		if (!strcmp(cmd, "unreg-fd"))
			r = yank_unregister_fd(reg, &in, atoi(rest));
		else
			r = unregister_cb(&in);
		say("UNREG %d %s\n", r, yank_strerror(r));
	} else if (!strcmp(cmd, "probe")) {
		int n = atoi(rest);
		char c;
		ssize_t r = recv(n, &c, 1, MSG_DONTWAIT | MSG_PEEK);
		say("PROBE %d %s\n", n, r < 0 && errno == EAGAIN ? "open" : r < 0 ? "bad" : "shut");
	} else if (!strcmp(cmd, "conns")) {
		say("CONNS %lu\n", yank__agent_connections(reg->agent));
	}
}

int main(int argc, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (argc < 2) {
		fprintf(stderr, "usage: peer SEGMENT SPEC...\n");
		return 2;
	}
	int r = yank_open(argv[1], &reg);
	if (r < 0) {
		fprintf(stderr, "peer: open %s: %s\n", argv[1], yank_strerror(r));
		return 3;
	}
	for (int i = 2; i < argc; i++)
		setup(argv[i]);
	say("READY %d\n", (int)getpid());
	char line[512];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "quit"))
			break;
		command(line);
	}
	yank_close(reg);
	return 0;
}
