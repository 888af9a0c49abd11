#!/usr/bin/env python3
"""include_cycles.py: the include graph of core/ must be one-way (DESIGN.md: layering). Each file
stem (x.c and x.h are one node) points at the headers it includes; any cycle is printed and the
exit status is 1. usage: include_cycles.py CORE_FOLDER"""
import os
import re
import sys


def graph(root):
    edges = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(('.c', '.h')):
                continue
            stem = os.path.splitext(name)[0]
            with open(os.path.join(folder, name), encoding='utf-8') as f:
                for line in f:
                    m = re.match(r'#include "(.*)\.h"', line)
                    if m and m.group(1) != stem:
                        edges.setdefault(stem, set()).add(m.group(1))
    return edges


def cycles(edges):
    state, stack, found = {}, [], []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(edges.get(u, ())):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif not state.get(v):
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(edges):
        if not state.get(u):
            visit(u)
    return found


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    edges = graph(sys.argv[1])
    if not edges:
        print('no sources under', sys.argv[1], file=sys.stderr)
        return 2
    found = cycles(edges)
    for c in found:
        print('include cycle:', ' -> '.join(c))
    print(f'{len(edges)} files, {len(found)} cycles')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
