#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl list's socket state and verdicts, on real connections over
# loopback TCP and Unix sockets that stall on purpose: a peer that never
# reads, a peer stopped mid-stream, a request whose answer never comes,
# and two healthy ones (idle, and a steady transfer) that must never be
# called stalled.  Every wait is for an event, bounded; nothing is timed.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"
# shellcheck source=tests/cli/stalllib.bash
. "$(dirname "$0")/stalllib.bash"

need_python3
new_segment stalls
S=$seg

# --- TCP: the peer never reads; our send() blocks. ---
start_pair unread "$S" chardev:unread tcp never-read send
check "tcp, peer never reads: stalled" wait_verdict "$S" unread stalled
cp "$T/v.json" "$T/unread.json"
json_check "$T/unread.json" '[set(s) for o in d if o.get("id") == "unread" for s in o["sockets"]] == [{"fd", "family", "state", "local", "peer", "notsent", "unacked", "snd_wnd", "bytes_acked", "retransmits", "backoff", "last_data_recv_ms", "last_data_sent_ms", "rqueue", "wqueue", "verdict"}]' "a socket carries exactly the fields"
json_check "$T/unread.json" '[(s["family"], s["state"], s["local"].startswith("127.0.0.1:"), s["peer"].startswith("127.0.0.1:")) for o in d if o.get("id") == "unread" for s in o["sockets"]] == [("inet", "established", True, True)]' "family, state, addresses"
json_check "$T/unread.json" '[(s["notsent"] + s["unacked"] > 0, s["snd_wnd"] == 0 or s["backoff"] > 0 or s["retransmits"] > 0, s["wqueue"] > 0) for o in d if o.get("id") == "unread" for s in o["sockets"]] == [(True, True, True)]' "the evidence: data pending, the peer takes none"
expect_rc 0 "list, table" "$YANKCTL" --segment "$S" list
if head -1 "$T/out" | grep -qE '^TYPE +NAME +PID +FDS +CALLBACKS +VERDICT +COMMAND$'; then ok; else not_ok "header: $(head -1 "$T/out")"; fi
if grep -qE "^chardev +unread +$unread_reg +1 +0 +stalled [0-9]+(ms|s|m) " "$T/out"; then ok; else not_ok "stalled row with its age: $(cat "$T/out")"; fi

# --- TCP: the peer is stopped mid-stream. ---
start_pair stop "$S" chardev:stop tcp steady send
check "tcp, stream flowing" wait_line "$T/stop.peer" FLOWING
kill -STOP "$stop_peer"
check "peer stopped" wait_for "all_stopped $stop_peer" 200
check "tcp, peer stopped mid-stream: stalled" wait_verdict "$S" stop stalled
kill -CONT "$stop_peer"

# --- TCP: a request whose answer never comes; the owner waits in recv(). ---
start_pair req "$S" chardev:req tcp silent request
if [ "$(id -u)" = 0 ]; then
	check "tcp, no answer, blocked in recv: waiting" wait_verdict "$S" req waiting
	expect_rc 0 "list, table" "$YANKCTL" --segment "$S" list
	if grep -qE "^chardev +req +$req_reg +1 +0 +waiting [0-9]+(ms|s|m) " "$T/out"; then ok; else not_ok "waiting row with its age: $(cat "$T/out")"; fi
else
	echo "note: not root: another process's blocked threads may be hidden (Yama): waiting not checked" >&2
fi

# --- Healthy: an idle connection, and a steady transfer. Never stalled. ---
start_pair idle "$S" chardev:idle tcp silent idle
start_pair bulk "$S" chardev:bulk tcp steady trickle
check "tcp, transfer flowing" wait_line "$T/bulk.peer" FLOWING
check "tcp, idle: idle" wait_verdict "$S" idle idle
check "tcp, steady transfer: ok" wait_verdict "$S" bulk ok
for i in 1 2 3 4 5 6; do
	timeout 30 "$YANKCTL" --segment "$S" --json list >"$T/h.json" 2>/dev/null
	json_check "$T/h.json" '[s["verdict"] for o in d if o.get("id") == "idle" for s in o["sockets"]] == ["idle"]' "idle stays idle ($i)"
	json_check "$T/h.json" '[s["verdict"] in ("ok", "idle") for o in d if o.get("id") == "bulk" for s in o["sockets"]] == [True]' "a steady transfer is never stalled ($i)"
done

