#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Runs every test binary and CLI script under a time limit, then prints one
# summary line "N passed, N failed, N skipped".  Exit 0 only if none failed.
set -u
B=${B:-build}
export YANK_TEST_TIMEOUT_MULTIPLIER=${YANK_TEST_TIMEOUT_MULTIPLIER:-1}
case "$B" in *san*) export YANK_TEST_TIMEOUT_MULTIPLIER=3 ;; esac
TIMEOUT=${TIMEOUT:-300}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

# Only this run's segments: another build's run may be going on beside us.
sweep() { rm -f /dev/shm/yank-test-$$-* 2>/dev/null; }
trap sweep EXIT

export YANKCTL="$top/$B/yankctl" EXAMPLES="$top/$B/examples" HELPERS="$top/$B/tests/helpers"
passed=0 failed=0 skipped=0
failures=()

count_criterion() {
	# "[====] Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N"
	local line p f
	line=$(grep -a 'Synthesis:' "$1" | tail -n 1)
	p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
	f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
	echo "${p:-0} ${f:-0}"
}

run_one() {
	local name=$1; shift
	local log; log=$(mktemp)
	export YANK_TEST_PREFIX="/yank-test-$$-$name"
	timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1
	local rc=$?
	cat "$log"
	local p f
	if grep -aq 'Synthesis:' "$log"; then
		read -r p f < <(count_criterion "$log")
	else
		read -r p f < <(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 |
			sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1 \2/')
	fi
	p=${p:-0} f=${f:-0}
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
	elif [ "$rc" -ne 0 ]; then
		[ "$f" -eq 0 ] && f=1
		failures+=("$name (exit $rc)")
	fi
	passed=$((passed + p)) failed=$((failed + f))
	rm -f "$log"
}

for t in "$B"/tests/test-*; do
	[ -x "$t" ] || continue
	case "$t" in *.d) continue ;; esac
	run_one "$(basename "$t")" "$t" --jobs 2 -j2
done
for t in "$B"/tests/replay-fuzz-*; do
	[ -x "$t" ] || continue
	case "$t" in *.d) continue ;; esac
	run_one "$(basename "$t")" "$t" "tests/fuzz/corpus/$(basename "$t" | sed 's/^replay-fuzz-//')"
done
for t in tests/cli/*.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t" .sh)" bash "$t"
done

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
