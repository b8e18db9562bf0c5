#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Where a restart's time goes, system call by system call: the floors
and arbord, each restarting tests/bench/probe (life 100 ms) while perf
records every system call and the probe's exits and execs, machine-wide.
Figures only, never a test.

  syscalls.py BUILD_DIR [SECONDS]

For each restart: the supervisor's calls from its wake-up (the first
call of its main thread to return after the probe's exit) to its clone3,
and the child's calls from then to its execve. Each system's rows are
its most common sequence of calls, with the median time in each and
the median time between them: the supervisor's or the child's own code,
and each call's way into the kernel and back, which the tracepoints
leave out (so more calls, more time between).
Tracing slows every call: compare the systems with each other, not
these times with the gap step's. Needs perf (make bench installs
linux-perf) and tracefs, which this mounts at /sys/kernel/tracing when
it is not (and unmounts after); without either, it says so and stops.
"""
import collections
import os
import platform
import shutil
import statistics
import subprocess
import sys
import signal
import time

import restart as R

SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
LIFE_MS = 100
TRACEFS = "/sys/kernel/tracing"
EVENTS = ("raw_syscalls:sys_enter,raw_syscalls:sys_exit,"
          "sched:sched_process_exit,sched:sched_process_exec")

# x86_64 numbers of the calls a restart makes (others print as "NR n").
NAMES = {0: "read", 1: "write", 3: "close", 5: "fstat", 7: "poll", 13: "rt_sigaction",
         14: "rt_sigprocmask", 16: "ioctl", 17: "pread64", 24: "sched_yield", 32: "dup",
         33: "dup2", 39: "getpid", 56: "clone", 59: "execve", 61: "wait4", 62: "kill", 72: "fcntl",
         95: "umask", 110: "getppid", 112: "setsid", 157: "prctl", 160: "setrlimit",
         202: "futex", 228: "clock_gettime", 232: "epoll_wait", 233: "epoll_ctl",
         247: "waitid", 257: "openat", 262: "newfstatat", 271: "ppoll", 281: "epoll_pwait",
         286: "timerfd_settime", 302: "prlimit64", 332: "statx", 434: "pidfd_open",
         435: "clone3", 436: "close_range", 437: "openat2", 441: "epoll_pwait2"}
CLONES = (56, 435)
EXECVE = 59
if platform.machine() != "x86_64":
    NAMES = {}


def name(nr):
    return NAMES.get(nr, "NR %d" % nr)


def tracefs():
    """(ready, mounted by us, why not)."""
    if shutil.which("perf") is None:
        return False, False, "perf is not installed (make bench installs linux-perf)"
    if os.path.isdir(os.path.join(TRACEFS, "events", "raw_syscalls")):
        return True, False, ""
    r = subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], capture_output=True, text=True)
    if r.returncode != 0:
        return False, False, "tracefs cannot be mounted at %s: %s" % (TRACEFS, r.stderr.strip())
    return True, True, ""


def record(out):
    r = subprocess.run(["perf", "record", "-q", "-a", "-e", EVENTS, "-o", out, "--",
                        "sleep", str(SECONDS)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("perf record: %s" % r.stderr.strip()[-300:])
    r = subprocess.run(["perf", "script", "-i", out, "--ns", "-F", "tid,time,event,trace"],
                       capture_output=True, text=True)
    return r.stdout.splitlines()


def parse(lines):
    """[(time s, tid, kind, nr or pid)]: kind enter/exit (nr), exit_task/exec (pid)."""
    out = []
    for line in lines:
        f = line.split()
        if len(f) < 4:
            continue
        try:
            tid, t = int(f[0]), float(f[1].rstrip(":"))
        except ValueError:
            continue
        ev = f[2].rstrip(":")
        if ev in ("raw_syscalls:sys_enter", "raw_syscalls:sys_exit") and f[3] == "NR":
            out.append((t, tid, "enter" if ev.endswith("enter") else "exit", int(f[4])))
        elif ev == "sched:sched_process_exit" and "comm=probe" in line:
            out.append((t, tid, "exit_task", tid))
        elif ev == "sched:sched_process_exec" and "/bench/probe" in line:
            out.append((t, tid, "exec", tid))
    return out


def calls(evs, i, tid, until):
    """tid's calls from evs[i] on, up to and without the first whose number
    is in until: [(nr, start, end)], and that call's index (None: none)."""
    out, entered = [], None
    for j in range(i, len(evs)):
        t, who, kind, nr = evs[j]
        if who != tid:
            continue
        if kind == "enter":
            if nr in until:
                return out, j
            entered = (nr, t)
        elif kind == "exit" and entered and entered[0] == nr:
            out.append((nr, entered[1], t))
            entered = None
    return out, None


