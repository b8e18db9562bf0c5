# SPDX-License-Identifier: BSD-2-Clause
"""Signing in to arbord's console as a browser does (arbord(8), SECURITY):
the link `arborctl console` prints, traded at /login for the session
cookie; and the request of an event stream that carries it."""
import http.client
import subprocess
import time
import urllib.parse


def session_cookie(arborctl, sock, timeout=20):
    """A fresh session's cookie, "arbor_session=HEX" (waits for the listener)."""
    end = time.time() + timeout
    while True:
        r = subprocess.run([arborctl, "-s", sock, "console"], capture_output=True, text=True)
        if r.returncode == 0:
            break
        if time.time() > end:
            raise RuntimeError("arborctl console: " + r.stderr.strip())
        time.sleep(0.1)
    u = urllib.parse.urlsplit(r.stdout.strip())
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", "%s?%s" % (u.path, u.query))
    resp = conn.getresponse()
    cookie = resp.getheader("Set-Cookie") or ""
    conn.close()
    if resp.status != 303 or not cookie.startswith("arbor_session="):
        raise RuntimeError("signing in: %d %s" % (resp.status, cookie))
    return cookie.split(";")[0]


def events_request(port, cookie):
    """GET /api/events as the console's page asks it, signed in."""
    return ("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n\r\n"
            % (port, cookie)).encode()
