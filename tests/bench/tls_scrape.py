#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A scrape of N sleeping workers' /metrics, plain and with web_config's
TLS and basic auth (arbor.conf(5), OBSERVABILITY), printed side by side.
Each scrape is a new connection (a TLS handshake each time); the TLS
figure is with the password cache warm, the first (cold: one bcrypt of
cost 10) beside it. Figures only.

  tls_scrape.py BUILD_DIR [N]
"""
import base64
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from benchlib import raise_nofile

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt     # bcrypt ("$2b$") from libxcrypt, as arbord's

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
ARBORD = os.path.abspath(os.path.join(BUILD, "arbord"))
ARBORCTL = os.path.abspath(os.path.join(BUILD, "arborctl"))
SCRAPES = 5


def running(sock):
    out = subprocess.run([ARBORCTL, "-s", sock, "status"], capture_output=True,
                         text=True, timeout=60).stdout
    return out.count(" running") >= COUNT


def scrape(url, ctx=None, auth=None):
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    t = time.monotonic()
    body = urllib.request.urlopen(req, timeout=60, context=ctx).read()
    return time.monotonic() - t, len(body)


def run(d, web):
    """The scrape times (first, then the median of the next SCRAPES)."""
    sock = os.path.join(d, "sock")
    port = 19700 + COUNT % 100 + (1 if web else 0)
    conf = os.path.join(d, "arbor.conf")
    with open(conf, "w") as f:
        f.write('daemon = { log_dir = ""; };\n')
        f.write('observability = { metrics_listen = "127.0.0.1:%d";%s };\n' % (
            port, ' web_config = "%s/web.yml";' % d if web else ""))
        f.write('tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (\n'
                '  { name = "pool"; strategy = "one_for_one"; intensity = 100000; period = 1; children = (\n')
        f.write(",\n".join('    { name = "w%d"; command = ["/bin/sleep", "100000"]; '
                           'stdout = "null"; stderr = "null"; }' % i for i in range(COUNT)))
        f.write("\n  ); }\n); };\n")
    p = subprocess.Popen([ARBORD, "-c", conf, "-s", sock], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "log-%s" % ("tls" if web else "plain")), "w"),
                         preexec_fn=raise_nofile)
    try:
        t0 = time.monotonic()
        while True:
            time.sleep(0.2)
            try:
                if running(sock):
                    break
            except Exception:
                pass
            if time.monotonic() - t0 > 300:
                return None
        if web:
            ctx = ssl.create_default_context(cafile=os.path.join(d, "cert.pem"))
            url, auth = "https://127.0.0.1:%d/metrics" % port, "alice:right"
        else:
            ctx, url, auth = None, "http://127.0.0.1:%d/metrics" % port, None
        while True:     # the listener is up a moment after the tree
            try:
                first, size = scrape(url, ctx, auth)
                break
            except OSError:
                if time.monotonic() - t0 > 300:
                    return None
                time.sleep(0.1)
        times = [scrape(url, ctx, auth)[0] for _ in range(SCRAPES)]
        return first, statistics.median(times), size
    finally:
        subprocess.run([ARBORCTL, "-s", sock, "shutdown"], timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.wait()


def main():
    raise_nofile()
    d = tempfile.mkdtemp(prefix="arbor-tls-", dir="/dev/shm")
    os.chmod(d, 0o700)
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                        "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem")],
                       check=True, capture_output=True)
        os.chmod(os.path.join(d, "key.pem"), 0o600)
        h = crypt.crypt("right", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10))
        with open(os.path.join(d, "web.yml"), "w") as f:
            f.write("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                    "basic_auth_users:\n  alice: %s\n" % h)
        plain, tls = run(d, False), run(d, True)
        if not plain or not tls:
            print("tls scrape: %d workers did not all start, or no scrape (see %s)" % (COUNT, d))
            d = None    # kept, to look at
            return
        print("tls scrape: at %d workers, /metrics (%.0f KiB, a new connection each): plain %.3f s, "
              "TLS and basic auth %.3f s (the password cache warm; the first, with its bcrypt "
              "of cost 10: %.3f s)" % (COUNT, plain[2] / 1024, plain[1], tls[1], tls[0]))
    finally:
        if d:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
