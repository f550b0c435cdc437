#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yank-qmpd (SPEC §11) against real QEMUs (-M none, Unix sockets and
# loopback TCP only): attach and mirror, a chardev yanked to a peer that
# never reads, a main loop stuck on a hung NBD read released by a yank,
# a mixed QEMU + native list with one missing, an instance removed in
# QEMU before the mirror noticed, greetings without oob or QEMUs without
# yank refused, a held monitor refused in about 1 s, QEMU killed, the
# proxy killed and reaped, a migration to a sink that never reads, bad
# records, and a clean stop.  Skipped when QEMU or nbdkit is missing.
# NAME_pid and NAME_job are set with printf -v by the helpers below.
# shellcheck disable=SC2154
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

need_python3
for prog in qemu-system-x86_64 nbdkit; do
	if ! command -v "$prog" >/dev/null; then
		echo "skipped: $prog is not installed (apt-get install qemu-system-x86 nbdkit)" >&2
		echo "0 passed, 0 failed"
		exit 77
	fi
done
QMPD=${QMPD:-$(dirname "$YANKCTL")/yank-qmpd}
if [ ! -x "$QMPD" ]; then
	echo "missing $QMPD: build it first (make)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

new_segment qmpd
S=$seg
D=$T/qmp.d
mkdir "$D"

# --- Helpers: peers that never read, a manager's QMP client, a fake QEMU. ---

# A TCP peer that accepts and never reads; prints its port, then "conn N"
# and "eof N" (seen as POLLRDHUP, nothing read) per connection.
cat >"$T/sink.py" <<'EOF'
import select, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
p = select.poll()
p.register(s, select.POLLIN)
conns, n = {}, 0
end = time.monotonic() + 90
while time.monotonic() < end:
    for fd, ev in p.poll(100):
        if fd == s.fileno():
            c, _ = s.accept()
            n += 1
            conns[c.fileno()] = (n, c)
            p.register(c, select.POLLRDHUP | select.POLLHUP)
            print("conn", n, flush=True)
        else:
            print("eof", conns[fd][0], flush=True)
            p.unregister(fd)
EOF

# qmp.py SOCKET COMMAND-JSON...: negotiate (in-band, as a manager does),
# send each command, print each reply on a line as it comes; events skipped.
cat >"$T/qmp.py" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m
reply()
f.write('{"execute": "qmp_capabilities"}\n')
f.flush()
reply()
for c in sys.argv[2:]:
    f.write(c + "\n")
    f.flush()
    print(json.dumps(reply()), flush=True)
EOF

# fake.py SOCKET MODE: a QMP server that is not a usable QEMU.  nooob:
# its greeting offers no capabilities; noyank: oob, but every command
# other than qmp_capabilities is CommandNotFound (QEMU < 6.0, QSD 7.2);
# garbage: not QMP at all.
cat >"$T/fake.py" <<'EOF'
import json, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(4)
s.settimeout(90)
greeting = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 5}, "package": ""},
                    "capabilities": [] if mode == "nooob" else ["oob"]}}
while True:
    c, _ = s.accept()
    c.settimeout(30)
    f = c.makefile("rw")
    try:
        if mode == "garbage":
            f.write("[1, 2, 3]\n")
            f.flush()
            c.recv(1)
            continue
        f.write(json.dumps(greeting) + "\n")
        f.flush()
        for line in f:
            m = json.loads(line)
            cmd = m.get("execute") or m.get("exec-oob")
            r = {"return": {}} if cmd == "qmp_capabilities" else \
                {"error": {"class": "CommandNotFound", "desc": "The command %s has not been found" % cmd}}
            if "id" in m:
                r["id"] = m["id"]
            f.write(json.dumps(r) + "\n")
            f.flush()
    except OSError:
        pass
    c.close()
EOF

