# SPDX-License-Identifier: BSD-2-Clause
"""What the benchmarks need to know of cgroups."""


def cgroup2_mount():
    """The cgroup v2 mount point, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            a, b = line.split(" - ", 1)
            if b.split()[0] == "cgroup2":
                return a.split()[4]
    return None
