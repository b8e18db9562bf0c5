# SPDX-License-Identifier: BSD-2-Clause
"""The log tests/bench/probe writes: "start NS" and "exit NS" lines."""


def starts_exits(log):
    """The start and the exit times (CLOCK_MONOTONIC ns) in log, in order."""
    starts, exits = [], []
    try:
        with open(log) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    (starts if parts[0] == "start" else exits).append(int(parts[1]))
    except FileNotFoundError:
        pass
    return starts, exits
