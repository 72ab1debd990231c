#!/usr/bin/env python3
"""Benchmark: the nightly command (`isoscan scan --db --alert --output-dir`)
against `isoscan scan -o` alone, on the demo lab, side by side in one run.

The demo lab (scanner.lab, its own namespaces, never linked to the root
namespace, torn down at the end also on error) with the rogue DHCP router
fault, scanned from probe-office. The alerts go to a real UDP syslog
receiver on the probe's own loopback (a small sink spawned in its namespace).
Rounds alternate scan alone / nightly, so drift on a shared machine hits both.
The first nightly round is night one (every failing finding alerts, the store
is made); the rest are ordinary nights (nothing new: compare, store, no send).

Usage (root): python3 bench/nightly_bench.py [--rounds 5]
Prints each round (wall clock, and the CPU seconds of every process of the
command, which a loaded machine hurts less), the medians, and nightly - scan
(target: <= 0.5 s).
"""
from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchlib import compile_modules  # noqa: E402 (bench/ is on sys.path)

SINK = ("import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('127.0.0.1',int(sys.argv[1])))\n"
        "n=0\n"
        "while True:\n"
        "    s.recv(65535);n+=1\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("nightly_bench: run as root (it builds a lab of network namespaces)", file=sys.stderr)
        return 2
    compile_modules(ROOT)
    from scanner import lab as L
    name = "nb" + secrets.token_hex(3)
    work = tempfile.mkdtemp(prefix="isoscan-nightly-bench-")
    sink = None
    try:
        lab = L.up(os.path.join(ROOT, "inventories", "lab", "demo.yaml"), faults=["soho-router"],
                   name=name)
        probe = "probe-office"
        lab.exec(probe, ["ip", "link", "set", "lo", "up"], check=True)
        port = 5514
        sink = lab.spawn(probe, [sys.executable, "-c", SINK, str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cfg = os.path.join(work, "alerts.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(f"version: 1\noutbox: outbox.jsonl\nchannels:\n"
                     f"  - {{name: siem, type: syslog, transport: udp, host: 127.0.0.1, port: {port}}}\n")
        inv = sum((["-i", f] for f in lab.files), [])
        base = [sys.executable, "-m", "scanner.cli", "scan", "-q", "--lang", "en", *inv]
        alone = [*base, "-o", os.path.join(work, "alone.json")]
        nightly = [*base, "--db", os.path.join(work, "store.db"), "--alert", cfg,
                   "--output-dir", os.path.join(work, "bundles")]

        def cpu():
            u = resource.getrusage(resource.RUSAGE_CHILDREN)
            return u.ru_utime + u.ru_stime

        def run(argv):
            t, c = time.perf_counter(), cpu()
            r = lab.exec(probe, argv, timeout=600)
            dt, dc = time.perf_counter() - t, cpu() - c
            if r.returncode not in (0, 1):
                raise SystemExit(f"exit {r.returncode}: {r.stderr[-800:]}")
            cpus.append(dc)
            return dt, r

        cpus: list[float] = []
        times = {"scan": [], "nightly": []}
        first = None
        cpu_d: list[float] = []
        for i in range(args.rounds + 1):
            a, _ = run(alone)
            n, r = run(nightly)
            if i == 0:                 # night one: the store is made, every failure alerts
                first = (a, n, r.stderr.strip().splitlines()[-1:] or [""])
                print(f"night one   scan {a:6.2f} s   nightly {n:6.2f} s   (+{n - a:5.2f} s)  "
                      f"{first[2][0]}")
                continue
            times["scan"].append(a)
            times["nightly"].append(n)
            ca, cn = cpus[-2], cpus[-1]
            cpu_d.append(cn - ca)
            print(f"round {i}     scan {a:6.2f} s   nightly {n:6.2f} s   (+{n - a:5.2f} s)   "
                  f"CPU scan {ca:5.2f} s  nightly {cn:5.2f} s  (+{cn - ca:5.2f} s)")
        ms, mn = statistics.median(times["scan"]), statistics.median(times["nightly"])
        d = [n - a for a, n in zip(times["scan"], times["nightly"])]
        print(f"median      scan {ms:6.2f} s   nightly {mn:6.2f} s   "
              f"nightly - scan: median {statistics.median(d):+.2f} s "
              f"(target <= +0.50 s; night one {first[1] - first[0]:+.2f} s)")
        print(f"CPU seconds (every process of the command; less hurt by a loaded machine): "
              f"nightly - scan median {statistics.median(cpu_d):+.2f} s")
        print(f"bundles kept: {len(os.listdir(os.path.join(work, 'bundles')))} "
              f"(one per nightly round)")
        return 0 if statistics.median(d) <= 0.5 else 1
    finally:
        if sink is not None:
            sink.kill()
            sink.wait()
        L.down(name)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
