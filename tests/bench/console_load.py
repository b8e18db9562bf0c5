#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The console's load on the core: a crash loop (tests/bench/probe exiting
at once, restart_delay 0) with the console on, its restart gap and rate
with nobody watching, then with a hundred /api/events streams read and one
that is never read; arbord's resident memory after each. Figures only,
never a test.

  console_load.py BUILD_DIR [SECONDS]

The gap is the probe's own next start minus its previous exit
(CLOCK_MONOTONIC), as in restart.py.
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from probelog import starts_exits
from signin import events_request, session_cookie
from benchlib import free_port, rss_kib

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 5
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
ARBORCTL = os.path.abspath(os.path.join(BUILD, "arborctl"))
PROBE = os.path.abspath(os.path.join(BUILD, "bench", "probe"))
STREAMS = 100


def window(log, secs):
    """Restarts per second and the median gap (us) over the next secs."""
    s0, e0 = starts_exits(log)
    time.sleep(secs)
    s1, e1 = starts_exits(log)
    gaps = [(s - e) / 1e3 for e, s in list(zip(e1, s1[1:]))[len(e0):] if s > e]
    return (len(s1) - len(s0)) / secs, statistics.median(gaps) if gaps else float("nan")


def reader(port, got, i, stop, req):
    try:
        s = socket.create_connection(("127.0.0.1", port))
    except OSError:
        return
    s.sendall(req)
    s.settimeout(0.5)
    while not stop.is_set():
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            continue
        except OSError:
            break
        if not d:
            break
        got[i] += len(d)
    s.close()


def main():
    d = tempfile.mkdtemp(prefix="arbor-console-", dir="/dev/shm")
    sock, log, port = os.path.join(d, "sock"), os.path.join(d, "probe.log"), free_port()
    conf = os.path.join(d, "arbor.conf")
    with open(conf, "w") as f:
        f.write('daemon = { log_dir = ""; };\n')
        f.write('observability = { metrics_listen = "127.0.0.1:%d"; };\n' % port)
        f.write('tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (\n')
        f.write('  { name = "probe"; command = ["%s", "%s"]; stdout = "null"; restart_delay = 0; }\n'
                % (PROBE, log))
        f.write('); };\n')
    p = subprocess.Popen([ARBORD, "-c", conf, "-s", sock], env=dict(os.environ, PROBE_LIFE_MS="0"),
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "arbord.log"), "w"))
    stop = threading.Event()
    try:
        time.sleep(2)	# warm: BPF attached, allocator arenas
        if p.poll() is not None:
            print("console load: arbord ended: " + open(os.path.join(d, "arbord.log")).read()[-400:])
            return
        rate0, gap0 = window(log, SECONDS)
        rss0 = rss_kib(p.pid)
        req = events_request(port, session_cookie(ARBORCTL, sock))
        got = [0] * STREAMS
        threads = [threading.Thread(target=reader, args=(port, got, i, stop, req), daemon=True)
                   for i in range(STREAMS)]
        for t in threads:
            t.start()
        lazy = socket.socket()
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.connect(("127.0.0.1", port))
        lazy.sendall(req)
        time.sleep(1)
        rate1, gap1 = window(log, SECONDS)
        rss1 = rss_kib(p.pid)
        stop.set()
        kept = sum(1 for g in got if g)
        print("console load: a crash loop (probe exits at once), %g s windows" % SECONDS)
        print("  nobody watching: %.0f restarts/s, gap median %.0f us, arbord RSS %d KiB" % (rate0, gap0, rss0))
        print("  %d streams read + 1 never read: %.0f restarts/s, gap median %.0f us, arbord RSS %d KiB; "
              "%d streams got events, %.1f MB each on median" % (
                  STREAMS, rate1, gap1, rss1, kept, statistics.median(got) / 1e6))
        print("  gap with the streams: %.3fx the gap without (1x: unchanged)" % (gap1 / gap0))
    finally:
        stop.set()
        subprocess.run([ARBORCTL, "-s", sock, "shutdown"], capture_output=True, timeout=60)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
