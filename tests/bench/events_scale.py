#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Whether an event's cost grows with the tree: the restart gap of one
crashing worker, quiet and under a flood of WATCHDOG=1 datagrams from
another, and the flood's throughput, under 100 and under 10,000 workers
(the rest sleeping, output "null"). Figures only, never a test.

  events_scale.py BUILD_DIR [N ...]

The gap is tests/bench/probe's own next start minus its previous exit
(CLOCK_MONOTONIC), as in restart.py. The flood's sender blocks when
arbord's notify socket is full, so its rate is what arbord takes.

With BENCH_BASELINE=DIR (make bench's), the same runs of DIR's arbord and
arborctl follow, and this build's figures against them.
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import raise_nofile
from probelog import starts_exits

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
COUNTS = [int(c) for c in sys.argv[2:]] or [100, 10000]
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
ARBORCTL = os.path.abspath(os.path.join(BUILD, "arborctl"))
PROBE = os.path.abspath(os.path.join(BUILD, "bench", "probe"))
# A median of 30 moved by some 10% between runs; 150 take 15 s a phase.
GAPS = 150

# The flood: ready, then WATCHDOG=1 as fast as arbord takes it while the
# file "go" is there; it writes "COUNT SECONDS" when "go" goes.
FLOOD = r'''
import os, socket, sys, time
d = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s.sendto(b"READY=1", addr)
while not os.path.exists(d + "/go"):
    time.sleep(0.01)
n, t0 = 0, time.monotonic()
while os.path.exists(d + "/go"):
    for _ in range(1000):
        s.sendto(b"WATCHDOG=1", addr)
    n += 1000
with open(d + "/flood.out", "w") as f:
    f.write("%d %f\n" % (n, time.monotonic() - t0))
time.sleep(100000)
'''


def gaps_after(log, since):
    """Gaps (ms) of the restarts whose exit came after index since."""
    starts, exits = starts_exits(log)
    return [(s - e) / 1e6 for e, s in list(zip(exits, starts[1:]))[since:] if s > e]


def wait(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


BASELINE = os.environ.get("BENCH_BASELINE")
ctl_path = ARBORCTL     # the arborctl of the arbord being run


def ctl(sock, *args, timeout=60):
    return subprocess.run([ctl_path, "-s", sock] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def path_ms(sock):
    """arborctl status of one worker, end to end, median of 5 (ms)."""
    ts = []
    for _ in range(5):
        t = time.monotonic()
        ctl(sock, "status", "root/probe")
        ts.append((time.monotonic() - t) * 1000)
    return statistics.median(ts)


def run(count, arbord=ARBORD):
    d = tempfile.mkdtemp(prefix="arbor-events-", dir="/dev/shm")
    sock, log = os.path.join(d, "sock"), os.path.join(d, "probe.log")
    with open(os.path.join(d, "flood.py"), "w") as f:
        f.write(FLOOD)
    conf = os.path.join(d, "arbor.conf")
    with open(conf, "w") as f:
        f.write('daemon = { log_dir = ""; };\nobservability = { metrics_listen = ""; };\n')
        f.write('tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (\n')
        f.write('  { name = "probe"; command = ["%s", "%s"]; stdout = "null"; },\n' % (PROBE, log))
        f.write('  { name = "flood"; command = ["/usr/bin/python3", "%s/flood.py", "%s"]; ready = "notify"; },\n'
                % (d, d))
        f.write('  { name = "sleepers"; strategy = "one_for_one"; children = (\n')
        f.write(",\n".join('    { name = "s%d"; command = ["/bin/sleep", "100000"]; stdout = "null"; '
                           'stderr = "null"; }' % i for i in range(count - 2)))
        f.write("\n  ); }\n); };\n")
    env = dict(os.environ, PROBE_LIFE_MS="100")
    p = subprocess.Popen([arbord, "-c", conf, "-s", sock], env=env, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "arbord.log"), "w"))
    res = {"workers": count}
    try:
        if not wait(lambda: p.poll() is not None or os.path.exists(sock) and
                    '"running"' in ctl(sock, "status", "root/flood", "--json").stdout, 300, 0.2):
            res["error"] = "the tree did not start"
            return res
        if p.poll() is not None:
            res["error"] = "arbord ended: " + open(os.path.join(d, "arbord.log")).read()[-300:]
            return res
        # Quiet: the probe's gaps with nothing else going on.
        base = len(starts_exits(log)[1])
        wait(lambda: len(gaps_after(log, base)) >= GAPS, 120)
        quiet = gaps_after(log, base)
        res["gap quiet ms"] = round(statistics.median(quiet), 3)
        res["status PATH quiet ms"] = round(path_ms(sock), 1)
        # The flood, then the same gaps under it.
        open(os.path.join(d, "go"), "w").close()
        time.sleep(0.5)
        base = len(starts_exits(log)[1])
        wait(lambda: len(gaps_after(log, base)) >= GAPS, 120)
        flooded = gaps_after(log, base)
        res["gap under the flood ms"] = round(statistics.median(flooded), 3)
        res["status PATH under the flood ms"] = round(path_ms(sock), 1)
        os.unlink(os.path.join(d, "go"))
        out = os.path.join(d, "flood.out")
        if wait(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 30):
            n, secs = open(out).read().split()
            res["WATCHDOG=1 datagrams/s"] = int(int(n) / float(secs))
    finally:
        ctl(sock, "shutdown", timeout=300)
        try:
            p.wait(300)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(d, ignore_errors=True)
    return res


def main():
    raise_nofile()
    print("events: one crashing probe (life 100 ms) and a WATCHDOG=1 flood under N workers")
    global ctl_path
    rows = [run(n) for n in COUNTS]
    for r in rows:
        print("  " + ", ".join("%s: %s" % kv for kv in r.items()))
    if BASELINE:
        ctl_path = os.path.abspath(os.path.join(BASELINE, "arborctl"))
        old = [run(n, os.path.abspath(os.path.join(BASELINE, "arbord"))) for n in COUNTS]
        ctl_path = ARBORCTL
        for r in old:
            print("  baseline build (%s): " % BASELINE + ", ".join("%s: %s" % kv for kv in r.items()))
        for r, o in zip(rows, old):
            if "gap quiet ms" in r and "gap quiet ms" in o:
                print("  %d workers, this build / the baseline: gap quiet %.3fx, gap under the flood %.3fx, "
                      "flood throughput %.3fx" % (
                          r["workers"], r["gap quiet ms"] / o["gap quiet ms"],
                          r["gap under the flood ms"] / o["gap under the flood ms"],
                          r.get("WATCHDOG=1 datagrams/s", 0) / max(1, o.get("WATCHDOG=1 datagrams/s", 1))))
    if len(rows) >= 2 and all("gap quiet ms" in r for r in rows):
        a, b = rows[0], rows[-1]
        print("  %d against %d workers: gap quiet %.3fx, gap under the flood %.3fx, "
              "flood throughput %.3fx (an event's cost that does not grow with the tree: 1x)" % (
                  b["workers"], a["workers"], b["gap quiet ms"] / a["gap quiet ms"],
                  b["gap under the flood ms"] / a["gap under the flood ms"],
                  b.get("WATCHDOG=1 datagrams/s", 0) / max(1, a.get("WATCHDOG=1 datagrams/s", 1))))


if __name__ == "__main__":
    main()
