#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl adopt and unadopt (SPEC §12): sockets of processes that know
# nothing of yank (a static binary, a python client) registered from
# outside, listed as adopted, yanked through pidfd_getfd, reaped when the
# process dies; a reused fd number reported stale and left alone; no
# ptrace permission refused by name; unadopt, and its refusal of a
# natively registered instance.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

need_python3

new_segment adopt
S=$seg
start_server

# py_client NAME [SCRIPT-TAIL]: a python3 client of the hang-server that
# prints its socket's fd and blocks in recv(); its pid in $NAME_pid.
py_client() {
	local name=$1
	python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("fd", s.fileno(), flush=True)
print("recv returned", s.recv(16), flush=True)' "$port" >"$T/$name.out" 2>&1 </dev/null &
	pids+=("$!")
	printf -v "${name}_pid" %s "$!"
	if ! wait_for "grep -qs '^fd ' '$T/$name.out'"; then
		echo "python client $name did not start: $(cat "$T/$name.out")" >&2
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	fi
}

fd_of() {
	sed -n 's/^fd \([0-9]*\)$/\1/p' "$T/$1.out"
}

# --- Usage errors, before anything is looked up. ---
expect_rc 1 "adopt without --pid" "$YANKCTL" --segment "$S" adopt --fd 3 chardev:x
err_has "--pid PID is needed" "adopt names its missing option"
expect_rc 1 "adopt with neither --fd nor --all-sockets" "$YANKCTL" --segment "$S" adopt --pid 1 chardev:x
expect_rc 1 "--match without --all-sockets" "$YANKCTL" --segment "$S" adopt --pid 1 --fd 3 --match 'tcp:*' chardev:x
expect_rc 1 "--pid outside adopt" "$YANKCTL" --segment "$S" list --pid 1
err_has "is for adopt only" "adopt's options belong to adopt"
expect_rc 1 "unadopt with no instance" "$YANKCTL" --segment "$S" unadopt

# --- A static binary: adopted by fd, listed as adopted, yanked, recovers. ---
cat >"$T/client.c" <<'EOF'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char buf[16];
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (argc < 2)
		return 2;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		return 1;
	}
	printf("fd %d\n", s);
	fflush(stdout);
	printf("recv returned %zd\n", recv(s, buf, sizeof(buf), 0));
	return 0;
}
EOF
if ${CC:-gcc} -static -o "$T/static-client" "$T/client.c" 2>"$T/cc.err"; then
	"$T/static-client" "$port" >"$T/st.out" 2>&1 </dev/null &
	st_pid=$!
	pids+=("$st_pid")
	check "static client connected" wait_for "grep -qs '^fd ' '$T/st.out'"
	st_fd=$(fd_of st)
	expect_rc 0 "adopt a static binary's socket" "$YANKCTL" --segment "$S" adopt --pid "$st_pid" --fd "$st_fd" chardev:static1
	out_has "adopted chardev:static1: pid $st_pid, fd $st_fd" "adopt says what it registered"
	expect_rc 0 "list with an adopted instance" "$YANKCTL" --segment "$S" list
	if grep -qE "^chardev +static1 +$st_pid +1 +0 +yes +(waiting [0-9]+(ms|s)|idle) +[^ ]*static-client" "$T/out"; then ok; else not_ok "adopted row: $(cat "$T/out")"; fi
	out_has "ADOPTED" "the table has an ADOPTED column"
	expect_rc 0 "list --json with an adopted instance" "$YANKCTL" --segment "$S" list --json
	cp "$T/out" "$T/st.json"
	json_check "$T/st.json" "any(o['id'] == 'static1' and o['adopted'] is True and o['pid'] == $st_pid and o['fds'] == 1 for o in d)" '"adopted": true in list --json'
	check "the static client is still blocked" test -z "$(grep 'recv returned' "$T/st.out")"
	expect_rc 0 "yank the adopted static binary's socket" "$YANKCTL" --segment "$S" yank chardev:static1
	check "the static client's recv returned" wait_for "grep -qs 'recv returned 0' '$T/st.out'"
	check "the static client exits" wait_for "! kill -0 $st_pid 2>/dev/null"
	expect_rc 0 "gc after the static client exited" "$YANKCTL" --segment "$S" gc
	expect_rc 0 "list after the static client's exit" "$YANKCTL" --segment "$S" list --json
	check "its adopted record is gone with it" test "$(cat "$T/out")" = "[]"
