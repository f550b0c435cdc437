#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl watch on connections that stall on purpose: one line per change
# of verdict; --yank yanks exactly the instances it names once they have
# been stalled for --stall, once, and leaves another stalled instance
# alone; without --yank nothing is ever yanked; --waiting; --for ends the
# run and SIGINT or SIGTERM end it with status 0; bad command lines.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"
# shellcheck source=tests/cli/stalllib.bash
. "$(dirname "$0")/stalllib.bash"

need_python3
new_segment watch
S=$seg

# --- Bad command lines: exit 1, nothing watched. ---
expect_rc 1 "an instance without --yank" "$YANKCTL" --segment "$S" watch chardev:x
err_has "the instances to yank follow --yank" "instances go after --yank"
expect_rc 1 "--yank and --yank-all" "$YANKCTL" --segment "$S" watch --yank chardev:x --yank-all
err_has "give either --yank INSTANCE... or --yank-all" "one or the other"
expect_rc 1 "--waiting alone" "$YANKCTL" --segment "$S" watch --waiting
err_has "--waiting goes with --yank or --yank-all" "--waiting needs a yank"
expect_rc 1 "--stall with list" "$YANKCTL" --segment "$S" list --stall 1s
err_has "option '--stall' is for watch only" "watch's options are watch's"
expect_rc 1 "--interval below 10ms" "$YANKCTL" --segment "$S" watch --interval 5ms
err_has "--interval: '5ms' is not a duration from 10ms to 1h" "the bounds are named"
expect_rc 1 "a bad instance" "$YANKCTL" --segment "$S" watch --yank bogus
err_has "'bogus': unknown instance" "the bad instance is named"

# --- --for bounds the run, and a missing registry is only empty. ---
t0=$(date +%s%N)
expect_rc 0 "watch --for 2s ends by itself" "$YANKCTL" --segment "$S" watch --for 2s
t1=$(date +%s%N)
check "not before its time" test $(((t1 - t0) / 1000000)) -ge 2000
check "nothing to say about an empty registry" test ! -s "$T/out"

# --- Two stalled instances; only the one named is yanked. ---
start_pair x "$S" chardev:x tcp never-read send
start_pair y "$S" chardev:y unix never-read send
check "x stalled" wait_verdict "$S" x stalled
check "y stalled" wait_verdict "$S" y stalled

# Without --yank, nothing is yanked however long it stalls.
expect_rc 0 "watch without --yank" "$YANKCTL" --segment "$S" watch --json --stall 10ms --interval 100ms --for 1500ms
cp "$T/out" "$T/noyank.json"
check "it reported x stalled" grep -q '"instance": "chardev:x", "verdict": "stalled"' "$T/noyank.json"
check "and yanked nothing" test -z "$(grep '"action": "yanked"' "$T/noyank.json")"
check "x still there" test -z "$(grep SHUT "$T/x.reg")"

timeout -k 2 120 "$YANKCTL" --segment "$S" watch --json --stall 1s --interval 200ms --yank chardev:x \
	>"$T/watch.json" 2>"$T/watch.err" </dev/null &
w=$!
pids+=("$w")
check "x was yanked: its send failed" wait_line "$T/x.reg" SHUT
check "watch saw x go" wait_for "grep -q '\"instance\": \"chardev:x\", \"verdict\": \"gone\"' '$T/watch.json'" 400
kill -TERM "$w"
rc=0
wait "$w" || rc=$?
check "SIGTERM ends watch with status 0 (got $rc)" test "$rc" = 0
check "y was not yanked" test -z "$(grep SHUT "$T/y.reg")"
check "y is still stalled" wait_verdict "$S" y stalled
python3 - "$T/watch.json" >"$T/py.out" 2>&1 <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
keys = {"time", "instance", "verdict", "previous", "evidence", "action"}
assert lines, "no lines"
for l in lines:
    assert set(l) == keys, l
    assert l["verdict"] in ("stalled", "waiting", "ok", "idle", "unknown", "gone"), l
    assert l["action"] in (None, "yanked"), l
    assert l["time"].endswith("Z") and "T" in l["time"], l
