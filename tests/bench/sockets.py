#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""make bench's sockets step: what a client sees of a crashing server's
restarts, with arbord holding its socket (LISTEN_FDS) and without.

  sockets.py BUILD [CRASHES] [ROUNDS] [GAP_RESTARTS]

1. A TCP server (tests/bench/sockserver.c) crashes, a write through a null
   pointer, 200 ms after it starts serving; a client connects every 1 ms,
   one connection at a time, and reads each answer. CRASHES crashes with
   arbord holding the socket, then as many with the server binding its own
   port. Printed: the connects refused; the longest stall a connection saw
   in each crash's window (from the crash to the next), p50 and p99 over
   the crashes; and, with the socket held, that stall beside the restart
   gap plus the server's own start (its crash to its replacement's
   listening, from the server's own log).
2. The worker's own restart gap (its crash to its replacement's first
   instruction) with the socket held and without, no client, GAP_RESTARTS
   (default 300) restarts each in ROUNDS interleaved rounds: the ratio of
   the medians (of 100, it moved by some 10% between runs).
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, settle

BUILD = sys.argv[1]
CRASHES = int(sys.argv[2]) if len(sys.argv) > 2 else 100
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
GAP_RESTARTS = int(sys.argv[4]) if len(sys.argv) > 4 else 300
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
SERVER = os.path.abspath(os.path.join(BUILD, "bench", "sockserver"))

CLIENT = r'''
import os, socket, sys, time
port, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rec = []
nxt = time.monotonic_ns()
while not os.path.exists(stop):
    now = time.monotonic_ns()
    if now < nxt:
        time.sleep((nxt - now) / 1e9)
    nxt += 1000000
    t0 = time.monotonic_ns()
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", port))
        r = "ok" if s.recv(16).startswith(b"pong") else "failed"
    except ConnectionRefusedError:
        r = "refused"
    except OSError:
        r = "failed"
    s.close()
    rec.append("%d %d %s" % (t0, time.monotonic_ns() - t0, r))
with open(out, "w") as f:
    f.write("\n".join(rec) + "\n")
'''


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def stamps(log):
    """The server's log: its starts, listenings and crashes, in order."""
    out = {"start": [], "listening": [], "crash": []}
    try:
        with open(log) as f:
            for line in f:
                w = line.split()
                if len(w) == 2 and w[0] in out:
                    out[w[0]].append(int(w[1]))
    except FileNotFoundError:
        pass
    return out


def run(d, held, crashes, life_ms, client):
    """arbord running the server until it crashed crashes times; the
    server's stamps and, with client, the client's records."""
    port = free_port()
    log = os.path.join(d, "server.log")
    conf = os.path.join(d, "arbor.conf")
    for f in (log,):
        if os.path.exists(f):
            os.unlink(f)
    with open(conf, "w") as f:
        f.write('daemon = { log_dir = "%s/logs"; };\n' % d)
        f.write('tree = { strategy = "one_for_one"; intensity = 100000; period = 1;\n'
                '  children = ( { name = "srv"; command = ["%s", "%s", "%d"];\n'
                '    env = ["CRASH_AFTER_MS=%d"]; stdout = "null"; stderr = "null";\n'
                '    %s } ); };\n' % (SERVER, log, port, life_ms,
                                     'sockets = ( { listen = "127.0.0.1:%d"; } );' % port if held else ""))
    p = subprocess.Popen([ARBORD, "-c", conf, "-s", os.path.join(d, "sock")],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "arbord.log"), "w"))
    cl = None
    stop = os.path.join(d, "stop")
    recs = os.path.join(d, "client.txt")
    for f in (stop, recs):
        if os.path.exists(f):
            os.unlink(f)
    try:
        end = time.time() + 30
        while not stamps(log)["listening"] and time.time() < end:
            time.sleep(0.01)
        if client:
            cl = subprocess.Popen([sys.executable, "-c", CLIENT, str(port), stop, recs])
        end = time.time() + 30 + crashes * (life_ms + 500) / 1000
        while len(stamps(log)["crash"]) < crashes + 1 and time.time() < end:
            time.sleep(0.05)
    finally:
        if cl:
            open(stop, "w").close()
            cl.wait(60)
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    st = stamps(log)
    rec = []
    if client and os.path.exists(recs):
        with open(recs) as f:
            for line in f:
                t0, dur, r = line.split()
                rec.append((int(t0), int(dur), r))
    return st, rec


