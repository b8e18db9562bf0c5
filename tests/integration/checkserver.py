#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Loopback servers for the health-check tests (t_health.sh).

  checkserver.py listen PORT [DELAY_S|GOFILE] [STAMP]
      sleeps DELAY_S (or waits until the file GOFILE exists), then listens
      on 127.0.0.1:PORT (accepting and closing)
      and writes CLOCK_MONOTONIC ns taken just before the listen(2) to STAMP.
  checkserver.py http PORT FAILFILE
      answers every GET with 200 "ok", or 500 "broken" while FAILFILE exists.
  checkserver.py mute PORT
      accepts connections and never answers.
  checkserver.py flood PORT SENTFILE
      answers 200 with a body of 100 MB; writes how many bytes it sent.
  checkserver.py chaos PORT
      misbehaves at random on each connection: closes at once, resets,
      answers after a delay (200 or 503), stops halfway through its
      headers, trickles a body, or never answers.
  checkserver.py jam PORT
      for 0.5 s in each 1.5 s, listens with its queue full (connects hang:
      their SYNs are dropped); for the rest, nothing listens (they are
      refused). A connect that hangs is refused at its SYN's first
      retransmission, a second later.
"""
import http.server
import os
import random
import socket
import sys
import threading
import time


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


def listen(port, delay, stamp):
    if isinstance(delay, str):
        while not os.path.exists(delay):
            time.sleep(0.01)
    else:
        time.sleep(delay)
    # Stamped just before it listens: nothing can connect before that.
    at = time.monotonic_ns()
    s = listener(port)
    if stamp:
        with open(stamp + ".tmp", "w") as f:
            f.write(str(at))
        os.rename(stamp + ".tmp", stamp)
    while True:
        c, _ = s.accept()
        c.close()


def serve_http(port, failfile):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            broken = os.path.exists(failfile)
            body = b"broken\n" if broken else b"ok\n"
            self.send_response(500 if broken else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def mute(port):
    s = listener(port)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)          # never read, never answered


def flood(port, sentfile):
    s = listener(port)
    chunk = b"x" * 65536
    total = 100 * 1024 * 1024

    def serve(c):
        sent = 0
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
            while sent < total:
                sent += c.send(chunk)
        except OSError:
            pass
        with open(sentfile + ".tmp", "w") as f:
            f.write(str(sent))
        os.rename(sentfile + ".tmp", sentfile)
        c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def chaos(port):
    s = listener(port)
    held = []

    def serve(c):
        way = random.randrange(7)
        try:
            if way == 0:
                c.close()
                return
            if way == 1:
                # SO_LINGER 0: the close is a reset.
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
                return
            c.recv(4096)
            if way == 2:
                time.sleep(random.random() * 0.5)
                code = random.choice((200, 503))
                c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 3\r\n\r\nok\n"
                          % code)
            elif way == 3:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
                time.sleep(random.random())
            elif way == 4:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                for _ in range(20):
                    c.sendall(b"x")
                    time.sleep(0.02)
            elif way == 5:
                c.sendall(b"garbage\r\n\r\n")
            else:
                held.append(c)  # never answered
                return
            c.close()
        except OSError:
            pass

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def jam(port):
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(0)
        # The queue holds one connection: this one fills it.
        filler = socket.create_connection(("127.0.0.1", port))
        time.sleep(0.5)
        filler.close()
        s.close()
        time.sleep(1.0)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "listen":
        delay = sys.argv[3] if len(sys.argv) > 3 else "0"
        try:
            delay = float(delay)
        except ValueError:
            pass  # a file to wait for
        listen(port, delay, sys.argv[4] if len(sys.argv) > 4 else None)
    elif mode == "http":
        serve_http(port, sys.argv[3])
    elif mode == "mute":
        mute(port)
    elif mode == "flood":
        flood(port, sys.argv[3])
    elif mode == "chaos":
        chaos(port)
    elif mode == "jam":
        jam(port)


if __name__ == "__main__":
    main()
