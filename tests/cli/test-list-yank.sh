#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl list, yank and gc against live registrants: the table and the
# JSON shapes and order, and each exit status of yank provoked for real:
# 0 (yanked, the owner recovers), 2 (not found, nothing yanked), 3 (a
# stopped owner's callback could not run), 4 (corrupt segment).
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

need_python3

# --- No segment at all: an empty registry, and nothing gets created. ---
new_segment none
N=$seg
expect_rc 0 "list of a missing segment" "$YANKCTL" --segment "$N" list
check "list of a missing segment prints nothing" test ! -s "$T/out"
expect_rc 0 "list --json of a missing segment" "$YANKCTL" --segment "$N" list --json
check "list --json of a missing segment is []" test "$(cat "$T/out")" = "[]"
expect_rc 2 "yank on a missing segment" "$YANKCTL" --segment "$N" yank chardev:c0 migration
err_has "yankctl: no registry named $N: nothing yanked" "missing segment: the registry is named"
if grep -q 'Instance not found' "$T/err"; then not_ok "missing segment blamed on the instance: $(cat "$T/err")"; else ok; fi
expect_rc 0 "gc of a missing segment" "$YANKCTL" --segment "$N" gc
out_has "reaped 0 instances" "gc of a missing segment reaps nothing"
check "nothing created by looking" test ! -e "/dev/shm$N"

# --- Two owners, four instances, registered in a known order. ---
new_segment list
S=$seg
start_server
start_registrant a "$S" -c chardev:a0 block-node:a1
start_registrant b "$S" chardev:b0 migration

expect_rc 0 "list" "$YANKCTL" --segment "$S" list
check "table has a header and four rows" test "$(wc -l <"$T/out")" = 5
if head -1 "$T/out" | grep -qE '^TYPE +NAME +PID +FDS +CALLBACKS +VERDICT +COMMAND$'; then ok; else not_ok "header: $(head -1 "$T/out")"; fi
if awk 'NR > 1 { print $1 ":" $2 }' "$T/out" | tr '\n' ' ' | grep -qx 'chardev:a0 block-node:a1 chardev:b0 migration:- '; then
	ok
else
	not_ok "rows in registration order: $(cat "$T/out")"
fi
# The owner's whole command line, last, as ps(1) shows it.
if grep -qE "^block-node +a1 +$a_pid +1 +1 +(waiting [0-9]+(ms|s)|idle) +[^ ]*/registrant -s $S .*chardev:a0 block-node:a1\$" "$T/out"; then ok; else not_ok "a1 row: $(cat "$T/out")"; fi
if grep -qE "^migration +- +$b_pid +1 +0 +(waiting [0-9]+(ms|s)|idle) +[^ ]*/registrant -s $S " "$T/out"; then ok; else not_ok "migration row: $(cat "$T/out")"; fi
# Columns line up: every row's PID starts where the header's does.
col=$(head -1 "$T/out" | grep -bo 'PID' | cut -d: -f1)
if awk -v c="$col" 'NR > 1 && substr($0, c + 1, 1) !~ /[0-9]/ { bad = 1 } END { exit bad }' "$T/out"; then ok; else not_ok "aligned columns: $(cat "$T/out")"; fi

expect_rc 0 "list --json" "$YANKCTL" --segment "$S" list --json
cp "$T/out" "$T/list.json"
json_check "$T/list.json" 'isinstance(d, list) and len(d) == 4' "a JSON array of four"
json_check "$T/list.json" '[(o["type"], o.get("id", o.get("node-name"))) for o in d] == [("chardev", "a0"), ("block-node", "a1"), ("chardev", "b0"), ("migration", None)]' "QMP fields, in registration order"
json_check "$T/list.json" 'set(d[0]) == {"type", "id", "pid", "command", "alive", "stopped", "fds", "callbacks", "sockets"}' "chardev members"
json_check "$T/list.json" 'set(d[1]) == {"type", "node-name", "pid", "command", "alive", "stopped", "fds", "callbacks", "sockets"}' "block-node members"
json_check "$T/list.json" 'set(d[3]) == {"type", "pid", "command", "alive", "stopped", "fds", "callbacks", "sockets"}' "migration has no key member"
json_check "$T/list.json" "[o['pid'] for o in d] == [$a_pid, $a_pid, $b_pid, $b_pid]" "owner pids"
json_check "$T/list.json" '[(o["fds"], o["callbacks"]) for o in d] == [(1, 0), (1, 1), (1, 0), (1, 0)]' "record counts"
json_check "$T/list.json" 'all(o["alive"] is True and o["stopped"] is False and o["command"].split()[0].endswith("/registrant") and "-s" in o["command"].split() for o in d)' "owners alive, command named"

