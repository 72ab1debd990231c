"""What the benchmark scripts share (they run as `python3 bench/NAME.py`, so
this folder is on sys.path): a timed command, a generated inventory file, and the
modules compiled as an install has them."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def timed(argv, cwd=None) -> tuple[float, subprocess.CompletedProcess]:
    """(seconds, result) of one command, its output captured."""
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - t, r


def compile_modules(root: str) -> None:
    """isoscan's modules compiled to bytecode, as pip does when it installs
    isoscan: a checkout run under PYTHONDONTWRITEBYTECODE=1 would compile about
    90 of them on every run (0.1 s of each command timed)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "scanner", "checks"], cwd=root,
                   capture_output=True, check=False)


def write_inventory(lines: list[str]) -> str:
    """The lines as a temporary inventory file; its path (the caller removes it)."""
    fd, path = tempfile.mkstemp(prefix="isoscan-bench-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path
