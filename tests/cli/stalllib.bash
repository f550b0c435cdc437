# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Sourced after testlib.bash by the tests of stall verdicts, watch and
# metrics: connections that stall (or not) on purpose, made by
# tests/helpers/stall-peer, and the verdicts yankctl gives them.

HELPERS=${HELPERS:-$B/tests/helpers}
if [ ! -x "$HELPERS/stall-peer" ]; then
	echo "missing $HELPERS/stall-peer: build it first (make check)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# wait_line FILE WORD: the helper printed WORD (bounded: about 20 s).
wait_line() {
	wait_for "grep -qs '^$2' '$1'" 400
}

# start_pair NAME SEGMENT INSTANCE ADDR PEER-MODE REG-MODE: a stall-peer
# peer in PEER-MODE and a registrant of INSTANCE connected to it in
# REG-MODE.  ADDR is "tcp" or "unix" (a socket under $T).  Sets
# NAME_peer and NAME_reg (pids); their output is $T/NAME.peer, $T/NAME.reg.
start_pair() {
	local name=$1 s=$2 inst=$3 addr=$4 pmode=$5 rmode=$6 p
	local paddr=tcp raddr
	[ "$addr" = unix ] && paddr="unix:$T/$name.sock"
	"$HELPERS/stall-peer" -t 120 peer "$paddr" "$pmode" >"$T/$name.peer" 2>&1 </dev/null &
	p=$!
	pids+=("$p")
	printf -v "${name}_peer" %s "$p"
	if ! wait_line "$T/$name.peer" 'PORT\|LISTENING'; then
		echo "peer $name did not start: $(cat "$T/$name.peer")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
	if [ "$addr" = unix ]; then
		raddr=$paddr
	else
		raddr="tcp:$(sed -n 's/^PORT //p' "$T/$name.peer")"
	fi
	"$HELPERS/stall-peer" -t 120 reg "$s" "$inst" "$raddr" "$rmode" >"$T/$name.reg" 2>&1 </dev/null &
	p=$!
	pids+=("$p")
	printf -v "${name}_reg" %s "$p"
	if ! wait_line "$T/$name.reg" READY; then
		echo "registrant $name did not start: $(cat "$T/$name.reg")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
}

# verdict SEGMENT ID [YANKCTL OPTIONS]: the verdict of the socket of
# chardev:ID in one "list --json" (into $T/v.json), or "none".
verdict() {
	local s=$1 id=$2
	shift 2
	timeout 30 "$YANKCTL" --segment "$s" --json list "$@" >"$T/v.json" 2>"$T/v.err" || true
	python3 -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    print("none"); sys.exit(0)
for o in d:
    if o.get("id") == sys.argv[2] and o.get("sockets"):
        print(o["sockets"][0]["verdict"]); sys.exit(0)
print("none")' "$T/v.json" "$id"
}

# wait_verdict SEGMENT ID WANT: list until chardev:ID is judged WANT
# (bounded: 120 lists of at least 200 ms each).  The verdicts seen are
# in $T/seen.
wait_verdict() {
	local s=$1 id=$2 want=$3 tries=120 v
	: >"$T/seen"
	while [ "$tries" -gt 0 ]; do
		v=$(verdict "$s" "$id")
		echo "$v" >>"$T/seen"
		[ "$v" = "$want" ] && return 0
		tries=$((tries - 1))
	done
	return 1
}

# all_stopped PID: every thread of PID is stopped (SIGSTOP delivered to all).
all_stopped() {
	local t st
	for t in /proc/"$1"/task/*/stat; do
		st=$(sed 's/.*) //' "$t" | cut -d' ' -f1)
		[ "$st" = T ] || [ "$st" = t ] || return 1
	done
}