yanked = [l for l in lines if l["action"] == "yanked"]
assert [l["instance"] for l in yanked] == ["chardev:x"], yanked
ev = yanked[0]["evidence"]
assert ev["fd"] >= 0 and ev["notsent"] + ev["unacked"] > 0, ev
assert ev["snd_wnd"] == 0 or ev["backoff"] > 0 or ev["retransmits"] > 0, ev
first = [l for l in lines if l["instance"] == "chardev:y"][0]
assert first["verdict"] == "stalled" and first["previous"] is None, first
assert first["evidence"]["wqueue"] > 0, first
PY
if [ $? = 0 ]; then ok; else not_ok "watch --json lines: $(cat "$T/py.out") in $(head -c 1500 "$T/watch.json")"; fi

# --- One hung migration, end to end: list names it stalled with its
# evidence, watch --yank recovers it unattended, and log says who did. ---
new_segment watch-mig
M=$seg
start_pair mig "$M" migration tcp never-read send
mig_stalled() {
	timeout 30 "$YANKCTL" --segment "$M" --json list >"$T/mig.json" 2>/dev/null &&
		python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
s = [s for o in d if o["type"] == "migration" for s in o["sockets"]]
sys.exit(0 if s and s[0]["verdict"] == "stalled" and s[0]["notsent"] + s[0]["unacked"] > 0 else 1)' "$T/mig.json"
}
check "the hung migration is judged stalled, with its queues" wait_for mig_stalled 120
expect_rc 0 "list, the table" "$YANKCTL" --segment "$M" list
if grep -qE "^migration +- +[0-9]+ +1 +0 +stalled [0-9]+(ms|s|m)" "$T/out"; then ok; else not_ok "the migration row says stalled: $(cat "$T/out")"; fi
timeout -k 2 120 "$YANKCTL" --segment "$M" watch --json --stall 500ms --interval 100ms \
	--yank migration >"$T/mig-watch.json" 2>"$T/mig-watch.err" </dev/null &
w=$!
pids+=("$w")
check "watch --yank migration recovers it: its send failed" wait_line "$T/mig.reg" SHUT
check "watch says it yanked it" wait_for "grep -q '\"instance\": \"migration\", \"verdict\": \"stalled\".*\"action\": \"yanked\"' '$T/mig-watch.json'" 400
kill -TERM "$w"
wait "$w" 2>/dev/null
expect_rc 0 "log" "$YANKCTL" --segment "$M" --json log
cp "$T/out" "$T/mig-log.json"
json_check "$T/mig-log.json" 'len(d) == 1 and d[0]["instances"] == ["migration"] and d[0]["result"] == "ok" and " watch " in d[0]["yanker"]["command"] and d[0]["yanker"]["uid"] == '"$(id -u)" \
	"log names the yank and watch as its yanker"

# --- The human lines, and SIGINT. ---
"$YANKCTL" --segment "$S" watch --interval 100ms >"$T/human.out" 2>&1 </dev/null &
w=$!
pids+=("$w")
check "a line for y" wait_for "grep -q 'chardev:y stalled: fd=' '$T/human.out'" 400
check "with its evidence" grep -q 'wqueue=[1-9][0-9]* peer_rqueue=' "$T/human.out"
kill -INT "$w"
rc=0
wait "$w" || rc=$?
check "SIGINT ends watch with status 0 (got $rc)" test "$rc" = 0

# --- waiting: yanked only with --waiting. ---
if [ "$(id -u)" = 0 ]; then
	start_pair q "$S" chardev:q tcp silent request
	check "q waiting" wait_verdict "$S" q waiting
	expect_rc 0 "watch --yank q, without --waiting" "$YANKCTL" --segment "$S" watch --json --stall 100ms --interval 100ms --for 1500ms --yank chardev:q
	check "waiting is not yanked without --waiting" test -z "$(grep '"action": "yanked"' "$T/out")"
	check "q still there" test -z "$(grep SHUT "$T/q.reg")"
	expect_rc 0 "watch --yank q --waiting" "$YANKCTL" --segment "$S" watch --json --stall 100ms --interval 100ms --for 10s --yank chardev:q --waiting
	check "q yanked once" test "$(grep -c '"action": "yanked"' "$T/out")" = 1
	check "q's recv returned" wait_line "$T/q.reg" SHUT
else
	echo "note: not root: waiting is not checked" >&2
fi

finish