# --- Exit 0: the instance is yanked and its owner recovers. ---
expect_rc 0 "yank chardev:a0" "$YANKCTL" --segment "$S" yank chardev:a0
check "yank prints nothing on success" test ! -s "$T/out" -a ! -s "$T/err"
check "a0's owner recovered" wait_for "recovered a chardev:a0"
check "a0 unregistered after recovery" wait_for "! listed '$S' '\"id\": \"a0\"'"
check "a1 untouched by the a0 yank" test -z "$(grep -F 'block-node:a1: recv' "$T/a.out")"

# --- Exit 2: one missing instance and nothing at all is yanked. ---
expect_rc 2 "yank with a missing instance" "$YANKCTL" --segment "$S" yank block-node:a1 chardev:nope chardev:b0
err_has "yankctl: chardev:nope: Instance not found" "the missing instance is named"
if grep -qF 'block-node:a1' "$T/err"; then not_ok "present instance reported missing: $(cat "$T/err")"; else ok; fi
expect_rc 2 "yank --json with a missing instance" "$YANKCTL" --segment "$S" --json yank block-node:nope
cp "$T/out" "$T/missing.json"
json_check "$T/missing.json" 'd == {"missing": [{"type": "block-node", "node-name": "nope"}]}' "--json names the missing instance"
sleep 0.3
if grep -qE 'block-node:a1: recv|chardev:b0: recv' "$T/a.out" "$T/b.out"; then
	not_ok "a failed lookup yanked something: $(cat "$T/a.out" "$T/b.out")"
else
	ok
fi

# --- Exit 3: a stopped owner cannot run its callback; its fd is still
# shut down (pidfd fallback), and it recovers once continued. ---
kill -STOP "$a_pid"
start=$(date +%s%N)
expect_rc 3 "yank of a stopped owner's callback" "$YANKCTL" --segment "$S" --timeout 300 --json yank block-node:a1
took=$((($(date +%s%N) - start) / 1000000))
kill -CONT "$a_pid"
cp "$T/out" "$T/partial.json"
err_has "yankctl: block-node:a1: pid $a_pid" "the failure names instance and owner"
err_has "callback not run" "the failure gives the reason"
json_check "$T/partial.json" 'any(f["reason"] == "callback" and f["node-name"] == "a1" and f["fd"] is None for f in d["failures"])' "--json lists the failed callback"
check "bounded by --timeout (took ${took} ms)" test "$took" -lt 5000
check "a1's owner recovered after SIGCONT" wait_for "recovered a block-node:a1"
# Reported as not run, so it must never run, even once the owner continues.
check "the callback reported not run never ran" test -z "$(grep 'callback ran' "$T/a.out")"
check "a exits 0 once all recovered" wait_for "! kill -0 $a_pid 2>/dev/null"
wait "$a_pid"
check "a's exit status" test $? = 0

# --- An instance listed twice is yanked twice; migration by name. ---
expect_rc 0 "yank b0 twice and migration" "$YANKCTL" --segment "$S" yank chardev:b0 chardev:b0 migration
check "b recovered b0" wait_for "recovered b chardev:b0"
check "b recovered migration" wait_for "recovered b migration"
check "b exits" wait_for "! kill -0 $b_pid 2>/dev/null"
expect_rc 0 "list of an emptied registry" "$YANKCTL" --segment "$S" list
check "nothing listed once all unregistered" test ! -s "$T/out"
expect_rc 0 "list --json of an emptied registry" "$YANKCTL" --segment "$S" list --json
check "[] once all unregistered" test "$(cat "$T/out")" = "[]"
expect_rc 2 "yank of a gone instance" "$YANKCTL" --segment "$S" yank chardev:a0

# --- A killed owner: shown as dead (or already reaped), reaped by gc. ---
start_registrant c "$S" chardev:c0 block-node:c1
{ kill -KILL "$c_pid" && wait "$c_pid"; } 2>/dev/null
expect_rc 0 "list with a dead owner" "$YANKCTL" --segment "$S" list
if [ ! -s "$T/out" ] || grep -qE "^chardev +c0 +$c_pid +[0-9]+ +[0-9]+ +[a-z]+ +<dead>\$" "$T/out"; then ok; else not_ok "dead owner marked: $(cat "$T/out")"; fi
expect_rc 0 "gc" "$YANKCTL" --segment "$S" gc
if grep -qE '^reaped [0-9]+ instances?$' "$T/out"; then ok; else not_ok "gc output: $(cat "$T/out")"; fi
expect_rc 0 "gc --json" "$YANKCTL" --segment "$S" --json gc
cp "$T/out" "$T/gc.json"
json_check "$T/gc.json" 'd == {"reaped": 0}' "a second gc reaps nothing"
expect_rc 0 "list after gc" "$YANKCTL" --segment "$S" list --json
check "dead owner's instances gone after gc" test "$(cat "$T/out")" = "[]"
expect_rc 2 "yank of a reaped instance" "$YANKCTL" --segment "$S" yank chardev:c0

