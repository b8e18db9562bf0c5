#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Worker output: how many stamped lines a second arbord writes to a
worker's log, against s6-log and svlogd in the same run, and what a flood
does to another worker's restart gap. Figures only, never a test.

  logs.py BUILD_DIR [ROUNDS]

Throughput: 2,000,000 lines of 100 bytes on a tmpfs. s6-log (T: ISO 8601
stamps) and svlogd (-tt) read them from the file as their stdin; arbord's
worker is cat of the same file into its pipe, and the time runs from the
worker's start to the last byte in <log_dir>/root/w/current. No system
rotates during the run (each is given a size past the whole output). CPU
is each logger's own (arbord: its process and its output helper's, which
reads the pipes and writes the files), per million lines; the memory of
both at the end of the run is printed too.

Flood: a probe living 300 ms restarts beside `yes` (100-byte lines, as fast
as it writes, logs rotated at 64 MiB into one gzip file); its restart gap
against the same probe alone, in interleaved rounds.
"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import helper_pid, rss_kib, settle
from restart import gaps_ms, kill_probes, stop, wait_starts

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
ARBORCTL = os.path.abspath(os.path.join(BUILD, "arborctl"))
PROBE = os.path.abspath(os.path.join(BUILD, "bench", "probe"))
LINES = 2000000
STAMPED = 33		# arbord's "2026-12-01T20:00:00.123456Z out " per line
MEMORY = []		# (core KiB, output helper KiB) at the end of each run


def make_input(d):
    path = os.path.join(d, "lines")
    body = "x" * 90
    with open(path, "w") as f:
        for i in range(LINES):
            f.write("%09d %s\n" % (i, body))
    return path


def timed_child(argv, stdin):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(stdin) as f:
        subprocess.run(argv, stdin=f, check=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def s6log(d, inp):
    out = os.path.join(d, "s6")
    os.mkdir(out)
    return timed_child(["s6-log", "T", "s268435455", out], inp)


def svlogd(d, inp):
    out = os.path.join(d, "sv")
    os.mkdir(out)
    with open(os.path.join(out, "config"), "w") as f:
        f.write("s1000000000\n")
    return timed_child(["svlogd", "-tt", out], inp)


def proc_cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def arbord_conf(d, children, extra=""):
    conf = os.path.join(d, "arbor.conf")
    with open(conf, "w") as f:
        f.write('daemon = { log_dir = "%s/logs"; %s };\n' % (d, extra))
        f.write('observability = { metrics_listen = ""; };\n')
        f.write('tree = { strategy = "one_for_one"; intensity = 100000; period = 1;\n'
                '  children = ( %s ); };\n' % children)
    return conf


def arbord_throughput(d, inp):
    go = os.path.join(d, "go")
    conf = arbord_conf(d, '{ name = "w"; restart = "temporary"; command = ["/bin/sh", "-c", '
                       '"while [ ! -e %s ]; do sleep 0.01; done; exec cat %s"]; }' % (go, inp),
                       "log_max_bytes = 1000000000;")
    p = subprocess.Popen([ARBORD, "-c", conf, "-s", os.path.join(d, "sock")],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "arbord.log"), "w"))
    cur = os.path.join(d, "logs", "root", "w", "current")
    want = LINES * (100 + STAMPED)
    sock = os.path.join(d, "sock")
    helper = None
    end = time.monotonic() + 10
    while helper is None and time.monotonic() < end:
        time.sleep(0.1)
        helper = helper_pid(ARBORCTL, sock, "output")
    if helper is None:
        stop(p)
        return None, None
    c0 = proc_cpu(p.pid) + proc_cpu(helper)
    t0 = time.monotonic()
    open(go, "w").close()
    while time.monotonic() - t0 < 120:
        try:
            if os.stat(cur).st_size >= want:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.0005)
    wall = time.monotonic() - t0
    cpu = proc_cpu(p.pid) + proc_cpu(helper) - c0
    MEMORY.append((rss_kib(p.pid), rss_kib(helper)))
    stop(p)
    with open(cur, "rb") as f:
        n = sum(1 for _ in f)
    return (wall, cpu) if n == LINES else (None, None)


def throughput():
    d = tempfile.mkdtemp(prefix="arbor-bench-logs-", dir="/dev/shm")
    inp = make_input(d)
    systems = [("arbord", arbord_throughput)]
    if shutil.which("s6-log"):
        systems.append(("s6-log T", s6log))
    if shutil.which("svlogd"):
        systems.append(("svlogd -tt", svlogd))
    res = {name: [] for name, _ in systems}
    for _ in range(ROUNDS):
        for name, fn in systems:
            w = tempfile.mkdtemp(dir=d)
            wall, cpu = fn(w, inp)
            if wall:
                res[name].append((LINES / wall, cpu / (LINES / 1e6)))
            shutil.rmtree(w, ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)
    return res


def flood_gaps(flood, per_round):
    d = tempfile.mkdtemp(prefix="arbor-bench-flood-", dir="/dev/shm")
    log = os.path.join(d, "probe.log")
    kids = '{ name = "probe"; command = ["%s", "%s"]; }' % (PROBE, log)
    if flood:
        kids += (', { name = "flood"; command = ["/usr/bin/yes", "%s"]; }' % ("y" * 99))
    conf = arbord_conf(d, kids, "log_max_bytes = 67108864; log_keep = 1;")
    env = dict(os.environ, PROBE_LIFE_MS="300")
    p = subprocess.Popen([ARBORD, "-c", conf, "-s", os.path.join(d, "sock")], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "arbord.log"), "w"))
    wait_starts(log, per_round + 1, timeout=per_round + 30)
    stop(p)
    kill_probes(d)
    g = gaps_ms(log)[:per_round]
    shutil.rmtree(d, ignore_errors=True)
    return g


def main():
    print("worker output: %d lines of 100 bytes to a tmpfs, stamped; %d rounds, medians" % (LINES, ROUNDS))
    # Not while the CPUs are busy with what the step before left.
    print("  (%s)" % settle())
    res = throughput()
    med = {}
    for name, rows in res.items():
        if not rows:
            print("  %-14s no complete run" % name)
            continue
        rate = statistics.median(r for r, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        med[name] = rate
        print("  %-14s %6.2f M lines/s  CPU %.3f s per million lines" % (name, rate / 1e6, cpu))
    if MEMORY:
        core = statistics.median(m[0] for m in MEMORY)
        helper = statistics.median(m[1] for m in MEMORY)
        print("  arbord's memory after the run: core %d KiB + output helper %d KiB = %d KiB" % (
            core, helper, core + helper))
    if "arbord" in med and "s6-log T" in med:
        print("  arbord / s6-log: %.2fx (target >= 6, as before the output helper)" % (
            med["arbord"] / med["s6-log T"]))
    if "arbord" in med and "svlogd -tt" in med:
        print("  arbord / svlogd: %.2fx" % (med["arbord"] / med["svlogd -tt"]))
    per_round = 10
    alone, flooded = [], []
    for _ in range(ROUNDS):
        alone += flood_gaps(False, per_round)
        flooded += flood_gaps(True, per_round)
    if alone and flooded:
        a, f = statistics.median(alone), statistics.median(flooded)
        print("  restart gap of a probe (300 ms life), %d restarts each: alone p50 %.3f ms, "
              "beside a flooding worker p50 %.3f ms: %.3fx (target <= 1.05)" % (
                  len(alone), a, f, f / a))


if __name__ == "__main__":
    main()
