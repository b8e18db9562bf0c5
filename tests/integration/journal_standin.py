#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Stands in for journald's native socket in tests: binds a datagram
socket at PATH, decodes each entry of the native protocol (KEY=VALUE lines,
or KEY, a little-endian 64-bit length and the bytes, for values with a
newline) and appends it to OUT as one JSON object per line, the values
decoded as UTF-8 strictly (an entry that is not valid UTF-8 is written as
{"invalid_utf8": KEY}). Touches OUT.ready once bound.

  journal_standin.py PATH OUT
"""
import array
import json
import os
import socket
import struct
import sys


def decode(data):
    entry, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack_from("<Q", data, nl + 1)
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        try:
            entry[k.decode()] = v.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            entry.setdefault("invalid_utf8", []).append(k.decode())
    return entry


def main():
    path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    # As journald's: any local user may log (arbord's output helper runs
    # as an unprivileged user).
    os.chmod(path, 0o666)
    open(out + ".ready", "w").close()
    with open(out, "a", buffering=1) as f:
        while True:
            fds = array.array("i")
            data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(4))
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(cdata[:4])
            if fds:     # a big entry comes in a memfd
                data = os.pread(fds[0], 1 << 26, 0)
                os.close(fds[0])
            f.write(json.dumps(decode(data)) + "\n")


main()
