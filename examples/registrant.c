/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * registrant: how a program makes its connections yankable with libyank.
 *
 *   registrant [-s SEGMENT] [-c] [-t SECONDS] [HOST:]PORT INSTANCE...
 *
 * For each INSTANCE (chardev:ID, block-node:NAME or migration) it opens a
 * TCP connection to HOST:PORT (HOST defaults to 127.0.0.1), registers the
 * instance and the socket, and blocks in recv() on it in a thread of its
 * own, the way a hung NBD client or chardev would.  When yankctl (or any
 * process calling yank_yank()) yanks the instance, libyank shuts the
 * socket down, recv() returns, and the thread takes its error path:
 * unregister the fd, then the instance, then close the socket.
 *
 * With -c, block-node instances also get a callback, which libyank runs in
 * this process when they are yanked.
 *
 * Exits 0 once every connection has recovered; 2 on SIGTERM or SIGINT or
 * after SECONDS (default 600) with some still hung; 1 on a setup error.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <yank.h>

struct conn {
	char label[YANK_NAME_MAX + 16]; /* "chardev:c0", for messages */
	struct yank_instance inst;
	int fd;
	bool callback;
	char callback_msg[YANK_NAME_MAX + 64];
	size_t callback_len;
	pthread_t thread;
};

static yank_registry *reg;
static atomic_uint recovered;

/*
 * The registry handle is shared by the connection threads and main(),
 * which closes it on SIGTERM: this lock keeps a thread from using it
 * after that.
 */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool closing;

/* One line on stdout, in one write(2): lines from many processes interleave whole. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "registrant[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, (size_t)n) < 0)
		return;
}

/*
 * A yank callback runs on libyank's agent thread.  It must not block or
 * take a lock a hung thread could hold, so no stdio (main() may hold the
 * stdout lock): one write(2) of a message prepared beforehand.
 */
static void on_yank(void *opaque)
{
	struct conn *c = opaque;

	if (write(STDOUT_FILENO, c->callback_msg, c->callback_len) < 0)
		return;
}

static void *wait_for_yank(void *arg)
{
	struct conn *c = arg;
	char buf[512];
	ssize_t n;

	/* The server never answers, so this blocks until the socket is shut down. */
	do {
		n = recv(c->fd, buf, sizeof(buf), 0);
	} while (n > 0 || (n < 0 && errno == EINTR));
	say("%s: recv() returned %zd, the connection was shut down (yanked?): recovering", c->label,
	    n);

	pthread_mutex_lock(&reg_lock);
	if (!closing) {
		int r = 0;

		/* Functions first, then the instance, then the socket itself. */
		if (c->callback)
			r = yank_unregister_function(reg, &c->inst, on_yank, c);
		if (!r)
			r = yank_unregister_fd(reg, &c->inst, c->fd);
		if (!r)
			r = yank_unregister_instance(reg, &c->inst);
		if (r)
			say("%s: unregister: %s", c->label, yank_strerror(r));
		else
			say("%s: unregistered", c->label);
		close(c->fd);
		c->fd = -1;
	}
	pthread_mutex_unlock(&reg_lock);
	atomic_fetch_add(&recovered, 1);
	return NULL;
}

static int parse_instance(const char *arg, struct conn *c)
{
	const char *colon = strchr(arg, ':');

	snprintf(c->label, sizeof(c->label), "%s", arg);
	if (!strcmp(arg, "migration")) {
		c->inst.type = YANK_MIGRATION;
	} else if (colon && !strncmp(arg, "chardev:", 8)) {
		c->inst.type = YANK_CHARDEV;
		c->inst.name = colon + 1;
	} else if (colon && !strncmp(arg, "block-node:", 11)) {
		c->inst.type = YANK_BLOCK_NODE;
		c->inst.name = colon + 1;
	} else {
		return -EINVAL;
	}
	return yank_check_instance(&c->inst);
}