# qmp NAME COMMAND-JSON...: the manager monitor of QEMU NAME; replies in $T/out.
qmp() {
	local name=$1
	shift
	timeout 20 python3 "$T/qmp.py" "$T/$name.mgr" "$@" >"$T/out" 2>"$T/err"
}

# start_sink NAME: a peer that never reads; its port in $T/NAME.port.
start_sink() {
	python3 "$T/sink.py" >"$T/$1.sink" 2>&1 </dev/null &
	pids+=("$!")
	if ! wait_for "[ -s '$T/$1.sink' ]"; then
		echo "sink $1 did not start: $(cat "$T/$1.sink")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
	head -1 "$T/$1.sink" >"$T/$1.port"
}
sink_eof() { grep -qs '^eof' "$T/$1.sink"; }
no() { ! "$@"; }
sink_conn() { grep -qs '^conn' "$T/$1.sink"; }

# start_qemu NAME MACHINE ARGS...: QEMU with a manager monitor (id
# charmonitor, as libvirt names its own) at $T/NAME.mgr and a yank monitor
# (id yankmon, with $YANKMON_OPTS) at $T/NAME.yank; QEMU's pid in $T/NAME.qpid.
start_qemu() {
	local name=$1 machine=$2
	shift 2
	timeout -k 5 120 qemu-system-x86_64 -name "$name" -M "$machine" -nodefaults -display none \
		-chardev "socket,id=charmonitor,path=$T/$name.mgr,server=on,wait=off" \
		-mon chardev=charmonitor,mode=control \
		-chardev "socket,id=yankmon,path=$T/$name.yank,server=on,wait=off" \
		-mon "chardev=yankmon,mode=control${YANKMON_OPTS:-}" \
		-pidfile "$T/$name.qpid" "$@" >"$T/$name.qemu" 2>&1 </dev/null &
	pids+=("$!")
	printf -v "${name}_job" %s "$!"
	if ! wait_for "[ -s '$T/$name.qpid' ] && [ -S '$T/$name.yank' ]"; then
		echo "QEMU $name did not start: $(cat "$T/$name.qemu")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
}

# put_record DIR NAME JSON: written as the hook does, temporary file + rename.
put_record() {
	printf '%s\n' "$3" >"$1/.$2.json.tmp" && mv -f "$1/.$2.json.tmp" "$1/$2.json"
}

# start_qmpd NAME DIR [ENV...]: a yank-qmpd on $S; log $T/NAME.log, pid $NAME_pid.
start_qmpd() {
	local name=$1 dir=$2
	shift 2
	env "$@" "$QMPD" --segment "$S" --dir "$dir" >"$T/$name.log" 2>&1 </dev/null &
	pids+=("$!")
	printf -v "${name}_pid" %s "$!"
	if ! wait_for "grep -qs 'watching' '$T/$name.log'"; then
		echo "yank-qmpd did not start: $(cat "$T/$name.log")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
}
log_has() { grep -qsF -- "$2" "$T/$1.log"; }

# mirror NS: what yankctl lists in namespace NS, as sorted TYPE:NAME words.
mirror() {
	timeout 10 "$YANKCTL" --segment "$S" list --json 2>/dev/null | python3 -c '
import json, sys
out = []
for o in json.load(sys.stdin):
    if o.get("namespace") == sys.argv[1]:
        out.append(o["type"] if o["type"] == "migration" else o["type"] + ":" + (o.get("id") or o.get("node-name")))
print(" ".join(sorted(out)))' "$1"
}
mirror_is() { [ "$(mirror "$1")" = "$2" ]; }
# unresponsive NS: yankctl shows the instances of NS marked unresponsive.
unresponsive() {
	timeout 10 "$YANKCTL" --segment "$S" list --json 2>/dev/null | python3 -c '
import json, sys
d = [o for o in json.load(sys.stdin) if o.get("namespace") == sys.argv[1]]
sys.exit(0 if d and all(o.get("unresponsive") for o in d) else 1)' "$1"
}

