#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# The systemd units: clean under `systemd-analyze verify`, and the QMP
# endpoint they describe works as systemd runs it (a socket, Accept=yes,
# the connection on stdin and stdout of `yankctl qmp`), driven here by
# systemd-socket-activate.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

if ! command -v systemd-analyze >/dev/null; then
	echo "skipped: systemd-analyze is not installed" >&2
	echo "0 passed, 0 failed"
	exit 77
fi
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$T/units"
for u in yank-qmp.socket yank-qmp@.service yank-qmpd.service; do
	sed "s|@BINDIR@|$(dirname "$YANKCTL")|" "$top/systemd/$u" >"$T/units/$u"
done
expect_rc 0 "systemd-analyze verify" systemd-analyze verify --man=no "$T/units/yank-qmp.socket"
check "verify says nothing" test ! -s "$T/err"
expect_rc 0 "systemd-analyze verify yank-qmpd.service" systemd-analyze verify --man=no "$T/units/yank-qmpd.service"
check "verify says nothing of yank-qmpd.service" test ! -s "$T/err"
if grep -q '^RuntimeDirectory=yank/qmp.d$' "$T/units/yank-qmpd.service" &&
	grep -q '^RuntimeDirectoryPreserve=yes$' "$T/units/yank-qmpd.service" &&
	grep -q '^Restart=on-failure$' "$T/units/yank-qmpd.service" &&
	! grep -qE '^(PrivateDevices|PrivateTmp|RemoveIPC)=yes' "$T/units/yank-qmpd.service"; then
	ok
else
	not_ok "yank-qmpd.service: its record directory kept across restarts, restarted on failure, /dev/shm and /tmp reachable"
fi
if grep -q '^Accept=yes' "$T/units/yank-qmp.socket" && grep -q '^SocketMode=0600' "$T/units/yank-qmp.socket" &&
	grep -q '^ListenStream=/run/yank/' "$T/units/yank-qmp.socket"; then
	ok
else
	not_ok "the socket unit: Accept=yes, mode 0600, under /run/yank/"
fi

if ! command -v systemd-socket-activate >/dev/null || ! command -v socat >/dev/null; then
	echo "note: systemd-socket-activate or socat missing: the endpoint is not run" >&2
	finish
	exit
fi
new_segment units
S=$seg
start_server
start_registrant a "$S" chardev:c0
systemd-socket-activate -l "$T/qmp.sock" --accept --inetd \
	"$YANKCTL" --segment "$S" qmp >"$T/activate.out" 2>&1 &
pids+=("$!")
check "the socket is listening" wait_for '[ -S "$T/qmp.sock" ]'
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-yank"}' \
	'{"execute":"yank","arguments":{"instances":[{"type":"chardev","id":"c0"}]}}' >"$T/in"
expect_rc 0 "a QMP session over the activated socket" \
	timeout 20 socat -t 5 - "UNIX-CONNECT:$T/qmp.sock" <"$T/in"
out_has '"return": [{"type": "chardev", "id": "c0"}]' "query-yank through the socket"
check "the yank through the socket released the registrant" wait_for "recovered a chardev:c0"

finish
