# SPDX-License-Identifier: BSD-2-Clause
"""What several of make bench's scripts need alike."""
import os
import resource
import socket
import subprocess
import time


def free_port():
    """A loopback TCP port nobody holds now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile():
    """As many fds as the hard limit allows, up to 65536 (raised past it
    where arbord may: CAP_SYS_RESOURCE)."""
    want = 1 << 16
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        pass    # no CAP_SYS_RESOURCE: what the hard limit allows


def rss_kib(pid):
    """A process's resident set (VmRSS), in KiB; 0 if not said."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def helper_pid(arborctl, sock, name):
    """The pid of arbord's helper name (arborctl daemon), or None."""
    out = subprocess.run([arborctl, "-s", sock, "daemon"], capture_output=True, text=True,
                         timeout=60).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "helper" and f[1] == name and f[4] != "0":
            return int(f[4])
    return None


def settle(idle=0.9, most=60):
    """Waits (at most `most` s) until a second passes with the CPUs at
    least `idle` idle: the step before may leave the kernel busy (10,000
    cgroups being freed). Returns a line saying how long it waited."""
    def times():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    t0 = time.monotonic()
    while time.monotonic() - t0 < most:
        i0, a0 = times()
        time.sleep(1)
        i1, a1 = times()
        if a1 > a0 and (i1 - i0) / (a1 - a0) >= idle:
            return "the CPUs were %.0f%% idle after %.0f s" % (idle * 100, time.monotonic() - t0)
    return "the CPUs were still busy after %d s" % most


def kdamond_cpu():
    """CPU seconds the kernel's DAMON threads (kdamond) have used, or None
    where none runs. This machine's kernel runs one that pages out memory
    it finds cold; beside the same loop of 10,000 spawns it took 2.8 s in
    one round and 7.0 s in another, so each round says it beside its
    figure."""
    tck, total, seen = os.sysconf("SC_CLK_TCK"), 0, False
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        comm, rest = st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2:].split()
        if comm.startswith("kdamond"):
            seen = True
            total += int(rest[11]) + int(rest[12])
    return total / tck if seen else None
