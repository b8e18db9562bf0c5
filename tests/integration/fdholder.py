#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Holds copies of another process's connecting sockets (t_health.sh).

  fdholder.py PID PORT HOLD_S COUNTFILE
      every few milliseconds, takes a copy (pidfd_getfd(2)) of each socket
      of PID that is connecting (SYN_SENT) to 127.0.0.1:PORT, and closes the
      copy HOLD_S seconds later; COUNTFILE says how many it took. So does any child of arbord's for the span
      between its clone and its execve: while it holds the copy, closing
      arbord's own descriptor leaves the socket open.
"""
import ctypes
import os
import sys
import time

SYS_pidfd_getfd = 438
libc = ctypes.CDLL(None, use_errno=True)


def connecting_inodes(pid, port):
    want = "0100007F:%04X" % port
    found = set()
    for name in ("tcp",):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    v = line.split()
                    if v[2] == want and v[3] == "02":
                        found.add(v[9])
        except OSError:
            pass
    return found


def main():
    pid, port, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    countfile = sys.argv[4]
    taken = 0
    pidfd = os.pidfd_open(pid)
    held = []       # (until, fd)
    seen = set()
    while True:
        now = time.monotonic()
        while held and held[0][0] <= now:
            os.close(held.pop(0)[1])
        inodes = connecting_inodes(pid, port)
        if inodes:
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
            except OSError:
                return
            for fd in fds:
                try:
                    link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                ino = link[len("socket:["):-1] if link.startswith("socket:[") else None
                if ino in inodes and (fd, ino) not in seen:
                    seen.add((fd, ino))
                    got = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
                    if got >= 0:
                        held.append((now + hold, got))
                        taken += 1
                        with open(countfile + ".tmp", "w") as f:
                            f.write(str(taken))
                        os.rename(countfile + ".tmp", countfile)
        time.sleep(0.003)


if __name__ == "__main__":
    main()