# --- Usage and the exit statuses 1 and 2. ---
expect_rc 0 "yank-qmpd --help" "$QMPD" --help
out_has "Usage: yank-qmpd [--segment NAME] [--dir DIR]" "the usage line"
expect_rc 0 "yank-qmpd --version" "$QMPD" --version
out_has "yank-qmpd " "the version names the program"
expect_rc 1 "an unknown option" "$QMPD" --bogus
err_has "unknown option '--bogus'" "the unknown option is named"
expect_rc 1 "an argument" "$QMPD" --dir "$D" extra
expect_rc 1 "a bad YANK_QMPD_POLL_MS" env YANK_QMPD_POLL_MS=fast "$QMPD" --dir "$D"
expect_rc 2 "a directory that does not exist" "$QMPD" --segment "$S" --dir "$T/nowhere"
err_has "cannot watch $T/nowhere: No such file or directory" "the directory and the reason"
new_segment qmpd-junk
head -c 65536 /dev/urandom >"/dev/shm$seg"
chmod 600 "/dev/shm$seg"
expect_rc 2 "a segment that is not a registry" "$QMPD" --segment "$seg" --dir "$D"
err_has "cannot open the registry $seg" "the registry is named"

# --- Peers, an NBD server that never answers a read, and QEMU vm1. ---
for s in c0 c1 hid mig; do start_sink "$s"; done
timeout -k 5 120 nbdkit -U "$T/nbd.sock" -f -v --filter=delay pattern 1M rdelay=3600 \
	>"$T/nbdkit.log" 2>&1 </dev/null &
pids+=("$!")
check "nbdkit listens" wait_for "[ -S '$T/nbd.sock' ]"
# Its RAM is random, not zero pages: the migration below has 32 MiB to
# send to a sink that never reads, more than the sockets' buffers hold, so
# it cannot complete (on its own, under load) before the test yanks it.
head -c 32M /dev/urandom >"$T/ram0"
start_qemu vm1 none,memory-backend=ram0 \
	-object "memory-backend-file,id=ram0,size=32M,mem-path=$T/ram0,share=on" -m 32M \
	-chardev "socket,id=c0,host=127.0.0.1,port=$(cat "$T/c0.port")" \
	-chardev "socket,id=c1,host=127.0.0.1,port=$(cat "$T/c1.port")" \
	-chardev "socket,id=hid,host=127.0.0.1,port=$(cat "$T/hid.port")" \
	-blockdev "driver=nbd,node-name=nbd0,server.type=unix,server.path=$T/nbd.sock,export=,read-only=on"
check "vm1's chardevs connected" wait_for "sink_conn c0 && sink_conn c1 && sink_conn hid"
vm1_pid=$(cat "$T/vm1.qpid")

# --- Attach and mirror. ---
start_qmpd q "$D"
# Temporary files beside the records are none of its business.
printf '{' >"$D/.vm9.json.tmp"
printf '{' >"$D/vm9.json.part"
put_record "$D" vm1 "{\"name\": \"vm1\", \"socket\": \"$T/vm1.yank\", \"pid\": $vm1_pid, \"hide\": [\"hid\"]}"
check "vm1 attached" wait_for "log_has q 'attached vm1 (3 instances; QEMU pid $vm1_pid, monitor chardev yankmon)'"
check "vm1 mirrored: not its monitors, not the hidden chardev" \
	wait_for "mirror_is qemu:vm1 'block-node:nbd0 chardev:c0 chardev:c1'"
if grep -qsE 'vm9|\.tmp|\.part' "$T/q.log"; then not_ok "temporary files were read: $(cat "$T/q.log")"; else ok; fi
expect_rc 0 "yankctl list" "$YANKCTL" --segment "$S" list
out_has "qemu:vm1" "the table shows the namespace"
expect_rc 0 "yankctl list --json" "$YANKCTL" --segment "$S" list --json
cp "$T/out" "$T/vm1.json"
json_check "$T/vm1.json" "all(o['pid'] == $q_pid for o in d if o.get('namespace') == 'qemu:vm1')" \
	"the mirrored instances are owned by yank-qmpd"

