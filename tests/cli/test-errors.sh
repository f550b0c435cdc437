#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Errors that say why: each trust rule and each header check names itself,
# a registry name that matches nothing says so (and says where the name
# came from), output that cannot be written is not a registry error, and
# a SIGBUS (a segment truncated under us) ends yankctl with exit 4 and a
# message instead of killing it.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

need_python3

new_segment errors
S=$seg
start_server
start_registrant r "$S" -c chardev:c0 block-node:n0

# unusable SEGMENT DESC REASON DETAIL: list exits 4 and its message gives
# both the reason and the detail.
unusable() {
	expect_rc 4 "$2: list" "$YANKCTL" --segment "$1" --timeout 300 list
	err_has "yankctl: segment $1: $3: " "$2: reason"
	err_has "$4" "$2: detail"
}

# patch SEGMENT OFFSET FORMAT VALUE: overwrite one header field in place.
patch() {
	python3 -c 'import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(struct.pack(sys.argv[3], int(sys.argv[4], 0)))' "/dev/shm$1" "$2" "$3" "$4"
}

# copy_of SUFFIX: a private copy of the healthy registry in $seg.
copy_of() {
	new_segment "$1"
	cp "/dev/shm$S" "/dev/shm$seg"
	chmod 600 "/dev/shm$seg"
}

# --- Corrupt or foreign headers: which check failed. ---
CORRUPT="registry segment corrupt or of an unknown layout version"

new_segment magic
head -c 65536 /dev/zero | tr '\0' 'x' >"/dev/shm$seg"
chmod 600 "/dev/shm$seg"
unusable "$seg" "bad magic" "$CORRUPT" "bad magic 0x78787878, expected 0x4b4e4159"

new_segment tiny
printf 'YANK' >"/dev/shm$seg"
chmod 600 "/dev/shm$seg"
unusable "$seg" "shorter than a header" "$CORRUPT" "truncated: the file is 4 bytes, shorter than a header"

# The format word: layout version, mutex size, pointer size, slot size.
copy_of layout
patch "$seg" 4 B 9
unusable "$seg" "layout version" "$CORRUPT" "layout version 9, where this library reads version 2"
copy_of mutex
patch "$seg" 5 B 24
unusable "$seg" "mutex size" "$CORRUPT" "created with a 24-byte pthread mutex"
copy_of pointer
patch "$seg" 6 B 4
unusable "$seg" "pointer size" "$CORRUPT" "created by a process with 4-byte pointers"
copy_of slot
patch "$seg" 7 B 41
unusable "$seg" "slot size" "$CORRUPT" "instance slots of 328 bytes"

copy_of short
truncate -s 8192 "/dev/shm$seg"
unusable "$seg" "size mismatch" "$CORRUPT" "size mismatch: the header says "
err_has ", the file is 8192" "size mismatch: both sizes given"

copy_of ready
patch "$seg" 16 '<I' 0
unusable "$seg" "not ready" "$CORRUPT" "not marked ready (state 0)"

copy_of buckets
patch "$seg" 40 '<I' 3
unusable "$seg" "bucket count" "$CORRUPT" "3 hash buckets for "

copy_of offsets
patch "$seg" 56 '<Q' 4096
unusable "$seg" "table offsets" "$CORRUPT" "table offsets do not match the capacities"

# Damage found after the header checks names the slot.
copy_of slotdamage
off_inst=$(python3 -c 'import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(56); print(struct.unpack("<Q", f.read(8))[0])' "/dev/shm$seg")
patch "$seg" $((off_inst + 16)) '<I' 99
expect_rc 4 "damaged instance slot: status" "$YANKCTL" --segment "$seg" status
out_has "instance slot 0" "integrity detail names the slot"

