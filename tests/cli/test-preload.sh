#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# libyank-preload.so (SPEC §12) with real, unmodified Debian programs:
# each one's stream socket is listed under its default name and a yank
# releases it; a hung connect is yankable; templates, types and MATCH;
# fork and exec; close_range; and a broken registry or a registry lock
# held by a stopped process leaves the program working as without the
# shim.  Everything is on loopback, every wait is bounded, and each
# program gets YANK_SEGMENT so no default registry is ever touched.
. "$(dirname "$0")/testlib.bash"

skip() {
	echo "test-preload: skipped: $*" >&2
	echo "0 passed, 0 failed"
	exit 77
}

# An ASan-built shim cannot be preloaded into programs built without ASan
# (the sanitizer runtime must come first in the link map).
case "$B" in *san*) skip "LD_PRELOAD of an ASan-built libyank-preload.so into non-ASan programs does not work" ;; esac
# YANK_TEST_PRELOAD: another library in its place (libc, say, to see every check fail without the shim).
PRELOAD=${YANK_TEST_PRELOAD:-$(cd "$B" && pwd)/libyank-preload.so}
[ -f "$PRELOAD" ] || { echo "missing $PRELOAD: build it first (make)" >&2; echo "0 passed, 1 failed"; exit 1; }
# The system python3, so that its comm is known and no wrapper script runs.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || skip "python3 is not installed"
for p in curl socat; do
	command -v "$p" >/dev/null || skip "$p is not installed (apt-get install $p)"
done
HELPERS=${HELPERS:-$B/tests/helpers}

# with_shim SEG COMMAND...: COMMAND with the shim, on registry SEG.
with_shim() {
	local s=$1
	shift
	env YANK_SEGMENT="$s" LD_PRELOAD="$PRELOAD" "$@"
}
# The same as a command prefix, for run and expect_rc.
shim_env() {
	echo env YANK_SEGMENT="$1" LD_PRELOAD="$PRELOAD"
}

# names SEG: every instance as "TYPE:NAME PID FDS", one a line, in $T/names.
names() {
	timeout 10 "$YANKCTL" --segment "$1" list --json 2>/dev/null | "$PY" -c '
import json, sys
for i in json.load(sys.stdin):
    name = i.get("id", i.get("node-name"))
    print("%s:%s %s %s" % (i["type"], name, i["pid"], i["fds"]))' >"$T/names" 2>/dev/null
}

# has SEG ERE: an instance line matching ERE is listed (waits up to 5 s).
has() {
	wait_for "names '$1' && grep -qE -- '$2' '$T/names'"
}

# instance SEG ERE: the TYPE:NAME of the first line matching ERE.
instance() {
	names "$1"
	grep -E -- "$2" "$T/names" | head -n 1 | cut -d' ' -f1
}

# gone PID: the process exits within 5 s (a zombie counts: its parent
# may be the program under test, which does not reap it).
gone() {
	wait_for "! grep -qsE '^State:[[:space:]]+[^Z[:space:]]' /proc/$1/status"
}

# released SEG ERE PID DESC: the instance is listed, yanked (rc 0), and
# the program PID exits within 5 s of the yank.
released() {
	local s=$1 re=$2 pid=$3 desc=$4 inst
	if ! has "$s" "$re"; then
		not_ok "$desc: not listed as /$re/: $(cat "$T/names")"
		return
	fi
	ok
	inst=$(instance "$s" "$re")
	expect_rc 0 "$desc: yank $inst" "$YANKCTL" --segment "$s" yank "$inst"
	check "$desc: exits after the yank" gone "$pid"
}

# A Unix server that accepts and never answers, like hang-server.
cat >"$T/unix-hang.py" <<'PYEOF'
import os, socket, sys, select
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8)
print("ready", flush=True)
conns = []
while True:
    r, _, _ = select.select([s] + conns, [], [], 60)
    if not r: break
    for c in r:
        if c is s: conns.append(s.accept()[0])
        elif not c.recv(4096): conns.remove(c); c.close()
