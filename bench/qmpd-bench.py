#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
"""yank-qmpd against QMP alone: a QEMU chardev's peer, from the start of
the command to its EOF, in the same run.

    qmpd-bench.py BUILD_DIR FIGURES.JSONL [ROUNDS]

Each round hot-plugs two socket chardevs into one QEMU (-M none), both
connected to a peer here that never reads, and yanks one each way:

  - yankctl: `yankctl yank qemu:bench/chardev:aN`, reaching QEMU through
    yank-qmpd's pre-negotiated connection (the path an operator uses);
  - socat: `socat - UNIX-CONNECT:MONITOR` fed the greeting's answer
    (qmp_capabilities enabling oob) and the same exec-oob yank, on a
    free monitor of its own: a fresh QMP session cannot do less.

The methods alternate, so load drifts hit both alike; the clock stops when
the peer sees the connection hang up (POLLRDHUP, nothing read).  Figures
are appended to FIGURES.JSONL in yank-bench's shape.  Skips (exit 0, one
line on stderr) when QEMU, socat or yank-qmpd is missing.  Every process
it starts is killed at exit, every wait bounded.
"""
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PEER_EOF_S = 5.0


def note(msg):
    sys.stderr.write("bench: qmpd: %s\n" % msg)


def wait_until(cond, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise RuntimeError("timed out waiting for " + what)


class Qmp:
    """A negotiated, persistent QMP session (the benchmark's manager)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        self.reply()
        self.cmd("qmp_capabilities")

    def reply(self):
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                return m

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.f.write(json.dumps(req) + "\n")
        self.f.flush()
        r = self.reply()
        if "error" in r:
            raise RuntimeError("%s: %s" % (name, r["error"]))
        return r["return"]


def median_ms(xs):
    return statistics.median(xs) * 1e3


def p90_ms(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))] * 1e3


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: qmpd-bench.py BUILD_DIR FIGURES.JSONL [ROUNDS]\n")
        return 2
    build, figures = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    yankctl = os.path.abspath(os.path.join(build, "yankctl"))
    qmpd = os.path.abspath(os.path.join(build, "yank-qmpd"))
    for prog in ("qemu-system-x86_64", "socat"):
        if not shutil.which(prog):
            note("%s is not installed: figures skipped" % prog)
            return 0
    if not os.access(qmpd, os.X_OK):
        note("%s is missing (run make): figures skipped" % qmpd)
        return 0

    tag = os.environ.get("YANK_BENCH_TAG", str(os.getpid()))
    seg = "/yank-bench-%s-qmpd" % tag
    tmp = tempfile.mkdtemp(prefix="yank-qmpd-bench.")
    procs = []
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.bind(("127.0.0.1", 0))
    peer.listen(8)
    port = peer.getsockname()[1]
    try:
        mon = {m: os.path.join(tmp, m + ".sock") for m in ("mgr", "yank", "free")}
        qemu = ["qemu-system-x86_64", "-name", "bench", "-M", "none", "-nodefaults",
                "-display", "none"]
        for m, path in mon.items():
            qemu += ["-chardev", "socket,id=%s,path=%s,server=on,wait=off" % (m, path),
                     "-mon", "chardev=%s,mode=control" % m]
        procs.append(subprocess.Popen(["timeout", "-k", "5", "240"] + qemu,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        wait_until(lambda: all(os.path.exists(p) for p in mon.values()), 10, "QEMU")
        os.mkdir(os.path.join(tmp, "qmp.d"))
        with open(os.path.join(tmp, "qmp.d", "bench.json"), "w") as f:
            json.dump({"name": "bench", "socket": mon["yank"], "hide": ["mgr", "free"]}, f)
        log = open(os.path.join(tmp, "qmpd.log"), "w+")
        procs.append(subprocess.Popen([qmpd, "--segment", seg, "--dir",
                                       os.path.join(tmp, "qmp.d")],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log))

        def attached():
            log.seek(0)
            return "attached bench" in log.read()
        wait_until(attached, 10, "yank-qmpd to attach")
        mgr = Qmp(mon["mgr"])

        def listed(cid):
            out = subprocess.run([yankctl, "--segment", seg, "--json", "list"],
                                 capture_output=True, text=True, timeout=10).stdout
            return any(o.get("namespace") == "qemu:bench" and o.get("id") == cid
                       for o in json.loads(out or "[]"))

        def plug(cid):
            mgr.cmd("chardev-add", id=cid, backend={"type": "socket", "data": {
                "addr": {"type": "inet", "data": {"host": "127.0.0.1", "port": str(port)}},
                "server": False}})
            peer.settimeout(5)
            c, _ = peer.accept()
            return c

        def time_to_eof(conn, argv, stdin_data):
            po = select.poll()
            po.register(conn, select.POLLRDHUP | select.POLLHUP)
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            if stdin_data is not None:
                p.stdin.write(stdin_data)
            p.stdin.close()
            ev = po.poll(PEER_EOF_S * 1000)
            t1 = time.monotonic()
            p.wait(timeout=10)
            if not ev:
                raise RuntimeError("%s: the peer saw no EOF" % argv[0])
            return t1 - t0

        via_qmpd, via_socat, spawn = [], [], []
        note("%d rounds: yankctl via yank-qmpd, and socat straight to QEMU" % rounds)
        for i in range(rounds):
            a, b = "a%d" % i, "b%d" % i
            ca, cb = plug(a), plug(b)
            wait_until(lambda: listed(a), 5, "the mirror of " + a)
            order = [0, 1] if i % 2 == 0 else [1, 0]
            for which in order:
                if which == 0:
                    via_qmpd.append(time_to_eof(ca, [yankctl, "--segment", seg, "yank",
                                                     "qemu:bench/chardev:" + a], None))
                else:
                    req = ('{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n'
                           '{"exec-oob": "yank", "arguments": {"instances": '
                           '[{"type": "chardev", "id": "%s"}]}, "id": "y"}\n' % b)
                    via_socat.append(time_to_eof(cb, ["socat", "-t", "0.2", "-",
                                                      "UNIX-CONNECT:" + mon["free"]],
                                                 req.encode()))
            t0 = time.monotonic()
            subprocess.run(["/bin/true"], check=True)
            spawn.append(time.monotonic() - t0)
            for c, cid in ((ca, a), (cb, b)):
                mgr.cmd("chardev-remove", id=cid)
                c.close()

        q, s = median_ms(via_qmpd), median_ms(via_socat)
        rows = [
            ("yank-qmpd: yankctl yank of a mirrored QEMU chardev, to the peer's EOF: median",
             q, "ms", None, len(via_qmpd), "yankctl -> yank-qmpd (exec-oob) -> QEMU"),
            ("yank-qmpd: yankctl yank of a mirrored QEMU chardev, to the peer's EOF: p90",
             p90_ms(via_qmpd), "ms", None, len(via_qmpd), None),
            ("yank-qmpd: socat to QEMU (capabilities + exec-oob yank), to the peer's EOF: median",
             s, "ms", None, len(via_socat), "a fresh QMP session on a free monitor"),
            ("yank-qmpd: socat to QEMU (capabilities + exec-oob yank), to the peer's EOF: p90",
             p90_ms(via_socat), "ms", None, len(via_socat), None),
            ("yank-qmpd: yankctl via yank-qmpd / socat straight to QEMU", q / s, "x", 1.0,
             len(via_qmpd), "same run; below 1: the bridge beats a fresh QMP session"),
            ("yank-qmpd: spawn /bin/true from the driver: median", median_ms(spawn), "ms", None,
             len(spawn), "the spawn floor both methods pay"),
        ]
        with open(figures, "a") as f:
            for name, value, unit, target, n, detail in rows:
                f.write(json.dumps({"name": name, "value": value, "unit": unit,
                                    "target": target,
                                    "ok": None if target is None else value <= target,
                                    "n": n, "detail": detail or ""}) + "\n")
                note("  %-80s %8.3f %s" % (name, value, unit))
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        peer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            os.unlink("/dev/shm" + seg)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