# --- Output to a reader that went away: no SIGPIPE death, no noise. ---
start_registrant d "$S" chardev:d0
{
	sleep 0.3
	timeout 10 "$YANKCTL" --segment "$S" list 2>"$T/pipe.err"
	echo $? >"$T/pipe.rc"
} | true
check "closed stdout: exit 0, not killed by SIGPIPE" test "$(cat "$T/pipe.rc")" = 0
check "closed stdout: nothing on stderr" test ! -s "$T/pipe.err"

# --- A stopped owner shows as stopped. ---
start_registrant st "$S" chardev:st0
kill -STOP "$st_pid"
check "the owner stopped" wait_for "grep -q '^State:.*T' /proc/$st_pid/status"
expect_rc 0 "list with a stopped owner" "$YANKCTL" --segment "$S" list
if grep -qE "^chardev +st0 +$st_pid +1 +0 +(waiting [0-9]+(ms|s)|idle) +<stopped> [^ ]*registrant" "$T/out"; then ok; else not_ok "stopped owner: $(cat "$T/out")"; fi
expect_rc 0 "list --json with a stopped owner" "$YANKCTL" --segment "$S" --json list
cp "$T/out" "$T/stopped.json"
json_check "$T/stopped.json" 'any(o.get("id") == "st0" and o["stopped"] is True for o in d)' "JSON: stopped"
kill -CONT "$st_pid"

# --- On a terminal: a line per instance yanked (not with -q), and an empty list says so. ---
if command -v script >/dev/null; then
	# tty_run COMMAND...: run it on a pseudo-terminal; its output in $T/out.
	tty_run() {
		timeout 20 script -qec "$(printf '%q ' "$@")" /dev/null </dev/null >"$T/out" 2>&1
	}
	new_segment empty
	tty_run "$YANKCTL" --segment "$seg" list
	check "an empty list on a terminal says so" grep -q 'nothing is registered' "$T/out"
	start_registrant tt "$S" chardev:tt0 chardev:tt1
	tty_run "$YANKCTL" --segment "$S" yank chardev:tt0
	check "a yank on a terminal says what it yanked" grep -q 'yanked chardev:tt0' "$T/out"
	tty_run "$YANKCTL" --segment "$S" -q yank chardev:tt1
	check "-q: nothing" test -z "$(tr -d '\r\n' <"$T/out")"
	check "-q still yanked" wait_for "recovered tt chardev:tt1"
	expect_rc 0 "not a terminal: a yank prints nothing" "$YANKCTL" --segment "$S" yank chardev:st0
	check "nothing on a pipe" test ! -s "$T/out"
else
	echo "note: script(1) missing: the terminal checks are skipped" >&2
fi

# --- Wide characters line up; control characters never reach the terminal. ---
new_segment wide
W=$seg
# A command name with a C1 control (U+0085) in it: the registrant run
# through a link of that name.
ln -s "$(cd "$EXAMPLES" && pwd)/registrant" "$T/r$(printf '\xc2\x85')x"
"$T/r$(printf '\xc2\x85')x" -s "$W" -t 90 "$port" 'chardev:日本語' chardev:ab >"$T/w.out" 2>&1 </dev/null &
pids+=("$!")
check "the wide registrant started" wait_for "grep -qs 'blocked in recv' '$T/w.out'"
expect_rc 0 "list with wide names" "$YANKCTL" --segment "$W" list
if python3 - "$T/out" <<'PY'
import sys, unicodedata
rows = open(sys.argv[1], encoding='utf-8').read().splitlines()[1:]
def cols(s):
    return sum(2 if unicodedata.east_asian_width(c) in 'WF' else 1 for c in s)
# The PID column starts at the same display column on every row.
starts = {cols(r[:r.index(r.split()[2])]) for r in rows}
sys.exit(0 if len(rows) == 2 and len(starts) == 1 else 1)
PY
then ok; else not_ok "columns misaligned with a wide name: $(cat "$T/out")"; fi
if grep -qF 'r\xc2\x85x' "$T/out" && ! grep -q "$(printf '\xc2\x85')" "$T/out"; then
	ok
else
	not_ok "a C1 control in a command name reached the terminal: $(od -c "$T/out" | head -5)"
fi

# --- Exit 4: a segment that is not a registry. ---
new_segment garbage
head -c 65536 /dev/urandom >"/dev/shm$seg"
chmod 600 "/dev/shm$seg"
expect_rc 4 "list of a corrupt segment" "$YANKCTL" --segment "$seg" list
err_has "yankctl: segment $seg: " "message names the segment"
expect_rc 4 "yank on a corrupt segment" "$YANKCTL" --segment "$seg" yank chardev:c0

finish