PYEOF
# A client: connect to each port given, print "connected", block in recv on
# the first, and print what recv returned.
cat >"$T/client.py" <<'PYEOF'
import socket, sys
socks = [socket.create_connection(("127.0.0.1", int(p)), timeout=30) for p in sys.argv[1:]]
print("connected", flush=True)
print("recv", socks[0].recv(1), flush=True)
PYEOF

# ---- real programs, default names ----

start_server
new_segment prog
S=$seg
pre="chardev:curl\[[0-9]+\]#[0-9]+>tcp:127\.0\.0\.1:$port "

# Control: without the shim nothing is listed, which is what the checks
# below would see if the shim did nothing.
timeout 20 curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 &
pids+=("$!")
sleep 0.5
names "$S"
if grep -q curl "$T/names"; then not_ok "control: curl without the shim is listed"; else ok; fi

with_shim "$S" timeout 20 curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 &
c=$!
pids+=("$c")
released "$S" "$pre" "$c" "curl"

sleep 30 | with_shim "$S" timeout 20 socat - "TCP:127.0.0.1:$port" >/dev/null 2>&1 &
c=$!
pids+=("$c")
released "$S" "chardev:socat\[[0-9]+\]#[0-9]+>tcp:127\.0\.0\.1:$port " "$c" "socat"

with_shim "$S" timeout 20 "$PY" "$T/client.py" "$port" >"$T/py.out" 2>&1 &
c=$!
pids+=("$c")
released "$S" "chardev:python3[^[]*\[[0-9]+\]#[0-9]+>tcp:127\.0\.0\.1:$port " "$c" "python3"
check "python3: recv returned b''" grep -qF "recv b''" "$T/py.out"

# The name's pid is the owner's.
with_shim "$S" timeout 20 "$PY" "$T/client.py" "$port" >/dev/null 2>&1 &
c=$!
pids+=("$c")
if has "$S" '>tcp:'; then
	read -r n p _ < <(grep -E '>tcp:' "$T/names" | head -n 1)
	check "the name carries the owner's pid ($n, $p)" test "${n#*[}" != "$n" -a "$(sed 's/.*\[\([0-9]*\)\].*/\1/' <<<"$n")" = "$p"
else
	not_ok "pid check: nothing listed"
fi
kill "$c" 2>/dev/null

# qemu-img exports its own yank_register_instance: a shim resolving its
# library through the global scope made it abort.  Here it must hang in the
# NBD handshake, be released by the yank and fail with an error, not abort.
if command -v qemu-img >/dev/null; then
	with_shim "$S" timeout 20 qemu-img info "nbd://127.0.0.1:$port" >/dev/null 2>"$T/qemu.err" &
	c=$!
	pids+=("$c")
	released "$S" "chardev:qemu-img\[[0-9]+\]#[0-9]+>tcp:127\.0\.0\.1:$port " "$c" "qemu-img"
	rc=0
	wait "$c" || rc=$?
	check "qemu-img: exits with an error, not a signal (rc $rc)" test "$rc" -ge 1 -a "$rc" -lt 128 -a "$rc" != 124
else
	echo "test-preload: qemu-img not installed (apt-get install qemu-utils): its check is skipped" >&2
fi

# qemu-nbd over a Unix socket: the unix:PATH peer name.
if command -v qemu-nbd >/dev/null; then
	"$PY" "$T/unix-hang.py" "$T/nbd.sock" >"$T/unix.out" 2>&1 &
	pids+=("$!")
	wait_for "grep -qs ready '$T/unix.out'"
	with_shim "$S" timeout 20 qemu-nbd --list -k "$T/nbd.sock" >/dev/null 2>&1 &
	c=$!
	pids+=("$c")
	released "$S" "chardev:qemu-nbd\[[0-9]+\]#[0-9]+>unix:$T/nbd\.sock " "$c" "qemu-nbd (unix)"
else
	echo "test-preload: qemu-nbd not installed (apt-get install qemu-utils): its check is skipped" >&2
fi

