"""Benchmark: N probes push M bundles each at once to one console; or, with
--pages, how fast the console's pages answer over a year of 50 probes' nightly
scans (the store of bench/store_bench.py).

    python3 bench/serve_bench.py [--probes 50] [--bundles 20] [--db sqlite|postgresql]
    python3 bench/serve_bench.py --pages [--vantages 50] [--days 365] [--db ...]

--pages: the store is filled as store_bench fills it (18,250 bundles), a real
console is started on it, a viewer logs in, and the overview, the findings
list and the CSV export of every finding (state=all) are each fetched 20 times,
interleaved with the stylesheet (a static file: the baseline of the same run),
over one keep-alive connection. Prints the median of 20 and the first (cold)
fetch, which computes the unit's state once for the store as it is.

A real `isoscan serve` application under uvicorn on 127.0.0.1 (one process,
SQLite store in a temporary folder, or a throwaway PostgreSQL cluster), one
token per probe; each probe is a thread that pushes its bundles one after the
other over its own HTTP connection (urllib, as `isoscan push`). Prints the
rate, the p50/p95/max push latency, and checks that every bundle is stored
exactly once.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "serve"))
sys.path.insert(0, os.path.join(REPO, "tests", "store"))


def run(probes: int, bundles: int, db_url: str | None, tmp: Path) -> dict:
    from servelib import finding, start_console, synthetic_bundle
    from scanner.serve.accounts import new_token
    from scanner.serve.client import push_bytes
    c = start_console(tmp, db_url=db_url)
    try:
        tokens = [new_token(c.store, f"probe-{p}") for p in range(probes)]
        work = []
        for p in range(probes):
            seg = f"seg-{p}"
            mine = []
            for i in range(bundles):
                at = f"2026-11-{1 + i % 28:02d}T{2 + i // 28:02d}:00:{p % 60:02d}Z"
                b = synthetic_bundle(seg, at, scan_id=f"p{p}-b{i}", vantage_ip=f"10.{p}.0.2",
                                     findings=[finding("DEV-UNREGISTERED", seg,
                                                       "fail" if i % 3 else "pass",
                                                       mac=f"02:aa:00:00:{p:02x}:77")],
                                     hosts=[(f"10.{p}.0.{h}", f"02:00:00:{p:02x}:00:{h:02x}")
                                            for h in range(3, 23)])
                mine.append(json.dumps(b).encode())
            work.append(mine)
        lat: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def probe(p):
            for body in work[p]:
                t0 = time.perf_counter()
                try:
                    r = push_bytes(c.base, body, tokens[p])
                    ok = r.get("stored") is True
                except Exception as exc:      # noqa: BLE001
                    ok, r = False, {"error": str(exc)}
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    if not ok:
                        errors.append(str(r.get("error")))

        ts = [threading.Thread(target=probe, args=(p,)) for p in range(probes)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
        stored = c.scans()
    finally:
        c.stop()
    lat.sort()
    return {"bundles": probes * bundles, "stored": stored, "errors": len(errors),
            "first_error": errors[0] if errors else None, "wall_s": round(wall, 2),
            "rate_per_s": round(probes * bundles / wall, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p95_ms": round(lat[int(len(lat) * 0.95) - 1] * 1000, 1),
            "max_ms": round(lat[-1] * 1000, 1)}


def pages(vantages: int, days: int, db_url: str | None, tmp: Path, rounds: int = 20) -> dict:
    import store_bench
    from servelib import start_console
    url = db_url or f"sqlite:///{tmp}/console.db"
    t = time.perf_counter()
    spent, n = store_bench.ingest_all(url, vantages, days)
    fill = time.perf_counter() - t
    c = start_console(tmp, db_url=url)
    try:
        v = c.client("viewer")
        what = {"static /static/console.css": "/static/console.css", "overview /": "/",
                "findings /findings": "/findings",
                "CSV of every finding": "/findings?state=all&format=csv"}
        first, times = {}, {k: [] for k in what}
        for k, path in what.items():              # the first fetch: the state is computed
            t = time.perf_counter()
            r = v.get(path)
            first[k] = round((time.perf_counter() - t) * 1000, 1)
            assert r.status_code == 200, (path, r.status_code)
        sizes = {}
        for _ in range(rounds):
            for k, path in what.items():
                t = time.perf_counter()
                r = v.get(path)
                times[k].append(time.perf_counter() - t)
                assert r.status_code == 200, (path, r.status_code)
                sizes[k] = len(r.content)
        rows = v.get("/findings?state=all&format=csv").text.count("\n") - 1
    finally:
        c.stop()
    return {"bundles": n, "fill_s": round(fill, 1),
            "median_ms": {k: round(statistics.median(x) * 1000, 1) for k, x in times.items()},
            "first_ms": first, "bytes": sizes, "csv_rows": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", type=int, default=50)
    ap.add_argument("--bundles", type=int, default=20)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pages", action="store_true",
                    help="time the pages over a year of nightly scans instead of pushing")
    ap.add_argument("--vantages", type=int, default=50)
    ap.add_argument("--days", type=int, default=365)
    a = ap.parse_args()
    if a.pages:
        sys.path.insert(0, HERE)
        with tempfile.TemporaryDirectory(prefix="isoscan-serve-bench-") as tmp:
            if a.db == "postgresql":
                import pgcluster
                with pgcluster.Cluster() as pg:
                    res = pages(a.vantages, a.days, pg.create_database("bench"), Path(tmp))
            else:
                res = pages(a.vantages, a.days, None, Path(tmp))
        print(json.dumps({"vantages": a.vantages, "days": a.days, "db": a.db, **res},
                         ensure_ascii=False, indent=1))
        return 0
    with tempfile.TemporaryDirectory(prefix="isoscan-serve-bench-") as tmp:
        if a.db == "postgresql":
            import pgcluster
            with pgcluster.Cluster() as pg:
                res = run(a.probes, a.bundles, pg.create_database("bench"), Path(tmp))
        else:
            res = run(a.probes, a.bundles, None, Path(tmp))
    print(json.dumps({"probes": a.probes, "per_probe": a.bundles, "db": a.db, **res}))
    return 0 if res["stored"] == res["bundles"] and not res["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
