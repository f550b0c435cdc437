/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * rb-scribble: what any process with write access to a segment can do to
 * it, for tests/integration/test-security.c.  It maps the segment with
 * whatever ids it runs as, and changes one header field behind the
 * library's back.
 *
 *   rb-scribble SEG gid N     the group recorded in the header
 *
 * Prints "ok" or "fail E WHAT".  White-box: it uses libshm/layout.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"

int main(int argc, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (argc != 4 || strcmp(argv[2], "gid")) {
		fprintf(stderr, "usage: rb-scribble SEG gid N\n");
		return 2;
	}
	int fd = shm_open(argv[1], O_RDWR | O_CLOEXEC, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("fail %d open\n", -errno);
		return 0;
	}
	if ((size_t)st.st_size < sizeof(struct seg_hdr)) {
		printf("fail %d size\n", -EPROTO);
		return 0;
	}
	struct seg_hdr *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		printf("fail %d mmap\n", -errno);
		return 0;
	}
	__atomic_store_n(&h->gid, (uint32_t)strtoul(argv[3], NULL, 0), __ATOMIC_RELEASE);
	printf("ok\n");
	return 0;
}
