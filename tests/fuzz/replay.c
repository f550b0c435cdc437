/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * Corpus replay: a fuzz target as a plain program.  Every file of the
 * directories (or the files) named on the command line goes through
 * LLVMFuzzerTestOneInput() once, in name order.  A crash, a sanitizer
 * report or a broken FUZZ_ASSERT is the failure: there is no other way to
 * fail, so the last line is always "N passed, 0 failed".  Whatever kills
 * the process first names the input it was replaying on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Present only when a sanitizer runtime is linked in. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static char current[4096];

static void say_current(void)
{
	static const char pre[] = "replay: crashed on input ";

	/* Async-signal-safe: this also runs from a signal handler. */
	if (!current[0])
		return;
	if (write(STDERR_FILENO, pre, sizeof(pre) - 1) < 0 ||
	    write(STDERR_FILENO, current, strlen(current)) < 0 || write(STDERR_FILENO, "\n", 1) < 0)
		return;
}

static void on_fatal(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A sanitizer owns SIGSEGV and friends and reports far better than we
 * could, so then we only add the input's name through its death callback.
 * SIGABRT (a broken FUZZ_ASSERT, a UBSan abort) is always ours: no
 * sanitizer reports it.  Our handlers name the input and die of the same
 * signal.
 */
static void install_reporters(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };

	signal(SIGABRT, on_fatal);
	if (__sanitizer_set_death_callback) {
		__sanitizer_set_death_callback(say_current);
		return;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	/* Exactly the input's size, so that ASan sees a read one past its end. */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			free(buf);
			close(fd);
			return e;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

static int run_file(const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int r = read_file(path, &data, &len);

	if (r < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
		return r;
	}
	snprintf(current, sizeof(current), "%s", path);
	LLVMFuzzerTestOneInput(data, len);
	current[0] = '\0';
	free(data);
	return 0;
}

static int regular(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Returns the number of inputs replayed, or a negative errno. */
static long run_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	long done = 0;
	int n;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -EIO : 1;
	n = scandir(path, &names, regular, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char file[4096];

		snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		free(names[i]);
		if (done >= 0 && run_file(file) == 0)
			done++;
		else
			done = -EIO;
	}
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	long total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR|FILE...\n", argv[0]);
		return 1;
	}
	/*
	 * UBSan, told to stop at its first error, exits without a word about
	 * the input.  Its options are read before main(), so start again with
	 * ones that make it abort, which on_fatal() reports.
	 */
	if (__sanitizer_set_death_callback && !getenv("UBSAN_OPTIONS")) {
		setenv("UBSAN_OPTIONS", "abort_on_error=1:print_stacktrace=1", 1);
		execv("/proc/self/exe", argv);
	}
	install_reporters();
	for (int i = 1; i < argc; i++) {
		long n = run_path(argv[i]);

		if (n < 0)
			return 1;
		total += n;
	}
	/* A misspelt or empty corpus must not pass for a clean run. */
	if (total == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	printf("%ld passed, 0 failed\n", total);
	return 0;
}