def per_crash(st, rec):
    """For each crash but the last: the longest stall of a connection
    begun in its window, its restart gap and the replacement's start."""
    crashes, starts, listens = st["crash"], st["start"], st["listening"]
    rows = []
    for i, c in enumerate(crashes[:-1]):
        nxt = crashes[i + 1]
        start = next((s for s in starts if s > c), None)
        listen = next((s for s in listens if s > c), None)
        stalls = [dur for t0, dur, r in rec if c <= t0 < nxt and r == "ok"]
        if start is None or listen is None or not stalls:
            continue
        rows.append((max(stalls) / 1e6, (start - c) / 1e6, (listen - c) / 1e6))
    return rows


def client_phase(d):
    print("sockets: a TCP server crashing (SIGSEGV) %d ms after it serves, a client connecting every 1 ms, one at a time; %d crashes each"
          % (200, CRASHES))
    held_rows = None
    for held in (True, False):
        st, rec = run(d, held, CRASHES, 200, True)
        n = len(rec)
        refused = sum(1 for _, _, r in rec if r == "refused")
        failed = sum(1 for _, _, r in rec if r == "failed")
        rows = per_crash(st, rec)
        what = "arbord holds the socket" if held else "the server binds its own"
        if not rows:
            print("  %-26s no crash measured" % what)
            continue
        stall = [r[0] for r in rows]
        print("  %-26s %6d connects, %5d refused, %3d failed; longest stall a crash: p50 %7.3f ms  p99 %7.3f ms  (%d crashes)"
              % (what, n, refused, failed, pct(stall, .5), pct(stall, .99), len(rows)))
        if held:
            held_rows = rows
    if held_rows:
        stall = [r[0] for r in held_rows]
        up = [r[2] for r in held_rows]
        gap = [r[1] for r in held_rows]
        print("  held: the longest stall p50 %.3f ms; the restart gap p50 %.3f ms, plus the server's own start: p50 %.3f ms (stall / that = %.3f)"
              % (pct(stall, .5), pct(gap, .5), pct(up, .5), statistics.median(stall) / statistics.median(up)))


def gap_phase(d):
    per = -(-GAP_RESTARTS // ROUNDS)
    print("restart gap with the socket held and without: no client, server lives 300 ms, %d restarts each in %d rounds"
          % (per * ROUNDS, ROUNDS))
    gaps = {True: [], False: []}
    for _ in range(ROUNDS):
        for held in (True, False):
            st, _ = run(d, held, per, 300, False)
            for c in st["crash"]:
                s = next((s for s in st["start"] if s > c), None)
                if s is not None:
                    gaps[held].append((s - c) / 1e6)
    for held in (True, False):
        g = gaps[held]
        if g:
            print("  %-26s p50 %8.3f ms  p90 %8.3f ms  max %8.3f ms  (%d)"
                  % ("held" if held else "without", pct(g, .5), pct(g, .9), max(g), len(g)))
    if gaps[True] and gaps[False]:
        print("  held p50 / without p50 = %.3f (target: <= 1.02)"
              % (statistics.median(gaps[True]) / statistics.median(gaps[False])))


def main():
    if os.geteuid() != 0:
        print("sockets: skipped (needs root for arbord's cgroups)")
        return
    d = tempfile.mkdtemp(prefix="arbor-bench-sockets-", dir="/dev/shm")
    print(settle())
    client_phase(d)
    gap_phase(d)
    print("systemd's socket activation: not measured here (no systemd as PID 1 on this machine). "
          "By its documentation, PID 1 holds the listening socket across the service's restarts as arbord does, "
          "so connections wait in the backlog rather than being refused.")
    subprocess.run(["rm", "-rf", d], check=False)


if __name__ == "__main__":
    main()
