#!/usr/bin/env python3
"""Lab build and teardown time (needs root).

    python3 bench/lab_bench.py [--runs 5] [--file inventories/lab/demo.yaml] [--clean]

Builds the lab under a unique name, times `up` (namespaces, links,
addresses, firewalls, processes ready) and `down` (processes killed, veths
deleted, namespaces deleted), and checks that nothing is left. Prints one line
per run and the median.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scanner import lab as L  # noqa: E402
from scanner.lab import state  # noqa: E402


def left(prefix: str) -> int:
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return sum(1 for l in r.stdout.splitlines() if l.startswith(prefix))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--file", default=str(REPO / "inventories" / "lab" / "demo.yaml"))
    ap.add_argument("--clean", action="store_true", help="build without faults")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("lab_bench: needs root", file=sys.stderr)
        return 2
    ups, downs = [], []
    for i in range(a.runs):
        name = f"bench{secrets.token_hex(3)}"
        try:
            t0 = time.perf_counter()
            lab = L.up(a.file, faults=[] if a.clean else None, name=name)
            t1 = time.perf_counter()
            n_ns = len(state.load(name)["namespaces"])
            procs = len(state.load(name)["procs"])
            lab.down()
            t2 = time.perf_counter()
        finally:
            L.down(name)
        rest = left(f"isl-{name}.")
        ups.append(t1 - t0)
        downs.append(t2 - t1)
        print(f"run {i + 1}: {len(lab.hosts)} hosts, {n_ns} namespaces, {procs} processes, "
              f"{len(lab.faults)} faults: up {t1 - t0:.2f} s, down {t2 - t1:.2f} s, "
              f"namespaces left {rest}")
        if rest:
            return 1
    print(f"median of {a.runs}: up {statistics.median(ups):.2f} s, "
          f"down {statistics.median(downs):.2f} s (machine: {os.cpu_count()} CPUs, "
          f"kernel {os.uname().release})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