# nbd-client stuck in the handshake (no nbd device is needed to get there).
if command -v nbd-client >/dev/null; then
	with_shim "$S" timeout 20 nbd-client 127.0.0.1 "$port" /dev/nbd-yank-test -N x -nofork \
		>/dev/null 2>&1 &
	c=$!
	pids+=("$c")
	released "$S" "chardev:nbd-client\[[0-9]+\]#[0-9]+>tcp:127\.0\.0\.1:$port " "$c" "nbd-client"
else
	echo "test-preload: nbd-client not installed (apt-get install nbd-client): its check is skipped" >&2
fi

# ---- a connect that never completes ----

# A listener with backlog 0 that never accepts, its queue filled first:
# the next SYN is dropped and connect() stays in SYN_SENT.
cat >"$T/full.py" <<'PYEOF'
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(0)
port = l.getsockname()[1]
fill = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    c.connect_ex(("127.0.0.1", port)); fill.append(c)
time.sleep(0.3)
print(port, flush=True)
time.sleep(60)
PYEOF
"$PY" "$T/full.py" >"$T/full.port" 2>&1 &
pids+=("$!")
wait_for "[ -s '$T/full.port' ]"
fport=$(cat "$T/full.port")
with_shim "$S" timeout 20 curl -s --connect-timeout 15 "http://127.0.0.1:$fport/" >/dev/null 2>&1 &
c=$!
pids+=("$c")
sleep 0.5
check "hung connect: curl is still connecting" kill -0 "$c"
released "$S" "chardev:curl\[[0-9]+\]#[0-9]+>tcp:127\.0\.0\.1:$fport " "$c" "hung connect"
rc=0
wait "$c" || rc=$?
check "hung connect: curl reports a failed connect (rc $rc, 7 expected)" test "$rc" = 7

# ---- templates, types, MATCH ----

port1=$port
rm -f "$T/port" # start_server waits for this file to fill
start_server
port2=$port
port=$port1
new_segment tmpl
S=$seg
YANK_PRELOAD_NAME='grp-%c' with_shim "$S" timeout 20 "$PY" "$T/client.py" "$port" "$port2" \
	>"$T/grp.out" 2>&1 &
c=$!
pids+=("$c")
check "no %f: both sockets under one instance" has "$S" '^chardev:grp-python3[^ ]* [0-9]+ 2$'
released "$S" '^chardev:grp-python3' "$c" "grouped instance"

YANK_PRELOAD_TYPE=block-node YANK_PRELOAD_NAME=nbd-vm1 with_shim "$S" timeout 20 \
	"$PY" "$T/client.py" "$port" >/dev/null 2>&1 &
c=$!
pids+=("$c")
released "$S" '^block-node:nbd-vm1 ' "$c" "YANK_PRELOAD_TYPE=block-node"

new_segment match
S=$seg
YANK_PRELOAD_MATCH="unix:/nowhere,tcp:127.0.0.1:$port2" with_shim "$S" timeout 20 \
	"$PY" "$T/client.py" "$port" "$port2" >"$T/m.out" 2>&1 &
c=$!
pids+=("$c")
wait_for "grep -qs connected '$T/m.out'"
has "$S" ">tcp:127\.0\.0\.1:$port2 " && ok || not_ok "MATCH: the matching socket is not listed"
if grep -q ">tcp:127\.0\.0\.1:$port " "$T/names"; then not_ok "MATCH: a non-matching socket is listed"; else ok; fi
kill "$c" 2>/dev/null

# ---- fork and exec ----

new_segment fork
S=$seg
cat >"$T/fork.py" <<PYEOF
import os, socket, sys, time
a = socket.create_connection(("127.0.0.1", $port))
pid = os.fork()
if pid == 0:
    b = socket.create_connection(("127.0.0.1", $port2))
    print("child", os.getpid(), flush=True)
    b.recv(1)
    os._exit(0)
