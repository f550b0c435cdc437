#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yankctl metrics: every line is checked against the Prometheus text
# exposition grammar by a strict checker (HELP and TYPE once per family,
# before its samples; samples of a family together; names, label names
# and escaped label values; no duplicate series), plus our conventions
# (the yank_ prefix, _total on counters and only there); then the
# figures themselves on a registry with a stalled and an idle connection
# and an instance name that needs escaping.
# shellcheck source=tests/cli/testlib.bash
. "$(dirname "$0")/testlib.bash"
# shellcheck source=tests/cli/stalllib.bash
. "$(dirname "$0")/stalllib.bash"

need_python3

cat >"$T/check.py" <<'PY'
import re, sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LVALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
LABELS = r"\{(?:%s=%s(?:,%s=%s)*,?)?\}" % (LNAME, LVALUE, LNAME, LVALUE)
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)"
SAMPLE = re.compile(r"^(%s)(%s)? (%s)(?: -?[0-9]+)?$" % (NAME, LABELS, VALUE))
HELP = re.compile(r"^# HELP (%s) ((?:[^\\\n]|\\[\\n])*)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)

text = open(sys.argv[1], encoding="utf-8").read()
errors = []
if text and not text.endswith("\n"):
    errors.append("no newline at the end")
helps, types, done, series = {}, {}, set(), set()
current = None
for n, line in enumerate(text.split("\n")[:-1], 1):
    where = "line %d: %r" % (n, line)
    m = HELP.match(line) or TYPE.match(line)
    if m:
        name = m.group(1)
        kind = "HELP" if line.startswith("# HELP") else "TYPE"
        table = helps if kind == "HELP" else types
        if name in table:
            errors.append("%s: second %s for %s" % (where, kind, name))
        if name in done or (current and current != name and name in table):
            errors.append("%s: %s after the family's samples" % (where, kind))
        table[name] = m.group(2)
        if current != name:
            if current:
                done.add(current)
            current = name
        continue
    if line.startswith("#") or not line:
        errors.append("%s: not a HELP, TYPE or sample line" % where)
        continue
    m = SAMPLE.match(line)
    if not m:
        errors.append("%s: not a sample line" % where)
        continue
    name, labels = m.group(1), m.group(2) or "{}"
    if name != current:
        errors.append("%s: sample of %s outside its family" % (where, name))
        continue
    if name not in types or name not in helps:
        errors.append("%s: no HELP or TYPE before it" % where)
    key = (name, labels)
    if key in series:
        errors.append("%s: duplicate series" % where)
    series.add(key)
    names = re.findall(r"(%s)=%s" % (LNAME, LVALUE), labels)
    if len(set(names)) != len(names) or any(l.startswith("__") for l in names):
        errors.append("%s: repeated or reserved label name" % where)
for name, kind in types.items():
    if not name.startswith("yank_"):
        errors.append("%s: no yank_ prefix" % name)
    if (kind == "counter") != name.endswith("_total"):
        errors.append("%s: a %s, and _total belongs to counters only" % (name, kind))
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

# exposition FILE DESCRIPTION: one check that FILE passes the checker.
exposition() {
	if python3 "$T/check.py" "$1" >"$T/check.out" 2>&1; then
		ok
	else
		not_ok "$2: $(head -c 800 "$T/check.out")"
	fi
}

# The checker itself must refuse what is wrong.
printf '# TYPE yank_x gauge\nyank_x{a="b"} 1\n' >"$T/bad1"
printf '# HELP yank_x x\n# TYPE yank_x counter\nyank_x 1\n' >"$T/bad2"
printf '# HELP yank_x x\n# TYPE yank_x gauge\nyank_x{a="b\\q"} 1\n' >"$T/bad3"
printf '# HELP yank_x x\n# TYPE yank_x gauge\nyank_x 1\n# HELP yank_y y\n# TYPE yank_y gauge\nyank_y 1\nyank_x 2\n' >"$T/bad4"
for b in 1 2 3 4; do
	if python3 "$T/check.py" "$T/bad$b" >/dev/null 2>&1; then not_ok "the checker passed bad$b"; else ok; fi
done

# --- A registry that does not exist: zeros, status 0. ---
new_segment none
expect_rc 0 "metrics of a missing registry" "$YANKCTL" --segment "$seg" metrics
cp "$T/out" "$T/none.prom"
exposition "$T/none.prom" "missing registry"
check "no instances" grep -qx 'yank_instances{user="[^"]*"} 0' "$T/none.prom"
check "counters at zero" grep -qx 'yank_yanks_total{user="[^"]*",result="not_found"} 0' "$T/none.prom"

# --- A stalled connection, an idle one, and a name that needs escaping. ---
new_segment metrics
S=$seg
start_pair st "$S" chardev:st tcp never-read send
start_pair id "$S" 'chardev:we"ird\name' tcp silent idle
check "st stalled" wait_verdict "$S" st stalled
expect_rc 0 "metrics" "$YANKCTL" --segment "$S" metrics
cp "$T/out" "$T/m.prom"
exposition "$T/m.prom" "metrics of a live registry"
check "two instances" grep -qx 'yank_instances{user="[^"]*"} 2' "$T/m.prom"
check "two fd records" grep -qx 'yank_records{user="[^"]*"} 2' "$T/m.prom"
check "two live processes" grep -qx 'yank_processes{user="[^"]*",state="live"} 2' "$T/m.prom"
check "capacity" grep -qE '^yank_capacity\{user="[^"]*",table="instances"\} [1-9][0-9]*$' "$T/m.prom"
check "the readable registry is up" grep -qx 'yank_registry_up{user="[^"]*"} 1' "$T/m.prom"
for r in ok failed not_found; do
	check "yanks_total{result=$r}" grep -qE "^yank_yanks_total\{user=\"[^\"]*\",result=\"$r\"\} [0-9]+\$" "$T/m.prom"
done
check "st is stalled" grep -qx 'yank_instance_stalled{type="chardev",name="st",user="[^"]*"} 1' "$T/m.prom"
check "the odd name, escaped, is not" grep -qxF 'yank_instance_stalled{type="chardev",name="we\"ird\\name",user="'"$(id -un)"'"} 0' "$T/m.prom"
expect_rc 0 "metrics --sample 0" "$YANKCTL" --segment "$S" metrics --sample 0
cp "$T/out" "$T/s0.prom"
exposition "$T/s0.prom" "metrics --sample 0"
check "--sample 0: not judged, no series" test -z "$(grep '^yank_instance_stalled{' "$T/s0.prom")"

# --- A corrupt registry: status 4, reported as down. ---
new_segment bad
head -c 65536 /dev/urandom >"/dev/shm$seg"
chmod 600 "/dev/shm$seg"
expect_rc 4 "metrics of a corrupt registry" "$YANKCTL" --segment "$seg" metrics
cp "$T/out" "$T/bad.prom"
exposition "$T/bad.prom" "a corrupt registry"
check "it is down" grep -qx 'yank_registry_up{user="[^"]*"} 0' "$T/bad.prom"
err_has "yankctl: segment $seg" "the reason is on stderr"

# --- Root with no registry named: every user's, each passes too. ---
if [ "$(id -u)" = 0 ]; then
	run "$YANKCTL" metrics --sample 0
	check "every user's registry: status 0 or 4 (got $rc)" test "$rc" = 0 -o "$rc" = 4
	cp "$T/out" "$T/host.prom"
	exposition "$T/host.prom" "every user's registry"
fi

finish
