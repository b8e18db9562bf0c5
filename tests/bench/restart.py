#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""How fast a crashed service comes back, arbord against the floor and the
peers, in one run. Every system runs tests/bench/probe from a tmpfs
directory with no shell in the gap; the gap is the probe's own next start
minus its previous exit (CLOCK_MONOTONIC). Figures only, never a test.

  restart.py BUILD_DIR [RESTARTS [ROUNDS [console|helpers|gap|paired|shares|ahead|phases]]]

With "gap", only the two gap targets at one probe life (GAP_LIFE_MS,
default 100), RESTARTS each in rounds of 25 (ROUNDS unused): enough
restarts for an interval narrower than the targets' margins. With
"ahead", only arbord (BPF on), the floor in a cgroup, daemontools and
runit, at the main table's 1.2 s life, RESTARTS each in ROUNDS rounds:
the peers' verdicts and the 1.2 s gap's, over more rounds than the main
table's (daemontools and runit wait a second before restarting a service
that lived less than one). With "paired", the two gap targets at 0.1,
0.3 and 1.2 s with every system at once (paired_life; RESTARTS and
ROUNDS unused). With "shares", what arbord's gap is made of beyond the
floor in a cgroup's: each eBPF program's runs and time per restart (the
kernel's own counts), then arbord with and without its probes, the floor
in a cgroup, that floor making the system calls of arbord's contract
too (CONTRACT_FLOOR) and that one waiting as arbord's event loop does
(LOOP_FLOOR), all at once, RESTARTS each at 0.3 s (ROUNDS unused). With
"phases", only the phases table (where each restart's time goes) at
GAP_LIFE_MS, RESTARTS each. With "console",
only the console's row: the gap with 10 signed-in event streams open
beside the same arbord with none. With "helpers", only the helpers'
rows: the gap beside a worker with a tcp check, the helpers healthy,
then the checks helper and then the output helper crash-looping (a
segfault after every start).

The restarts of each system are taken in ROUNDS rounds, the systems one
after the other in each round, so drift of the machine over the run (a
noisy neighbour, frequency changes) falls on every system alike. Each
round counts a system's restarts only once it has settled: those in the
first BENCH_SETTLE_MS (default 1000) after its supervisor started, and
at least the first, are left out for all of them (warm_for).
"""
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from cgroups import cgroup2_mount
from probelog import starts_exits
from signin import events_request, session_cookie
from benchlib import free_port

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 40
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
ONLY_CONSOLE = len(sys.argv) > 4 and sys.argv[4] == "console"
ONLY_HELPERS = len(sys.argv) > 4 and sys.argv[4] == "helpers"
ONLY_GAP = len(sys.argv) > 4 and sys.argv[4] == "gap"
ONLY_AHEAD = len(sys.argv) > 4 and sys.argv[4] == "ahead"
ONLY_PHASES = len(sys.argv) > 4 and sys.argv[4] == "phases"
ONLY_PAIRED = len(sys.argv) > 4 and sys.argv[4] == "paired"
ONLY_SHARES = len(sys.argv) > 4 and sys.argv[4] == "shares"
GAP_ROUND = 25   # the gap step's restarts per round (each round settles first)
CONSOLE_STREAMS = 10
CONSOLE_ROWS = ["arbord (console, no streams)", "arbord (console, %d streams)" % CONSOLE_STREAMS]
HELPER_ROWS = ["arbord (checks helper)", "arbord (checks helper crashing)",
               "arbord (output helper crashing)"]
# The observability helper's rows fault for real too: a write through a
# null pointer (segv) or a loop that stops (hang) 50 ms after each start.
HELPER_FAULTS = {HELPER_ROWS[1]: "checks:segv", HELPER_ROWS[2]: "output:segv",
                 "arbord (obs stalled)": "observability:hang",
                 "arbord (obs crashing)": "observability:segv"}
# make bench BENCH_BASELINE=DIR: the helpers' step also runs DIR/arbord (a
# build of an earlier commit, its own helpers beside it) on the same
# configuration, healthy, in the same rounds.
BASELINE = os.environ.get("BENCH_BASELINE")
BASELINE_ROW = "arbord (baseline build)"
if BASELINE:
    HELPER_ROWS.append(BASELINE_ROW)
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
ARBORCTL = os.path.abspath(os.path.join(BUILD, "arborctl"))
PROBE = os.path.abspath(os.path.join(BUILD, "bench", "probe"))
FLOOR = os.path.abspath(os.path.join(BUILD, "bench", "floor"))


def workdir(name):
    return tempfile.mkdtemp(prefix="arbor-bench-%s-" % name, dir="/dev/shm")


def wait_starts(log, count, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if len(starts_exits(log)[0]) >= count:
            return True
        time.sleep(0.05)
    return False


def gaps_ms(log):
    starts, exits = starts_exits(log)
    return [(s - e) / 1e6 for e, s in zip(exits, starts[1:]) if s > e]


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_probes(d):
    subprocess.run(["pkill", "-KILL", "-f", "^" + PROBE], check=False)
    subprocess.run(["pkill", "-KILL", "-f", "^%s/run" % d], check=False)


def service_dir(d, env_file=None):
    svc = os.path.join(d, "svc")
    os.makedirs(svc)
    os.symlink(PROBE, os.path.join(svc, "run"))
    return svc, os.path.join(svc, "probe.log")


def floor_leaf(name="probe"):
    """The floor in a cgroup's leaf (name), made; None when no cgroup v2 is
    writable here."""
    mnt = cgroup2_mount()
    if not mnt or not os.access(mnt, os.W_OK):
        return None
    leaf = os.path.join(mnt, "arbor-bench-floor", name)
    os.makedirs(leaf, exist_ok=True)
    return leaf


def floor_leaf_remove(leaf, parent=True):
    """Removes the leaf and (parent) its parent, waiting up to 2 s for a
    probe killed a moment ago to leave it."""
    end = time.time() + 2
    for path in (leaf, os.path.dirname(leaf)) if parent else (leaf,):
        while True:
            try:
                os.rmdir(path)
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.01)


def run_floor(d, env, count, in_cgroup=False, copy=False, glibc=False):
    log = os.path.join(d, "probe.log")
    e = dict(env)
    if copy:
        e["FLOOR_COPY"] = "1"
    if glibc:
        e["FLOOR_POSIX_SPAWN"] = "1"
    leaf = None
    if in_cgroup:
        if (leaf := floor_leaf()) is None:
            return None
        e["FLOOR_CGROUP"] = leaf
    try:
        subprocess.run([FLOOR, str(count + 1), PROBE, log], env=e, check=True)
    finally:
        if leaf:
            floor_leaf_remove(leaf)
    return log


def open_streams(d, port, n):
    """n console event streams, each of its own sign-in, read until the
    returned Event is set (threads of this process)."""
    stop = threading.Event()
    sock = os.path.join(d, "sock")

    def read(req):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        s.settimeout(0.5)
        first = True
        while not stop.is_set():
            try:
                d = s.recv(1 << 16)
                if first and d and not d.startswith(b"HTTP/1.1 200"):
                    print("  (a console stream was refused: %r)" % d[:60], file=sys.stderr)
                first = first and not d
                if not d:
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        s.close()
    for _ in range(n):
        threading.Thread(target=read, args=(events_request(port, session_cookie(ARBORCTL, sock)),),
                         daemon=True).start()
    return stop


def check_target():
    """A loopback port that accepts and closes, for a tcp check."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv


def run_arbord(d, env, extra_args=(), fault=None, event_log=True, cgroup=None, listen="",
               check_port=None, helper_fault=None, binary=None):
    log = os.path.join(d, "probe.log")
    conf = os.path.join(d, "arbor.conf")
    with open(conf, "w") as f:
        # Output captured (the default), its log in the tmpfs directory.
        f.write('daemon = { log_dir = "%s/logs"; %s };\n' % (
            d, 'cgroup = "%s";' % cgroup if cgroup else ""))
        f.write('observability = { metrics_listen = "%s"; %s };\n' %
                (listen, 'event_log = "%s/events.jsonl";' % d if event_log else ""))
        # The helpers' rows: a second worker with a tcp check every 200 ms
        # (never failing it: the row measures the probe's gap).
        checked = ('  , { name = "checked"; command = ["/bin/sleep", "1000000"];\n'
                   '      health = { tcp = "127.0.0.1:%d"; interval = 200; timeout = 1000; failures = 1000000; }; }\n'
                   % check_port) if check_port else ""
        f.write('tree = { strategy = "one_for_one"; intensity = 100000; period = 1;\n'
                '  children = ( { name = "probe"; command = ["%s", "%s"]; }\n%s ); };\n' % (PROBE, log, checked))
    e = dict(env)
    if fault:
        e["ARBOR_OBS_FAULT"] = fault
    if helper_fault:
        e["ARBOR_HELPER_FAULT"] = helper_fault
    p = subprocess.Popen([binary or ARBORD, "-c", conf, "-s", os.path.join(d, "sock")] + list(extra_args),
                         env=e, stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "arbord.log"), "w"))
    return p, log


