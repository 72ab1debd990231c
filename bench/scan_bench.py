#!/usr/bin/env python3
"""Benchmark: the whole `isoscan scan` against `nmap -sn -n -PR` on a classified
/24 with 200 live hosts, from the same namespace, in the same run.

The bench lab is two network namespaces of our own (prefix isoscan-p4b-),
never linked to the root namespace, torn down at the end (also on error):

    probe ns  p0 (10.99.0.5) ── veth ── h0  hosts ns
                                         ├─ mv1   10.99.0.11  02:b0:00:00:00:01  (macvlan, bridge mode)
                                         ├─ ...
                                         └─ mv200 10.99.0.210 02:b0:00:00:00:c8

200 macvlan interfaces on one veth give 200 distinct MAC/IP stations for the
price of one namespace; arp_ignore=1 / arp_announce=2 make each answer ARP
only for its own address (as 200 separate hosts would), forwarding is off.
The inventory (generated) registers all 200 plus the probe, and declares an
internet segment with a canary, so forwarding and egress probes run too.

Usage (root): python3 bench/scan_bench.py [--hosts 200] [--rounds 3]
Prints each round, the medians, and the ratio scan / nmap (target: <= 2).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import timed, write_inventory  # noqa: E402 (bench/ is on sys.path)


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, **kw)


def build(tag: str, n: int) -> tuple[str, str]:
    p, h = f"isoscan-p4b-p{tag}", f"isoscan-p4b-h{tag}"
    for ns in (p, h):
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw",
           "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
           "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.default.arp_ignore=1",
           "net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.default.arp_announce=2",
           "net.ipv4.ip_forward=0")
    sh("ip", "link", "add", "p0", "netns", p, "address", "02:b0:00:00:ff:05", "type", "veth",
       "peer", "name", "h0", "netns", h)
    sh("ip", "-n", p, "addr", "add", "10.99.0.5/24", "dev", "p0")
    for ns, dev in ((p, "p0"), (h, "h0")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    batch = []
    for i in range(1, n + 1):
        batch.append(f"link add mv{i} link h0 address 02:b0:00:00:{i >> 8:02x}:{i & 0xff:02x} "
                     f"type macvlan mode bridge")
        batch.append(f"addr add 10.99.0.{10 + i}/24 dev mv{i} noprefixroute")
        batch.append(f"link set mv{i} up")
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as f:
        f.write("\n".join(batch) + "\n")
    try:
        sh("ip", "-n", h, "-batch", f.name)
    finally:
        os.unlink(f.name)
    return p, h


def inventory(n: int) -> str:
    lines = ["version: 1", "organization: {name: 基准测试单位}",
             "canaries:", "  - {name: canary, address: 203.0.113.10}",
             "segments:",
             "  - {name: bench-lan, classification: classified, level: secret, networks: [10.99.0.0/24]}",
             "  - {name: internet, classification: internet, networks: [203.0.113.0/24]}",
             "devices:",
             "  - {name: probe, kind: probe, asset_tag: BENCH-P005, custodian: 审计员, segment: bench-lan,"
             " ip: 10.99.0.5, mac: '02:b0:00:00:ff:05'}"]
    for i in range(1, n + 1):
        lines.append(f"  - {{name: ws-{i:03d}, kind: workstation, asset_tag: BENCH-{i:04d}, custodian: 张三,"
                     f" segment: bench-lan, ip: 10.99.0.{10 + i}, mac: '02:b0:00:00:{i >> 8:02x}:{i & 0xff:02x}'}}")
    return write_inventory(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("scan_bench: needs root (network namespaces)")
    if not 1 <= a.hosts <= 240:
        sys.exit("scan_bench: --hosts between 1 and 240")
    tag = secrets.token_hex(3)
    inv = inventory(a.hosts)
    out = inv.replace(".yaml", ".json")
    p = h = None
    try:
        t = time.perf_counter()
        p, h = build(tag, a.hosts)
        print(f"bench lab: {a.hosts} hosts built in {time.perf_counter() - t:.2f} s")
        # the whole scan, and the scan without the two passive listening windows
        # (NET-DHCP waits 4 s for offers: dnsmasq ping-checks before offering)
        no_wait = ",".join(["ISO-PHYSICAL", "ISO-BRIDGE", "ING-SINGLE", "ISO-LOGICAL", "DEV-UNREGISTERED",
                            "DEV-MISMATCH", "DEV-MISPLACED", "DEV-MISSING",
                            "INV-OVERLAP", "INV-ADDRESS", "INV-DUPLICATE", "INV-BRIDGE",
                            "INV-INGRESS", "INV-REGISTRATION"])
        times = {"nmap": [], "scan": [], "scan-no-dhcp-ra": []}
        for r in range(a.rounds):
            dn, rn = timed(["ip", "netns", "exec", p, "nmap", "-sn", "-n", "-PR", "10.99.0.0/24"])
            up = rn.stdout.count("Host is up")
            times["nmap"].append(dn)
            line = [f"round {r + 1}: nmap -sn -n -PR {dn:.2f} s ({up} up)"]
            for label, extra in (("scan", []), ("scan-no-dhcp-ra", ["--checks", no_wait])):
                ds, rs = timed(["ip", "netns", "exec", p, sys.executable, "-m", "scanner.cli", "scan",
                                "-i", inv, "-o", out, "-q", "--lang", "en", *extra])
                b = json.load(open(out, encoding="utf-8"))
                hosts = len(b["observations"]["discovery"]["hosts"])
                sent = b["observations"]["forwarding"].get("sent")
                line.append(f"{label} {ds:.2f} s (exit {rs.returncode}, {b['summary']['verdict']}, "
                            f"{hosts} hosts, {sent} frames)")
                # a limited scan is incomplete (exit 3) by design: the checks it left out
                if rs.returncode != (3 if extra else 0):
                    print(rs.stdout, rs.stderr, file=sys.stderr)
                times[label].append(ds)
            print(" | ".join(line))
        mn = statistics.median(times["nmap"])
        for label in ("scan", "scan-no-dhcp-ra"):
            ms = statistics.median(times[label])
            print(f"median: nmap {mn:.2f} s, isoscan {label} {ms:.2f} s, ratio {ms / mn:.2f} (target <= 2.00)")
    finally:
        for ns in (p, h):
            if ns:
                sh("ip", "netns", "del", ns, check=False)
        for f in (inv, out):
            if os.path.exists(f):
                os.unlink(f)


if __name__ == "__main__":
    main()
