#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Holds one thread of another process stopped (t_output.sh).

  threadstop.py PID NAME READY GO
      stops the thread of PID named NAME (its comm) with ptrace
      (PTRACE_SEIZE, PTRACE_INTERRUPT: that thread only, the others run
      on), writes the file READY, and lets it go on (PTRACE_DETACH) once
      the file GO exists, or after 60 s. A thread held so is one that is
      slow, as on a slow disk: whatever waits for its work waits.
"""
import ctypes
import os
import sys
import time

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p,
                        ctypes.c_void_p]


def ptrace(req, tid):
    if libc.ptrace(req, tid, None, None) < 0:
        e = ctypes.get_errno()
        sys.exit("ptrace %#x %d: %s" % (req, tid, os.strerror(e)))


def main():
    pid, name, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    tid = None
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
            if f.read().strip() == name:
                tid = int(t)
    if tid is None:
        sys.exit("no thread %s in %d" % (name, pid))
    ptrace(PTRACE_SEIZE, tid)
    ptrace(PTRACE_INTERRUPT, tid)
    os.waitpid(tid, WALL)
    open(ready, "w").close()
    end = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < end:
        time.sleep(0.02)
    ptrace(PTRACE_DETACH, tid)


main()
