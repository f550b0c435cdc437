/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * yank-qmpd: options, signals and the discovery loop.
 *
 * The main thread opens the registry, watches the record directory and
 * waits for SIGINT/SIGTERM (stop: every mirrored instance is unregistered,
 * exit 0) and SIGHUP (read every record again).  The signals are blocked
 * in every thread and read from a signalfd, so no handler ever runs.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "qmpd.h"

#define EXIT_USAGE 1
#define EXIT_UNAVAILABLE 2

static const char usage_text[] =
	"Usage: yank-qmpd [--segment NAME] [--dir DIR]\n"
	"\n"
	"Mirror the yank instances of running QEMUs into the yank registry, so that\n"
	"yankctl lists them as qemu:NAME/TYPE:ID and yanks them over each QEMU's\n"
	"own monitor, out of band, even while its main loop is stuck.\n"
	"\n"
	"Each DIR/NAME.json names one QEMU and a QMP monitor kept for yank-qmpd:\n"
	"  {\"name\": \"vm1\", \"socket\": \"/run/yank/mon/vm1.sock\", \"pid\": 4242,\n"
	"   \"hide\": [\"charmonitor\"]}     (\"pid\" and \"hide\" are optional)\n"
	"\n"
	"Options:\n"
	"  -s, --segment NAME  the registry's shared-memory segment\n"
	"                      (default: $YANK_SEGMENT, else /yank-UID)\n"
	"  -d, --dir DIR       the record directory (default " QMPD_DEFAULT_DIR ")\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the version\n"
	"\n"
	"SIGINT or SIGTERM: unregister everything and exit 0.  SIGHUP: read every\n"
	"record again.  Exit status: 0 stopped; 1 bad usage; 2 the registry or the\n"
	"directory cannot be used.\n";

void qmpd_log(const char *fmt, ...)
{
	char buf[1024];
	size_t len, off = 0;
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "%s: ", QMPD_PROG);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	buf[len++] = '\n';
	while (off < len) {
		ssize_t w = write(STDERR_FILENO, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

int64_t qmpd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qmpd_deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
	if (deadline_ms < 0)
		deadline_ms = 0;
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000;
}

void qmpd_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &a);
	pthread_condattr_destroy(&a);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", QMPD_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'yank-qmpd --help'.\n");
	return EXIT_USAGE;
}

/* YANK_QMPD_POLL_MS: a slower sync, so that tests can act between two. */
static int poll_interval(void)
{
	const char *s = getenv("YANK_QMPD_POLL_MS");
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 10 || v > 600000)
		return -1;
	qmpd_poll_ms = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"segment", required_argument, NULL, 's'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct yank_open_opts yo = {.lock_timeout_ms = 2000};
	const char *segment = NULL, *dir = QMPD_DEFAULT_DIR;
	struct qmpd_dir *d = NULL;
	yank_registry *reg = NULL;
	sigset_t sigs;
	int c, sfd, r, status = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+s:d:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			segment = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("%s %d.%d.%d (libyank %s)\n", QMPD_PROG, YANK_VERSION_MAJOR,
			       YANK_VERSION_MINOR, YANK_VERSION_PATCH, yank_version());
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!*dir)
		return usage_error("--dir needs a directory");
	if (segment && !*segment)
		return usage_error("--segment needs a name");
	if (poll_interval() < 0)
		return usage_error("YANK_QMPD_POLL_MS=%s: milliseconds from 10 to 600000 expected",
				   getenv("YANK_QMPD_POLL_MS"));

	/* Before any thread exists, so that every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		qmpd_log("signalfd: %s", strerror(errno));
		return EXIT_UNAVAILABLE;
	}

	r = yank_open_with(segment, &yo, &reg);
	if (r < 0) {
		const char *detail = yank_error_detail();

		qmpd_log("cannot open the registry %s: %s%s%s",
			 segment ? segment : "(default)", yank_strerror(r), *detail ? ": " : "",
			 detail);
		close(sfd);
		return EXIT_UNAVAILABLE;
	}
	if (qmpd_dir_open(dir, reg, &d) < 0) {
		yank_close(reg);
		close(sfd);
		return EXIT_UNAVAILABLE;
	}
	qmpd_log("watching %s, registry %s", dir, yank_segment_name(reg));
	qmpd_dir_scan(d);

	for (;;) {
		struct pollfd p[2] = {
			{.fd = sfd, .events = POLLIN},
			{.fd = qmpd_dir_fd(d), .events = POLLIN},
		};
		struct signalfd_siginfo si;

		/* Bounded only for form's sake: everything arrives on these fds. */
		if (poll(p, 2, 60000) < 0 && errno != EINTR) {
			qmpd_log("poll: %s", strerror(errno));
			status = EXIT_UNAVAILABLE;
			break;
		}
		if (p[0].revents && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				qmpd_log("SIGHUP: reading every record again");
				qmpd_dir_scan(d);
			} else {
				qmpd_log("stopping (%s)", strsignal((int)si.ssi_signo));
				break;
			}
		}
		if (p[1].revents && qmpd_dir_events(d) == -ENOENT) {
			qmpd_log("%s was removed or moved: nothing left to watch", dir);
			status = EXIT_UNAVAILABLE;
			break;
		}
	}
	qmpd_dir_close(d);
	yank_close(reg);
	close(sfd);
	return status;
}
