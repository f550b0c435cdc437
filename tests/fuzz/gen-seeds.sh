#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Rewrites the seed-* files of tests/fuzz/corpus/*/ from gen-seeds.c.
# Needs the test library: run `make lib` first.  Crash regressions (any
# file not named seed-*) are left alone.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
B=${B:-build}
CC=${CC:-cc}
mkdir -p "$B/fuzz"
pcs="liburcu-bp $(pkg-config --exists msgpack-c && echo msgpack-c || echo msgpack)"
# shellcheck disable=SC2046,SC2086 # the flag lists are split on purpose
$CC -std=gnu11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -DYANK_TESTING \
	-Iinclude -Ilibshm -o "$B/fuzz/gen-seeds" tests/fuzz/gen-seeds.c \
	"$B/libyank-test.a" $(pkg-config --libs $pcs) -pthread
"$B/fuzz/gen-seeds" tests/fuzz/corpus
for d in tests/fuzz/corpus/*/; do
	printf '%-28s %4d files %8d bytes\n' "$d" "$(find "$d" -type f | wc -l)" "$(cat "$d"* | wc -c)"
done
