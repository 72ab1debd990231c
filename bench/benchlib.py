"""What the benchmark scripts share (they run as `python3 bench/NAME.py`, so
this folder is on sys.path): a timed command and a generated inventory file."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time


def timed(argv, cwd=None) -> tuple[float, subprocess.CompletedProcess]:
    """(seconds, result) of one command, its output captured."""
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - t, r


def write_inventory(lines: list[str]) -> str:
    """The lines as a temporary inventory file; its path (the caller removes it)."""
    fd, path = tempfile.mkstemp(prefix="isoscan-bench-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path