print("parent", os.getpid(), flush=True)
time.sleep(30)
PYEOF
with_shim "$S" timeout 20 "$PY" "$T/fork.py" >"$T/fork.out" 2>&1 &
c=$!
pids+=("$c")
wait_for "grep -qs child '$T/fork.out' && grep -qs parent '$T/fork.out'"
ppid=$(sed -n 's/^parent //p' "$T/fork.out")
cpid=$(sed -n 's/^child //p' "$T/fork.out")
check "fork: the child's connect is registered under the child's pid" \
	has "$S" "^chardev:python3[^[]*\[$cpid\]#[0-9]+>tcp:127\.0\.0\.1:$port2 $cpid 1$"
check "fork: the parent's registration stays the parent's" \
	has "$S" "^chardev:python3[^[]*\[$ppid\]#[0-9]+>tcp:127\.0\.0\.1:$port $ppid 1$"
names "$S"
check "fork: the child owns nothing else" test "$(grep -c " $cpid " "$T/names")" = 1
released "$S" "\[$cpid\]" "$cpid" "fork child"
kill "$c" 2>/dev/null

new_segment exec
S=$seg
cat >"$T/exec.py" <<PYEOF
import os, socket, sys
a = socket.create_connection(("127.0.0.1", $port))
a2 = os.dup(a.fileno())   # inheritable: still open in the new image
print("before", flush=True)
sys.stdin.readline()
os.execv("$PY", ["$PY", "$T/client.py", "$port2"])
PYEOF
mkfifo "$T/exec.in"
with_shim "$S" timeout 20 "$PY" "$T/exec.py" <"$T/exec.in" >"$T/exec.out" 2>&1 &
c=$!
pids+=("$c")
exec 8>"$T/exec.in"
check "exec: registered before the exec" has "$S" ">tcp:127\.0\.0\.1:$port [0-9]+ 1$"
echo go >&8
exec 8>&-
check "exec: the new image's connect is registered" has "$S" ">tcp:127\.0\.0\.1:$port2 [0-9]+ 1$"
names "$S"
check "exec: the old image's registration is gone" test "$(grep -c ">tcp:127\.0\.0\.1:$port " "$T/names")" = 0
released "$S" ">tcp:127\.0\.0\.1:$port2 " "$c" "exec'd image"

# ---- close_range in the host ----

new_segment closerange
S=$seg
cat >"$T/closerange.py" <<PYEOF
import os, socket, sys
a = socket.create_connection(("127.0.0.1", $port))
print("first", a.fileno(), flush=True)
sys.stdin.readline()
os.closerange(3, 65536)
b = socket.create_connection(("127.0.0.1", $port2))
print("second", b.fileno(), flush=True)
print("recv", b.recv(1), flush=True)
PYEOF
mkfifo "$T/cr.in"
with_shim "$S" timeout 20 "$PY" "$T/closerange.py" <"$T/cr.in" >"$T/cr.out" 2>&1 &
c=$!
pids+=("$c")
exec 8>"$T/cr.in"
check "closerange: first socket registered" has "$S" ">tcp:127\.0\.0\.1:$port "
echo go >&8
exec 8>&-
check "closerange: a later connect is registered" has "$S" ">tcp:127\.0\.0\.1:$port2 "
names "$S"
check "closerange: the closed socket's record is gone" test "$(grep -c ">tcp:127\.0\.0\.1:$port " "$T/names")" = 0
released "$S" ">tcp:127\.0\.0\.1:$port2 " "$c" "after closerange"
check "closerange: recv returned b''" grep -qF "recv b''" "$T/cr.out"

# ---- close in a signal handler, fork of a multithreaded program ----

if [ -x "$HELPERS/preload-stress" ]; then
	new_segment stress
	expect_rc 0 "stress: signal-handler closes, threads and forks finish (no deadlock)" \
		$(shim_env "$seg") "$HELPERS/preload-stress"
	out_has "ok:" "stress: its report"
else
	not_ok "$HELPERS/preload-stress is missing: build it first (make)"
fi

