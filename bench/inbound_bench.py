#!/usr/bin/env python3
"""Inbound probing from the internet vantage (needs root): quick and full.

    python3 bench/inbound_bench.py [--runs 3] [--old-repo PATH]

Builds the clean demo lab under a unique name and, from probe-internet, times
in one run:
- nmap alone: the full sweep of the lab's public address (`nmap -sS -n -Pn
  -T4 --max-retries 1 --min-rate 5000 -p-`), the baseline;
- `isoscan scan --inbound quick` and `--inbound full`, whole scans (the
  probes of every other check included), and the inbound step alone (the
  seconds the bundle's inbound coverage spans);
- with `--old-repo`, the same quick scan by another checkout (for example
  `git worktree add /tmp/old v0.1.0`) on its own demo lab, built by that
  checkout: the quick scan's time before and after.
Every lab is torn down. Prints one line per measurement and the medians.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchlib import timed  # noqa: E402 (bench/ is on sys.path)
from scanner import lab as L  # noqa: E402


def in_lab(repo: Path, lab: str, host: str, *argv: str) -> list[str]:
    return [sys.executable, "-m", "scanner.cli", "lab", "exec", "--lab", lab, host, "--",
            *argv]


def scan(repo: Path, lab: str, *extra: str) -> tuple[float, float | None]:
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        secs, r = timed(in_lab(repo, lab, "probe-internet", sys.executable, "-m", "scanner.cli",
                               "scan", "-q", "-i", str(repo / "inventories/lab/demo.yaml"),
                               "-o", out, *extra), repo)
        b = json.load(open(out, encoding="utf-8"))
        cov = (b["observations"].get("inbound") or {}).get("coverage") or {}
        step = None
        if cov.get("started_at") and cov.get("finished_at"):
            f = "%Y-%m-%dT%H:%M:%SZ"
            step = (dt.datetime.strptime(cov["finished_at"], f)
                    - dt.datetime.strptime(cov["started_at"], f)).total_seconds()
        return secs, step
    finally:
        os.unlink(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--old-repo", type=Path, default=None)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("inbound_bench: needs root", file=sys.stderr)
        return 2
    rows: dict[str, list[float]] = {}
    name = f"inb{secrets.token_hex(3)}"
    try:
        L.up(REPO / "inventories/lab/demo.yaml", faults=[], name=name)
        for i in range(a.runs):
            s, r = timed(in_lab(REPO, name, "probe-internet", "nmap", "-sS", "-n", "-Pn", "-T4",
                                "--max-retries", "1", "--min-rate", "5000", "-p-",
                                "203.0.113.1"), REPO)
            rows.setdefault("nmap -p- of the public address (baseline)", []).append(s)
            for mode in ("quick", "full"):
                whole, step = scan(REPO, name, "--inbound", mode)
                rows.setdefault(f"isoscan scan --inbound {mode}, whole scan", []).append(whole)
                if step is not None:
                    rows.setdefault(f"isoscan --inbound {mode}, inbound step (1 s resolution)",
                                    []).append(step)
            print(f"run {i + 1}: " + ", ".join(f"{k.split(',')[0]} {v[-1]:.2f} s"
                                              for k, v in rows.items()), flush=True)
    finally:
        L.down(name)
    if a.old_repo:
        old = f"old{secrets.token_hex(3)}"
        try:
            subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "up",
                            "inventories/lab/demo.yaml", "--clean", "--name", old],
                           cwd=a.old_repo, check=True, capture_output=True)
            for _ in range(a.runs):
                whole, _step = scan(a.old_repo, old)
                rows.setdefault("old checkout's scan (quick), whole scan", []).append(whole)
        finally:
            subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "down", old],
                           cwd=a.old_repo, capture_output=True)
    print("medians:")
    for k, v in rows.items():
        print(f"  {k}: {statistics.median(v):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
