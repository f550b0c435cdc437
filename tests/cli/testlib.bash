# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Sourced by tests/cli/test-*.sh: counters, checks, peer processes, cleanup.
#
# Environment (set by tests/run-tests.sh; defaults for a run by hand):
#   YANKCTL           absolute path of the yankctl under test
#   B, EXAMPLES       build directory and its examples/ (registrant, hang-server)
#   YANK_TEST_PREFIX  unique prefix for segment names, e.g. /yank-test-1234
#
# Every command that could hang runs under timeout; every wait polls a
# bounded number of times; the EXIT trap kills what the test started and
# removes its segments.  The last line printed is "N passed, N failed".

set -u

B=${B:-build}
YANKCTL=${YANKCTL:-$PWD/$B/yankctl}
EXAMPLES=${EXAMPLES:-$B/examples}
YANK_TEST_PREFIX=${YANK_TEST_PREFIX:-/yank-test-cli$$}
# Each test names its segment; an inherited default must not leak in.
unset YANK_SEGMENT

passed=0
failed=0
pids=()
segments=()
T=$(mktemp -d "${TMPDIR:-/tmp}/yank-cli.XXXXXX")

cleanup() {
	local p s
	# SIGTERM first: timeout(1) passes it on to the command it runs,
	# which SIGKILL would orphan.  Then SIGKILL for the stopped or stuck.
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.1
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for s in "${segments[@]}"; do
		rm -f "/dev/shm$s"
	done
	rm -rf "$T"
}
trap cleanup EXIT
# A runner's timeout sends SIGTERM: exit through the EXIT trap all the same.
trap 'exit 143' TERM
trap 'exit 130' INT

for f in "$YANKCTL" "$EXAMPLES/registrant" "$EXAMPLES/hang-server"; do
	if [ ! -x "$f" ]; then
		echo "missing $f: build it first (make)" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done

ok() {
	passed=$((passed + 1))
}

not_ok() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}

# check DESCRIPTION COMMAND...: one check that COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok; else not_ok "$desc"; fi
}

# run COMMAND...: bounded; stdout in $T/out, stderr in $T/err, status in $rc.
run() {
	rc=0
	timeout -k 2 20 "$@" >"$T/out" 2>"$T/err" || rc=$?
}

# expect_rc STATUS DESCRIPTION COMMAND...: run it, one check on its status.
expect_rc() {
	local want=$1 desc=$2
	shift 2
	run "$@"
	if [ "$rc" = "$want" ]; then
		ok
	else
		not_ok "$desc: exit $rc, expected $want; stderr: $(head -c 400 "$T/err")"
	fi
}

# out_has / err_has FIXED-STRING DESCRIPTION: one check on the last run's output.
out_has() {
	if grep -qF -- "$1" "$T/out"; then ok; else not_ok "$2: stdout lacks '$1': $(head -c 400 "$T/out")"; fi
}
err_has() {
	if grep -qF -- "$1" "$T/err"; then ok; else not_ok "$2: stderr lacks '$1': $(head -c 400 "$T/err")"; fi
}

# wait_for CONDITION [TRIES]: poll a shell condition every 50 ms.
wait_for() {
	local cond=$1 tries=${2:-100}
	while [ "$tries" -gt 0 ]; do
		eval "$cond" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# new_segment SUFFIX: a segment name for this test, removed at exit.
new_segment() {
	seg="$YANK_TEST_PREFIX-$1"
	segments+=("$seg")
	rm -f "/dev/shm$seg"
}

# start_server: a hang-server; sets $port.
start_server() {
	"$EXAMPLES/hang-server" -t 90 >"$T/port" 2>"$T/server.err" </dev/null &
	pids+=("$!")
	if ! wait_for '[ -s "$T/port" ]'; then
		echo "hang-server did not start: $(cat "$T/server.err")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
	port=$(cat "$T/port")
}

# start_registrant NAME SEGMENT [-c] INSTANCE...: a registrant blocked in
# recv() on each instance; its pid in $NAME_pid, its output in $T/NAME.out.
start_registrant() {
	local name=$1 s=$2
	shift 2
	start_peer "$name" "$EXAMPLES/registrant" -s "$s" -t 90 "$port" "$@"
}

# start_peer NAME COMMAND...: run a registrant command line (as another
# user, say) and wait until it is blocked in recv(); as start_registrant.
start_peer() {
	local name=$1 pid
	shift
	"$@" >"$T/$name.out" 2>&1 </dev/null &
	pid=$!
	pids+=("$pid")
	printf -v "${name}_pid" %s "$pid"
	if ! wait_for "grep -qs 'blocked in recv' '$T/$name.out'"; then
		echo "registrant $name did not start: $(cat "$T/$name.out")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
}

# recovered NAME INSTANCE: the registrant reported that INSTANCE's recv() returned.
recovered() {
	grep -qsF -- "$2: recv() returned" "$T/$1.out"
}

# listed SEGMENT INSTANCE-JSON-FRAGMENT: list --json shows it.
listed() {
	timeout 10 "$YANKCTL" --segment "$1" list --json 2>/dev/null | grep -qF -- "$2"
}

# need_python3: the JSON checks below need it; without it the test is skipped (77).
need_python3() {
	if ! command -v python3 >/dev/null; then
		echo "python3 is needed to check JSON" >&2
		echo "0 passed, 0 failed"
		exit 77
	fi
}

# json_check FILE PYTHON-EXPRESSION DESCRIPTION: the expression, over the
# parsed document "d", must be true.
json_check() {
	if python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>"$T/py.err"; then
		ok
	else
		not_ok "$3: $2 is false for $(head -c 600 "$1") $(cat "$T/py.err")"
	fi
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
