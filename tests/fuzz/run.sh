#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Builds every tests/fuzz/fuzz-NAME.c with clang and libFuzzer (ASan+UBSan)
# into $B/fuzz/, then fuzzes each for $FUZZ_SECONDS, starting from a copy
# of tests/fuzz/corpus/NAME in $B/fuzz/corpus-NAME (new inputs go there,
# never into the source tree).  Exits non-zero if any target crashed,
# leaked, timed out or failed to build; the input that did it is in
# $B/fuzz/artifacts-NAME/.
#
#   B=build FUZZ_SECONDS=60 tests/fuzz/run.sh [NAME...]
#
# Environment: CLANG (default clang), FUZZ_SECONDS (default 60),
# FUZZ_FLAGS (more libFuzzer flags, e.g. -jobs=2 or -only_ascii=1).
# Flag lists ($CFLAGS, $SAN, $LIBS, ...) are split on purpose.
# shellcheck disable=SC2086
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
out=$B/fuzz

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
pcs="liburcu-bp $(pkg-config --exists msgpack-c && echo msgpack-c || echo msgpack) jansson"
LIBS="$(pkg-config --libs $pcs) -pthread"
# fuzzer-no-link: the libraries get coverage counters, the target gets main().
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=gnu11 -g -O1 -Wall -Wextra -D_GNU_SOURCE -DYANK_TESTING -Iinclude -Ilibshm -Itools"

# Longest input worth trying, per target: a segment image of the seeds'
# five pages; a wire message as the agent caps it (the agent's target a
# little past that); QMP and argv text.
max_len() {
	case "$1" in
	segment) echo 20480 ;;
	wire) echo 65536 ;;
	agent) echo 65600 ;;
	qmp) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

# Archives, as the Makefile links yankctl: a target gets only the members
# it needs, so the commands (which need yankctl.c's main) stay out, and
# yankctl's getent name lookups (tools/names.c) replace the library's
# NSS ones only where something asks for them.
build() {
	mkdir -p "$out/obj/libshm" "$out/obj/tools"
	rm -f "$out/libyank.a" "$out/libyankctl.a"
	for src in libshm/*.c; do
		o=$out/obj/libshm/$(basename "$src" .c).o
		$CLANG $CFLAGS -fsanitize=fuzzer-no-link $SAN -c -o "$o" "$src" || return 1
		ar rcs "$out/libyank.a" "$o" || return 1
	done
	for src in tools/*.c; do
		case $src in tools/yankctl.c) continue ;; esac
		o=$out/obj/tools/$(basename "$src" .c).o
		$CLANG $CFLAGS -fsanitize=fuzzer-no-link $SAN -c -o "$o" "$src" || return 1
		ar rcs "$out/libyankctl.a" "$o" || return 1
	done
	for name in $targets; do
		$CLANG $CFLAGS -fsanitize=fuzzer $SAN -o "$out/fuzz-$name" \
			"tests/fuzz/fuzz-$name.c" "$out/libyankctl.a" "$out/libyank.a" $LIBS || return 1
	done
}

if [ $# -gt 0 ]; then
	targets="$*"
else
	targets=$(for f in tests/fuzz/fuzz-*.c; do basename "$f" .c | sed 's/^fuzz-//'; done | tr '\n' ' ' | sed 's/ *$//')
fi
for name in $targets; do
	if [ ! -f "tests/fuzz/fuzz-$name.c" ] || [ ! -d "tests/fuzz/corpus/$name" ]; then
		echo "fuzz: no target $name (tests/fuzz/fuzz-$name.c and tests/fuzz/corpus/$name/)" >&2
		exit 1
	fi
done

echo "fuzz: building $targets with $CLANG into $out/"
build || { echo "fuzz: build failed" >&2; exit 1; }

failed=""
for name in $targets; do
	corpus=$out/corpus-$name
	art=$out/artifacts-$name
	# Artifacts are this run's only: what is left there failed just now.
	rm -rf "$art"
	mkdir -p "$corpus" "$art"
	# The checked-in seeds (and regressions) join whatever earlier runs found.
	cp -p tests/fuzz/corpus/"$name"/* "$corpus"/
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	echo "fuzz: $name for ${FUZZ_SECONDS}s"
	# Inputs slow to run (a segment with torn slots, a QMP stream past
	# 1 MiB) are scheduled less often: entropic_scale_per_exec_time.
	YANK_TEST_PREFIX=/yank-test-fuzz "$out/fuzz-$name" -max_total_time="$FUZZ_SECONDS" \
		-max_len="$(max_len "$name")" -timeout=20 -rss_limit_mb=2048 \
		-entropic_scale_per_exec_time=1 \
		-artifact_prefix="$art/" -print_final_stats=1 $dict $FUZZ_FLAGS "$corpus" \
		>"$out/fuzz-$name.log" 2>&1
	rc=$?
	grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' \
		"$out/fuzz-$name.log" | sed "s/^/fuzz: $name: /"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz: $name FAILED (exit $rc); log $out/fuzz-$name.log, input:" >&2
		ls "$art"/ >&2
		grep -E 'ERROR|SUMMARY|invariant|runtime error' "$out/fuzz-$name.log" | head -5 >&2
		failed="$failed $name"
	fi
	rm -f /dev/shm/yank-test-fuzz-* 2>/dev/null
done

if [ -n "$failed" ]; then
	echo "fuzz: crashed:$failed (copy the input into tests/fuzz/corpus/NAME/ as a regression)" >&2
	exit 1
fi
echo "fuzz: no crash in $targets"
