"""Benchmark: `isoscan validate` against PyYAML's C loader on one large inventory.

    python3 bench/validate_bench.py [--segments 200] [--devices 100000] [--keep FILE]

Generates the inventory (bench/gen_inventory.py), then in the same run:
  1. `isoscan validate --format json` on it, as a child process (the whole
     command: start-up, parse, schema, static checks, output), timing its wall
     clock and reading its peak memory (ru_maxrss of the child);
  2. `yaml.load(f, Loader=yaml.CSafeLoader)` alone on the same file, in this
     process.
Prints both times and the ratio; the target is a ratio <= 0.25 with the
validate peak under 1 GB. Exits 1 when either target is missed.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_inventory import generate  # noqa: E402

STATIC = "INV-SCHEMA,INV-OVERLAP,INV-ADDRESS,INV-DUPLICATE,INV-BRIDGE,INV-INGRESS,INV-REGISTRATION"


def main() -> int:
    ap = argparse.ArgumentParser(description="validate vs. PyYAML CSafeLoader")
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--keep", help="write the generated inventory here and keep it")
    ap.add_argument("--all-checks", action="store_true",
                    help="load every installed check (default: the static INV-* ones)")
    a = ap.parse_args()

    path = a.keep or tempfile.mkstemp(suffix=".yaml")[1]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(generate(a.segments, a.devices))
    size = os.path.getsize(path)
    try:
        cmd = [sys.executable, "-m", "scanner.cli", "validate", "--format", "json",
               "--output", os.devnull, path]
        if not a.all_checks:
            cmd[4:4] = ["--checks", STATIC]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        t_validate = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if proc.returncode != 0:
            print(f"validate exited {proc.returncode}: {proc.stderr.strip()[:500]}")
            return 1

        import yaml
        t = time.perf_counter()
        with open(path, encoding="utf-8") as fh:
            yaml.load(fh, Loader=yaml.CSafeLoader)
        t_pyyaml = time.perf_counter() - t
    finally:
        if not a.keep:
            os.unlink(path)

    ratio = t_validate / t_pyyaml
    print(f"inventory: {a.segments} segments, {a.devices} devices, {size / 1e6:.1f} MB")
    print(f"isoscan validate:        {t_validate:7.2f} s  (peak {peak_mb:.0f} MB)")
    print(f"yaml.load(CSafeLoader):  {t_pyyaml:7.2f} s")
    print(f"ratio: {ratio:.3f}  (target <= 0.25; peak target < 1024 MB)")
    return 0 if ratio <= 0.25 and peak_mb < 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