def run_system(name, d, env, count):
    if name == "floor":
        return run_floor(d, env, count), None
    if name == "floor (in a cgroup)":
        return run_floor(d, env, count, in_cgroup=True), None
    if name == GLIBC_FLOOR:
        return run_floor(d, env, count, glibc=True), None
    if name == COPY_FLOOR:
        return run_floor(d, env, count, in_cgroup=True, copy=True), None
    if name.startswith("arbord"):
        args = ["--no-bpf"] if name == "arbord (BPF off)" else []
        fault = None
        # The console rows: its listener on, with or without streams.
        port = free_port() if name.startswith("arbord (console") else None
        target = check_target() if name in HELPER_ROWS else None
        p, log = run_arbord(d, env, args, fault,
                            cgroup="off" if name == "arbord (cgroup off)" else None,
                            listen="127.0.0.1:%d" % port if port else "",
                            check_port=target.getsockname()[1] if target else None,
                            helper_fault=HELPER_FAULTS.get(name),
                            binary=os.path.join(os.path.abspath(BASELINE), "arbord")
                            if name == BASELINE_ROW else None)
        p.target = target
        p.streams = None
        if name == "arbord (console, %d streams)" % CONSOLE_STREAMS:
            p.streams = open_streams(d, port, CONSOLE_STREAMS)
    elif name == "runit (runsv)":
        svc, log = service_dir(d)
        p = subprocess.Popen(["runsv", svc], env=env)
    elif name.startswith("s6"):
        svc, log = service_dir(d)
        if "notification" in name:
            with open(os.path.join(svc, "notification-fd"), "w") as f:
                f.write("3\n")
        p = subprocess.Popen(["s6-supervise", svc], env=env)
    elif name == "daemontools (supervise)":
        svc, log = service_dir(d)
        p = subprocess.Popen(["supervise", svc], env=env)
    elif name == "supervisord":
        log = os.path.join(d, "probe.log")
        conf = os.path.join(d, "supervisord.conf")
        life = env.get("PROBE_LIFE_MS", "1200")
        with open(conf, "w") as f:
            f.write("[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\n"
                    "[program:probe]\ncommand=%s %s\nautorestart=true\nstartsecs=0\n"
                    "startretries=1000000\nenvironment=PROBE_LIFE_MS=\"%s\"\n" % (d, d, PROBE, log, life))
        p = subprocess.Popen(["supervisord", "-c", conf], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        raise ValueError(name)
    return log, p


# Each round measures a system settled: the restarts in its first
# SETTLE_MS after its supervisor started are left out, for every system
# alike (at least the first). Right after a start, and right after the
# previous system was torn down, every system here restarted slower: the
# floor in a cgroup took 4.08, 3.95, 3.79, 3.62 and 3.27 ms in the first
# five places of its rounds at a 0.1 s life (by hand), and arbord's start
# (its helpers, its BPF) weighs more than the floor's. A service's crash
# comes long after its supervisor started; the settled gap is the one a
# user sees.
SETTLE_MS = int(os.environ.get("BENCH_SETTLE_MS", "1000"))


def warm_for(life_ms):
    """The restarts left out at the start of each round at this life."""
    return max(1, -(-SETTLE_MS // max(life_ms, 1)))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


# The floor in a cgroup as it was before stop 39: clone3 without CLONE_VM,
# so each spawn copied the floor's page tables (a vfork, as the floors'
# spawns are now, never does). Kept as a row of its own, labelled.
COPY_FLOOR = "floor (cgroup, no CLONE_VM)"
# The bare floor as it was before stop 56: glibc's posix_spawn, whose child
# also resets every signal's disposition (tests/bench/floor.c). The floor
# row now spawns as the floor in a cgroup does, without the cgroup, so
# the two differ by the cgroup alone. Kept as a row of its own, labelled.
GLIBC_FLOOR = "floor (posix_spawn)"
SYSTEMS = ["floor", GLIBC_FLOOR, "floor (in a cgroup)", COPY_FLOOR, "arbord (BPF on)", "arbord (BPF off)", "runit (runsv)",
           "s6 (s6-supervise)", "s6 (notification-fd)", "daemontools (supervise)", "supervisord"]


class Gaps(list):
    """A system's gaps in the order taken; .rounds holds them round by
    round (the rounds of every system in one run are the same slots of
    time)."""
    def __init__(self):
        super().__init__()
        self.rounds = []

    def add_round(self, gs):
        self += gs
        self.rounds.append(list(gs))


def restart_latency(life_ms=1200, names=None, count=None, rounds=None):
    names = names or SYSTEMS + ["arbord (cgroup off)", "arbord (obs stalled)",
                                "arbord (obs crashing)"] + CONSOLE_ROWS + HELPER_ROWS
    gaps = {name: Gaps() for name in names}
    kernel = []
    env = dict(os.environ)
    env["PROBE_LIFE_MS"] = str(life_ms)
    rounds = rounds or ROUNDS
    per_round = -(-(count or N) // rounds)
    warm = warm_for(life_ms)
    spawns = per_round + warm
    for _ in range(rounds):
        for name in names:
            if not name.startswith(("floor", "arbord")) and not shutil.which(
                    {"runit (runsv)": "runsv", "daemontools (supervise)": "supervise",
                     "supervisord": "supervisord"}.get(name, "s6-supervise")):
                gaps[name] = None
                continue
            d = workdir("restart")
            log, p = run_system(name, d, env, spawns)
            if log is None:		# no writable cgroup v2 here
                gaps[name] = None
                shutil.rmtree(d, ignore_errors=True)
                continue
            if p is not None:
                wait_starts(log, spawns + 1, timeout=spawns * 3 + 30)
                if getattr(p, "streams", None):
                    p.streams.set()
                stop(p)
                if getattr(p, "target", None):
                    p.target.close()
                kill_probes(d)
            gaps[name].add_round(gaps_ms(log)[warm:spawns])
            if name == "arbord (BPF on)":
                try:
                    with open(os.path.join(d, "events.jsonl")) as f:
                        kernel += [json.loads(l)["restart_latency_ns"] / 1e6 for l in f
                                   if '"restart_latency_ns"' in l][warm:spawns]
                except FileNotFoundError:
                    pass
            shutil.rmtree(d, ignore_errors=True)
    return [(name, gaps[name]) for name in names], kernel


def round_ratios(a, b):
    """The spread of a/b over the rounds: each round's median of a over its
    median of b.
    How far one round strays from the next says how much of a 5% margin
    the machine's own drift can hide."""
    if not a or not b:
        return ""
    r = sorted(statistics.median(x) / statistics.median(y)
               for x, y in zip(a.rounds, b.rounds) if x and y)
    if not r:
        return ""
    return "; %d rounds' ratios %.3f-%.3f" % (len(r), r[0], r[-1])


RESAMPLES = 2000


def ratio_interval(a, b):
    """How far the ratio of a's median to b's could be from what this run
    printed: a 95% interval by resampling the rounds (the same rounds for
    both, with replacement, RESAMPLES times, a fixed seed). A round is one
    slot of time in which every system took its restarts, so the interval
    holds both the spread of single restarts and the machine's drift from
    one round to the next. None with fewer than 2 rounds of both."""
    ra, rb = getattr(a, "rounds", None), getattr(b, "rounds", None)
    if not ra or not rb or len(ra) != len(rb) or len(ra) < 2:
        return None
    rng = random.Random(1)
    n = len(ra)
    out = []
    for _ in range(RESAMPLES):
        pick = [rng.randrange(n) for _ in range(n)]
        xa = [g for i in pick for g in ra[i]]
        xb = [g for i in pick for g in rb[i]]
        if xa and xb:
            out.append(statistics.median(xa) / statistics.median(xb))
    out.sort()
    return out[int(0.025 * (len(out) - 1))], out[int(0.975 * (len(out) - 1))]


def verdict(a, b, target):
    """The ratio of a's median to b's, the target, the 95% interval and
    what it says: met only when the whole interval is within the target,
    not met when all of it is above, otherwise not resolved by this run."""
    r = statistics.median(a) / statistics.median(b)
    iv = ratio_interval(a, b)
    if iv is None:
        return "%.3fx (target <= %.2f)" % (r, target)
    lo, hi = iv
    say = "met" if hi <= target else "not met" if lo > target else "not resolved by this run"
    return "%.3fx (target <= %.2f; 95%% interval over %d rounds %.3f-%.3f: %s)" % (
        r, target, len(a.rounds), lo, hi, say)


def interval(a, b):
    """The ratio of a's median to b's with its 95% interval, no target."""
    r = statistics.median(a) / statistics.median(b)
    iv = ratio_interval(a, b)
    return "%.3fx" % r if iv is None else "%.3fx (95%% interval over %d rounds %.3f-%.3f)" % (
        r, len(a.rounds), iv[0], iv[1])


def crash_loop(seconds=5.0):
    env = dict(os.environ)
    env["PROBE_LIFE_MS"] = "0"
    out = []
    for name in SYSTEMS:
        if name.startswith(("floor", "s6 (notification")):
            continue
        tool = {"runit (runsv)": "runsv", "daemontools (supervise)": "supervise",
                "supervisord": "supervisord", "s6 (s6-supervise)": "s6-supervise"}.get(name)
        if tool and not shutil.which(tool):
            out.append((name, None))
            continue
        d = workdir("crash")
        log, p = run_system(name, d, env, 0)
        time.sleep(seconds)
        n = len(starts_exits(log)[0])
        stop(p)
        kill_probes(d)
        out.append((name, n / seconds))
        shutil.rmtree(d, ignore_errors=True)
    return out


def phases(life_ms=300, count=40):
    """Where one restart's time goes, by phase (medians, us), for the floors
    (their own stamps, FLOOR_STAMPS) and arbord (BPF on) with and without
    cgroups (its event log: the kernel's exit, arbord acting on it, its
    clone, its child's start and execve, the clone's return): from the
    probe's exit stamp to the supervisor waking, to its clone, to the
    child's first instruction, to its execve (the floors' children call it
    at once: none of their own work), to the clone's return (the execve
    has succeeded: vfork semantics), to the replacement's start stamp."""
    env = dict(os.environ, PROBE_LIFE_MS=str(life_ms))
    med = lambda xs: statistics.median(xs) / 1000 if xs else float("nan")
    out = []
    for name in ("floor", GLIBC_FLOOR, "floor (in a cgroup)", "arbord (BPF on)", "arbord (BPF off)",
                 "arbord (cgroup off)"):
        d = workdir("phases")
        wake, clone, child, execve, back = [], [], [], [], []
        if name.startswith("floor"):
            stamps = os.path.join(d, "stamps")
            log = run_floor(d, dict(env, FLOOR_STAMPS=stamps), count, in_cgroup="cgroup" in name,
                            glibc=name == GLIBC_FLOOR)
            if log is None:
                shutil.rmtree(d, ignore_errors=True)
                continue
            with open(stamps) as f:
                for line in f:
                    k, v = line.split()
                    {"woke": wake, "clone": clone, "child": child, "back": back}[k].append(int(v))
            execve = child       # no work of its own before execve
        else:
            p, log = run_arbord(d, env, ["--no-bpf"] if "BPF off" in name else [],
                                cgroup="off" if "cgroup off" in name else None)
            wait_starts(log, count + 1, timeout=count * 3 + 30)
            stop(p)
            kill_probes(d)
            with open(os.path.join(d, "events.jsonl")) as f:
                for line in f:
                    e = json.loads(line)
                    if e["event"] == "exit":    # without BPF, mono_ns is arbord's
                        wake.append(e.get("arbord_mono_ns", e["mono_ns"]))
                    elif e["event"] == "spawn" and "spawned_mono_ns" in e:
                        clone.append(e["clone_mono_ns"])
                        child.append(e["child_mono_ns"])
                        execve.append(e["exec_mono_ns"])
                        back.append(e["spawned_mono_ns"])
        # the first start is no restart
        clone, child, execve, back = clone[1:], child[1:], execve[1:], back[1:]
        starts, exits = starts_exits(log)
        shutil.rmtree(d, ignore_errors=True)
        if len(child) != len(clone):     # the posix_spawn floor has no child stamp
            child = execve = clone
        rows = [(w - e, c - w, ch - c, x - ch, b - x, s - b)
                for e, w, c, ch, x, b, s in zip(exits, wake, clone, child, execve, back, starts[1:])
                if e < w < c <= ch <= x < b < s]
        out.append((name, len(rows), [med([r[k] for r in rows]) for k in range(6)]))
    return out


def print_phases(life_ms, count):
    print("restart phases: probe lives %d ms, %d restarts each; medians in us from the probe's exit stamp" % (
        life_ms, count))
    print("  (clone->child: the kernel's clone; child->execve: the child's own work; execve->back: the\n"
          "  kernel's execve up to the clone's return; the posix_spawn floor's child is not stamped: its\n"
          "  clone->child and child->execve are in execve->back)")
    print("  %-22s %8s %12s %8s %13s %14s %13s %12s %8s" % (
        "system", "restarts", "exit->woken", "->clone", "clone->child", "child->execve", "execve->back",
        "back->start", "gap"))
    for name, n, ph in phases(life_ms, count):
        print("  %-22s %8d %12.1f %8.1f %13.1f %14.1f %13.1f %12.1f %8.1f" % ((name, n) + tuple(ph) + (sum(ph),)))


def print_rows(rows, width, missing=False):
    """Each row's p50, p90 and max; with missing, also the rows with no
    gaps and why."""
    for name, g in rows:
        if g:
            print("  %-*s p50 %8.3f ms  p90 %8.3f ms  max %8.3f ms" % (width, name, pct(g, .5), pct(g, .9), max(g)))
        elif missing:
            print("  %-*s %s" % (width, name, "not installed" if g is None else "no restarts seen"))


def pair_row(what, names, ratio, target, rows=None):
    """Rows of the gap, each further row's p50 over the first's (ratio:
    what each says, a list for more than two rows). Alone (rows None),
    they are measured and printed first."""
    if rows is None:
        # PAIR_LIFE_MS: how long the probe lives (the helpers' step: 300
        # ms, for three times the restarts in the same time; a ratio of
        # two medians of 100 moved by some 6% from run to run).
        life = int(os.environ.get("PAIR_LIFE_MS", "1200"))
        print("restart latency %s: probe lives %.1f s; %d restarts each, in %d rounds" % (
            what, life / 1000, -(-N // ROUNDS) * ROUNDS, ROUNDS))
        rows, _ = restart_latency(life, names)
        print_rows(rows, 34)
    ratios = ratio if isinstance(ratio, list) else [ratio]
    base = dict(rows).get(names[0])
    for name, what_ratio in zip(names[1:], ratios):
        other = dict(rows).get(name)
        if base and other:
            print("  %s = %s" % (what_ratio, verdict(other, base, target)))
    return rows


def console_row(rows=None):
    """The gap with signed-in console streams open beside none."""
    pair_row("with the console", CONSOLE_ROWS,
             "console: %d signed-in streams open, p50 / none p50" % CONSOLE_STREAMS,
             1.05, rows)


def helpers_row(rows=None):
    """The gap beside a checked worker, the helpers healthy, then one of
    them crash-looping."""
    rows = pair_row("with the helpers", HELPER_ROWS,
                    ["isolation: checks helper crash-looping (segv) p50 / healthy p50",
                     "isolation: output helper crash-looping (segv) p50 / healthy p50"], 1.05, rows)
    base, old = dict(rows).get(HELPER_ROWS[0]), dict(rows).get(BASELINE_ROW)
    if base and old:
        print("  healthy: this build p50 / baseline build (%s) p50 = %s" % (BASELINE, verdict(base, old, 1.02)))


SWEEP_ROWS = ["floor", "floor (in a cgroup)", "arbord (BPF on)", "arbord (cgroup off)", GLIBC_FLOOR]


def sweep_life(life, count, per_round=10):
    """The two gap targets at one probe life: arbord (cgroups) against the
    floor in a cgroup, arbord with cgroup = "off" against the bare floor;
    count restarts each in rounds of per_round."""
    rounds = max(1, count // per_round)
    sweep, _ = restart_latency(life, SWEEP_ROWS, count, rounds)
    m = {k: statistics.median(v) for k, v in sweep if v}
    g = {k: v for k, v in sweep if v}
    n = min(len(v) for _, v in sweep if v) if m else 0
    if "floor (in a cgroup)" in m and "arbord (BPF on)" in m:
        print("  probe lives %4d ms, %d restarts each: floor in a cgroup p50 %.3f ms, arbord (cgroups) p50 %.3f ms: %s%s" % (
            life, n, m["floor (in a cgroup)"], m["arbord (BPF on)"],
            verdict(g["arbord (BPF on)"], g["floor (in a cgroup)"], 1.05),
            round_ratios(g["arbord (BPF on)"], g["floor (in a cgroup)"])))
    if "floor" in m and "arbord (cgroup off)" in m:
        print("  probe lives %4d ms, %d restarts each: floor p50 %.3f ms, arbord (cgroup off) p50 %.3f ms: %s%s" % (
            life, n, m["floor"], m["arbord (cgroup off)"],
            verdict(g["arbord (cgroup off)"], g["floor"], 1.03),
            round_ratios(g["arbord (cgroup off)"], g["floor"])))
    # What the cgroup costs the kernel (the two floors differ by it alone),
    # and the bare floor as it was measured before stop 56: no targets.
    if "floor" in m and "floor (in a cgroup)" in m:
        print("  probe lives %4d ms: the kernel's share of a cgroup, floor in a cgroup p50 / floor p50 = %s" % (
            life, interval(g["floor (in a cgroup)"], g["floor"])))
    if GLIBC_FLOOR in m and "floor" in m and "arbord (cgroup off)" in m:
        print("  probe lives %4d ms: %s p50 %.3f ms; / floor p50 = %s; arbord (cgroup off) p50 / it = %s" % (
            life, GLIBC_FLOOR, m[GLIBC_FLOOR], interval(g[GLIBC_FLOOR], g["floor"]),
            interval(g["arbord (cgroup off)"], g[GLIBC_FLOOR])))


# The floor in a cgroup making the system calls of arbord's contract as
# well (floor.c, FLOOR_CONTRACT): the shares step.
CONTRACT_FLOOR = "floor (contract's calls)"
# That floor waiting as arbord's event loop does (floor.c, FLOOR_LOOP: the
# pidfd in an epoll inside an epoll, SIGCHLD from a signalfd, an orphan
# reap, a second thread): the shares step.
LOOP_FLOOR = "floor (contract's calls, arbord's loop)"
FLOOR_LEAVES = {"floor (in a cgroup)": "probe", CONTRACT_FLOOR: "contract", LOOP_FLOOR: "loop"}
PAIRED_ROWS = ["floor", "floor (in a cgroup)", "arbord (BPF on)", "arbord (cgroup off)"]
PAIRED_BLOCK = 10   # a slot of time, in probe lives: about so many restarts of each
PAIRED_MARGIN_MS = 1
PAIRED_JITTER = 0.25  # a probe's life drawn from life to life * 1.25 (paired_life)


def free_phase(life, logs):
    """Seconds from now to the middle of the widest stretch of a life in
    which none of logs' probes starts (their latest starts, modulo the
    life)."""
    period = life * 1000000
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    phases = sorted(st[-1] % period for st in (starts_exits(log)[0] for log in logs) if st)
    if not phases:
        return 0.0
    gaps = [((phases[(i + 1) % len(phases)] - ph) % period or period, ph) for i, ph in enumerate(phases)]
    width, at = max(gaps)
    target = (at + width // 2) % period
    return ((target - now % period) % period) / 1e9


def paired_life(life, count, rows=None):
    """rows (default PAIRED_ROWS): the floors and arbord at once, each
    restarting its own probe: every system meets the machine in the same
    state, so its drift (which moved a whole round's median by a third
    here) falls on all alike. Gaps from the third restart on, by slots of
    PAIRED_BLOCK lives (the same slots for every system), with how many
    were left out. The floors run while
    arbord's helpers and probes are loaded: the probes' tracepoints fire for
    the floors' own processes too (a few per restart, each a map lookup),
    which the sequential rounds never charge them. Each probe's life is
    drawn anew at each start from life to life + PAIRED_JITTER of it: with
    one fixed life the systems' phases drift only a little in a run, so
    one system could meet another's restart (or the work an arbord does
    10 ms after one) at much the same offset for the whole run; runs
    disagreed by more than their intervals then (stop 59)."""
    env = dict(os.environ, PROBE_LIFE_MS=str(life), PROBE_JITTER_MS=str(int(life * PAIRED_JITTER)))
    leaves, procs = [], []
    try:
        # arbord first: when its probe first starts depends on its own
        # start-up. Each floor then starts in the middle of the widest
        # stretch of the life that no system's restart is in yet.
        for name in sorted(rows or PAIRED_ROWS, key=lambda n: not n.startswith("arbord")):
            d = workdir("paired")
            log = os.path.join(d, "probe.log")
            if name.startswith("floor"):
                e = dict(env)
                if name in FLOOR_LEAVES:
                    if (leaf := floor_leaf(FLOOR_LEAVES[name])) is None:
                        shutil.rmtree(d, ignore_errors=True)
                        continue
                    leaves.append(leaf)
                    e["FLOOR_CGROUP"] = leaf
                    if name in (CONTRACT_FLOOR, LOOP_FLOOR):
                        e["FLOOR_CONTRACT"] = "1"
                    if name == LOOP_FLOOR:
                        e["FLOOR_LOOP"] = "1"
                time.sleep(free_phase(life, [pl for _, _, pl, _ in procs]))
                p = subprocess.Popen([FLOOR, str(count + 3), PROBE, log], env=e)
            else:
                p, log = run_arbord(d, env, ["--no-bpf"] if name == "arbord (BPF off)" else [],
                                    cgroup="off" if name == "arbord (cgroup off)" else None)
            procs.append((name, p, log, d))
            wait_starts(log, 2, timeout=30)
        for name, p, log, d in procs:
            wait_starts(log, count + 3, timeout=count * life / 1000 * 2 + 60)
    finally:
        for name, p, log, d in procs:
            if name.startswith("arbord"):
                stop(p)
                kill_probes(d)
            else:
                p.wait()
        for i, leaf in enumerate(leaves):
            floor_leaf_remove(leaf, parent=i == len(leaves) - 1)
    spans = {}
    for name, p, log, d in procs:
        starts, exits = starts_exits(log)
        spans[name] = [(e, s2) for e, s2 in zip(exits, starts[1:]) if s2 > e][2:count + 2]
        shutil.rmtree(d, ignore_errors=True)
    # A gap that comes within PAIRED_MARGIN of another system's is left
    # out (both): their phases drift, and two restarts at once would share
    # the CPUs. The blocks are slots of time, PAIRED_BLOCK lives long.
    margin = PAIRED_MARGIN_MS * 1000000
    every = sorted((e - margin, s2 + margin, name) for name, sp in spans.items() for e, s2 in sp)
    crowded = set()
    for i, (lo, hi, name) in enumerate(every):
        for lo2, hi2, name2 in every[i + 1:]:
            if lo2 >= hi:
                break
            if name2 != name:
                crowded.update({(lo, name), (lo2, name2)})
    t0 = min((sp[0][0] for sp in spans.values() if sp), default=0)
    slot = life * 1000000 * PAIRED_BLOCK
    out, left = {}, {}
    for name, sp in spans.items():
        blocks = {}
        for e, s2 in sp:
            if (e - margin, name) in crowded:
                left[name] = left.get(name, 0) + 1
                continue
            blocks.setdefault((e - t0) // slot, []).append((s2 - e) / 1e6)
        out[name] = blocks
    return out, left


def paired_gaps(blocks, a, b):
    """a's and b's gaps (Gaps) over the slots both have gaps in."""
    ga, gb = Gaps(), Gaps()
    for k in sorted(set(blocks[a]) & set(blocks[b])):
        ga.add_round(blocks[a][k])
        gb.add_round(blocks[b][k])
    return ga, gb


def paired():
    """The two gap targets and the kernel's share of a cgroup, every system
    at once (paired_life), at the three probe lives: N restarts each
    (400 when N is 0) at 0.1 and 0.3 s, half as many at 1.2 s."""
    n = N or 400
    print("restart gap, paired: the floors and arbord (BPF on, and cgroup off) at once, each restarting "
          "its own probe, the floors started where no restart is; a gap within %d ms of another system's left "
          "out (both); intervals over the slots of %d lives in which both rows have gaps" % (
              PAIRED_MARGIN_MS, PAIRED_BLOCK))
    for life, count in ((100, n), (300, n), (1200, n // 2)):
        blocks, left = paired_life(life, count)
        m = {k: statistics.median([x for v in b.values() for x in v]) for k, b in blocks.items() if b}
        print("  probe lives %4d ms, %d restarts each: %s" % (life, count, ", ".join(
            "%s p50 %.3f ms (%d left out)" % (k, m[k], left.get(k, 0)) for k in PAIRED_ROWS if k in m)))
        for a, b, t in (("arbord (BPF on)", "floor (in a cgroup)", 1.05), ("arbord (cgroup off)", "floor", 1.03),
                        ("floor (in a cgroup)", "floor", None)):
            if a in m and b in m:
                ga, gb = paired_gaps(blocks, a, b)
                print("    %s / %s = %s" % (a if t else "the kernel's share of a cgroup, " + a, b,
                                            verdict(ga, gb, t) if t else interval(ga, gb)))


def tracing_progs():
    """The machine's tracing programs by id: (name, runs, ns run), the
    kernel's own counts (they grow only while kernel.bpf_stats_enabled is
    1)."""
    out = json.loads(subprocess.check_output(["bpftool", "-j", "prog", "show"], stderr=subprocess.DEVNULL))
    return {x["id"]: (x.get("name", "?"), x.get("run_cnt", 0), x.get("run_time_ns", 0))
            for x in out if x.get("type") == "tracing"}


BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"


def probes_cost(life, seconds):
    """What each of arbord's eBPF programs takes per restart of a probe
    living life ms, over seconds: the programs arbord attached (those that
    were not there before it), kernel.bpf_stats_enabled on for the count
    and set back after. True (with the figures printed) when arbord's
    probes attached and were counted, else False with the reason
    printed."""
    if not shutil.which("bpftool"):
        print("  per program: skipped, no bpftool")
        return False
    with open(BPF_STATS) as f:
        was = f.read().strip()
    before = set(tracing_progs())
    d = workdir("probes")
    p, log = run_arbord(d, dict(os.environ, PROBE_LIFE_MS=str(life)))
    try:
        wait_starts(log, 3, timeout=30)
        with open(os.path.join(d, "arbord.log")) as f:
            said = f.read()
        if "eBPF probes attached" not in said:
            why = [ln for ln in said.splitlines() if "eBPF" in ln]
            print("  skipped: arbord's probes did not attach here (%s)" % (why[0] if why else "no eBPF line in its log"))
            return False
        try:
            with open(BPF_STATS, "w") as f:
                f.write("1")
        except OSError as e:
            print("  skipped: cannot set kernel.bpf_stats_enabled (%s)" % e.strerror)
            return False
        a = {k: v for k, v in tracing_progs().items() if k not in before}
        n0 = len(starts_exits(log)[0])
        time.sleep(seconds)
        b = {k: v for k, v in tracing_progs().items() if k in a}
        n1 = len(starts_exits(log)[0])
    finally:
        try:
            with open(BPF_STATS, "w") as f:
                f.write(was)
        except OSError:
            pass    # never set: the skip above said why
        stop(p)
        kill_probes(d)
        shutil.rmtree(d, ignore_errors=True)
    k = n1 - n0
    if k <= 0:
        print("  per program: no restarts seen in %.0f s" % seconds)
        return True
    print("  per program, probe lives %d ms, %d restarts (machine-wide: the scheduler's programs run at every "
          "wake-up and switch of any task, most of them outside a restart):" % (life, k))
    total = 0
    for prog in sorted(b, key=lambda i: b[i][0]):
        name, runs, ns = b[prog][0], b[prog][1] - a[prog][1], b[prog][2] - a[prog][2]
        total += ns
        print("    %-16s %7.1f runs per restart, %6.0f ns per run, %6.2f us per restart" % (
            name, runs / k, ns / runs if runs else 0, ns / k / 1000))
    print("    %-16s %48.2f us per restart" % ("all", total / k / 1000))
    return True


def shares():
    """What arbord's gap is made of beyond the floor in a cgroup's: what
    each eBPF program takes (the kernel's counts), then at once
    (paired_life), N restarts each at 0.3 s: the floor in a cgroup, the
    same floor making the system calls of arbord's contract too, that one
    waiting as arbord's event loop does, and arbord with and without its
    probes."""
    print("restart gap, shares: each eBPF program's runs and time per restart (kernel.bpf_stats_enabled), "
          "then the floor in a cgroup, %s, %s, arbord (BPF on) and arbord (BPF off) at once, each "
          "restarting its own probe" % (CONTRACT_FLOOR, LOOP_FLOOR))
    if not probes_cost(100, 20):
        print("  (the rows at once need arbord's probes, counted: left out)")
        return
    rows = ["floor (in a cgroup)", CONTRACT_FLOOR, LOOP_FLOOR, "arbord (BPF on)", "arbord (BPF off)"]
    blocks, left = paired_life(300, N, rows)
    m = {k: statistics.median([x for v in b.values() for x in v]) for k, b in blocks.items() if b}
    print("  probe lives  300 ms, %d restarts each: %s" % (N, ", ".join(
        "%s p50 %.3f ms (%d left out)" % (k, m[k], left.get(k, 0)) for k in rows if k in m)))
    for a, b, t, what in (
            ("arbord (BPF on)", "floor (in a cgroup)", 1.05, "the gap target"),
            (CONTRACT_FLOOR, "floor (in a cgroup)", None, "the contract's calls"),
            ("arbord (BPF on)", "arbord (BPF off)", None, "the probes"),
            ("arbord (BPF off)", CONTRACT_FLOOR, None, "arbord's own, beyond the contract's calls"),
            (LOOP_FLOOR, CONTRACT_FLOOR, None, "of that, the event loop's shape"),
            ("arbord (BPF off)", LOOP_FLOOR, None, "of that, the work arbord does in its loop")):
        if a in m and b in m:
            ga, gb = paired_gaps(blocks, a, b)
            print("    %s: %s / %s = %s" % (what, a, b, verdict(ga, gb, t) if t else interval(ga, gb)))


AHEAD_ROWS = ["floor (in a cgroup)", "arbord (BPF on)", "daemontools (supervise)", "runit (runsv)"]


def ahead():
    """arbord against the peers and the floor in a cgroup at the main
    table's life, N restarts each in ROUNDS rounds."""
    print("restart latency against the peers: probe lives 1.2 s; %d restarts each, in %d interleaved "
          "rounds (each round's first left out: %d ms settle)" % (-(-N // ROUNDS) * ROUNDS, ROUNDS, SETTLE_MS))
    rows, _ = restart_latency(1200, AHEAD_ROWS)
    g = dict(rows)
    print_rows(rows, 26, missing=True)
    arbord = g.get("arbord (BPF on)")
    for name in AHEAD_ROWS[2:]:
        if arbord and g.get(name):
            print("  peers: arbord (BPF on) p50 / %s p50 = %s" % (name, verdict(arbord, g[name], 1.00)))
    if arbord and g.get(AHEAD_ROWS[0]):
        print("  arbord (BPF on, cgroups) p50 / floor in a cgroup p50 = %s%s" % (
            verdict(arbord, g[AHEAD_ROWS[0]], 1.05), round_ratios(arbord, g[AHEAD_ROWS[0]])))


def main():
    if ONLY_SHARES:
        shares()
        return
    if ONLY_PAIRED:
        paired()
        return
    if ONLY_PHASES:
        print_phases(int(os.environ.get("GAP_LIFE_MS", "100")), N)
        return
    if ONLY_AHEAD:
        ahead()
        return
    if ONLY_CONSOLE:
        console_row()
        return
    if ONLY_HELPERS:
        helpers_row()
        return
    if ONLY_GAP:
        life = int(os.environ.get("GAP_LIFE_MS", "100"))
        print("restart gap, long: probe lives %d ms, the floors and arbord BPF on, %d restarts each "
              "in interleaved rounds of %d (each round's restarts in its first %d ms left out), for an "
              "interval narrower than the targets' margins" % (life, N, GAP_ROUND, SETTLE_MS))
        sweep_life(life, N, GAP_ROUND)
        return
    print("restart latency: probe lives 1.2 s then exits 1; gap = next start - previous exit; "
          "%d restarts each, in %d interleaved rounds (each round's first left out: %d ms settle)" % (
              -(-N // ROUNDS) * ROUNDS, ROUNDS, SETTLE_MS))
    rows, kernel = restart_latency()
    floor = statistics.median(rows[0][1]) if rows[0][1] else None
    print("  %-26s %8s %8s %8s %8s %8s" % ("system", "p50 ms", "p90 ms", "p99 ms", "max ms", "p50/floor"))
    for name, g in rows:
        if not g:
            print("  %-26s %s" % (name, "not installed" if g is None else "no restarts seen"))
            continue
        print("  %-26s %8.3f %8.3f %8.3f %8.3f %8.2fx" % (
            name, pct(g, .5), pct(g, .9), pct(g, .99), max(g), statistics.median(g) / floor))
    if kernel:
        print("  %-26s %8.3f %8.3f %8.3f %8.3f   (kernel exit -> replacement execve, from arbord's event log)" % (
            "arbord, kernel timestamps", pct(kernel, .5), pct(kernel, .9), pct(kernel, .99), max(kernel)))
    healthy = dict(rows).get("arbord (BPF on)")
    off = dict(rows).get("arbord (cgroup off)")
    if healthy and off:
        print("  containment: arbord (BPF on, cgroups) p50 / arbord (cgroup off) p50 = %s" % (
            verdict(healthy, off, 1.03)))
        cfloor = dict(rows).get("floor (in a cgroup)")
        if cfloor and floor:
            kernel_cost = statistics.median(cfloor) / floor
            print("  containment: the kernel's share, floor (in a cgroup) p50 / floor p50 = %.3f; "
                  "arbord's own, (BPF on / floor in a cgroup) / (cgroup off / floor) = %.3f" % (
                      kernel_cost, (statistics.median(healthy) / statistics.median(cfloor)) /
                      (statistics.median(off) / floor)))
    for name in ("arbord (obs stalled)", "arbord (obs crashing)"):
        g = dict(rows).get(name)
        if g and healthy:
            print("  isolation: %s p50 / healthy p50 = %s" % (name, verdict(g, healthy, 1.05)))
    # Ahead of the peers: arbord's median gap below theirs.
    for name in ("daemontools (supervise)", "runit (runsv)"):
        g = dict(rows).get(name)
        if g and healthy:
            print("  peers: arbord (BPF on) p50 / %s p50 = %s" % (name, verdict(healthy, g, 1.00)))
    console_row(rows)
    helpers_row(rows)
    # The gap at the floor whatever the probe's life: a short life leaves
    # arbord's work after a restart (events, wake-ups) in the next gap.
    # Each against the floor with the same containment: arbord's cgroups
    # against the floor in a cgroup (vfork semantics, as arbord spawns),
    # arbord with cgroup = "off" against the bare floor.
    # 200 restarts at 0.1 and 0.3 s, 100 at 1.2 s, in rounds of 10 after
    # each start's settle. Each ratio comes with its 95% interval over the
    # rounds (verdict): a target is met only when the whole interval is
    # within it. Here a tenth of single restarts took less than 0.8 times
    # their median and a tenth more than 1.3 to 1.4 times it; the interval
    # of a ratio of two medians of 200 was 0.07 to 0.09 either side, wider
    # than the targets' margins, and two rows of the same arbord differed
    # by 4% (both within their interval). The gap step takes 1,500.
    print("restart gap by probe life (the floors and arbord BPF on, interleaved rounds of 10 restarts, "
          "each round's restarts in its first %d ms left out):" % SETTLE_MS)
    for life in (100, 300, 1200):
        sweep_life(life, max(N, 200 if life <= 300 else 100))
    print_phases(300, 40)
    print("crash loop: probe exits at once; starts per second over 5 s")
    for name, rate in crash_loop():
        print("  %-26s %s" % (name, "not installed" if rate is None else "%8.1f/s" % rate))


if __name__ == "__main__":
    main()
