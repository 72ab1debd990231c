"""Benchmark: a year of nightly scans from 50 vantages (18,250 bundles) in the store.

    python3 bench/store_bench.py [--vantages 50] [--days 365] [--backend sqlite|postgresql|both]

Makes synthetic bundles (valid SPEC §5: 12 findings, of which some fail for
weeks and get resolved, and 20 stations each, some of which move or leave),
ingests them one night (one bundle a vantage) per transaction, as a central
ingest would, and prints the rate; then times `isoscan history --segment X`
(the whole command, Python start included) and `isoscan report` of the next
night's bundles and of the three fixture bundles, with and without `--db`
(interleaved, median of 7). PostgreSQL runs in a throwaway cluster on a
unix socket (tests/store/pgcluster.py).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "store"))

from benchlib import compile_modules, timed  # noqa: E402
from storelib import FIXTURES, NAMES, finding, synthetic_bundle  # noqa: E402

CHECKS = ("DEV-UNREGISTERED", "DEV-MISPLACED", "DEV-MISSING", "NET-DHCP", "NET-IPV6-RA",
          "ISO-BRIDGE", "ISO-PHYSICAL", "ING-SINGLE", "XFER-ONEWAY", "DEV-CONFLICT")


def night(v: int, day: int, rnd: random.Random) -> dict:
    seg = f"seg{v:02d}"
    at = time.strftime("%Y-%m-%dT02:%M:00Z", time.gmtime(1764547200 - (365 - day) * 86400 + v * 60))
    fs = [finding(c, seg, "pass") for c in CHECKS]
    # a fault that appears on day d0 and lasts `span` days, per vantage; some noise
    d0, span = (v * 7) % 300, 20 + v % 40
    if d0 <= day < d0 + span:
        fs.append(finding("DEV-UNREGISTERED", seg, "fail", mac=f"02:66:00:00:{v:02x}:01",
                          ip=f"10.{v}.0.{200 + day % 50}"))
    if day % 30 == v % 30:
        fs.append(finding("ISO-BRIDGE", seg, "fail", mac=f"02:77:00:00:{v:02x}:{day % 256:02x}",
                          severity="critical"))
    if rnd.random() < 0.02:
        fs.append(finding("ING-SINGLE", seg, "error"))
    hosts = [(f"10.{v}.0.{h + 2}", f"02:00:00:{v:02x}:00:{h:02x}") for h in range(20)
             if not (h == 5 and day % 60 < 10)]
    return synthetic_bundle(seg, at, fs, hosts, vantage_ip=f"10.{v}.0.1")


def ingest_all(url: str, vantages: int, days: int) -> tuple[float, int]:
    from scanner.store.db import open_store
    from scanner.store.fingerprint import Fingerprinter
    from scanner.store.ingest import document, ingest
    rnd = random.Random(14)
    fp = Fingerprinter()
    store = open_store(url)
    spent, n = 0.0, 0
    try:
        for day in range(days):
            docs = [document(f"v{v}d{day}", "bundle", night(v, day, rnd)) for v in range(vantages)]
            t = time.perf_counter()
            ingest(store, docs, fp)
            spent += time.perf_counter() - t
            n += len(docs)
    finally:
        store.close()
    return spent, n


def median_time(argv, rounds=3) -> float:
    ts = []
    for _ in range(rounds):
        t, r = timed(argv, cwd=REPO)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {r.stderr[-500:]}")
        ts.append(t)
    return statistics.median(ts)


REPORT_ROUNDS = 7


def measure(name: str, url: str, args) -> None:
    compile_modules(REPO)
    spent, n = ingest_all(url, args.vantages, args.days)
    print(f"[{name}] ingest {n} bundles: {spent:.1f} s, {n / spent:.0f} bundles/s "
          f"(store time only; one night of {args.vantages} bundles per transaction)")
    cli = [sys.executable, "-m", "scanner.cli"]
    h = median_time([*cli, "history", "--db", url, "--segment", "seg07"])
    hj = median_time([*cli, "history", "--db", url, "--segment", "seg07", "--format", "json"])
    print(f"[{name}] isoscan history --segment seg07: {h:.2f} s (json {hj:.2f} s), median of 3")
    out = tempfile.mktemp(suffix=".html")
    with tempfile.TemporaryDirectory(prefix="isoscan-bench-") as d:
        rnd = random.Random(15)
        tonight = []            # the night after the stored year: one bundle a vantage
        for v in range(args.vantages):
            p = os.path.join(d, f"v{v}.json")
            with open(p, "w", encoding="utf-8") as f:
                json.dump(night(v, args.days, rnd), f)
            tonight.append(p)
        for label, files in ((f"{args.vantages} bundles of one night", tonight),
                             ("3 fixture bundles", [os.path.join(FIXTURES, f"{n}.json") for n in NAMES])):
            # interleaved, round by round: a shared machine's slow spell hits both alike
            plain, withdb = [], []
            for _ in range(REPORT_ROUNDS):
                plain.append(median_time([*cli, "report", "-o", out, *files], rounds=1))
                withdb.append(median_time([*cli, "report", "--db", url, "-o", out, *files], rounds=1))
            p, w = statistics.median(plain), statistics.median(withdb)
            print(f"[{name}] isoscan report of {label}: {p:.2f} s without --db "
                  f"({min(plain):.2f}-{max(plain):.2f}), {w:.2f} s with ({min(withdb):.2f}-"
                  f"{max(withdb):.2f}): ratio {w / p:.2f}, medians of {REPORT_ROUNDS}")
    os.unlink(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vantages", type=int, default=50)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = ap.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="isoscan-bench-") as d:
            path = os.path.join(d, "isoscan.db")
            measure("sqlite", f"sqlite:///{path}", args)
            print(f"[sqlite] store file: {os.path.getsize(path) / 1e6:.1f} MB")
    if args.backend in ("postgresql", "both"):
        import pgcluster
        with pgcluster.Cluster() as pg:
            measure("postgresql", pg.create_database("bench"), args)


if __name__ == "__main__":
    main()