static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res, *ai;
	int fd = -1, r;

	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		fprintf(stderr, "registrant: %s:%s: %s\n", host, port, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			r = errno;
			close(fd);
			fd = -1;
			errno = r;
		}
	}
	if (fd < 0)
		fprintf(stderr, "registrant: connect to %s:%s: %s\n", host, port, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static int setup(struct conn *c, bool with_callback, const char *host, const char *port)
{
	int r;

	c->fd = connect_to(host, port);
	if (c->fd < 0)
		return -1;
	r = yank_register_instance(reg, &c->inst);
	if (!r)
		r = yank_register_fd(reg, &c->inst, c->fd);
	if (!r && with_callback && c->inst.type == YANK_BLOCK_NODE) {
		c->callback_len = (size_t)snprintf(c->callback_msg, sizeof(c->callback_msg),
						   "registrant[%d]: %s: yank callback ran\n",
						   (int)getpid(), c->label);
		if (c->callback_len >= sizeof(c->callback_msg))
			c->callback_len = sizeof(c->callback_msg) - 1;
		r = yank_register_function(reg, &c->inst, on_yank, c);
		c->callback = !r;
	}
	if (r) {
		fprintf(stderr, "registrant: %s: %s\n", c->label, yank_strerror(r));
		return -1;
	}
	return 0;
}

static const char usage_text[] =
	"usage: registrant [-s SEGMENT] [-c] [-t SECONDS] [HOST:]PORT INSTANCE...\n"
	"  Connect to HOST:PORT (HOST defaults to 127.0.0.1) once per INSTANCE,\n"
	"  register the instance and its socket with libyank, and block in recv()\n"
	"  until a yank shuts the socket down.\n"
	"  INSTANCE is chardev:ID, block-node:NAME or migration\n"
	"  -s SEGMENT  the registry (default: $YANK_SEGMENT, else /yank-UID)\n"
	"  -c          block-node instances also get a callback\n"
	"  -t SECONDS  give up after SECONDS (default 600), exit 2\n"
	"  -h, --help  this text\n";

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *segment = NULL, *host = "127.0.0.1", *port;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
	bool with_callback = false;
	long lifetime = 600;
	struct conn *conns;
	sigset_t stop;
	char *hostbuf;
	size_t n;
	int opt, r, sig = 0;

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "s:ct:h")) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 's':
			segment = optarg;
			break;
		case 'c':
			with_callback = true;
			break;
		case 't':
			lifetime = strtol(optarg, NULL, 10);
			if (lifetime <= 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();

	hostbuf = strdup(argv[optind]);
	if (!hostbuf)
		return 1;
	port = strrchr(hostbuf, ':');
	if (port) {
		hostbuf[port - hostbuf] = '\0';
		host = hostbuf;
		port++;
	} else {
		port = hostbuf;
	}
	n = (size_t)(argc - optind - 1);
	conns = calloc(n, sizeof(*conns));
	if (!conns)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (parse_instance(argv[optind + 1 + i], &conns[i]) < 0) {
			fprintf(stderr, "registrant: '%s': not an instance\n",
				argv[optind + 1 + i]);
			usage();
		}
	}

	/*
	 * SIGTERM and SIGINT are taken with sigtimedwait() below; block them
	 * before any thread starts so that every thread inherits the mask.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	r = yank_open(segment, &reg);
	if (r < 0) {
		fprintf(stderr, "registrant: yank_open %s: %s\n", segment ? segment : "(default)",
			yank_strerror(r));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (setup(&conns[i], with_callback, host, port) < 0) {
			yank_close(reg);
			return 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		r = pthread_create(&conns[i].thread, NULL, wait_for_yank, &conns[i]);
		if (r) {
			fprintf(stderr, "registrant: pthread_create: %s\n", strerror(r));
			yank_close(reg);
			return 1;
		}
	}
	say("registered %zu instance%s in %s, blocked in recv()", n, n == 1 ? "" : "s",
	    yank_segment_name(reg));

	for (long ticks = lifetime * 10; ticks > 0 && sig <= 0; ticks--) {
		sig = sigtimedwait(&stop, NULL, &tick);
		if (atomic_load(&recovered) == n) {
			for (size_t i = 0; i < n; i++)
				pthread_join(conns[i].thread, NULL);
			yank_close(reg);
			say("every connection recovered, exiting");
			free(conns);
			free(hostbuf);
			return 0;
		}
	}
	if (sig > 0)
		say("%s: closing the registry and exiting", strsignal(sig));
	else
		say("%zu of %zu connections still hung after %ld s, giving up",
		    n - (size_t)atomic_load(&recovered), n, lifetime);

	/*
	 * yank_close() unregisters what is left.  The threads still blocked
	 * in recv() end with the process; the lock stays held so that none
	 * touches the closed handle meanwhile.
	 */
	pthread_mutex_lock(&reg_lock);
	closing = true;
	yank_close(reg);
	exit(2);
}