# --- A chardev whose peer never reads: yanked, the peer sees EOF. ---
expect_rc 0 "yank qemu:vm1/chardev:c0" "$YANKCTL" --segment "$S" yank qemu:vm1/chardev:c0
check "c0's peer saw EOF" wait_for "sink_eof c0"
check "the proxy logged the yank" wait_for "log_has q 'yank vm1: chardev:c0 done'"
check "c1 was left alone" no sink_eof c1

# --- A mixed list with one missing: nothing yanked anywhere. ---
start_server
start_registrant nat "$S" chardev:n0
expect_rc 2 "a mixed list with one instance missing" \
	"$YANKCTL" --segment "$S" yank chardev:n0 qemu:vm1/chardev:c1 qemu:vm1/chardev:nope
err_has "qemu:vm1/chardev:nope" "the missing instance is named"
expect_rc 2 "a plain name is native only" "$YANKCTL" --segment "$S" yank chardev:c1
sleep 0.5
check "the native registrant was not yanked" no recovered nat chardev:n0
check "QEMU's c1 was not yanked" no sink_eof c1
expect_rc 0 "the same list, all present" "$YANKCTL" --segment "$S" yank chardev:n0 qemu:vm1/chardev:c1
check "the native registrant recovered" wait_for "recovered nat chardev:n0"
check "c1's peer saw EOF" wait_for "sink_eof c1"

# --- Migration to a sink that never reads, yanked: QEMU says failed. ---
qmp vm1 '{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "events", "state": true}]}}' \
	'{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 65536}}' \
	"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:$(cat "$T/mig.port")\"}}"
check "migration started" wait_for "sink_conn mig"
check "the migration instance is mirrored" \
	wait_for "mirror_is qemu:vm1 'block-node:nbd0 chardev:c0 chardev:c1 migration'"
qmp vm1 '{"execute": "query-migrate"}'
if grep -qE '"status": "(active|setup)"' "$T/out"; then ok; else not_ok "migration not running: $(cat "$T/out")"; fi
expect_rc 0 "yank qemu:vm1/migration" "$YANKCTL" --segment "$S" yank qemu:vm1/migration
migration_failed() { qmp vm1 '{"execute": "query-migrate"}' && grep -q '"status": "failed"' "$T/out"; }
check "query-migrate says failed" wait_for migration_failed
check "the migration instance went with it" \
	wait_for "mirror_is qemu:vm1 'block-node:nbd0 chardev:c0 chardev:c1'"

# --- A main loop stuck on a hung NBD read: stop returns after the yank. ---
qmp vm1 '{"execute": "blockdev-add", "arguments": {"driver": "null-co", "node-name": "tgt0", "size": 1048576}}' \
	'{"execute": "blockdev-backup", "arguments": {"job-id": "j0", "device": "nbd0", "target": "tgt0", "sync": "full"}}'
check "the backup job's read reached nbdkit" wait_for "grep -q 'pread' '$T/nbdkit.log'"
timeout 20 python3 "$T/qmp.py" "$T/vm1.mgr" '{"execute": "stop"}' >"$T/stop.out" 2>&1 </dev/null &
pids+=("$!")
sleep 0.5
check "stop is stuck draining the NBD read" test ! -s "$T/stop.out"
expect_rc 0 "list while the main loop is stuck" "$YANKCTL" --segment "$S" list --json
cp "$T/out" "$T/stuck.json"
json_check "$T/stuck.json" "not any(o.get('unresponsive') for o in d)" "oob syncs go on: not unresponsive"
expect_rc 0 "yank qemu:vm1/block-node:nbd0" "$YANKCTL" --segment "$S" yank qemu:vm1/block-node:nbd0
check "stop returned" wait_for "grep -q '\"return\"' '$T/stop.out'"

