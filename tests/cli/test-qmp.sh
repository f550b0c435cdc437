#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl qmp, as a QMP client sees it: every request is written without a
# newline unless the case is about lines, each reply is read with a
# timeout, compared byte for byte, and after the cases where a server
# could answer twice the test checks that no second reply comes.  Then
# the same server behind socat on a Unix socket.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"

new_segment qmp
S=$seg
start_server
start_registrant r "$S" -c chardev:c0 block-node:n0 migration

version=$("$YANKCTL" --version | awk '{ print $2 }')
IFS=. read -r major minor micro <<<"$version"
# The greeting and query-version carry the same object, QEMU's shape with
# yank's own version.
verinfo='{"qemu": {"micro": '$micro', "minor": '$minor', "major": '$major'}, "package": "yank '$version'"}'
greeting='{"QMP": {"version": '$verinfo', "capabilities": ["oob"]}}'
all='[{"type": "chardev", "id": "c0"}, {"type": "block-node", "node-name": "n0"}, {"type": "migration"}]'
ret='{"return": {}}'
generic() { printf '{"error": {"class": "GenericError", "desc": "%s"}}' "$1"; }
notfound() { printf '{"error": {"class": "CommandNotFound", "desc": "%s"}}' "$1"; }
nodev='{"error": {"class": "DeviceNotFound", "desc": "Instance not found"}}'

# A session: fifos opened read-write on our side first, so that no open
# blocks; the server must not inherit our ends, or it would never see EOF.
qmp_start() {
	rm -f "$T/qin" "$T/qout"
	mkfifo "$T/qin" "$T/qout"
	exec {qw}<>"$T/qin" {qr}<>"$T/qout"
	timeout -k 2 60 "$YANKCTL" "$@" qmp <"$T/qin" >"$T/qout" 2>"$T/qmp.err" {qw}>&- {qr}>&- &
	qmp_pid=$!
	pids+=("$qmp_pid")
}

# End of input: the server must exit 0.
qmp_stop() {
	exec {qw}>&-
	qmp_rc=0
	wait "$qmp_pid" || qmp_rc=$?
	exec {qr}<&-
}

send() {
	printf '%s' "$1" >&"$qw"
}

# expect DESCRIPTION REPLY: the next reply line is exactly REPLY.
expect() {
	local line=""
	IFS= read -r -t 5 line <&"$qr"
	if [ "$line" = "$2" ]; then ok; else not_ok "$1: got '$line', expected '$2'"; fi
}

# quiet DESCRIPTION: no further reply within 300 ms.
quiet() {
	local line=""
	if IFS= read -r -t 0.3 line <&"$qr"; then not_ok "$1: extra reply '$line'"; else ok; fi
}

# parse_error DESCRIPTION: the next reply is a JSON parse error.
parse_error() {
	local line=""
	IFS= read -r -t 5 line <&"$qr"
	case $line in
	'{"error": {"class": "GenericError", "desc": "JSON parse error, '*) ok ;;
	*) not_ok "$1: $line" ;;
	esac
}

# ask DESCRIPTION REQUEST REPLY: one request, no newline, one exact reply.
ask() {
	send "$2"
	expect "$1" "$3"
}

yank_c0='{"execute": "yank", "arguments": {"instances": [{"type": "chardev", "id": "c0"}]}}'

# --- Session 1: negotiation, in-band commands, malformed input. ---
qmp_start --segment "$S"
expect "greeting" "$greeting"
ask "query-yank before negotiation" '{"execute":"query-yank"}' \
	"$(notfound "Expecting capabilities negotiation with 'qmp_capabilities'")"
ask "yank before negotiation" "$yank_c0" \
	"$(notfound "Expecting capabilities negotiation with 'qmp_capabilities'")"
ask "unknown command before negotiation" '{"execute":"nosuch","id":3}' \
	'{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with '"'qmp_capabilities'"'"}, "id": 3}'
ask "exec-oob before negotiation" '{"exec-oob":"query-yank"}' \
	"$(generic "QMP input member 'exec-oob' is unexpected")"
ask "bad capability" '{"execute":"qmp_capabilities","arguments":{"enable":["bogus"]}}' \
	"$(generic "Parameter 'enable[0]' does not accept value 'bogus'")"
ask "capabilities argument of the wrong type" '{"execute":"qmp_capabilities","arguments":{"enable":"oob"}}' \
	"$(generic "Invalid parameter type for 'enable', expected: array")"