else
	echo "skipping the static binary case: ${CC:-gcc} -static failed (no libc.a? libc6-dev has it): $(head -c 300 "$T/cc.err")" >&2
fi

# --- A python client, found with --all-sockets --match, default name. ---
py_client py
py_fd=$(fd_of py)
name="python3[$py_pid]#$py_fd>tcp:127.0.0.1:$port"
expect_rc 2 "--all-sockets with a pattern nothing matches" "$YANKCTL" --segment "$S" adopt --pid "$py_pid" --all-sockets --match 'unix:/nowhere/*'
err_has "no connected stream socket matches" "nothing matched is said"
expect_rc 0 "adopt --all-sockets --match" "$YANKCTL" --segment "$S" adopt --pid "$py_pid" --all-sockets --match "tcp:10.0.0.1:*,tcp:127.0.0.1:$port"
out_has "adopted chardev:$name: pid $py_pid, fd $py_fd" "the default name"
check "exactly one socket adopted" test "$(wc -l <"$T/out")" = 1
expect_rc 0 "list --json" "$YANKCTL" --segment "$S" list --json
cp "$T/out" "$T/py.json"
json_check "$T/py.json" "[o['id'] for o in d if o.get('adopted')] == ['$name']" "listed under the default name, adopted"
expect_rc 1 "adopting the same socket twice" "$YANKCTL" --segment "$S" adopt --pid "$py_pid" --all-sockets
err_has "duplicate yank instance" "a name taken is said"
expect_rc 0 "yank the python client's socket" "$YANKCTL" --segment "$S" yank "chardev:$name"
check "the python client's recv returned" wait_for "grep -qs \"recv returned b''\" '$T/py.out'"
check "the python client exits" wait_for "! kill -0 $py_pid 2>/dev/null"

# --- A Unix stream client: named after the path it connected to. ---
python3 -c 'import socket, sys, time
l = socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
a, _ = l.accept()
print("fd", c.fileno(), flush=True)
print("recv returned", c.recv(16), flush=True)' "$T/srv.sock" >"$T/ux.out" 2>&1 </dev/null &
ux_pid=$!
pids+=("$ux_pid")
if wait_for "grep -qs '^fd ' '$T/ux.out'"; then
	ux_fd=$(sed -n 's/^fd //p' "$T/ux.out")
	expect_rc 0 "adopt --all-sockets of a Unix client" "$YANKCTL" --segment "$S" adopt --pid "$ux_pid" \
		--all-sockets --match "unix:$T/srv.sock"
	out_has "adopted chardev:python3[$ux_pid]#$ux_fd>unix:$T/srv.sock:" "the Unix client is named after its peer's path"
	expect_rc 0 "yank the Unix client" "$YANKCTL" --segment "$S" yank "chardev:python3[$ux_pid]#$ux_fd>unix:$T/srv.sock"
	check "the Unix client's recv returned" wait_for "grep -qs \"recv returned b''\" '$T/ux.out'"
else
	not_ok "the Unix client did not start: $(cat "$T/ux.out")"
fi

# --- kill -9 of an adopted process: gc reaps its records. ---
py_client k
expect_rc 0 "adopt a process to be killed" "$YANKCTL" --segment "$S" adopt --pid "$k_pid" --fd "$(fd_of k)" chardev:killed
{ kill -KILL "$k_pid" && wait "$k_pid"; } 2>/dev/null
# The python client above exited too: gc reaps both.
expect_rc 0 "gc after kill -9" "$YANKCTL" --segment "$S" gc
expect_rc 0 "list after gc" "$YANKCTL" --segment "$S" list --json
check "the killed process's adopted record is reaped" test "$(cat "$T/out")" = "[]"

