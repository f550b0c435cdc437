/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copyright (C) 2026 The yank authors */
/*
 * The one entry point every fuzz target defines.  libFuzzer calls it for
 * each input; replay.c calls it for each file of a checked-in corpus, so
 * the targets also run, with or without clang, in every `make test`.
 */
#ifndef YANK_FUZZ_H
#define YANK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a crash, so that libFuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                                                                        \
	do {                                                                                     \
		if (!(cond))                                                                     \
			fuzz_fail(__FILE__, __LINE__, #cond);                                    \
	} while (0)

/* Here rather than in replay.c: libFuzzer builds link no replay.c. */
static inline __attribute__((noreturn)) void fuzz_fail(const char *file, int line,
							const char *what)
{
	fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
	abort();
}

#endif