def restarts(evs, sup):
    """Per restart: (supervisor's calls woken -> clone, its time between
    them, child's calls -> execve, the child's time between them)."""
    rows = []
    first = lambda start, ok: next((j for j in range(start, len(evs)) if ok(evs[j])), None)
    for i in (i for i, e in enumerate(evs) if e[2] == "exit_task"):
        t_exit = evs[i][0]
        # The wake-up: the first call of the main thread to return.
        w = first(i, lambda e: e[1] == sup and e[2] == "exit")
        if w is None:
            continue
        woke = evs[w][0]
        sc, c = calls(evs, w + 1, sup, CLONES)
        if c is None or evs[c][0] - t_exit > 0.05:
            continue
        t_clone = evs[c][0]
        x = first(c, lambda e: e[2] == "exec")
        if x is None or evs[x][0] - t_clone > 0.05:
            continue
        cc, k = calls(evs, c, evs[x][1], (EXECVE,))
        if k is None:
            continue
        t_exec = evs[k][0]
        rows.append((sc, (t_clone - woke) - sum(b - a for _, a, b in sc),
                     cc, (t_exec - t_clone) - sum(b - a for _, a, b in cc)))
    return rows


def summary(rows, k):
    """The most common sequence of calls at rows[*][k]: (its rows, names,
    median us per call)."""
    seqs = collections.Counter(tuple(nr for nr, _, _ in r[k]) for r in rows)
    seq = seqs.most_common(1)[0][0]
    same = [r for r in rows if tuple(nr for nr, _, _ in r[k]) == seq]
    per = [statistics.median((r[k][j][2] - r[k][j][1]) * 1e6 for r in same) for j in range(len(seq))]
    return same, seq, per


def show(label, rows):
    if not rows:
        print("  %s: no restarts seen" % label)
        return
    print("  %s, %d restarts:" % (label, len(rows)))
    for k, who in ((0, "supervisor, woken -> clone3"), (2, "child, clone3 -> execve")):
        same, seq, per = summary(rows, k)
        between = statistics.median(r[k + 1] * 1e6 for r in same)
        print("    %-28s %2d calls, %6.1f us in them, %6.1f us between (%d restarts alike)" % (
            who + ":", len(seq), sum(per), between, len(same)))
        if seq:
            print("      " + " | ".join("%s %.1f" % (name(nr), us) for nr, us in zip(seq, per)))


def run(label, d, env):
    """Starts label's system, records, stops it: its restarts."""
    leaf = None
    if label.startswith("floor"):
        e = dict(env)
        if "cgroup" in label:
            if (leaf := R.floor_leaf()) is None:
                return None
            e["FLOOR_CGROUP"] = leaf
        count = int((SECONDS + 2) * 1000 / LIFE_MS) + 20
        p = subprocess.Popen([R.FLOOR, str(count), R.PROBE, os.path.join(d, "probe.log")], env=e)
    else:
        p, _ = R.run_arbord(d, env, cgroup="off" if "cgroup off" in label else None)
    try:
        time.sleep(R.SETTLE_MS / 1000 + 0.5)
        evs = parse(record(os.path.join(d, "perf.data")))
    finally:
        R.stop(p, signal.SIGKILL if label.startswith("floor") else signal.SIGTERM)
        R.kill_probes(d)
        if leaf:
            R.floor_leaf_remove(leaf)
    return restarts(evs, p.pid)


def main():
    ok, mounted, why = tracefs()
    if not ok:
        print("restart system calls: skipped: %s" % why)
        return
    env = dict(os.environ, PROBE_LIFE_MS=str(LIFE_MS))
    print("restart system calls: probe lives %d ms, perf records %.0f s of each system; "
          "medians in us, traced (every call slower than untraced)" % (LIFE_MS, SECONDS))
    try:
        for label in ("floor (in a cgroup)", "arbord (BPF on)", "floor", "arbord (cgroup off)"):
            d = R.workdir("syscalls")
            try:
                rows = run(label, d, env)
            finally:
                shutil.rmtree(d, ignore_errors=True)
            if rows is None:
                print("  %s: skipped: no writable cgroup v2 here" % label)
            else:
                show(label, rows)
    finally:
        if mounted:
            subprocess.run(["umount", TRACEFS], check=False)


if __name__ == "__main__":
    main()
