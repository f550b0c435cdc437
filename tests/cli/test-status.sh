#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl status, and the registry-unavailable exit status 4 from every
# command: a segment of random bytes, a truncated one, one owned by
# another uid, one that others may write, and (as a real second uid) one
# we may not open at all.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

need_python3

# --- A segment that does not exist. ---
new_segment absent
expect_rc 0 "status of a missing segment" "$YANKCTL" --segment "$seg" status
out_has "segment:         $seg" "status names the segment"
out_has "no registry yet" "status says there is none"
expect_rc 0 "status --json of a missing segment" "$YANKCTL" --segment "$seg" status --json
cp "$T/out" "$T/absent.json"
json_check "$T/absent.json" "d == {'segment': '$seg', 'exists': False}" "missing segment in JSON"
check "status created nothing" test ! -e "/dev/shm$seg"

# --- A healthy segment with one owner. ---
new_segment live
S=$seg
start_server
start_registrant r "$S" -c chardev:c0 block-node:n0
expect_rc 0 "status" "$YANKCTL" --segment "$S" status
out_has "segment:         $S" "status: segment"
out_has "layout version:  " "status: layout"
out_has "instances:       2 of " "status: instances used"
out_has "records:         3 of " "status: records used (2 fds + 1 callback)"
out_has ": 1 live, 0 dead" "status: processes"
out_has "lock:            free" "status: lock"
out_has "torn slots:      0" "status: torn slots"
out_has "integrity:       ok" "status: integrity"
expect_rc 0 "status --json" "$YANKCTL" --segment "$S" --json status
cp "$T/out" "$T/status.json"
json_check "$T/status.json" "d['segment'] == '$S' and d['exists'] is True" "JSON: segment"
json_check "$T/status.json" 'd["instances"]["used"] == 2 and d["instances"]["max"] >= 16384' "JSON: instances"
json_check "$T/status.json" 'd["records"]["used"] == 3 and d["records"]["max"] >= 65536' "JSON: records"
json_check "$T/status.json" 'd["processes"]["live"] == 1 and d["processes"]["dead"] == 0' "JSON: processes"
json_check "$T/status.json" 'd["lock"] == {"holder": None, "holder-alive": False}' "JSON: lock"
json_check "$T/status.json" 'd["integrity"] == {"ok": True, "detail": None} and d["torn-slots"] == 0' "JSON: integrity"
json_check "$T/status.json" 'd["segment-bytes"] > 0 and d["layout-version"] >= 1' "JSON: layout and size"
expect_rc 0 "gc of a healthy segment" "$YANKCTL" --segment "$S" gc
out_has "reaped 0 instances" "gc reaps nothing live"

# A dead owner shows in the process counts until it is reaped.
start_registrant k "$S" chardev:k0
{ kill -KILL "$k_pid" && wait "$k_pid"; } 2>/dev/null
expect_rc 0 "status with a dead owner" "$YANKCTL" --segment "$S" --json status
cp "$T/out" "$T/dead.json"
json_check "$T/dead.json" 'd["processes"]["live"] == 1 and d["integrity"]["ok"]' "a killed owner is not counted live"
expect_rc 0 "gc after a kill" "$YANKCTL" --segment "$S" gc
expect_rc 0 "status after gc" "$YANKCTL" --segment "$S" --json status
cp "$T/out" "$T/gc.json"
json_check "$T/gc.json" 'd["processes"]["dead"] == 0 and d["instances"]["used"] == 2' "gc reaped the dead owner only"

# --- Exit 4: corrupt segments, from every command. ---
# expect_unavailable SEGMENT WHY: each command exits 4 naming the segment.
expect_unavailable() {
	local c
	for c in list status gc "yank chardev:c0"; do
		# shellcheck disable=SC2086
		expect_rc 4 "$2: $c" "$YANKCTL" --segment "$1" --timeout 300 $c
		err_has "yankctl: segment $1: " "$2: $c names the segment"
		# status still reports (checked below); the others print nothing.
		if [ "$c" != status ]; then
			check "$2: $c prints nothing on stdout" test ! -s "$T/out"
		fi
	done
	expect_rc 4 "$2: status report" "$YANKCTL" --segment "$1" --timeout 300 status
	out_has "segment:         $1" "$2: status report names the segment"
	out_has "state:           unusable: " "$2: status report gives the failure"
	expect_rc 4 "$2: status --json report" "$YANKCTL" --segment "$1" --timeout 300 --json status
	cp "$T/out" "$T/unusable.json"
	json_check "$T/unusable.json" "d['segment'] == '$1' and d['ok'] is False and d['error'] and d['detail']" \
		"$2: status --json report"
}

new_segment random
head -c 65536 /dev/urandom >"/dev/shm$seg"
chmod 600 "/dev/shm$seg"
expect_unavailable "$seg" "random bytes"
err_has "corrupt" "random bytes: the reason is given"

# Shorter than any header.  (An all-zero segment of full size is not
# corrupt: it is one whose creator died before initialising it.)
new_segment tiny
head -c 16 /dev/zero >"/dev/shm$seg"
chmod 600 "/dev/shm$seg"
expect_unavailable "$seg" "16-byte segment"

# A real registry, cut short: its header no longer matches its size.
new_segment short
cp "/dev/shm$S" "/dev/shm$seg"
truncate -s 8192 "/dev/shm$seg"
expect_unavailable "$seg" "truncated registry"

# QMP reports it in-band and keeps serving.
run sh -c 'printf "%s" "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"query-yank\"}" | "$0" --segment "$1" qmp' "$YANKCTL" "$seg"
check "qmp on a corrupt segment exits 0" test "$rc" = 0
out_has '{"error": {"class": "GenericError", "desc": "Yank registry '"$seg"' unavailable: ' "qmp reports the corrupt registry"

# Permissions: a segment others may write is not trusted, nor is one
# owned by another user (root is not exempt from the library's check).
if [ "$(id -u)" = 0 ]; then
	new_segment mode
	cp "/dev/shm$S" "/dev/shm$seg"
	chmod 0606 "/dev/shm$seg"
	expect_unavailable "$seg" "world-accessible segment"
	err_has "permission denied" "world-accessible: reason"

	new_segment owner
	cp "/dev/shm$S" "/dev/shm$seg"
	chmod 0600 "/dev/shm$seg"
	chown 65534 "/dev/shm$seg"
	expect_unavailable "$seg" "segment of another uid"
	err_has "permission denied" "another uid: reason"

	# A real second uid may not open ours at all.
	if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
		setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$YANKCTL"; then
		expect_rc 4 "another uid cannot list our segment" \
			setpriv --reuid=65534 --regid=65534 --clear-groups "$YANKCTL" --segment "$S" list
		err_has "yankctl: segment $S: " "another uid: message names the segment"
		expect_rc 4 "another uid cannot yank in our segment" \
			setpriv --reuid=65534 --regid=65534 --clear-groups "$YANKCTL" --segment "$S" yank chardev:c0
	else
		echo "note: no usable setpriv or $YANKCTL not reachable by uid 65534; second-uid checks skipped" >&2
	fi
else
	echo "note: not root; ownership checks skipped" >&2
fi

# None of this disturbed the live registrant.
check "registrant still blocked" test -z "$(grep 'recv() returned' "$T/r.out")"
expect_rc 0 "status still healthy" "$YANKCTL" --segment "$S" status
out_has "integrity:       ok" "integrity still ok"

finish
