#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Mirrored instances on the command line (SPEC §11) and the audit log
# (SPEC §13), driven through rb-peer's proxied functions: the
# NAMESPACE/INSTANCE spelling, plain names for native instances only,
# all-or-nothing across native and mirrored instances, exit 3 naming what
# vanished behind a proxy, and `yankctl log` showing who yanked what.
. "$(dirname "$0")/testlib.bash"
need_python3

if [ ! -x "$HELPERS/rb-peer" ]; then
	echo "test-namespaces: $HELPERS/rb-peer missing: build the tests first" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

new_segment ns
S=$seg
start_server
start_registrant native "$S" chardev:c0

# A proxy owner: qemu:vm1 holds a chardev c0 (the same name as the native
# one), a migration, and "gone0", which its system no longer has.
mkfifo "$T/px.in"
"$HELPERS/rb-peer" <"$T/px.in" >"$T/px.out" 2>&1 3>"$T/px.ev" &
px=$!
pids+=("$px")
exec 9>"$T/px.in"
printf 'open %s\nproxy qemu:vm1 c:c0\nproxy qemu:vm1 m\nproxy qemu:vm1 c:gone0\n' "$S" >&9
check "proxy owner registered" wait_for "[ \$(grep -c '^ok' '$T/px.out') -ge 4 ]" 200

# ---- list ----
expect_rc 0 "list" "$YANKCTL" --segment "$S" list
out_has "NAMESPACE" "list: a NAMESPACE column when something is mirrored"
out_has "qemu:vm1" "list: the namespace"
expect_rc 0 "list --json" "$YANKCTL" --segment "$S" --json list
cp "$T/out" "$T/list.json"
json_check "$T/list.json" 'len(d) == 4' "list --json: four instances"
json_check "$T/list.json" 'sum(1 for i in d if i.get("namespace") == "qemu:vm1") == 3' \
	"list --json: three in qemu:vm1"
json_check "$T/list.json" 'all("namespace" not in i for i in d if i["pid"] == '"$native_pid"')' \
	"list --json: no namespace member on a native instance"
json_check "$T/list.json" 'all(i.get("proxied") == 1 for i in d if i.get("namespace"))' \
	"list --json: each mirrored instance has its proxied function"

# ---- metrics: the native and the mirrored c0 are two series ----
expect_rc 0 "metrics" "$YANKCTL" --segment "$S" metrics
cp "$T/out" "$T/m.prom"
check "metrics: the mirrored c0 has its namespace label" \
	grep -qE '^yank_instance_stalled\{type="chardev",name="c0",namespace="qemu:vm1",user="[^"]*"\} ' "$T/m.prom"
check "metrics: the native c0 has none" \
	grep -qE '^yank_instance_stalled\{type="chardev",name="c0",user="[^"]*"\} ' "$T/m.prom"
check "metrics: no label set twice" \
	test -z "$(grep '^yank_' "$T/m.prom" | sed 's/} .*/}/' | sort | uniq -d)"

# ---- spelling ----
expect_rc 1 "a bad namespace" "$YANKCTL" --segment "$S" yank 'qe mu/chardev:c0'
err_has "namespace" "bad namespace: says what is wrong"
expect_rc 1 "a bad instance after the namespace" "$YANKCTL" --segment "$S" yank qemu:vm1/disk:x
expect_rc 1 "adopt refuses a mirrored instance" "$YANKCTL" --segment "$S" unadopt qemu:vm1/chardev:c0
err_has "only yank acts on it" "unadopt: says why"

# ---- all or nothing across native and mirrored ----
: >"$T/px.ev"
expect_rc 2 "mixed list with one missing" "$YANKCTL" --segment "$S" yank chardev:c0 \
	qemu:vm1/chardev:c0 qemu:vm1/chardev:nosuch
