#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Status and start at scale beside the peers: N sleeping services under
arbord, supervisord and s6 (s6-svscan), on the same machine in the same run.
For each: the time from the supervisor's start until every service runs, and
the time of its status command over all of them, as a user types it
(arborctl status, supervisorctl status, s6-svstat of each service directory,
which takes one at a time). Usage: peers_scale.py BUILD [N]."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
ARBORCTL = os.path.abspath(os.path.join(BUILD, "arborctl"))
SLEEP = shutil.which("sleep")
TIMEOUT = 300


def timed(args, **kw):
    t0 = time.monotonic()
    out = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, **kw)
    return time.monotonic() - t0, out.stdout


def wait_until(ok, t0):
    while time.monotonic() - t0 < TIMEOUT:
        if ok():
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def arbord(d):
    sock = os.path.join(d, "sock")
    conf = os.path.join(d, "arbor.conf")
    with open(conf, "w") as f:
        f.write('daemon = { log_dir = ""; };\nobservability = { metrics_listen = ""; };\n')
        f.write('tree = { strategy = "one_for_one"; children = (\n')
        f.write(",\n".join('  { name = "s%d"; command = ["%s", "100000"]; stdout = "null"; stderr = "null"; }'
                           % (i, SLEEP) for i in range(N)))
        f.write("\n); };\n")
    t0 = time.monotonic()
    p = subprocess.Popen([ARBORD, "-c", conf, "-s", sock], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    def all_running():
        r = subprocess.run([ARBORCTL, "-s", sock, "status"], capture_output=True, text=True)
        return r.returncode == 0 and r.stdout.count(" running ") >= N + 1
    started = wait_until(all_running, t0)
    status, out = timed([ARBORCTL, "-s", sock, "status"])
    status_json, _ = timed([ARBORCTL, "-s", sock, "status", "--json"])
    subprocess.run([ARBORCTL, "-s", sock, "shutdown"], timeout=TIMEOUT, capture_output=True)
    p.wait(timeout=TIMEOUT)
    return started, status, "arborctl status --json: %.3f s" % status_json


def supervisord(d):
    if not shutil.which("supervisord"):
        return None
    conf = os.path.join(d, "supervisord.conf")
    sock = os.path.join(d, "supervisor.sock")
    with open(conf, "w") as f:
        f.write("[unix_http_server]\nfile=%s\n[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
                "[supervisorctl]\nserverurl=unix://%s\n"
                "[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\n"
                "minfds=%d\n" % (sock, sock, d, d, 2 * N + 1024))
        for i in range(N):
            f.write("[program:s%d]\ncommand=%s 100000\nstartsecs=0\nautorestart=true\n"
                    "stdout_logfile=NONE\nstderr_logfile=NONE\n" % (i, SLEEP))
    t0 = time.monotonic()
    p = subprocess.Popen(["supervisord", "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    def all_running():
        r = subprocess.run(["supervisorctl", "-c", conf, "status"], capture_output=True, text=True)
        return r.stdout.count("RUNNING") >= N
    started = wait_until(all_running, t0)
    status, _ = timed(["supervisorctl", "-c", conf, "status"])
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=TIMEOUT)
    return started, status, None


def s6(d):
    if not shutil.which("s6-svscan"):
        return None
    scan = os.path.join(d, "scan")
    dirs = []
    for i in range(N):
        svc = os.path.join(scan, "s%d" % i)
        os.makedirs(svc)
        with open(os.path.join(svc, "run"), "w") as f:
            f.write("#!/bin/sh\nexec %s 100000\n" % SLEEP)
        os.chmod(os.path.join(svc, "run"), 0o755)
        dirs.append(svc)
    t0 = time.monotonic()
    # s6-svscan supervises at most 500 services unless -c says more.
    p = subprocess.Popen(["s6-svscan", "-c", str(N + 16), scan], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    def all_up():
        # The last directories come last: when they are up, check them all.
        if subprocess.run(["s6-svstat", "-u", dirs[-1]], capture_output=True,
                          text=True).stdout.strip() != "true":
            return False
        return all(subprocess.run(["s6-svstat", "-u", s], capture_output=True,
                                  text=True).stdout.strip() == "true" for s in dirs)
    started = wait_until(all_up, t0)
    t1 = time.monotonic()
    for s in dirs:
        subprocess.run(["s6-svstat", s], capture_output=True, timeout=TIMEOUT)
    status = time.monotonic() - t1
    subprocess.run(["s6-svscanctl", "-t", scan], capture_output=True)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    return started, status, "s6-svstat once per service directory"


def main():
    print("status and start at scale: %d sleeping services under each supervisor" % N)
    for name, fn in (("arbord", arbord), ("supervisord", supervisord), ("s6 (s6-svscan)", s6)):
        d = tempfile.mkdtemp(prefix="arbor-peers-", dir="/dev/shm")
        try:
            r = fn(d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if r is None:
            print("  %s: not installed" % name)
            continue
        started, status, extra = r
        print("  %-16s all %d running after %s; status of all: %.3f s%s" % (
            name + ":", N, "%.3f s" % started if started is not None else "timeout", status,
            "; " + extra if extra else ""))


if __name__ == "__main__":
    main()