# --- A record removed takes its instances; written again, they return. ---
rm "$D/vm1.json"
check "vm1's instances gone with its record" wait_for "mirror_is qemu:vm1 ''"
check "logged" wait_for "log_has q 'vm1 gone: record removed'"
put_record "$D" vm1 "{\"name\": \"vm1\", \"socket\": \"$T/vm1.yank\", \"hide\": [\"hid\"]}"
check "vm1 mirrored again" wait_for "mirror_is qemu:vm1 'block-node:nbd0 chardev:c0 chardev:c1'"
put_record "$D" vm1 "{\"name\": \"vm1\", \"socket\": \"$T/vm1.yank\", \"hide\": [\"hid\", \"c0\"]}"
check "a changed record is applied" wait_for "mirror_is qemu:vm1 'block-node:nbd0 chardev:c1'"
check "logged" wait_for "log_has q 'vm1 gone: record changed'"
kill -HUP "$q_pid"
check "SIGHUP reads the records again" wait_for "log_has q 'SIGHUP: reading every record again'"
check "and changes nothing" mirror_is qemu:vm1 'block-node:nbd0 chardev:c1'

# --- Refused: no oob, no yank, a held monitor, a pid that does not match. ---
timeout 60 python3 "$T/fake.py" "$T/fake1.sock" nooob >"$T/fake1.out" 2>&1 </dev/null &
pids+=("$!")
timeout 60 python3 "$T/fake.py" "$T/fake2.sock" noyank >"$T/fake2.out" 2>&1 </dev/null &
pids+=("$!")
timeout 60 python3 "$T/fake.py" "$T/fake3.sock" garbage >"$T/fake3.out" 2>&1 </dev/null &
pids+=("$!")
check "the fake QMP servers listen" wait_for "[ -S '$T/fake1.sock' ] && [ -S '$T/fake2.sock' ] && [ -S '$T/fake3.sock' ]"
put_record "$D" fake1 "{\"name\": \"fake1\", \"socket\": \"$T/fake1.sock\"}"
put_record "$D" fake2 "{\"name\": \"fake2\", \"socket\": \"$T/fake2.sock\"}"
put_record "$D" fake3 "{\"name\": \"fake3\", \"socket\": \"$T/fake3.sock\"}"
check "a greeting without oob is refused" wait_for "log_has q 'refused fake1: no oob'"
check "a QEMU without query-yank is refused" wait_for "log_has q 'refused fake2: no query-yank'"
check "a server that does not speak QMP is refused" \
	wait_for "log_has q 'refused fake3: monitor lost before its greeting: it sent something that is not a JSON object'"
check "nothing of them is mirrored" test -z "$(mirror qemu:fake1)$(mirror qemu:fake2)$(mirror qemu:fake3)"
put_record "$D" vm1pid "{\"name\": \"vm1pid\", \"socket\": \"$T/vm1.yank\", \"pid\": 1}"
check "a pid that is not the monitor's is refused" \
	wait_for "log_has q 'refused vm1pid: $T/vm1.yank is served by pid $vm1_pid, not by pid 1'"
rm "$D/vm1pid.json" "$D/fake1.json" "$D/fake2.json" "$D/fake3.json"

start_qemu vm3 none
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.recv(4096)
print("holding", flush=True); time.sleep(60)' "$T/vm3.yank" >"$T/holder.out" 2>&1 </dev/null &
holder=$!
pids+=("$holder")
check "another client holds vm3's yank monitor" wait_for "grep -qs holding '$T/holder.out'"
t0=$(date +%s%N)
put_record "$D" vm3 "{\"name\": \"vm3\", \"socket\": \"$T/vm3.yank\"}"
check "a held monitor is refused" wait_for "log_has q 'refused vm3: no greeting within 1 s'" 400
# A cause, not a speed: it cannot be refused before the greeting's second.
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -ge 900 ]; then ok; else not_ok "the held monitor was refused after $ms ms, before its 1 s"; fi
{ kill "$holder" && wait "$holder"; } 2>/dev/null
check "vm3 attached once the monitor was free" wait_for "log_has q 'attached vm3 (0 instances'" 400

