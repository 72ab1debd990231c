"""What the watch sends: only what a scan already sends, only to the declared
networks, only from the vantage's own interface (its plan's scope guard
passes every address first).

Schedule (docs/watch.md):

* at start and every `--sweep-every` (default 10 min): an ARP who-has for
  every address of the segment's declared IPv4 networks (the scan's own
  discovery frames, scanner/probes/discovery.arp_frames), paced at
  SWEEP_PPS frames/s; and, where the segment declares IPv6, one ICMPv6 echo
  to ff02::1 (all nodes on the link), as the scan's neighbour discovery
  sends. Answers arrive on the listening socket like any other frame.
* at start and every `--solicit-every` (default 30 min): one DHCPDISCOVER,
  one DHCPv6 Solicit (from the link-local address) and one router
  solicitation: the scan's frames (scanner/probes/dhcp.py, ra.py), with its
  client MAC. A rogue server that no client asks is found within this period;
  a rogue router advertises by itself within its own interval
  (MaxRtrAdvInterval, 600 s by default in radvd) and is heard at once.
* when an address moves to another MAC: one ARP who-has for that address
  (the scan's confirmation round), to tell a move from a conflict.
"""
from __future__ import annotations

import random
import socket
import struct
import threading
import time

from netaddr import IPNetwork

from scanner.probes import dhcp as D
from scanner.probes import ra as R
from scanner.probes.discovery import arp_frames
from scanner.probes.wire import checksum, send_frame

SWEEP_PPS = 1000
SWEEP_MAX = 1 << 16            # larger declared networks: only the registered addresses


def echo_all_nodes(src_mac: str, src_ip: str) -> bytes:
    """ICMPv6 echo request to ff02::1 from `src_ip` (link-local), built with struct."""
    import ipaddress
    mac = bytes.fromhex(src_mac.replace(":", ""))
    src = ipaddress.IPv6Address(src_ip).packed
    dst = ipaddress.IPv6Address("ff02::1").packed
    body = struct.pack("!BBHHH", 128, 0, 0, 0x1505, 0) + b"isoscan"
    c = checksum(src + dst + struct.pack("!I3xB", len(body), 58) + body)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst
    return b"\x33\x33\x00\x00\x00\x01" + mac + b"\x86\xdd" + ip6 + body


def sweep_targets(plan) -> list[str]:
    own = plan.vantage.own
    out: list[str] = []
    for n in plan.networks4:
        net = IPNetwork(n)
        if net.size > SWEEP_MAX:
            return [c.ip for c in plan.controls]
        out += [str(a) for a in (net.iter_hosts() if net.size > 2 else net) if str(a) not in own]
    return out


def link_local(plan) -> str | None:
    return next((a for a in plan.vantage.ipv6 if a.lower().startswith("fe80")), None)


class Sender:
    """The vantage's send socket (opened before privileges are dropped) and the frames."""

    def __init__(self, plan):
        self.plan = plan
        self.lock = threading.Lock()
        self.out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.out.bind((plan.vantage.interface, 0))
        self.sent = 0

    def send(self, frames, pps: int = 0) -> None:
        gap = 1.0 / pps if pps else 0.0
        for fr in frames:
            with self.lock:
                send_frame(self.out, fr)
                self.sent += 1
            if gap:
                time.sleep(gap)

    def confirm(self, ip: str) -> None:
        """One ARP who-has for `ip` (in scope, or nothing is sent)."""
        self.send(arp_frames(self.plan, [ip]))

    def sweep(self, stop: threading.Event | None = None) -> int:
        v = self.plan.vantage
        ips = sweep_targets(self.plan)
        frames = arp_frames(self.plan, ips)
        for i in range(0, len(frames), 100):
            if stop is not None and stop.is_set():
                break
            self.send(frames[i:i + 100], SWEEP_PPS)
        ll = link_local(self.plan)
        if self.plan.networks6 and ll:
            self.plan.guard("ff02::1")
            self.send([echo_all_nodes(v.mac, ll)])
        return len(frames)

    def solicit(self) -> list[str]:
        """The DHCP discover, DHCPv6 solicit and router solicitation; what was sent."""
        v = self.plan.vantage
        client = D.client_mac_for(v.interface)
        sent = [D._discover(random.getrandbits(32), client)]
        what = ["DHCPDISCOVER"]
        ll = link_local(self.plan)
        if ll:
            sent.append(D._solicit(random.getrandbits(24), ll, v.mac, client))
            what.append("DHCPv6 Solicit")
        sent.append(R._solicitation(ll, v.mac))
        what.append("router solicitation")
        self.send(sent)
        return what

    def close(self) -> None:
        self.out.close()
