"""The only lab code that runs `ip`, `sysctl` and `iptables-restore`.

Everything is argv (never a shell): names from inventories stay data. Work
on many namespaces runs concurrently (one `ip -n NS -batch -` each), which
is what keeps a 15-host lab at a second or two.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Iterable, Sequence

from scanner.lab.errors import LabError

IP = "ip"


@dataclass
class Job:
    argv: list[str]
    input: str | None = None
    what: str = ""


def exec_argv(ns: str, argv: Sequence[str]) -> list[str]:
    """argv that runs `argv` inside network namespace `ns`."""
    return [IP, "netns", "exec", ns, *argv]


def run_jobs(jobs: Sequence[Job], *, check: bool = True, timeout: float = 60,
             parallel: int = 16) -> list[subprocess.CompletedProcess]:
    """Run jobs concurrently (at most `parallel` at once); LabError on the first failure."""
    results: list[subprocess.CompletedProcess | None] = [None] * len(jobs)
    pending = list(enumerate(jobs))
    running: list[tuple[int, Job, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < parallel:
            i, job = pending.pop(0)
            p = subprocess.Popen(job.argv, stdin=subprocess.PIPE if job.input is not None
                                 else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            if job.input is not None:
                # small inputs: write now, the pipe buffer holds them
                try:
                    p.stdin.write(job.input)
                    p.stdin.close()
                except BrokenPipeError:
                    pass
                p.stdin = None
            running.append((i, job, p))
        i, job, p = running.pop(0)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            err = (err or "") + f" (timed out after {timeout}s)"
            p.returncode = p.returncode if p.returncode else -9
        results[i] = subprocess.CompletedProcess(job.argv, p.returncode, out, err)
    if check:
        for job, r in zip(jobs, results):
            if r.returncode != 0:
                raise LabError(f"{job.what or ' '.join(job.argv[:6])} failed (exit {r.returncode}): "
                               f"{(r.stderr or r.stdout).strip()[:800]}")
    return results  # type: ignore[return-value]


def batch(ns: str | None, lines: Iterable[str], what: str = "", force: bool = False) -> Job:
    """One `ip [-n NS] [-force] -batch -` job."""
    argv = [IP]
    if ns:
        argv += ["-n", ns]
    if force:
        argv.append("-force")
    argv += ["-batch", "-"]
    return Job(argv, "\n".join(lines) + "\n", what or f"ip batch in {ns or 'lab'}")


def sysctl_job(ns: str, settings: Sequence[str]) -> Job:
    return Job(exec_argv(ns, ["sysctl", "-q", "-w", *settings]), None, f"sysctl in {ns}")


def restore_job(ns: str, rules: str, v6: bool = False) -> Job:
    tool = "ip6tables-restore" if v6 else "iptables-restore"
    return Job(exec_argv(ns, [tool]), rules, f"{tool} in {ns}")


def list_netns() -> list[str]:
    r = subprocess.run([IP, "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def pids_in(ns: str) -> list[int]:
    r = subprocess.run([IP, "netns", "pids", ns], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def veths_in(ns: str) -> list[str]:
    r = subprocess.run([IP, "-n", ns, "-o", "link", "show", "type", "veth"],
                       capture_output=True, text=True)
    out = []
    for line in r.stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            out.append(parts[1].strip().split("@")[0])
    return out


def bridge_nf_loaded() -> bool:
    """br_netfilter is loaded (its sysctls exist): switches must turn it off."""
    return os.path.isdir("/proc/sys/net/bridge")
