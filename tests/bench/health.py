#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""What health checks cost arbord's core: 1,000 sleeping workers, each
checked every second (tcp and http against one loopback server, exec of
/bin/true), against the same tree without checks. The figure is the core
thread's CPU time (utime + stime of /proc/PID/task/PID/stat) over a
window, as a share of one CPU; the target is under 5%. tcp and http
checks run in the helper process arbor-checks: its CPU and the memory of
the core and the helper (RSS: total, and per worker over the tree
without checks) are printed beside. Figures only.

  health.py BUILD_DIR [WORKERS] [SECONDS]
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import helper_pid, rss_kib

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 20
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
ARBORCTL = os.path.abspath(os.path.join(BUILD, "arborctl"))
TICK = os.sysconf("SC_CLK_TCK")
TARGET = 5.0     # % of one CPU


class Server:
    """One loopback server for every check: accepts (tcp) and answers any
    request 200 (http); counts connections."""

    def __init__(self):
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self.run, daemon=True).start()
        self.ready.wait()

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        writer.close()

    def run(self):
        asyncio.set_event_loop(self.loop)
        srv = self.loop.run_until_complete(
            asyncio.start_server(self.handle, "127.0.0.1", 0, backlog=4096))
        self.port = srv.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()


def status(sock):
    out = subprocess.run([ARBORCTL, "-s", sock, "status", "--json"],
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out) if out else None


def cpu_s(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK     # utime, stime


def all_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def checks_helper(sock):
    """The pid of the checks helper (arborctl daemon), or None."""
    return helper_pid(ARBORCTL, sock, "checks")


def run(kind, server):
    d = tempfile.mkdtemp(prefix="arbor-health-", dir="/dev/shm")
    sock = os.path.join(d, "sock")
    check = {
        "none": "",
        "tcp": 'health = { tcp = "127.0.0.1:%d"; interval = 1000; };' % server.port,
        "http": 'health = { http = "http://127.0.0.1:%d/healthz"; interval = 1000; };' % server.port,
        "exec": 'health = { exec = ["/bin/true"]; interval = 1000; };',
    }[kind]
    with open(os.path.join(d, "arbor.conf"), "w") as f:
        f.write('daemon = { log_dir = ""; };\nobservability = { metrics_listen = ""; };\n')
        f.write('tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (\n')
        f.write(",\n".join('  { name = "w%d"; command = ["/bin/sleep", "100000"]; '
                           'stdout = "null"; stderr = "null"; %s }' % (i, check)
                           for i in range(WORKERS)))
        f.write("\n); };\n")
    p = subprocess.Popen([ARBORD, "-c", os.path.join(d, "arbor.conf"), "-s", sock],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "log"), "w"))
    t0 = time.monotonic()
    while True:
        time.sleep(0.2)
        try:
            t = status(sock)
        except Exception:
            continue
        if t and all(w["state"] == "running" for w in t["children"]):
            break
        if time.monotonic() - t0 > 120:
            raise SystemExit("health.py: %s: the tree did not start" % kind)
    time.sleep(3)   # every worker's first check is an interval after its start
    hp = checks_helper(sock)
    h0 = all_cpu_s(hp) if hp else 0
    c0, a0, n0, w0 = cpu_s(p.pid, p.pid), all_cpu_s(p.pid), server.connections, time.monotonic()
    time.sleep(SECONDS)
    c1, a1, n1, w1 = cpu_s(p.pid, p.pid), all_cpu_s(p.pid), server.connections, time.monotonic()
    h1 = all_cpu_s(hp) if hp else 0
    core_kib, helper_kib = rss_kib(p.pid), rss_kib(hp) if hp else 0
    t = status(sock)
    threads = len(os.listdir("/proc/%d/task" % p.pid))
    healthy = sum(1 for w in t["children"] if w.get("health", {}).get("ok") is True)
    restarts = sum(w["restarts"] for w in t["children"])
    subprocess.run([ARBORCTL, "-s", sock, "shutdown"], timeout=300, capture_output=True)
    p.wait()
    shutil.rmtree(d, ignore_errors=True)
    wall = w1 - w0
    return {
        "check": kind,
        "core CPU %": round(100 * (c1 - c0) / wall, 2),
        "arbord CPU % (all threads)": round(100 * (a1 - a0) / wall, 2),
        "checks helper CPU %": round(100 * (h1 - h0) / wall, 2) if hp else "-",
        "core RSS KiB": core_kib,
        "checks helper RSS KiB": helper_kib if hp else "-",
        "server connections /s": round((n1 - n0) / wall) if kind in ("tcp", "http") else "-",
        "healthy": healthy if kind != "none" else "-",
        "restarts": restarts,
        "threads": threads,
    }


def main():
    print("== health checks: %d workers, each checked every 1 s, core CPU over %g s ==" %
          (WORKERS, SECONDS))
    server = Server()
    base = None
    for kind in ("none", "tcp", "http", "exec"):
        r = run(kind, server)
        if kind == "none":
            base = r["core CPU %"]
            base_kib = r["core RSS KiB"]
        else:
            r["over no checks, points"] = round(r["core CPU %"] - base, 2)
            r["target < 5%"] = "met" if r["core CPU %"] < TARGET else "missed"
        print("  " + "  ".join("%s: %s" % kv for kv in r.items()))
        if kind != "none":
            helper = r["checks helper RSS KiB"] if r["checks helper RSS KiB"] != "-" else 0
            total = r["core RSS KiB"] + helper
            print("    memory with %s checks: core %d KiB + checks helper %d KiB = %d KiB; per worker over "
                  "no checks: core %.2f KiB, helper %.2f KiB, together %.2f KiB" % (
                      kind, r["core RSS KiB"], helper, total, (r["core RSS KiB"] - base_kib) / WORKERS,
                      helper / WORKERS, (total - base_kib) / WORKERS))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
