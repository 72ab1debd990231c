"""Helpers of the end-to-end scan tests: run `isoscan scan` inside a lab host,
capture a segment while it runs, judge the capture against the inventory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "inventories" / "lab" / "demo.yaml"


def scan(lab, host: str, *extra: str, files=None, prefix=(), timeout=120):
    """(exit code, bundle or None, stdout+stderr) of a scan from a lab host."""
    fd, out = tempfile.mkstemp(prefix="isoscan-e2e-", suffix=".json")
    os.close(fd)
    os.chmod(out, 0o666)
    os.unlink(out)
    argv = [*prefix, sys.executable, "-m", "scanner.cli", "scan", "-q", "--lang", "en",
            *sum((["-i", str(f)] for f in (files or lab.files)), []), "-o", out, *extra]
    r = lab.exec(host, argv, timeout=timeout)
    bundle = None
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            bundle = json.load(f)
        os.unlink(out)
    return r.returncode, bundle, r.stdout + r.stderr


class Capture:
    """tcpdump on one interface of a namespace (Ethernet frames), started and stopped by pid."""

    def __init__(self, ns: str, iface: str = "eth0"):
        fd, self.path = tempfile.mkstemp(prefix="isoscan-e2e-", suffix=".pcap")
        os.close(fd)
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U",
                                      "-s", "256", "-w", self.path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on" once its socket is open
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline and b"listening" not in line:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError("tcpdump did not start")

    def stop(self):
        time.sleep(0.3)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.path

    def packets(self):
        from scapy.utils import rdpcap
        try:
            return rdpcap(self.path)
        finally:
            os.unlink(self.path)


def out_of_scope(packets, inv, src_macs: set[str]) -> list[str]:
    """Packets sent from src_macs to anything the inventory does not name.

    Link-scope control traffic is not a probe of an address: IPv6 link-local
    multicast (ff02::/16, neighbour discovery, the router solicitation), the
    kernel's neighbour advertisements and unicast solicitations (NUD) to a
    neighbour's link-local address, and
    the limited broadcast of the DHCP discovery (255.255.255.255).
    """
    from netaddr import IPAddress, IPNetwork
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP

    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS
    link6 = IPNetwork("ff02::/16")
    linklocal = IPNetwork("fe80::/10")
    from scapy.layers.l2 import Ether
    bad = []
    for p in packets:
        src = p[Ether].src.lower() if Ether in p else None
        if ARP in p:
            if p[ARP].hwsrc.lower() in src_macs and p[ARP].op == 1 and not inv.in_scope(p[ARP].pdst):
                bad.append(f"ARP who-has {p[ARP].pdst}")
            continue
        if IP in p:
            dst = p[IP].dst
            mine = (src in src_macs) if src else False
            if not mine:
                continue
            if dst == "255.255.255.255" or inv.in_scope(dst):
                continue
            bad.append(f"IPv4 {p[IP].src} -> {dst}")
        elif IPv6 in p:
            if not src or src not in src_macs:
                continue
            dst = IPAddress(p[IPv6].dst)
            if dst in link6 or inv.in_scope(dst):
                continue
            # the kernel's own neighbour discovery answers (NA to a neighbour's
            # link-local address) are the IPv6 form of an ARP reply, not a probe;
            # so are its unicast reachability checks of such a neighbour (NUD's NS)
            if dst in linklocal and (ICMPv6ND_NA in p or ICMPv6ND_NS in p):
                continue
            bad.append(f"IPv6 {p[IPv6].src} -> {dst}")
    return bad


def failing(bundle) -> list[dict]:
    return [f for f in bundle["findings"] if f["status"] == "fail"]
