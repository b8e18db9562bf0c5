# SPDX-License-Identifier: BSD-2-Clause
"""What several of make bench's scripts need alike."""
import resource
import socket
import subprocess


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