# A close() that a signal handler may make while malloc() is interrupted
# must not reach the allocator: preload-sigclose counts the calls.
if [ -x "$HELPERS/preload-sigclose" ]; then
	new_segment sigclose
	rm -f "$T/sc.in"
	mkfifo "$T/sc.in"
	$(shim_env "$seg") "$HELPERS/preload-sigclose" <"$T/sc.in" >"$T/sc.out" 2>&1 &
	sc_pid=$!
	pids+=("$sc_pid")
	exec 8>"$T/sc.in"
	wait_for "grep -qs '^ready ' '$T/sc.out'"
	check "sigclose: both ends are registered" \
		wait_for "names '$seg' && [ \$(grep -c ' $sc_pid 1\$' '$T/names') = 2 ]"
	echo close >&8
	check "sigclose: closed" wait_for "grep -qs '^allocs ' '$T/sc.out'"
	check "sigclose: no malloc or free inside close() ($(tail -n 1 "$T/sc.out"))" \
		grep -qx 'allocs 0' "$T/sc.out"
	names "$seg"
	check "sigclose: the closed end's record went with it, not left stale" \
		test "$(grep -c " $sc_pid 1\$" "$T/names")" = 1
	exec 8>&-
else
	not_ok "$HELPERS/preload-sigclose is missing: build it first (make)"
fi

# ---- the registry is unusable: the program runs as without the shim ----

mkdir -p "$T/www"
echo "hello from the loopback" >"$T/www/index.html"
"$PY" -u -m http.server --bind 127.0.0.1 --directory "$T/www" 0 >"$T/http.out" 2>&1 &
pids+=("$!")
wait_for "grep -qs 'port [0-9]' '$T/http.out'"
hport=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/http.out" | head -n 1)
url="http://127.0.0.1:$hport/index.html"

new_segment broken
S=$seg
head -c 200000 /dev/urandom >"/dev/shm$S"
chmod 600 "/dev/shm$S"
sum=$(md5sum <"/dev/shm$S")
expect_rc 0 "garbage registry: curl fetches" $(shim_env "$S") curl -sS "$url"
out_has "hello from the loopback" "garbage registry: the page"
check "garbage registry: nothing on stderr without YANK_PRELOAD_DEBUG" test ! -s "$T/err"
YANK_PRELOAD_DEBUG=1 expect_rc 0 "garbage registry, debug: curl fetches" $(shim_env "$S") curl -sS "$url"
check "garbage registry, debug: one diagnostic line" test "$(grep -c libyank-preload "$T/err")" = 1
check "garbage registry: left as it was" test "$(md5sum <"/dev/shm$S")" = "$sum"
expect_rc 0 "registry name invalid: curl fetches" $(shim_env "/bad/name") curl -sS "$url"
check "registry name invalid: nothing on stderr" test ! -s "$T/err"

# ---- the registry lock is held by a stopped process ----

if [ -x "$HELPERS/rb-peer" ]; then
	new_segment stopped
	S=$seg
	mkfifo "$T/rb.in"
	"$HELPERS/rb-peer" <"$T/rb.in" >"$T/rb.out" 2>&1 &
	rb=$!
	pids+=("$rb")
	exec 9>"$T/rb.in"
	printf 'open %s\nfault register.locked:stop\ninst c:stuck\n' "$S" >&9
	if wait_for "grep -q '^State:.*T' /proc/$rb/status 2>/dev/null"; then
		ok
		t0=$(date +%s%N)
		expect_rc 0 "lock held by a stopped process: curl fetches" $(shim_env "$S") curl -sS "$url"
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		echo "test-preload: curl with the registry lock held by a stopped process: $ms ms" >&2
		check "lock held by a stopped process: curl took $ms ms (< 3000)" test "$ms" -lt 3000
		out_has "hello from the loopback" "stopped holder: the page"
	else
		not_ok "rb-peer did not stop holding the lock: $(cat "$T/rb.out")"
	fi
	kill -KILL "$rb" 2>/dev/null
	exec 9>&-
else
	echo "test-preload: $HELPERS/rb-peer missing: the stopped-holder check is skipped" >&2
fi

finish