# --- A chardev added at run time. ---
qmp vm3 "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"x0\", \"backend\": {\"type\": \"socket\", \"data\": {\"addr\": {\"type\": \"inet\", \"data\": {\"host\": \"127.0.0.1\", \"port\": \"$(cat "$T/hid.port")\"}}, \"server\": false}}}}"
check "a chardev added at run time is mirrored" wait_for "mirror_is qemu:vm3 chardev:x0"

# --- A stopped QEMU: marked unresponsive, its mirror kept, others unaffected. ---
kill -STOP "$(cat "$T/vm3.qpid")"
check "a stopped QEMU is marked unresponsive" wait_for "unresponsive qemu:vm3" 400
check "logged" wait_for "log_has q 'vm3 unresponsive: query-yank not answered within 1 s'"
check "its mirror is kept" mirror_is qemu:vm3 chardev:x0
expect_rc 3 "a yank the stopped QEMU cannot answer" \
	"$YANKCTL" --segment "$S" yank qemu:vm3/chardev:x0 qemu:vm1/chardev:c1
err_has "qemu:vm3/chardev:x0" "the unanswered instance is named"
check "the other QEMU's part went through" no grep -q 'qemu:vm1' "$T/err"
# vm3's unanswered sync now waits 2 s and more; yankctl gives the proxy
# 1 s.  Were vm1's yank queued behind vm3's wait, it would fail (exit 3).
expect_rc 0 "a yank of another QEMU meanwhile" "$YANKCTL" --segment "$S" yank qemu:vm1/chardev:c1
kill -CONT "$(cat "$T/vm3.qpid")"
check "it answers again: the mark is cleared" wait_for "! unresponsive qemu:vm3" 400
check "logged" wait_for "log_has q 'vm3 responsive again'"

# --- QEMU killed: its instances go. ---
{ kill -KILL "$(cat "$T/vm3.qpid")" && wait "$vm3_job"; } 2>/dev/null
check "vm3's instances gone with QEMU" wait_for "mirror_is qemu:vm3 ''"
# Killed with a query-yank unread, its end resets the connection instead
# of closing it: "monitor lost: reading failed: Connection reset by peer".
# Either way it is gone.
check "logged" wait_for "log_has q 'vm3 gone: '"

# --- Removed in QEMU before the mirror noticed: exit 3 naming it. ---
# A second proxy that syncs once a minute, so the mirror is stale on purpose.
D2=$T/qmp2.d
mkdir "$D2"
for s in v1 v2; do start_sink "$s"; done
# Its yank monitor pretty-prints: JSON across lines, framed all the same.
YANKMON_OPTS=,pretty=on start_qemu vm2 none \
	-chardev "socket,id=v1,host=127.0.0.1,port=$(cat "$T/v1.port")" \
	-chardev "socket,id=v2,host=127.0.0.1,port=$(cat "$T/v2.port")"
start_qmpd q2 "$D2" YANK_QMPD_POLL_MS=60000
put_record "$D2" vm2 "{\"name\": \"vm2\", \"socket\": \"$T/vm2.yank\"}"
check "vm2 mirrored" wait_for "mirror_is qemu:vm2 'chardev:v1 chardev:v2'"
qmp vm2 '{"execute": "chardev-remove", "arguments": {"id": "v1"}}'
check "v1 removed in QEMU" grep -q '"return": {}' "$T/out"
check "the mirror has not noticed" mirror_is qemu:vm2 'chardev:v1 chardev:v2'
expect_rc 3 "yank of an instance QEMU no longer has" \
	"$YANKCTL" --segment "$S" yank qemu:vm2/chardev:v1 qemu:vm2/chardev:v2