ask "unexpected capabilities argument" '{"execute":"qmp_capabilities","arguments":{"x":1}}' \
	"$(generic "Parameter 'x' is unexpected")"
ask "still not negotiated after a failed qmp_capabilities" '{"execute":"query-yank"}' \
	"$(notfound "Expecting capabilities negotiation with 'qmp_capabilities'")"
ask "qmp_capabilities" '{"execute":"qmp_capabilities"}' "$ret"
ask "second qmp_capabilities" '{"execute":"qmp_capabilities"}' \
	"$(notfound "Capabilities negotiation is already complete, command ignored")"
ask "exec-oob without oob negotiated" '{"exec-oob":"query-yank","id":"o1"}' \
	'{"error": {"class": "GenericError", "desc": "QMP input member '"'exec-oob'"' is unexpected"}, "id": "o1"}'

ask "query-yank, no newline" '{"execute":"query-yank"}' "{\"return\": $all}"
ask "id: number" '{"execute":"query-yank","id":1}' "{\"return\": $all, \"id\": 1}"
ask "id: string" '{"id":"abc","execute":"query-yank"}' "{\"return\": $all, \"id\": \"abc\"}"
ask "id: object" '{"execute":"qmp_capabilities","id":{"x":[1,null,"y"]}}' \
	'{"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}, "id": {"x": [1, null, "y"]}}'
ask "id: null" '{"execute":"nosuch","id":null}' \
	'{"error": {"class": "CommandNotFound", "desc": "The command nosuch has not been found"}, "id": null}'
ask "unknown command" '{"execute":"query-status"}' "$(notfound "The command query-status has not been found")"

send '{"execute":"query-yank","id":1}{"execute":"query-yank","id":2}'
expect "two requests in one write: first" "{\"return\": $all, \"id\": 1}"
expect "two requests in one write: second" "{\"return\": $all, \"id\": 2}"
send '{"execute":"que'
quiet "half a request gets no answer"
send 'ry-yank", "id": "split"}'
expect "the rest of the request completes it" "{\"return\": $all, \"id\": \"split\"}"
send $' \r\n\t {"execute":"query-yank"}\n\n'
expect "whitespace and newlines between requests" "{\"return\": $all}"

# Malformed JSON: exactly one error, then the server is in step again.
send $'{"execute": "yank", ]}\n'
expect "malformed JSON" "$(generic "JSON parse error, unexpected ']'")"
quiet "malformed JSON: one reply only"
ask "in step after malformed JSON" '{"execute":"query-yank","id":"after"}' "{\"return\": $all, \"id\": \"after\"}"
send $'}}}} {"execute":"query-yank"} garbage\n'
expect "stray closers: one error for the line" "$(generic "JSON parse error, unexpected '}'")"
quiet "stray closers: the rest of the line is skipped"
# A mistake right after a value answered with an error shares its reply,
# and the rest of the line is dropped, however the bytes arrive: a request
# on the rest of that line is skipped even in a later write.
send '{"execute":"yank",}}'
parse_error "malformed, no newline"
quiet "a bad value and a stray closer: one error"
send '{"execute":"query-yank","id":"skipped"}'
quiet "the rest of the bad line is skipped, in a later write too"
send $'\n{"execute":"query-yank","id":"next-line"}'
expect "the next line is served" "{\"return\": $all, \"id\": \"next-line\"}"
send $'{"execute" "query-yank"}\n'
parse_error "missing colon"
quiet "missing colon: one reply only"
send $'nonsense\n'
parse_error "bare word"
quiet "bare word: one reply only"
send $'{"execute": "query-yank\n'
expect "newline inside a string" "$(generic "JSON parse error, control character 0x0a in a string")"
quiet "newline inside a string: one reply"
send $'{"execute":"query-yank","execute":"query-yank"}\n'
expect "duplicate member" "$(generic "JSON parse error, duplicate object key near '\\\"execute\\\"'")"
ask "in step after all that" '{"execute":"query-yank","id":"ok"}' "{\"return\": $all, \"id\": \"ok\"}"

