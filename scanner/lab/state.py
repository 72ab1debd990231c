"""What is up: one folder per lab under /run/isoscan-lab/<name>/.

`state.json` lists the lab's namespaces (written *before* they are made) and
every process it started (PID with its start time, so a reused PID is never
killed). `down` reads it, so a lab is torn down even after a crash.
Set ISOSCAN_LAB_RUN to keep state elsewhere.
"""
from __future__ import annotations

import json
import os
import time

from scanner.atomicio import write_text_atomic
from scanner.lab.topology import RUN_ROOT_DEFAULT

STATE = "state.json"


def run_root() -> str:
    return os.environ.get("ISOSCAN_LAB_RUN", RUN_ROOT_DEFAULT)


def run_dir(name: str) -> str:
    return os.path.join(run_root(), name)


def load(name: str) -> dict | None:
    try:
        with open(os.path.join(run_dir(name), STATE), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def save(name: str, data: dict) -> None:
    d = run_dir(name)
    os.makedirs(d, mode=0o700, exist_ok=True)
    write_text_atomic(os.path.join(d, STATE), json.dumps(data, ensure_ascii=False, indent=1),
                      mode=0o600, fsync=False, prefix=".state-")


def names() -> list[str]:
    try:
        return sorted(n for n in os.listdir(run_root())
                      if os.path.isdir(os.path.join(run_root(), n)))
    except OSError:
        return []


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode("ascii", "replace")
        return int(data.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def proc_record(pid: int, what: str, ns: str) -> dict:
    return {"pid": pid, "start": start_time(pid), "what": what, "ns": ns,
            "at": time.time()}


def alive(rec: dict) -> bool:
    st = start_time(rec["pid"])
    return st is not None and st == rec.get("start")


def add_proc(name: str, rec: dict) -> None:
    """Record one more process of lab `name` (serialised: several may spawn at once)."""
    import fcntl
    d = run_dir(name)
    if not os.path.isdir(d):
        return
    with open(os.path.join(d, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = load(name)
        if data is None:
            return
        data.setdefault("procs", []).append(rec)
        save(name, data)
