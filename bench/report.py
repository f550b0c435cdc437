#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
"""Turn yank-bench's figures.jsonl into bench/results.json and a table.

    report.py FIGURES.JSONL RESULTS.JSON

results.json is SPEC section 8's shape: {"figures": [{"name", "value",
"unit", "target", "ok"}, ...]}.  The SPEC's rows come first, in the SPEC's
order; the figures added for context (p99s, the baseline, scaling points,
floors) follow.  Every target is an upper bound in the figure's own unit;
an added figure without a target has "target": null and "ok": null.

The table goes to stdout: each figure beside its target.  The exit status
is 0 whether or not targets are met (benchmarks measure, tests assert); it
is 1 only when a SPEC row is missing, i.e. the harness did not finish.
"""
import json
import os
import sys

# SPEC section 8, row by row (the end-to-end row has two conditions).
SPEC_ROWS = [
    "register+unregister one instance: median",
    "register+unregister: libyank / in-process baseline",
    "yank_query, 10,000 instances: median",
    "yankctl list --json, 10,000 instances: median",
    "yankctl yank, start to recv() returning: median",
    "yankctl yank to recv() returning / spawn of /bin/true",
    "yank_yank, one instance of another process, to recv() returning: median",
    "yank_query, 10 instances: median",
    "yank 1,000 instances over 50 processes, one call: median",
    "segment bytes per instance (4 fd records), reserved",
    "idle agent thread: wake-ups per second",
]


def sig(v):
    """A value rounded to 4 significant digits, as a JSON number."""
    if v == 0 or v != v:
        return v
    return float("%.4g" % v)


def fmt(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    return "%.3g" % v


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: report.py FIGURES.JSONL RESULTS.JSON\n")
        return 2
    figs = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line:
                figs.append(json.loads(line))
    by_name = {}
    for f in figs:
        by_name.setdefault(f["name"], f)
    missing = [n for n in SPEC_ROWS if n not in by_name]
    spec = [by_name[n] for n in SPEC_ROWS if n in by_name]
    extra = [f for f in figs if not any(f is by_name.get(n) for n in SPEC_ROWS)]

    out = {"figures": [{"name": f["name"], "value": sig(f["value"]), "unit": f["unit"],
                        "target": f["target"], "ok": f["ok"]} for f in spec + extra]}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")

    width = max(len(f["name"]) for f in figs) if figs else 40

    def row(f):
        target = "<= %g %s" % (f["target"], f["unit"]) if f["target"] is not None else ""
        verdict = {True: "met", False: "MISSED", None: ""}[f["ok"]]
        print("  %-*s %10s %-8s %-16s %s" % (width, f["name"], fmt(f["value"]), f["unit"],
                                            target, verdict))

    print()
    print("SPEC section 8 figures (%s):" % sys.argv[2])
    print("  %-*s %10s %-8s %-16s %s" % (width, "figure", "value", "unit", "target", "result"))
    for f in spec:
        row(f)
    print()
    print("More figures (context; no target):")
    for f in extra:
        row(f)
    busy = by_name.get("machine: CPU used by other processes during the run")
    if busy and busy["value"] > 10:
        print()
        print("WARNING: other processes used %.0f%% of the machine's CPU during the run:"
              " the figures are noisy; rerun on a quiet machine to compare them." % busy["value"])
    met = sum(1 for f in spec if f["ok"] is True)
    print()
    print("targets met: %d of %d" % (met, len(spec)))
    for f in spec:
        if f["ok"] is False:
            print("  missed: %s = %s %s (target <= %s); see docs/PERFORMANCE.md"
                  % (f["name"], fmt(f["value"]), f["unit"], fmt(f["target"])))
    only = os.environ.get("YANK_BENCH_ONLY")
    if missing and only:
        print("partial run (YANK_BENCH_ONLY=%s): %d SPEC rows not measured" % (only, len(missing)))
    elif missing:
        print("figures missing (the run did not finish?): %s" % ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