# Valid JSON that is not a request.
ask "array" '[1, 2]' "$(generic "QMP input must be a JSON object")"
ask "string" '"query-yank"' "$(generic "QMP input must be a JSON object")"
send $'42\n'
expect "number" "$(generic "QMP input must be a JSON object")"
ask "no execute" '{"id":7}' '{"error": {"class": "GenericError", "desc": "QMP input lacks member '"'execute'"'"}, "id": 7}'
ask "execute not a string" '{"execute":1}' "$(generic "QMP input member 'execute' must be a string")"
ask "unexpected member" '{"execute":"query-yank","force":true}' "$(generic "QMP input member 'force' is unexpected")"
ask "arguments not an object" '{"execute":"yank","arguments":[{"type":"chardev","id":"c0"}]}' \
	"$(generic "QMP input member 'arguments' must be an object")"
ask "query-yank with arguments" '{"execute":"query-yank","arguments":{"type":"chardev"}}' \
	"$(generic "Parameter 'type' is unexpected")"

# Malformed yank arguments: each answered once, and nothing yanked.
y() { printf '{"execute":"yank","arguments":%s}' "$1"; }
ask "yank without arguments" '{"execute":"yank"}' "$(generic "Parameter 'instances' is missing")"
ask "yank, empty arguments" "$(y '{}')" "$(generic "Parameter 'instances' is missing")"
ask "instances a string" "$(y '{"instances":"c0"}')" "$(generic "Invalid parameter type for 'instances', expected: array")"
ask "instances null" "$(y '{"instances":null}')" "$(generic "Invalid parameter type for 'instances', expected: array")"
ask "instances an object" "$(y '{"instances":{"type":"chardev","id":"c0"}}')" \
	"$(generic "Invalid parameter type for 'instances', expected: array")"
ask "element not an object" "$(y '{"instances":["c0"]}')" \
	"$(generic "Invalid parameter type for 'instances[0]', expected: object")"
ask "type missing" "$(y '{"instances":[{"id":"c0"}]}')" "$(generic "Parameter 'instances[0].type' is missing")"
ask "type not a string" "$(y '{"instances":[{"type":1,"id":"c0"}]}')" \
	"$(generic "Invalid parameter type for 'instances[0].type', expected: string")"
ask "unknown type" "$(y '{"instances":[{"type":"bogus","id":"c0"}]}')" \
	"$(generic "Parameter 'type' does not accept value 'bogus'")"
ask "chardev without id" "$(y '{"instances":[{"type":"chardev"}]}')" "$(generic "Parameter 'instances[0].id' is missing")"
ask "id not a string" "$(y '{"instances":[{"type":"chardev","id":7}]}')" \
	"$(generic "Invalid parameter type for 'instances[0].id', expected: string")"
ask "block-node with id" "$(y '{"instances":[{"type":"block-node","id":"n0"}]}')" \
	"$(generic "Parameter 'instances[0].node-name' is missing")"
ask "extra member in an instance" "$(y '{"instances":[{"type":"chardev","id":"c0","force":true}]}')" \
	"$(generic "Parameter 'instances[0].force' is unexpected")"
ask "migration with an id" "$(y '{"instances":[{"type":"migration","id":"m"}]}')" \
	"$(generic "Parameter 'instances[0].id' is unexpected")"
ask "extra argument" "$(y '{"instances":[],"force":true}')" "$(generic "Parameter 'force' is unexpected")"
ask "empty name after a valid one" "$(y '{"instances":[{"type":"chardev","id":"c0"},{"type":"chardev","id":""}]}')" \
	"$(generic "Parameter 'instances[1].id' is invalid: empty name")"
ask "control character in a name" "$(y '{"instances":[{"type":"chardev","id":"c0"},{"type":"block-node","node-name":"a\u0001"}]}')" \
	"$(generic "Parameter 'instances[1].node-name' is invalid: name contains a control character")"
long=$(printf 'n%.0s' $(seq 256))
ask "name longer than 255 bytes" "$(y '{"instances":[{"type":"chardev","id":"c0"},{"type":"chardev","id":"'"$long"'"}]}')" \
	"$(generic "Parameter 'instances[1].id' is invalid: name longer than 255 bytes")"
send "$(y '{"instances":[{"type":"chardev","id":"c\u0000"}]}')"$'\n'
line=""
IFS= read -r -t 5 line <&"$qr"
case $line in
'{"error": {"class": "GenericError", "desc": "JSON parse error, \\u0000 is not allowed'*) ok ;;
*) not_ok "NUL in a name: $line" ;;
esac