# --- Trust rules: which one refused. ---
DENIED="permission denied"
if [ "$(id -u)" = 0 ]; then
	copy_of worldw
	chmod 0602 "/dev/shm$seg"
	unusable "$seg" "world-writable" "$DENIED" "mode 0602 gives every user access (world-writable)"
	copy_of worldr
	chmod 0604 "/dev/shm$seg"
	unusable "$seg" "world-readable" "$DENIED" "mode 0604 gives every user access (world-readable)"

	copy_of owner
	chown 65534 "/dev/shm$seg"
	unusable "$seg" "another owner" "$DENIED" "owned by uid 65534"
	err_has "not shared with a group" "another owner: the rule is named"
	name=$(getent passwd 65534 | cut -d: -f1)
	[ -n "$name" ] && err_has "uid 65534 ($name)" "another owner: the user is named"

	copy_of group
	chown 65534:65534 "/dev/shm$seg"
	chmod 0660 "/dev/shm$seg"
	unusable "$seg" "foreign group" "$DENIED" "shared with group 65534"
	err_has "which we are not in" "foreign group: the rule is named"

	new_segment link
	ln -s "/dev/shm$S" "/dev/shm$seg"
	unusable "$seg" "symlink" "$DENIED" "is a symbolic link"

	new_segment fifo
	mkfifo -m 0600 "/dev/shm$seg"
	unusable "$seg" "fifo" "$DENIED" "not a regular shared-memory file"

	# A real second uid: the kernel refuses root's 0600 file; say what it is.
	if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
		setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$YANKCTL"; then
		as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		expect_rc 4 "uid 65534 on root's segment" "${as_nobody[@]}" "$YANKCTL" --segment "$S" list
		err_has "(owner uid 0 (root), group 0, mode 0600) does not let uid 65534 read and write it" \
			"uid 65534 on root's segment: why"

		# The default name is trusted only when it is ours: a squatter
		# (a third uid) that shares it with our group is still refused.
		if [ ! -e /dev/shm/yank-65534 ]; then
			segments+=(/yank-65534)
			cp "/dev/shm$S" /dev/shm/yank-65534
			chown 65533:65534 /dev/shm/yank-65534
			chmod 0660 /dev/shm/yank-65534
			expect_rc 4 "squatted default name" "${as_nobody[@]}" env -u YANK_SEGMENT "$YANKCTL" list
			err_has "owned by uid 65533" "squatted default name: owner"
			err_has "the default registry name is trusted only when it is ours" "squatted default name: rule"
		else
			echo "note: /dev/shm/yank-65534 exists; squatter check skipped" >&2
		fi
	else
		echo "note: no usable setpriv or $YANKCTL not reachable by uid 65534; second-uid checks skipped" >&2
	fi
else
	echo "note: not root; ownership checks skipped" >&2
fi

# --- A name that matches no registry. ---
new_segment typo
expect_rc 0 "list of a named, missing registry" "$YANKCTL" --segment "$seg" list
err_has "yankctl: no registry named $seg" "list: missing registry noted on stderr"
check "list: nothing on stdout" test ! -s "$T/out"
expect_rc 2 "yank in a missing registry" "$YANKCTL" --segment "$seg" yank chardev:c0
err_has "yankctl: no registry named $seg: nothing yanked" "yank: the registry is named"
if grep -q 'not found' "$T/err"; then not_ok "yank: missing registry blamed on the instance: $(cat "$T/err")"; else ok; fi
expect_rc 2 "yank via a missing \$YANK_SEGMENT" env YANK_SEGMENT="$seg" "$YANKCTL" yank chardev:c0
err_has "yankctl: \$YANK_SEGMENT=$seg: no registry named $seg" "yank: the environment is named"
expect_rc 0 "list via a missing \$YANK_SEGMENT" env YANK_SEGMENT="$seg" "$YANKCTL" list
err_has "yankctl: \$YANK_SEGMENT=$seg: no registry named $seg" "list: the environment is named"
expect_rc 1 "a bad \$YANK_SEGMENT" env YANK_SEGMENT=bad-name "$YANKCTL" list
err_has "yankctl: \$YANK_SEGMENT=bad-name: not a segment name" "bad \$YANK_SEGMENT is named as such"
copy_of envbad
patch "$seg" 0 '<I' 0x12345678
expect_rc 4 "a corrupt \$YANK_SEGMENT" env YANK_SEGMENT="$seg" "$YANKCTL" list
err_has "yankctl: \$YANK_SEGMENT=$seg: $CORRUPT: bad magic" "corrupt \$YANK_SEGMENT is named as such"
check "looking created nothing" test ! -e "/dev/shm$YANK_TEST_PREFIX-typo"

