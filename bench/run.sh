#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# bench/run.sh: the SPEC §8 benchmarks, as `make bench` runs them.
#
#   B=build bench/run.sh
#
# Runs build/bench/yank-bench (every figure, one run, a few tens of seconds),
# prints each figure beside its target, writes bench/results.json, and
# draws $B/plots/perf-*.svg with gnuplot (installed here when missing and we
# are root; otherwise the plots are skipped with a message).  Benchmarks
# measure, they do not fail on a missed target: the exit status is non-zero
# only when the harness itself could not run.
#
# YANK_BENCH_ONLY=register,query,e2e,owners,contention,scaling,memory,floors,idle,preload,qmpd,stalls
# runs only those sections (then results.json lacks the other rows).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}

for f in "$B/bench/yank-bench" "$B/bench/peer" "$B/yankctl"; do
	if [ ! -x "$f" ]; then
		echo "bench: $f is missing: run 'make bench'" >&2
		exit 1
	fi
done

# Plotting is optional; install it before measuring, so apt does not run
# alongside the benchmarks.
plots=1
if ! command -v gnuplot >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing gnuplot-nox for the plots"
		export DEBIAN_FRONTEND=noninteractive
		(apt-get install -y -q gnuplot-nox || (apt-get update -q && apt-get install -y -q gnuplot-nox)) \
			>/dev/null 2>&1 || true
	fi
	if ! command -v gnuplot >/dev/null 2>&1; then
		echo "bench: gnuplot not available (install gnuplot-nox): plots skipped" >&2
		plots=0
	fi
fi

# A partial run (YANK_BENCH_ONLY) leaves results.json and the plots alone.
results=bench/results.json
if [ -n "${YANK_BENCH_ONLY:-}" ]; then
	plots=0
fi

data=$(mktemp -d "${TMPDIR:-/tmp}/yank-bench.XXXXXX")
[ -n "${YANK_BENCH_ONLY:-}" ] && results=$data/results.json
# Segments are /yank-bench-$$-*: the program unlinks them; this covers a kill.
export YANK_BENCH_TAG=$$
trap 'rm -rf "$data"; rm -f /dev/shm/yank-bench-$$-* 2>/dev/null || true' EXIT

echo "bench: $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "bench: running $B/bench/yank-bench (progress on stderr)"
# The program bounds itself (an alarm); timeout is the belt to its braces.
timeout -k 10 300 "$B/bench/yank-bench" "$B" "$data"

# SPEC §12: connect and close with libyank-preload.so against without it,
# both in this run, on a registry of the run's own.
if [ -z "${YANK_BENCH_ONLY:-}" ] || [[ ",$YANK_BENCH_ONLY," == *,preload,* ]]; then
	if [ -x "$B/bench/preload-bench" ] && [ -f "$B/libyank-preload.so" ]; then
		echo "bench: connect/close with and without libyank-preload.so" >&2
		base=$("$B/bench/preload-bench" "$data/figures.jsonl")
		# shellcheck disable=SC2086 # two numbers
		YANK_SEGMENT=/yank-bench-$$-preload LD_PRELOAD=$PWD/$B/libyank-preload.so \
			"$B/bench/preload-bench" "$data/figures.jsonl" $base
	else
		echo "bench: $B/bench/preload-bench or libyank-preload.so missing: preload figures skipped" >&2
	fi
fi

# SPEC §11: yankctl through yank-qmpd against socat straight to QEMU, to a
# QEMU chardev peer's EOF, in this run (skipped without QEMU or socat).
if [ -z "${YANK_BENCH_ONLY:-}" ] || [[ ",$YANK_BENCH_ONLY," == *,qmpd,* ]]; then
	timeout -k 10 200 python3 bench/qmpd-bench.py "$B" "$data/figures.jsonl" ||
		echo "bench: the yank-qmpd figures could not be measured" >&2
fi
# What socket state costs: list with it against list without (--sample 0)
# over 10,000 registered sockets, and watch's CPU per second with 1,000.
if [ -z "${YANK_BENCH_ONLY:-}" ] || [[ ",$YANK_BENCH_ONLY," == *,stalls,* ]]; then
	if [ -x "$B/bench/stalls-bench" ]; then
		echo "bench: list and watch with socket state (about 30 s)" >&2
		timeout -k 10 300 "$B/bench/stalls-bench" "$B" "$data/figures.jsonl" ||
			echo "bench: stalls-bench failed: its figures are missing" >&2
	else
		echo "bench: $B/bench/stalls-bench missing: socket-state figures skipped" >&2
	fi
fi

status=0
python3 bench/report.py "$data/figures.jsonl" "$results" || status=$?
[ -n "${YANK_BENCH_ONLY:-}" ] && status=0

if [ "$plots" = 1 ]; then
	# Under the build directory: the copies in docs/ are refreshed on
	# purpose (make bench-docs), never by a measurement run.
	mkdir -p "$B/plots"
	if gnuplot -e "datadir='$data'; outdir='$B/plots'" bench/plots.gp 2>"$data/gnuplot.err"; then
		echo "bench: plots written in $B/plots: $(cd "$B/plots" && ls perf-*.svg | tr '\n' ' ')"
	else
		echo "bench: gnuplot failed; plots not updated:" >&2
		cat "$data/gnuplot.err" >&2
	fi
fi
if [ -n "${YANK_BENCH_KEEP:-}" ]; then
	mkdir -p "$YANK_BENCH_KEEP"
	cp "$data"/* "$YANK_BENCH_KEEP"/
	echo "bench: raw series kept in $YANK_BENCH_KEEP"
fi
exit "$status"
