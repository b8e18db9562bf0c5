#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A worker for t_sockets.sh: what systemd's socket activation gives it.

  sockworker.py [--report FILE] [--serve] [--bind PORT] [--crash-after MS]
                [--counter FILE] [--store-pair] [--store-dir DIR]
                [--flood N] [--ready-fd N --ready-when FILE] [--shutdown-fd]

  --report FILE    writes JSON: its pid, LISTEN_PID, LISTEN_FDS,
                   LISTEN_FDNAMES and, for each fd 3..., whether it
                   listens (SO_ACCEPTCONN), its family, type and inode
  --serve          accepts on fd 3 (or on --bind's port) and answers each
                   connection with a line
  --bind PORT      binds 127.0.0.1:PORT itself instead (no LISTEN_FDS)
  --crash-after MS segfaults (a write through a null pointer) MS after
                   it starts serving, between two connections
  --counter FILE   a memfd holding a counter, taken back from the fd store
                   (FDNAME "counter") or made and stored: adds one, writes
                   the count to FILE
  --store-pair     stores one end of a socketpair (FDNAME "pair") and
                   closes the other 0.3 s later
  --store-dir DIR  stores an O_RDONLY fd of directory DIR (FDNAME "dir")
  --flood N        sends N datagrams with FDSTORE=1, each with a fresh fd
  --flood-name S   names those S (FDNAME), "flood" by default
  --remove S       then sends FDSTOREREMOVE=1 for the name S
  --ready-fd N     writes a newline to fd N once --ready-when's FILE
                   exists (at once without it)
  --shutdown-fd    shuts fd 3 down (SHUT_RDWR), then exits 1
  --slow-if FILE   when FILE exists, waits 2 s before serving
  --notify-ready   sends READY=1 when it starts serving
"""
import argparse
import array
import ctypes
import json
import os
import socket
import stat
import sys
import threading
import time


def fds_passed():
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return 0
    return int(os.environ.get("LISTEN_FDS", "0"))


def names():
    n = os.environ.get("LISTEN_FDNAMES", "")
    return n.split(":") if n else []


def notify(msg, fds=()):
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\0" + path[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    anc = []
    if fds:
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
    s.sendmsg([msg.encode()], anc, 0, path)
    s.close()


def report(path):
    info = {
        "pid": os.getpid(),
        "listen_pid": os.environ.get("LISTEN_PID"),
        "listen_fds": os.environ.get("LISTEN_FDS"),
        "names": os.environ.get("LISTEN_FDNAMES"),
        "fds": [],
    }
    for i in range(fds_passed()):
        fd = 3 + i
        st = os.fstat(fd)
        e = {"fd": fd, "inode": st.st_ino, "socket": stat.S_ISSOCK(st.st_mode)}
        if e["socket"]:
            s = socket.socket(fileno=fd)
            e["listening"] = s.getsockopt(socket.SOL_SOCKET,
                                          socket.SO_ACCEPTCONN)
            e["family"] = s.family.name
            e["type"] = s.type.name
            s.detach()
        info["fds"].append(e)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.rename(tmp, path)


def segfault():
    ctypes.memset(0, 1, 1)


def counter(path):
    fd = None
    for i, name in enumerate(names()):
        if name == "counter" and i < fds_passed():
            fd = 3 + i
    if fd is None:
        fd = os.memfd_create("counter")
        os.write(fd, b"0")
        notify("FDSTORE=1\nFDNAME=counter", [fd])
    n = int(os.pread(fd, 32, 0) or b"0") + 1
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(n).encode(), 0)
    with open(path + ".tmp", "w") as f:
        f.write(str(n))
    os.rename(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--report")
    p.add_argument("--serve", action="store_true")
    p.add_argument("--bind", type=int)
    p.add_argument("--crash-after", type=int)
    p.add_argument("--counter")
    p.add_argument("--store-pair", action="store_true")
    p.add_argument("--store-dir")
    p.add_argument("--flood", type=int)
    p.add_argument("--flood-name", default="flood")
    p.add_argument("--remove")
    p.add_argument("--ready-fd", type=int)
    p.add_argument("--ready-when")
    p.add_argument("--shutdown-fd", action="store_true")
    p.add_argument("--slow-if")
    p.add_argument("--notify-ready", action="store_true")
    a = p.parse_args()

    if a.report:
        report(a.report)
    if a.counter:
        counter(a.counter)
    if a.store_pair:
        x, y = socket.socketpair()
        notify("FDSTORE=1\nFDNAME=pair", [x.fileno()])
        x.close()
        threading.Timer(0.3, y.close).start()
    if a.store_dir:
        d = os.open(a.store_dir, os.O_RDONLY | os.O_DIRECTORY)
        notify("FDSTORE=1\nFDNAME=dir", [d])
        os.close(d)
    if a.flood:
        for _ in range(a.flood):
            fd = os.open("/dev/null", os.O_RDONLY)
            while True:
                try:
                    notify("FDSTORE=1\nFDNAME=" + a.flood_name, [fd])
                    break
                except BlockingIOError:
                    time.sleep(0.001)
            os.close(fd)
        notify("STATUS=flooded")
    if a.remove:
        notify("FDSTOREREMOVE=1\nFDNAME=" + a.remove)
    if a.shutdown_fd:
        s = socket.socket(fileno=3)
        s.shutdown(socket.SHUT_RDWR)
        s.detach()
        sys.exit(1)
    if a.ready_fd is not None:
        while a.ready_when and not os.path.exists(a.ready_when):
            time.sleep(0.01)
        os.write(a.ready_fd, b"\n")
        os.close(a.ready_fd)
    if a.slow_if and os.path.exists(a.slow_if):
        time.sleep(2)
    if a.notify_ready:
        notify("READY=1")
    if a.serve:
        if a.bind:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", a.bind))
            s.listen(128)
        else:
            s = socket.socket(fileno=3)
        # The fault comes between connections: one accepted is always
        # answered, and those waiting in the backlog outlive the process
        # only if the socket does.
        crash_at = None
        if a.crash_after is not None:
            crash_at = time.monotonic() + a.crash_after / 1000
            s.settimeout(a.crash_after / 1000)
        while True:
            if crash_at is not None and time.monotonic() >= crash_at:
                segfault()
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            c.settimeout(None)
            try:
                c.sendall(b"pong %d\n" % os.getpid())
            except OSError:
                pass
            c.close()
    while True:
        time.sleep(1000)


if __name__ == "__main__":
    main()
