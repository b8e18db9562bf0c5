#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A worker that speaks sd_notify from its main process, for tests.

  notifier.py [--delay S] [--extend USEC] [--status TEXT]
              [--status-hex HEX] [--ready]
              [--watchdog-until FILE] [--malformed]

Sleeps forever after doing what it was asked, in this order.
"""
import argparse
import os
import socket
import time


def send(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg if isinstance(msg, bytes) else msg.encode(),
             os.environ["NOTIFY_SOCKET"])
    s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--extend", type=int)
    p.add_argument("--status")
    p.add_argument("--status-hex", help="STATUS= with these raw bytes")
    p.add_argument("--ready", action="store_true")
    p.add_argument("--watchdog-until")
    p.add_argument("--malformed", action="store_true",
                   help="send READY=1 followed by a NUL byte")
    a = p.parse_args()
    if a.extend:
        send("EXTEND_TIMEOUT_USEC=%d" % a.extend)
    time.sleep(a.delay)
    if a.malformed:
        send("READY=1\0")
    if a.status:
        send("STATUS=" + a.status)
    if a.status_hex:
        send(b"STATUS=" + bytes.fromhex(a.status_hex))
    if a.ready:
        send("READY=1")
    if a.watchdog_until:
        interval = int(os.environ["WATCHDOG_USEC"]) / 1e6 / 4
        while not os.path.exists(a.watchdog_until):
            send("WATCHDOG=1")
            time.sleep(interval)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