# Lookups: all or nothing.
ask "missing instance" "$(y '{"instances":[{"type":"chardev","id":"nope"}]}')" "$nodev"
ask "present and missing" "$(y '{"instances":[{"type":"chardev","id":"c0"},{"type":"block-node","node-name":"nope"}]}')" "$nodev"
ask "migration and missing" "$(y '{"instances":[{"type":"migration"},{"type":"chardev","id":"C0"}]}')" "$nodev"
ask "empty list" "$(y '{"instances":[]}')" "$ret"
sleep 0.3
check "nothing yanked by malformed or failed requests" test -z "$(grep 'recv() returned' "$T/r.out")"

ask "yank c0" "$yank_c0" "$ret"
check "c0's owner recovered" wait_for "recovered r chardev:c0"
check "c0 unregistered" wait_for "! listed '$S' '\"id\": \"c0\"'"
ask "query-yank after the yank" '{"execute":"query-yank"}' \
	'{"return": [{"type": "block-node", "node-name": "n0"}, {"type": "migration"}]}'
ask "yank of the gone c0" "$yank_c0" "$nodev"

# A request over 1 MiB: one error, its bytes discarded, then in step.
big=$(head -c 1100000 /dev/zero | tr '\0' x)
send '{"execute":"query-yank","id":"'"$big"'"}'
expect "oversized request" "$(generic "JSON parse error, request larger than 1048576 bytes")"
quiet "oversized request: one reply"
ask "in step after an oversized request" '{"execute":"query-yank","id":"small"}' \
	'{"return": [{"type": "block-node", "node-name": "n0"}, {"type": "migration"}], "id": "small"}'

# End of input in the middle of a request: one error, then exit 0.
send '{"execute":"query-yank"'
qmp_stop_line=""
exec {qw}>&-
IFS= read -r -t 5 qmp_stop_line <&"$qr"
check "premature end of input is answered" test "$qmp_stop_line" = "$(generic "JSON parse error, premature end of input")"
qmp_rc=0
wait "$qmp_pid" || qmp_rc=$?
exec {qr}<&-
check "exit 0 at end of input (got $qmp_rc)" test "$qmp_rc" = 0
check "nothing on stderr" test ! -s "$T/qmp.err"

# --- Session 2: out-of-band, and a partial failure. ---
qmp_start --segment "$S" --timeout 300
expect "greeting, session 2" "$greeting"
ask "qmp_capabilities with oob" '{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}' "$ret"
ask "exec-oob query-yank" '{"exec-oob":"query-yank","id":"q"}' \
	'{"return": [{"type": "block-node", "node-name": "n0"}, {"type": "migration"}], "id": "q"}'
ask "exec-oob without id" '{"exec-oob":"yank","arguments":{"instances":[]}}' "$ret"
ask "exec-oob with a missing instance" '{"exec-oob":"yank","arguments":{"instances":[{"type":"chardev","id":"nope"}]},"id":"m"}' \
	'{"error": {"class": "DeviceNotFound", "desc": "Instance not found"}, "id": "m"}'
ask "exec-oob qmp_capabilities" '{"exec-oob":"qmp_capabilities","id":5}' \
	'{"error": {"class": "GenericError", "desc": "The command qmp_capabilities does not support OOB"}, "id": 5}'
ask "exec-oob query-version: not allowed out of band, as in QEMU" '{"exec-oob":"query-version","id":6}' \
	'{"error": {"class": "GenericError", "desc": "The command query-version does not support OOB"}, "id": 6}'
ask "exec-oob query-commands: not allowed out of band" '{"exec-oob":"query-commands"}' \
	"$(generic "The command query-commands does not support OOB")"
ask "execute and exec-oob" '{"execute":"query-yank","exec-oob":"query-yank"}' \
	"$(generic "QMP input member 'execute' clashes with 'exec-oob'")"
ask "exec-oob malformed arguments, id echoed" '{"exec-oob":"yank","id":"x","arguments":{}}' \
	'{"error": {"class": "GenericError", "desc": "Parameter '"'instances'"' is missing"}, "id": "x"}'

