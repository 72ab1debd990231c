#!/usr/bin/env python3
"""`isoscan host` on a live PC of a lab, beside the system tools (needs root).

    python3 bench/host_bench.py [--runs 3] [--lines 100000] [--interfaces 10]

A lab PC (tests/host/lab.yaml, pc-08, in its own network namespace) gets
dummy interfaces up to --interfaces, and its etc and var/log (--files-root)
hold --lines log lines: 90 % in kern.log, kern.log.1 and kern.log.2.gz (with
USB storage attachments among them) and 10 % in a journal directory written
by journald itself. Side by side in one run, each timed as a whole command:

- `isoscan host` (interfaces, radios, routes, media, logs and journal, the
  checks, the reach test through every interface, the bundle written);
- the baseline: `ip -j addr` + `journalctl -D <journal> -o json` + `zcat -f`
  of the same log files piped to `grep -c usb` (reading the same data with
  the system's own tools, judging nothing);
- the watch's reaction: `isoscan host --watch` running, a new interface with
  an address brought up, the time until its alert reaches a syslog receiver.

The machine is shared with other work: figures are noisy; compare the two
columns of one run, not runs of different days.
"""
from __future__ import annotations

import argparse
import gzip
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchlib import compile_modules, timed  # noqa: E402
from scanner import lab as L  # noqa: E402
from tests.host import roots  # noqa: E402
from tests.host.journal import available, write_journal  # noqa: E402
from tests.host.sysroot import noise, usb_stick_lines  # noqa: E402

LAB = REPO / "tests" / "host" / "lab.yaml"
PC = "pc-08"


def make_files(base: Path, lines: int) -> Path:
    files = roots.build("clean-pc", base / "files")
    per = int(lines * 0.9) // 3
    sticks = usb_stick_lines("2-1", "AA00000000000123")
    log = files / "var" / "log"
    (log / "kern.log").write_text("\n".join(noise(per - len(sticks)) + sticks) + "\n")
    (log / "kern.log.1").write_text("\n".join(noise(per)) + "\n")
    (log / "kern.log.2.gz").write_bytes(gzip.compress(("\n".join(
        noise(per - len(sticks)) + usb_stick_lines("2-2", "4C530001234567890123")) + "\n").encode()))
    why = available()
    if why is None:
        n = lines - 3 * per
        write_journal(log / "journal", [f"usb 3-{i % 9}: reset high-speed USB device number {i}"
                                        for i in range(n)], base / "journal-work")
    else:
        print(f"host_bench: no journal ({why}); the logs are all in var/log", file=sys.stderr)
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--interfaces", type=int, default=10)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("host_bench: needs root", file=sys.stderr)
        return 2
    compile_modules(str(REPO))
    base = Path(tempfile.mkdtemp(prefix="isoscan-host-bench-"))
    name = f"hb{secrets.token_hex(3)}"
    try:
        files = make_files(base, a.lines)
        lab = L.up(str(LAB), faults=[], name=name)
        ns = lab.netns(PC)
        # lo and eth0 are there; veth pairs (both ends in the PC: no dummy module
        # needed, nothing linked outside the lab) make up the rest
        for i in range(max(0, (a.interfaces - 2) // 2)):
            for cmd in (["ip", "link", "add", f"va{i}", "type", "veth", "peer", "name", f"vb{i}"],
                        ["ip", "addr", "add", f"10.10.0.{100 + i}/32", "dev", f"va{i}"],
                        ["ip", "link", "set", f"va{i}", "up"], ["ip", "link", "set", f"vb{i}", "up"]):
                subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        journal = files / "var" / "log" / "journal"
        logs = sorted(str(p) for p in (files / "var" / "log").glob("kern.log*"))
        host_t, base_t = [], []
        for run in range(a.runs):
            out = base / f"b{run}.json"
            t1, r = timed(["ip", "netns", "exec", ns, sys.executable, "-m", "scanner.cli", "host",
                           "-q", "-i", str(LAB), "--files-root", str(files), "-o", str(out)],
                          cwd=str(REPO))
            if r.returncode not in (0, 1) or not out.exists():
                print(r.stdout + r.stderr, file=sys.stderr)
                return 1
            shell = (f"ip -j addr >/dev/null; "
                     + (f"journalctl -D {journal} -o json --no-pager >/dev/null; "
                        if journal.exists() else "")
                     + f"zcat -f {' '.join(logs)} | grep -c usb >/dev/null")
            t2, _ = timed(["ip", "netns", "exec", ns, "sh", "-c", shell])
            host_t.append(t1)
            base_t.append(t2)
            import json
            b = json.loads(out.read_text(encoding="utf-8"))
            rec = b["observations"]["host"]
            print(f"run {run + 1}: isoscan host {t1:.2f} s ({len(rec['interfaces'])} interfaces, "
                  f"{rec['log_lines']} log lines, {len(rec['media_history'])} media in the logs, "
                  f"verdict {b['summary']['verdict']}) | ip -j addr + journalctl + zcat|grep "
                  f"{t2:.2f} s")
        print(f"median: isoscan host {statistics.median(host_t):.2f} s, baseline "
              f"{statistics.median(base_t):.2f} s (target < 2 s)")
        print(f"watch reaction: {watch_reaction(lab, ns, files, base):.3f} s (target < 2 s)")
    finally:
        L.down(name)
        subprocess.run(["rm", "-rf", str(base)], check=False)
    return 0


def watch_reaction(lab, ns: str, files: Path, base: Path) -> float:
    sock_path = base / "syslog.sock"
    recv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    recv.bind(str(sock_path))
    cfg = base / "alerts.yaml"
    cfg.write_text(f"version: 1\noutbox: outbox.jsonl\nchannels:\n"
                   f"  - {{name: siem, type: syslog, transport: unix, path: {sock_path}}}\n")
    p = lab.spawn(PC, [sys.executable, "-m", "scanner.cli", "host", "--watch", "-i", str(LAB),
                       "--files-root", str(files), "--alerts", str(cfg), "--lang", "en"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    try:
        while "baseline done" not in (line := p.stderr.readline()):
            if not line:
                raise RuntimeError("the watch ended before its baseline")
        for cmd in (["ip", "link", "add", "usb0", "type", "veth", "peer", "name", "usb0p"],
                    ["ip", "addr", "add", "172.20.10.2/28", "dev", "usb0"],
                    ["ip", "link", "set", "usb0p", "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        time.sleep(0.5)
        t0 = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "usb0", "up"], check=True)
        recv.settimeout(10)
        while b"HOST-NIC" not in recv.recv(65536):
            pass
        return time.perf_counter() - t0
    finally:
        p.terminate()
        p.wait(10)
        recv.close()


if __name__ == "__main__":
    sys.exit(main())
