#!/usr/bin/env python3
"""Compare two `isoscan demo --out` folders (or any two folders of JSON files of the same
names): every value that differs, grouped by field path, so per-run fields (times, ids,
tokens, keys, the lab's random MACs) are told from a change of behaviour at a glance.

    python3 bench/compare_demo.py isoscan-demo-before isoscan-demo-after
"""
import json, sys, os, re
A, B = sys.argv[1], sys.argv[2]
def walk(a, b, path, out):
    if type(a) != type(b):
        out.append((path, a, b)); return
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b: out.append((path + "." + k, a.get(k, "<absent>"), b.get(k, "<absent>")))
            else: walk(a[k], b[k], path + "." + k, out)
    elif isinstance(a, list):
        if len(a) != len(b): out.append((path + "[len]", len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)): walk(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append((path, a, b))
gen = lambda p: re.sub(r"\[\d+\]", "[]", p)
for f in sorted(os.listdir(A)):
    if not f.endswith(".json"): continue
    a = json.load(open(os.path.join(A, f))); b = json.load(open(os.path.join(B, f)))
    out = []; walk(a, b, "", out)
    kinds = {}
    for p, x, y in out: kinds.setdefault(gen(p), []).append((x, y))
    print(f"== {f}: {len(out)} differing values in {len(kinds)} field paths")
    for k, v in sorted(kinds.items()):
        print(f"   {k}  ({len(v)}x)  e.g. {str(v[0][0])[:60]!r} -> {str(v[0][1])[:60]!r}")