# all_stopped PID: every thread of PID is in the stopped state.
all_stopped() {
	local t st
	for t in /proc/"$1"/task/*/stat; do
		IFS= read -r st <"$t" || return 1
		st=${st##*) }
		[ "${st%% *}" = T ] || return 1
	done
}
kill -STOP "$r_pid"
# SIGSTOP lands when each thread next runs: until then the agent thread
# could still run the callback.
check "the owner is stopped, every thread" wait_for "all_stopped $r_pid"
send '{"exec-oob":"yank","arguments":{"instances":[{"type":"block-node","node-name":"n0"}]},"id":"stopped"}'
line=""
IFS= read -r -t 10 line <&"$qr"
kill -CONT "$r_pid"
case $line in
'{"error": {"class": "GenericError", "desc": "Yank incomplete: block-node:n0 (pid '"$r_pid"'): callback not run'*'"}, "id": "stopped"}') ok ;;
*) not_ok "partial failure of a stopped owner: $line" ;;
esac
check "n0's owner recovered after SIGCONT" wait_for "recovered r block-node:n0"
ask "exec-oob yank migration" '{"exec-oob":"yank","arguments":{"instances":[{"type":"migration"}]},"id":"mig"}' \
	'{"return": {}, "id": "mig"}'
check "registrant exits once all recovered" wait_for "! kill -0 $r_pid 2>/dev/null"
ask "empty registry" '{"execute":"query-yank"}' '{"return": []}'
qmp_stop
check "session 2 exits 0" test "$qmp_rc" = 0

# --- Session 3: started before its segment exists. ---
new_segment later
L=$seg
qmp_start --segment "$L"
expect "greeting, no segment" "$greeting"
ask "negotiate, no segment" '{"execute":"qmp_capabilities"}' "$ret"
ask "query-yank, no segment" '{"execute":"query-yank"}' '{"return": []}'
ask "yank, no segment" "$yank_c0" "$nodev"
ask "yank [], no segment" "$(y '{"instances":[]}')" "$ret"
check "the server created no segment" test ! -e "/dev/shm$L"
start_registrant late "$L" chardev:late0
ask "a segment created later is seen" '{"execute":"query-yank"}' '{"return": [{"type": "chardev", "id": "late0"}]}'
ask "and yanked" "$(y '{"instances":[{"type":"chardev","id":"late0"}]}')" "$ret"
check "late owner recovered" wait_for "recovered late chardev:late0"
qmp_stop
check "session 3 exits 0" test "$qmp_rc" = 0

# --- Session 4: resynchronisation, query-version, query-commands. ---
new_segment resync
R=$seg
qmp_start --segment "$R"
expect "greeting, session 4" "$greeting"
ask "query-version before negotiation" '{"execute":"query-version"}' \
	"$(notfound "Expecting capabilities negotiation with 'qmp_capabilities'")"

# A line-based client: a bad token is an error at once, even with a brace
# left open, and the next line is served.  Two lines, two replies.
send $'{this is not json\n{"execute":"qmp_capabilities"}\n'
parse_error "a bare word after an open brace is answered at once"
expect "the line after the bad line is served" "$ret"
quiet "a bad line and a good line: two replies"
for bad in '{"execute": nonsense' '[1, 2, three' '{"execute": "query-yank", "id": 01' \
	'{"execute": "query-yank", "id": -}' '{"execute": "query-yank", "id": "\q' \
	'{"execute": tru}' '{"a": 1,}}' '{"a": 1,} xyz'; do
	send "$bad"$'\n{"execute":"query-yank","id":"after"}\n'
	parse_error "bad line $bad"
	expect "served after the bad line $bad" '{"return": [], "id": "after"}'
	quiet "bad line $bad: two replies"
done

# A stray closer right after a request answered with an error shares it.
send $'{"execute":"nosuch"} ]\n{"execute":"query-yank","id":"after"}\n'
expect "an unknown command, then a stray closer: one error" "$(notfound "The command nosuch has not been found")"
expect "an unknown command, then a stray closer: the next line" '{"return": [], "id": "after"}'
quiet "an unknown command, then a stray closer: two replies"
# A stray closer after a request that succeeded is an error of its own.
send $'{"execute":"query-yank","id":"fine"}}\n{"execute":"query-yank","id":"after"}\n'
expect "a request, then a stray closer: the request" '{"return": [], "id": "fine"}'
expect "a request, then a stray closer: the closer" "$(generic "JSON parse error, unexpected '}'")"
expect "a request, then a stray closer: the next line" '{"return": [], "id": "after"}'
# An open bracket with no bad token is a value that goes on past the line.
send $'[[\n'
quiet "an unclosed bracket waits for the rest of its value"
send $']]\n'
expect "and is answered once closed" "$(generic "QMP input must be a JSON object")"

# A client that sends no newlines: a value that is well formed but that
# Jansson refuses gets one error, and the very next value is answered.
for bad in '{"execute":"query-yank","id":1e400}' \
	'{"execute":"query-yank","id":18446744073709551616}' \
	'{"execute":"query-yank","id":"a\u0000b"}' \
	'{"execute":"query-yank","id":"\ud800"}' \
	'{"execute":"query-yank","id":1,"id":2}' \
	'{"execute":"query-yank","arguments":{"x":1,"x":2}}'; do
	send "$bad"
	parse_error "no newline: $bad"
	ask "no newline: the value after $bad" '{"execute":"query-yank","id":"next"}' \
		'{"return": [], "id": "next"}'
done
send '{"execute":"query-yank","id":1e400}{"execute":"query-yank","id":"same-write"}'
parse_error "1e400 and a request in one write: the error"
expect "1e400 and a request in one write: the request" '{"return": [], "id": "same-write"}'
quiet "1e400 and a request in one write: two replies"
send '{"execute":"query-yank","id":1e400}'
expect "exact error for 1e400" "$(generic "JSON parse error, real number overflow near '1e400'")"
send '{"execute":"query-yank","id":18446744073709551616}'
expect "exact error for 2^64" "$(generic "JSON parse error, too big integer near '18446744073709551616'")"

ask "query-version" '{"execute":"query-version","id":"v"}' "{\"return\": $verinfo, \"id\": \"v\"}"
check "query-version is yank's version" test "$version" = "$major.$minor.$micro"
ask "query-version with arguments" '{"execute":"query-version","arguments":{"x":1}}' \
	"$(generic "Parameter 'x' is unexpected")"
ask "query-commands" '{"execute":"query-commands"}' \
	'{"return": [{"name": "qmp_capabilities"}, {"name": "query-commands"}, {"name": "query-version"}, {"name": "query-yank"}, {"name": "yank"}]}'
ask "query-commands with arguments" '{"execute":"query-commands","arguments":{"x":1}}' \
	"$(generic "Parameter 'x' is unexpected")"
qmp_stop
check "session 4 exits 0" test "$qmp_rc" = 0
check "session 4: nothing on stderr" test ! -s "$T/qmp.err"

# --- Over a Unix socket, one server process per connection. ---
if command -v socat >/dev/null; then
	start_registrant s "$L" chardev:s0 block-node:s1
	sock="$T/qmp.sock"
	socat UNIX-LISTEN:"$sock",fork EXEC:"$YANKCTL --segment $L qmp" 2>"$T/socat.err" </dev/null &
	pids+=("$!")
	check "socat listening" wait_for '[ -S "$sock" ]'
	client() {
		printf '%s\n' "$@" | timeout 10 socat -t 5 - UNIX-CONNECT:"$sock"
	}
	client '{"execute":"qmp_capabilities"}' '{"execute":"query-yank","id":"A"}' >"$T/c1" &
	c1=$!
	client '{"execute":"qmp_capabilities"}' '{"execute":"query-yank","id":"B"}' >"$T/c2"
	wait "$c1"
	for c in c1 c2; do
		check "socket client $c: three lines" test "$(wc -l <"$T/$c")" = 3
		check "socket client $c: greeting" test "$(head -1 "$T/$c")" = "$greeting"
		check "socket client $c: negotiated" test "$(sed -n 2p "$T/$c")" = "$ret"
	done
	check "socket: query-yank A" test "$(sed -n 3p "$T/c1")" = '{"return": [{"type": "chardev", "id": "s0"}, {"type": "block-node", "node-name": "s1"}], "id": "A"}'
	check "socket: query-yank B" test "$(sed -n 3p "$T/c2")" = '{"return": [{"type": "chardev", "id": "s0"}, {"type": "block-node", "node-name": "s1"}], "id": "B"}'
	printf '%s' '{"execute":"qmp_capabilities"}{"execute":"yank","arguments":{"instances":[{"type":"chardev","id":"s0"},{"type":"block-node","node-name":"s1"}]}}' |
		timeout 10 socat -t 5 - UNIX-CONNECT:"$sock" >"$T/c3"
	check "socket: yank answered" test "$(sed -n 3p "$T/c3")" = "$ret"
	check "socket: s0 recovered" wait_for "recovered s chardev:s0"
	check "socket: s1 recovered" wait_for "recovered s block-node:s1"
else
	echo "note: socat not installed; socket checks skipped" >&2
fi

finish