err_has "qemu:vm2/chardev:v1" "the vanished instance is named"
err_has "no longer exists in QEMU vm2" "and why"
check "the one still there was yanked" wait_for "sink_eof v2"
check "the proxy logged both" \
	wait_for "log_has q2 'yank vm2: chardev:v1 no longer exists in QEMU, chardev:v2 done'"
check "the mirror caught up after the yank" wait_for "mirror_is qemu:vm2 chardev:v2"

# --- The proxy killed: gc reaps what it registered. ---
{ kill -KILL "$q2_pid" && wait "$q2_pid"; } 2>/dev/null
expect_rc 0 "gc after the proxy was killed" "$YANKCTL" --segment "$S" gc
check "vm2's instances reaped" mirror_is qemu:vm2 ''

# --- Bad records: one diagnostic each, skipped; the rest goes on. ---
printf '{"name": "bad1", ' >"$D/bad1.json"
printf '{"name": "other", "socket": "/x.sock"}' >"$D/bad2.json"
printf '{"name": "bad3", "socket": "/x.sock", "hidden": ["charmonitor"]}' >"$D/bad3.json"
printf '{"name": "bad4", "socket": "relative.sock"}' >"$D/bad4.json"
check "bad JSON" wait_for "log_has q 'bad1.json: bad record, skipped: not JSON'"
check "a name that is not the file's" wait_for "log_has q 'bad2.json: bad record, skipped: \"name\" \"other\" does not match the file name (other.json expected)'"
check "an unknown member" wait_for "log_has q 'bad3.json: bad record, skipped: unknown member \"hidden\"'"
check "a relative socket" wait_for "log_has q 'bad4.json: bad record, skipped: \"socket\" must be an absolute path'"
check "one line per bad record" test "$(grep -c 'bad record' "$T/q.log")" = 4
check "vm1 still mirrored" test -n "$(mirror qemu:vm1)"
# A served record rewritten badly (an edit half done): logged, and the QEMU
# it names keeps its mirror; bad input changes nothing.
cp "$D/vm1.json" "$T/vm1.good"
vm1_before=$(mirror qemu:vm1)
put_record "$D" vm1 '{"name": "vm1", '
check "a served record rewritten badly is logged" wait_for "log_has q 'vm1.json: bad record, skipped: not JSON'"
check "and vm1 keeps its mirror" test "$(mirror qemu:vm1)" = "$vm1_before"
check "not detached" no log_has q "vm1 gone: record no longer"
put_record "$D" vm1 "$(cat "$T/vm1.good")"

# --- The directory removed: nothing left to watch, exit 2. ---
mkdir "$T/gone.d"
start_qmpd g "$T/gone.d"
rmdir "$T/gone.d"
if timeout 10 tail --pid="$g_pid" -f /dev/null; then
	rc=0
	wait "$g_pid" || rc=$?
else
	rc="still running after 10 s"
fi
check "yank-qmpd exits 2 when its directory goes (got $rc)" test "$rc" = 2
check "and says so" log_has g "$T/gone.d was removed or moved: nothing left to watch"

# --- SIGTERM: everything unregistered, exit 0. ---
kill -TERM "$q_pid"
if timeout 10 tail --pid="$q_pid" -f /dev/null; then
	rc=0
	wait "$q_pid" || rc=$?
else
	rc="still running after 10 s"
	kill -KILL "$q_pid"
fi
check "yank-qmpd exits 0 on SIGTERM (got $rc)" test "$rc" = 0
check "nothing of it left in the registry" mirror_is qemu:vm1 ''
expect_rc 0 "list after the stop" "$YANKCTL" --segment "$S" list --json
json_check "$T/out" "not any(o.get('namespace') for o in d)" "no mirrored instance left"

finish
