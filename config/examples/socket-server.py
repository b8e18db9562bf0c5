#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A small HTTP server that takes its listening socket from arbord.

arbord binds the address of the worker's `sockets` key and passes the
socket at each start as fd 3, with LISTEN_FDS, LISTEN_PID and
LISTEN_FDNAMES set as systemd's socket activation sets them (arbord(8),
SOCKETS AND THE FD STORE). The server never binds anything itself, so a
connection made while it is down (a crash, a restart) waits in the
socket's backlog and is answered by the next process.

Each GET is answered with one line naming the process that answered:

    hello from pid 4242

Started without a socket passed (by hand, say), it says so and exits 2.
"""
import http.server
import os
import socket
import sys

SD_LISTEN_FDS_START = 3


def passed_socket():
    """fd 3 as a socket, when arbord (or systemd) passed one to us."""
    try:
        ours = int(os.environ.get("LISTEN_PID", "")) == os.getpid()
        count = int(os.environ.get("LISTEN_FDS", ""))
    except ValueError:
        return None
    # The variables are for this process only: a child of ours must not
    # take them as its own.
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    if not ours or count < 1:
        return None
    # The family and type are read from the fd itself.
    return socket.socket(fileno=SD_LISTEN_FDS_START)


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from pid {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # a line per request would fill the worker's log under load


def main():
    sock = passed_socket()
    if sock is None:
        print("socket-server.py: no socket passed (LISTEN_FDS); run it "
              "under arbord with a `sockets` key", file=sys.stderr)
        return 2
    # Not bound nor activated here: the socket arbord holds is used as it
    # is, already listening.
    server = http.server.ThreadingHTTPServer(sock.getsockname(), Hello,
                                             bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    print(f"serving on {sock.getsockname()} as pid {os.getpid()}",
          flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