err_has "qemu:vm1/chardev:nosuch: Instance not found" "mixed miss: names the missing one"
check "mixed miss: the proxy was not called" test ! -s "$T/px.ev"
check "mixed miss: the native registrant was not yanked" bash -c "! grep -qF 'c0: recv() returned' '$T/native.out'"
# A plain name is native only: migration exists in qemu:vm1 alone.
expect_rc 2 "plain migration is native" "$YANKCTL" --segment "$S" yank migration

# ---- a yank across both, one call for the proxy ----
expect_rc 0 "yank native and mirrored together" "$YANKCTL" --segment "$S" yank chardev:c0 \
	qemu:vm1/chardev:c0 qemu:vm1/migration
check "the native registrant recovered" wait_for "recovered native chardev:c0"
check "one proxy call with both mirrored instances" wait_for "grep -qx 'px qemu:vm1 2' '$T/px.ev'"

# ---- vanished behind the proxy: exit 3, naming it ----
expect_rc 3 "an instance its system no longer has" "$YANKCTL" --segment "$S" yank \
	qemu:vm1/chardev:gone0 qemu:vm1/chardev:c0
err_has "qemu:vm1/chardev:gone0: no longer exists in QEMU vm1" "vanished: named"
expect_rc 3 "vanished, --json" "$YANKCTL" --segment "$S" --json yank qemu:vm1/chardev:gone0
cp "$T/out" "$T/fail.json"
json_check "$T/fail.json" 'd["failures"][0]["reason"] == "vanished" and d["failures"][0]["namespace"] == "qemu:vm1"' \
	"vanished --json: reason and namespace"

# ---- unresponsive ----
printf 'unresp qemu:vm1 1\n' >&9
check "marked unresponsive" wait_for "grep -qx 'ok 3' '$T/px.out'"
expect_rc 0 "list an unresponsive proxy" "$YANKCTL" --segment "$S" list
out_has "<unresponsive>" "list: unresponsive shown"
expect_rc 0 "status" "$YANKCTL" --segment "$S" status
out_has "unresponsive" "status: unresponsive shown"

# ---- the QMP server lists native instances only ----
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-yank"}' >"$T/qmp.in"
expect_rc 0 "qmp query-yank" "$YANKCTL" --segment "$S" qmp <"$T/qmp.in"
check "qmp: no mirrored instance" bash -c "! grep -q 'gone0' '$T/out'"

# ---- the audit log ----
expect_rc 0 "log" "$YANKCTL" --segment "$S" log
out_has "qemu:vm1/chardev:gone0" "log: the instances yanked"
out_has "yankctl" "log: the yanker's command"
expect_rc 0 "log --json" "$YANKCTL" --segment "$S" --json log
cp "$T/out" "$T/log.json"
json_check "$T/log.json" 'len(d) == 3' "log --json: the three yanks carried out (not the refused ones)"
json_check "$T/log.json" 'd[0]["result"] == "ok" and d[0]["instances"] == ["chardev:c0", "qemu:vm1/chardev:c0", "qemu:vm1/migration"]' \
	"log --json: first entry"
json_check "$T/log.json" 'd[1]["result"] == "failed" and d[1]["failures"] == [{"instance": "qemu:vm1/chardev:gone0", "reason": "vanished", "records": 1}]' \
	"log --json: the vanished one failed, and why"
json_check "$T/log.json" 'all(e["yanker"]["uid"] == '"$(id -u)"' and e["yanker"]["pid"] > 0 and "yank" in e["yanker"]["command"] for e in d)' \
	"log --json: the yanker"
json_check "$T/log.json" 'all(e["time"].endswith("Z") or "+" in e["time"] for e in d)' "log --json: time is ISO 8601"
expect_rc 0 "log --since the future" "$YANKCTL" --segment "$S" --json log --since 2099-01-01T00:00:00Z
cp "$T/out" "$T/log2.json"
json_check "$T/log2.json" 'd == []' "log --since: filters by time"
expect_rc 1 "log --since garbage" "$YANKCTL" --segment "$S" log --since yesterday-ish

exec 9>&-
finish
