#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# The libvirt hook example (examples/libvirt/yank-hook), run as libvirt
# runs it but outside libvirt: the monitor directory on prepare, the record
# on started (atomically, with the pid, and one yank-qmpd accepts), gone on
# stopped and release (twice is fine), nothing for a domain without a yank
# monitor or with a name yank-qmpd would refuse, and exit 0 throughout.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

need_python3
top=$(cd "$(dirname "$0")/../.." && pwd)
HOOK=$top/examples/libvirt/yank-hook
QMPD=${QMPD:-$(dirname "$YANKCTL")/yank-qmpd}
export YANK_QMPD_DIR=$T/qmp.d YANK_LIBVIRT_PIDDIR=$T/pid YANK_QEMU_USER=nobody
mkdir "$T/pid"
echo 4242 >"$T/pid/vm1.pid"
xml="<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>vm1</name>
  <qemu:commandline>
    <qemu:arg value='-chardev'/>
    <qemu:arg value='socket,id=yankmon,path=$T/mon/vm1.sock,server=on,wait=off'/>
    <qemu:arg value='-mon'/>
    <qemu:arg value='chardev=yankmon,mode=control'/>
  </qemu:commandline>
</domain>"

hook() {
	rc=0
	printf '%s\n' "$xml" | timeout 10 "$HOOK" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

hook vm1 prepare begin -
check "prepare exits 0" test "$rc" = 0
check "prepare creates the monitor directory" test -d "$T/mon"
if getent passwd nobody >/dev/null; then
	check "owned by the QEMU user, mode 0750" test "$(stat -c %U:%a "$T/mon")" = nobody:750
fi
check "nothing written on prepare" test ! -e "$T/qmp.d/vm1.json"

hook vm1 started begin -
check "started exits 0" test "$rc" = 0
check "started writes the record" test -f "$T/qmp.d/vm1.json"
json_check "$T/qmp.d/vm1.json" \
	"d == {'name': 'vm1', 'socket': '$T/mon/vm1.sock', 'pid': 4242, 'hide': ['charmonitor']}" \
	"the record"
check "no temporary file left" test "$(find "$T/qmp.d" -name '.*' | wc -l)" = 0
check "root-owned, not writable by others" test "$(stat -c %U:%a "$T/qmp.d/vm1.json")" = root:644 -o "$(id -u)" != 0

# yank-qmpd takes the record as it is (and, with no QEMU there, says why it cannot attach).
if [ -x "$QMPD" ]; then
	new_segment hook
	"$QMPD" --segment "$seg" --dir "$T/qmp.d" >"$T/qmpd.log" 2>&1 </dev/null &
	qpid=$!
	pids+=("$qpid")
	check "yank-qmpd reads the hook's record" \
		wait_for "grep -q 'refused vm1: connect $T/mon/vm1.sock: No such file or directory' '$T/qmpd.log'"
	check "and finds nothing wrong with it" test -z "$(grep 'bad record' "$T/qmpd.log")"
	{ kill -TERM "$qpid" && wait "$qpid"; } 2>/dev/null
fi

rm "$T/pid/vm1.pid"
hook vm1 reconnect begin -
check "reconnect exits 0" test "$rc" = 0
json_check "$T/qmp.d/vm1.json" "'pid' not in d and d['name'] == 'vm1'" "no pid file: a record without a pid"
err_has "no pid in $T/pid/vm1.pid" "the missing pid is said"

hook vm1 stopped end -
check "stopped exits 0" test "$rc" = 0
check "stopped removes the record" test ! -e "$T/qmp.d/vm1.json"
hook vm1 release end -
check "release of a record already gone exits 0" test "$rc" = 0
check "and says nothing" test ! -s "$T/err"

hook 'vm 1' started begin -
check "a name yank-qmpd refuses: exit 0" test "$rc" = 0
err_has "not a name yank-qmpd accepts" "the name is refused with a reason"
check "no record for it" test "$(find "$T/qmp.d" -type f | wc -l)" = 0

xml="<domain><name>plain</name></domain>"
hook plain started begin -
check "a domain without a yank monitor: exit 0" test "$rc" = 0
check "no record for it" test ! -e "$T/qmp.d/plain.json"
hook plain migrate begin -
check "other operations: exit 0" test "$rc" = 0

finish