# --- status reports a segment it cannot use. ---
expect_rc 4 "status of a bad-magic segment" "$YANKCTL" --segment "$seg" status
out_has "segment:         $seg" "status report: segment"
out_has "detail:          bad magic 0x12345678" "status report: detail"
expect_rc 4 "status --json of a bad-magic segment" "$YANKCTL" --segment "$seg" --json status
cp "$T/out" "$T/bad.json"
json_check "$T/bad.json" "d['segment'] == '$seg' and d['ok'] is False and d['error'] == '$CORRUPT' and d['detail'].startswith('bad magic 0x12345678')" \
	"status --json report"

# --- Output that cannot be written: exit 1, its own message. ---
if [ -w /dev/full ]; then
	for args in "--help" "--version" "--segment $S list" "--segment $S --json status"; do
		# shellcheck disable=SC2086
		rc=0
		timeout -k 2 20 "$YANKCTL" $args >/dev/full 2>"$T/err" || rc=$?
		check "$args > /dev/full exits 1 (got $rc)" test "$rc" = 1
		err_has "yankctl: writing output: No space left on device" "$args > /dev/full: message"
	done
	rc=0
	printf '%s' '{"execute":"qmp_capabilities"}' | timeout -k 2 20 "$YANKCTL" --segment "$S" qmp >/dev/full 2>"$T/err" || rc=$?
	check "qmp > /dev/full exits 1 (got $rc)" test "$rc" = 1
	err_has "yankctl: writing output: No space left on device" "qmp > /dev/full: message"
else
	echo "note: no /dev/full; output error checks skipped" >&2
fi

# --- SIGBUS: a segment truncated under yankctl. ---
new_segment trunc
V=$seg
start_registrant v "$V" chardev:v0
coproc QMP { exec "$YANKCTL" --segment "$V" --timeout 2000 qmp 2>"$T/qmp.err"; }
qpid=$QMP_PID
pids+=("$qpid")
qin=${QMP[1]} qout=${QMP[0]}
# qmp_ask JSON: send one request, the reply line in $reply.
qmp_ask() {
	reply=
	printf '%s' "$1" >&"$qin" && read -r -t 20 -u "$qout" reply
}
read -r -t 20 -u "$qout" reply
check "qmp greets" grep -q '"QMP"' <<<"$reply"
qmp_ask '{"execute":"qmp_capabilities"}'
check "qmp negotiates" test "$reply" = '{"return": {}}'
qmp_ask '{"execute":"query-yank"}'
check "qmp lists before the truncation" grep -qF '"id": "v0"' <<<"$reply"

# The registrant would fault too when it next touches the segment: end it first.
{ kill -KILL "$v_pid" && wait "$v_pid"; } 2>/dev/null
truncate -s 4096 "/dev/shm$V"
# qmp opens the registry for each command: it finds the damage and says so.
qmp_ask '{"execute":"query-yank"}'
check "qmp answers after the truncation" grep -qF "\"desc\": \"Yank registry $V unavailable: " <<<"$reply"
# A SIGBUS while it has the segment mapped must end it with exit 4, not kill it.
kill -BUS "$qpid"
qrc=0
wait "$qpid" || qrc=$?
check "qmp is not killed by SIGBUS (exit $qrc)" test "$qrc" != 135
check "qmp exits 4 on SIGBUS (exit $qrc)" test "$qrc" = 4
if grep -qF "yankctl: segment $V: segment truncated by another process" "$T/qmp.err"; then ok; else
	not_ok "qmp SIGBUS message: $(cat "$T/qmp.err")"; fi

# The commands that open it afresh get the validation error, with its detail.
for c in status list; do
	expect_rc 4 "$c after truncation" "$YANKCTL" --segment "$V" "$c"
	err_has "yankctl: segment $V: $CORRUPT: size mismatch: the header says " "$c after truncation: detail"
	err_has "the file is 4096" "$c after truncation: the file's size"
done

finish
