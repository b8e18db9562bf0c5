#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Raw control-socket client for tests.

  rawclient.py send SOCK N     send stdin as-is, print N reply lines
  rawclient.py idle SOCK N     hold N idle connections until killed
  rawclient.py noread SOCK     flood status requests without reading replies
  rawclient.py later SOCK GO  send stdin's first line, print its reply and
                               "ready"; once the file GO exists, send the
                               other lines on the same connection, printing
                               a reply each
  rawclient.py stuck SOCK N REQUEST
                               N connections each send REQUEST (a JSON line)
                               and never read; "ready", then hold them
"""
import os
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "send":
        s = connect(path)
        s.settimeout(10)
        s.sendall(sys.stdin.buffer.read())
        f = s.makefile("rb")
        for _ in range(int(sys.argv[3])):
            line = f.readline()
            if not line:
                print("EOF")
                break
            sys.stdout.write(line.decode(errors="replace"))
        return
    if mode == "later":
        lines = sys.stdin.buffer.read().splitlines(keepends=True)
        s = connect(path)
        s.settimeout(10)
        f = s.makefile("rb")
        for i, line in enumerate(lines):
            if i == 1:
                print("ready", flush=True)
                deadline = time.time() + 20
                while not os.path.exists(sys.argv[3]):
                    if time.time() > deadline:
                        print("no", sys.argv[3])
                        return
                    time.sleep(0.02)
            s.sendall(line)
            sys.stdout.write(f.readline().decode(errors="replace"))
            sys.stdout.flush()
        return
    if mode == "idle":
        conns = [connect(path) for _ in range(int(sys.argv[3]))]
        print("ready", flush=True)
        while True:
            time.sleep(60)
        del conns
    if mode == "stuck":
        conns = []
        for _ in range(int(sys.argv[3])):
            s = connect(path)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(sys.argv[4].encode() + b"\n")
            conns.append(s)
        print("ready", flush=True)
        while True:
            time.sleep(60)
    if mode == "noread":
        s = connect(path)
        s.setblocking(False)
        req = b'{"cmd":"status"}\n' * 1000
        sent = 0
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                sent += s.send(req)
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                print("dropped after", sent, "bytes", flush=True)
                return
        print("never dropped", flush=True)


if __name__ == "__main__":
    main()
