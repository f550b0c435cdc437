#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# make demo: hung clients in three processes are listed and yanked with
# yankctl, and recover, in a few seconds.
#
# It uses a private registry (/yank-demo-PID), a loopback server that
# accepts and never answers (examples/hang-server) and three copies of
# examples/registrant, each blocked in recv() on its connections the way a
# VM's NBD disk or chardev hangs when its peer dies.  Everything it starts
# is stopped, and the segment removed, when it exits.
set -eu

B=${B:-build}
YANKCTL=$B/yankctl
EX=$B/examples
export YANK_SEGMENT=/yank-demo-$$
T=$(mktemp -d "${TMPDIR:-/tmp}/yank-demo.XXXXXX")
pids=()

cleanup() {
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -f "/dev/shm$YANK_SEGMENT"
	rm -rf "$T"
}
trap cleanup EXIT

for f in "$YANKCTL" "$EX/registrant" "$EX/hang-server"; do
	[ -x "$f" ] || { echo "demo: $f is missing: run 'make' first" >&2; exit 1; }
done

if [ -t 1 ]; then bold=$'\e[1m' plain=$'\e[0m'; else bold='' plain=''; fi
step() {
	printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"
}
# yc ARGS...: show and run a yankctl command line, bounded.
yc() {
	printf '$ yankctl %s\n' "$*"
	timeout 10 "$YANKCTL" "$@"
}
# wait_until CONDITION WHAT: poll for up to 10 s.
wait_until() {
	local tries=200
	until eval "$1"; do
		tries=$((tries - 1))
		if [ "$tries" = 0 ]; then
			echo "demo: gave up waiting for $2" >&2
			exit 1
		fi
		sleep 0.05
	done
}
count() {
	timeout 10 "$YANKCTL" list --json | grep -c '"type"' || true
}
# The clients write to one log; show what they said since last time, so
# that their lines come after the command that caused them.
shown=0
clients_say() {
	local total
	total=$(wc -l <"$T/clients.log")
	[ "$total" -gt "$shown" ] && sed -n "$((shown + 1)),${total}p" "$T/clients.log" | sed 's/^/  | /'
	shown=$total
}

step "A private registry for this demo: YANK_SEGMENT=$YANK_SEGMENT"
echo "Nothing here touches a real one; it is removed at the end."

step "Start a server that accepts connections and never answers"
"$EX/hang-server" -t 60 >"$T/port" </dev/null &
pids+=("$!")
wait_until '[ -s "$T/port" ]' "hang-server"
port=$(cat "$T/port")
echo "Listening on 127.0.0.1:$port, like an NBD server whose host just died."

step "Start three client processes; each connection hangs in recv()"
echo "Each registers its instances and sockets with libyank (see examples/registrant.c);"
echo "what they print is shown indented, after the step that caused it."
"$EX/registrant" -t 60 -c "$port" chardev:serial0 block-node:disk0 </dev/null >>"$T/clients.log" &
pids+=("$!")
wait_until '[ "$(count)" = 2 ]' "the first client"
"$EX/registrant" -t 60 "$port" chardev:monitor1 block-node:nbd1 </dev/null >>"$T/clients.log" &
pids+=("$!")
wait_until '[ "$(count)" = 4 ]' "the second client"
"$EX/registrant" -t 60 "$port" migration chardev:console2 </dev/null >>"$T/clients.log" &
pids+=("$!")
wait_until '[ "$(count)" = 6 ]' "the third client"
clients=("${pids[@]:1}")
clients_say

step "Every hung connection on the host, whichever process owns it"
yc list

step "Yank two of them: their sockets are shut down and the clients recover"
yc yank chardev:serial0 block-node:nbd1
wait_until '[ "$(count)" = 4 ]' "serial0 and nbd1 to recover"
clients_say

step "The others are still hung"
yc list

step "A yank naming an instance that does not exist yanks nothing (exit 2)"
yc yank chardev:monitor1 block-node:gone || echo "(exit status $?)"
yc list --json

step "The same registry over QMP, as QEMU management software speaks it"
echo "(for a socket: socat UNIX-LISTEN:/run/yank.qmp,fork EXEC:'yankctl qmp')"
req='{"execute":"qmp_capabilities"}
{"execute":"query-yank"}
{"execute":"yank","arguments":{"instances":[{"type":"chardev","id":"monitor1"},{"type":"block-node","node-name":"disk0"},{"type":"migration"},{"type":"chardev","id":"console2"}]}}'
printf '%s\n' "$req" | timeout 10 "$YANKCTL" qmp >"$T/qmp.out"
printf '%s\n' "$req" | sed 's/^/-> /'
sed 's/^/<- /' "$T/qmp.out"

step "Every client recovers and exits on its own"
for p in "${clients[@]}"; do
	wait_until "! kill -0 $p 2>/dev/null" "client $p to exit"
done
clients_say
yc list
echo "(nothing left registered)"

step "Who yanked what: the audit log (also in syslog)"
yc log

step "Registry health"
yc status

step "Done: six hung connections in three processes recovered, none restarted."
