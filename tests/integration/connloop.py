#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A client of t_sockets.sh and the sockets bench: connects to
127.0.0.1:PORT every INTERVAL_MS for SECONDS, one connection at a time,
and reads each answer line. Prints JSON: attempts, refused, answered,
failed (anything else), and the longest stalls (ms) a connection saw
from connect to its answer: max, p50, p99.

  connloop.py PORT SECONDS [INTERVAL_MS]
"""
import errno
import json
import socket
import sys
import time


def main():
    port = int(sys.argv[1])
    seconds = float(sys.argv[2])
    interval = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.001
    out = {"attempts": 0, "refused": 0, "answered": 0, "failed": 0}
    stalls = []
    end = time.monotonic() + seconds
    nxt = time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic()
        if now < nxt:
            time.sleep(nxt - now)
        nxt += interval
        out["attempts"] += 1
        t0 = time.monotonic()
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
            line = s.makefile("rb").readline()
            if line.startswith(b"pong"):
                out["answered"] += 1
                stalls.append((time.monotonic() - t0) * 1000)
            else:
                out["failed"] += 1
        except ConnectionRefusedError:
            out["refused"] += 1
        except OSError as e:
            if e.errno == errno.ECONNREFUSED:
                out["refused"] += 1
            else:
                out["failed"] += 1
        finally:
            s.close()
    stalls.sort()

    def pct(q):
        return round(stalls[min(len(stalls) - 1, int(q * len(stalls)))], 2) if stalls else None

    out["stall_max_ms"] = round(stalls[-1], 2) if stalls else None
    out["stall_p50_ms"] = pct(0.5)
    out["stall_p99_ms"] = pct(0.99)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
