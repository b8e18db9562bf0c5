#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Fails on an import circle: modules (a .c and its .h are one module) that
reach each other through #include "...". Run by make check.

  check_includes.py [DIR...]    default: daemon config exporters bpf
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules(dirs):
    """module name -> set of modules it includes (own header excluded)."""
    deps = {}
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")) or name.endswith(".bpf.c"):
                continue
            path = os.path.join(d, name)
            mod = os.path.normpath(path)[:-2]
            deps.setdefault(mod, set())
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                target = os.path.normpath(os.path.join(d, inc))
                if not os.path.exists(target):
                    continue        # generated (a skeleton) or system
                tmod = target[:-2]
                if tmod != mod:
                    deps[mod].add(tmod)
    return deps


def find_cycle(deps):
    """A list of modules forming a cycle, or None."""
    state = {}
    stack = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(deps.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if state.get(n) is None:
                c = visit(n)
                if c:
                    return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(deps):
        if state.get(m) is None:
            c = visit(m)
            if c:
                return c
    return None


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    os.chdir(root)
    dirs = sys.argv[1:] or ["daemon", "config", "exporters", "bpf"]
    deps = modules(dirs)
    cycle = find_cycle(deps)
    if cycle:
        print("include graph: a circle: " + " -> ".join(cycle))
        sys.exit(1)
    print("include graph: %d modules, no circle" % len(deps))


if __name__ == "__main__":
    main()
