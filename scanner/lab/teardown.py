"""Tear a lab down: idempotent, and also after a crash (state under /run).

Kill every recorded process (PID and start time must both match) and every
process still inside a lab namespace (`ip netns pids`); delete the veths
from the switch side first (namespace destruction is asynchronous and slow
with live links); delete the namespaces; remove the state folder.
"""
from __future__ import annotations

import os
import shutil
import signal
import time

from scanner.lab import netns, state
from scanner.lab.topology import prefix_for


def _signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(pids: set[int]) -> set[int]:
    """Those of `pids` still alive (children of ours are reaped)."""
    left = set()
    for pid in pids:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                continue
        except ChildProcessError:
            pass
        if os.path.exists(f"/proc/{pid}") and not _zombie(pid):
            left.add(pid)
    return left


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def kill_processes(st: dict | None, namespaces: list[str]) -> None:
    pids = {r["pid"] for r in (st or {}).get("procs", []) if state.alive(r)}
    for ns in namespaces:
        pids.update(netns.pids_in(ns))
    pids.discard(os.getpid())
    if not pids:
        return
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + 2
    while pids and time.monotonic() < deadline:
        pids = _reap(pids)
        if pids:
            time.sleep(0.02)
    if pids:
        _signal_all(pids, signal.SIGKILL)
        time.sleep(0.05)
        _reap(pids)


def down_one(name: str) -> bool:
    """Tear lab `name` down. True when there was anything to remove."""
    st = state.load(name)
    prefix = prefix_for(name)
    present = set(netns.list_netns())
    listed = [n for n in (st or {}).get("namespaces", []) if n.startswith(prefix)]
    namespaces = [n for n in dict.fromkeys(listed + sorted(p for p in present
                                                         if p.startswith(prefix)))
                  if n in present]
    kill_processes(st, namespaces)
    switches = [n for n in namespaces if n.startswith(prefix + "s-")]
    known = {v["ns"]: v.get("ports") for v in (st or {}).get("switches", {}).values()}
    jobs = []
    for sw in switches:
        ports = known.get(sw) or netns.veths_in(sw)     # state knows them; else ask
        if ports:
            jobs.append(netns.batch(sw, [f"link del {p}" for p in ports], force=True))
    netns.run_jobs(jobs, check=False)
    if namespaces:
        netns.run_jobs([netns.batch(None, [f"netns del {n}" for n in namespaces], force=True)],
                       check=False)
    d = state.run_dir(name)
    had = bool(namespaces) or st is not None or os.path.isdir(d)
    shutil.rmtree(d, ignore_errors=True)
    return had


def down(name: str | None = None) -> list[str]:
    """Tear down lab `name`, or every lab recorded in state. Returns the names removed."""
    names = [name] if name else state.names()
    return [n for n in names if down_one(n)]