# --- Unix sockets: the same stories. ---
start_pair uunread "$S" chardev:uunread unix never-read send
check "unix, peer never reads: stalled" wait_verdict "$S" uunread stalled
cp "$T/v.json" "$T/uunread.json"
json_check "$T/uunread.json" '[(s["family"], s["state"], s["wqueue"] > 0, s["notsent"], s["snd_wnd"], s["last_data_sent_ms"]) for o in d if o.get("id") == "uunread" for s in o["sockets"]] == [("unix", "connected", True, None, None, None)]' "unix: queues, and null for what TCP alone has"
json_check "$T/uunread.json" '[s["peer"].endswith("uunread.sock") for o in d if o.get("id") == "uunread" for s in o["sockets"]] == [True]' "unix: the peer's path"
if [ "$(id -u)" = 0 ]; then
	start_pair ureq "$S" chardev:ureq unix silent request
	check "unix, no answer, blocked in recv: waiting" wait_verdict "$S" ureq waiting
fi
start_pair uidle "$S" chardev:uidle unix silent idle
start_pair ubulk "$S" chardev:ubulk unix steady trickle
check "unix, transfer flowing" wait_line "$T/ubulk.peer" FLOWING
check "unix, idle: idle" wait_verdict "$S" uidle idle
for i in 1 2 3 4; do
	timeout 30 "$YANKCTL" --segment "$S" --json list >"$T/h.json" 2>/dev/null
	json_check "$T/h.json" '[s["verdict"] for o in d if o.get("id") == "uidle" for s in o["sockets"]] == ["idle"]' "unix idle stays idle ($i)"
	json_check "$T/h.json" '[s["verdict"] in ("ok", "idle") for o in d if o.get("id") == "ubulk" for s in o["sockets"]] == [True]' "a steady unix transfer is never stalled ($i)"
done

# --- No fd record: "-" and no sockets. ---
new_segment cbonly
C=$seg
# It quits at the end of its input: held open here until the test ends.
mkfifo "$T/cb.in"
"$HELPERS/peer" "$C" cb:chardev:onlycb >"$T/cb.out" 2>&1 <"$T/cb.in" &
pids+=("$!")
exec 7>"$T/cb.in"
check "callback-only registrant ready" wait_for "grep -qs '^READY' '$T/cb.out'" 400
expect_rc 0 "list of a callback-only instance" "$YANKCTL" --segment "$C" list
if grep -qE '^chardev +onlycb +[0-9]+ +0 +1 +- ' "$T/out"; then ok; else not_ok "callback-only row has verdict -: $(cat "$T/out")"; fi
expect_rc 0 "list --json of a callback-only instance" "$YANKCTL" --segment "$C" --json list
cp "$T/out" "$T/cb.json"
json_check "$T/cb.json" '[(o["id"], o["sockets"]) for o in d] == [("onlycb", [])]' "no sockets"

# --- --sample 0: no socket state at all, the list of before. ---
expect_rc 0 "list --sample 0" "$YANKCTL" --segment "$S" list --sample 0
if head -1 "$T/out" | grep -qE '^TYPE +NAME +PID +FDS +CALLBACKS +COMMAND$'; then ok; else not_ok "--sample 0 header: $(head -1 "$T/out")"; fi
expect_rc 0 "list --json --sample 0" "$YANKCTL" --segment "$S" list --json --sample 0
cp "$T/out" "$T/s0.json"
json_check "$T/s0.json" 'len(d) > 0 and all("sockets" not in o for o in d)' "--sample 0: no sockets member"
expect_rc 1 "--sample with yank" "$YANKCTL" --segment "$S" yank chardev:x --sample 1s
err_has "option '--sample' is for list and metrics only" "--sample is refused elsewhere"
expect_rc 1 "a bad --sample" "$YANKCTL" --segment "$S" list --sample 2x
err_has "--sample: '2x' is not a duration" "a bad duration is named"

# --- Another network namespace: shown as such, not judged. ---
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
	new_segment netns
	N=$seg
	# Unix sockets by path connect across namespaces: both ends live in the new one.
	unshare --net "$HELPERS/stall-peer" -t 120 peer "unix:$T/ns.sock" never-read >"$T/ns.peer" 2>&1 </dev/null &
	pids+=("$!")
	check "peer in a new netns" wait_line "$T/ns.peer" LISTENING
	unshare --net "$HELPERS/stall-peer" -t 120 reg "$N" chardev:ns "unix:$T/ns.sock" send >"$T/ns.reg" 2>&1 </dev/null &
	pids+=("$!")
	check "registrant in a new netns" wait_line "$T/ns.reg" READY
	run "$YANKCTL" --segment "$N" --json list
	cp "$T/out" "$T/ns.json"
	json_check "$T/ns.json" '[(s["state"], s["verdict"], s["family"], s["rqueue"]) for o in d for s in o["sockets"]] == [("other-netns", "unknown", None, None)]' "another netns: other-netns, verdict unknown"
else
	echo "note: cannot make a network namespace (needs root and unshare): not checked" >&2
fi

finish