# --- A reused fd number: reported stale (exit 3), the new socket left alone. ---
mkfifo "$T/ctl"
python3 -c 'import os, socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
print("fd", s.fileno(), flush=True)
for line in sys.stdin:
    if line.strip() == "swap":
        n = socket.create_connection(("127.0.0.1", port))
        os.dup2(n.fileno(), s.fileno())  # the old socket closed, its number reused
        n.close()
        print("swapped", flush=True)
    elif line.strip() == "check":
        s.setblocking(False)
        try:
            print("shut" if s.recv(1) == b"" else "data", flush=True)
        except BlockingIOError:
            print("open", flush=True)' "$port" <"$T/ctl" >"$T/stale.out" 2>&1 &
stale_pid=$!
pids+=("$stale_pid")
exec 7>"$T/ctl"
check "stale client connected" wait_for "grep -qs '^fd ' '$T/stale.out'"
stale_fd=$(fd_of stale)
expect_rc 0 "adopt the socket that will be replaced" "$YANKCTL" --segment "$S" adopt --pid "$stale_pid" --fd "$stale_fd" chardev:stale
echo swap >&7
check "fd number reused" wait_for "grep -qs '^swapped' '$T/stale.out'"
expect_rc 3 "yank of a reused fd number" "$YANKCTL" --segment "$S" yank chardev:stale
err_has "yankctl: chardev:stale: pid $stale_pid, fd $stale_fd: stale fd" "reported stale"
echo check >&7
check "the check ran" wait_for "grep -qsE '^(open|shut|data)$' '$T/stale.out'"
if grep -qx open "$T/stale.out"; then ok; else not_ok "the new socket on the reused number was shut: $(cat "$T/stale.out")"; fi
exec 7>&-

# --- unadopt: removes an adopted instance, refuses a native one. ---
expect_rc 0 "unadopt" "$YANKCTL" --segment "$S" unadopt chardev:stale
expect_rc 0 "list after unadopt" "$YANKCTL" --segment "$S" list --json
check "unadopt removed it" test "$(cat "$T/out")" = "[]"
expect_rc 2 "unadopt of a missing instance" "$YANKCTL" --segment "$S" unadopt chardev:stale
err_has "chardev:stale: Instance not found" "the missing instance is named"
start_registrant n "$S" chardev:native0
expect_rc 4 "unadopt of a native instance" "$YANKCTL" --segment "$S" unadopt chardev:native0
err_has "chardev:native0: not an adopted instance" "the refusal says why"
check "the native instance stays" listed "$S" '"id": "native0"'
expect_rc 1 "adopt of an fd the process does not have" "$YANKCTL" --segment "$S" adopt --pid "$n_pid" --fd 999 chardev:nofd
err_has "pid $n_pid has no fd 999" "the missing fd is named"
expect_rc 1 "adopt of a process that does not exist" "$YANKCTL" --segment "$S" adopt --pid 2147483647 --fd 3 chardev:nopid
err_has "no such process" "the missing process is said"

# --- No ptrace permission: refused by name, nothing registered. ---
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	new_segment perm
	P=$seg
	# Other uids cannot traverse the build tree or $T: a copy they can run.
	chmod 711 "$T"
	mkdir -m 755 "$T/pub"
	cp "$YANKCTL" "$T/pub/yankctl"
	nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	py_client root
	expect_rc 4 "adopt without the ptrace permission" "${nobody[@]}" "$T/pub/yankctl" --segment "$P" adopt --pid "$root_pid" --fd "$(fd_of root)" chardev:p0
	err_has "ptrace permission" "the error names the ptrace permission"
	err_has "pidfd_getfd" "the error names the call refused"
	expect_rc 0 "list as that user" "${nobody[@]}" "$T/pub/yankctl" --segment "$P" list --json
	check "nothing registered without permission" test "$(cat "$T/out")" = "[]"
else
	echo "skipping the permission case: needs root and setpriv" >&2
fi

finish
