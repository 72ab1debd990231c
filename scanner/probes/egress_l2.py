"""Egress at layer 2, for a host with a leg in several segments (issue 24).

A probe host on a trunk (eth0.10, eth0.20) or with several cards has one
routing table: its default route leaves by one segment, so the egress probes
of every other segment would leave by that one's way out and prove nothing
about theirs. Here each segment is probed as a station of that segment would
probe it: the frames leave by the vantage's interface, from its address and
MAC, addressed at layer 2 to that segment's declared ingress (its gateway,
whose MAC is asked by ARP on that interface) -- the next hop is chosen at
layer 2, never from the host's routing table. The records are the same as
scanner/probes/egress.py's ("answer", "refused", "unreachable", "none", with
`first_hop` the gateway), so the positive control and the checks read them
unchanged.

What cannot be had is an honest error naming what is missing:
- a non-classified segment that declares no ingress (no next hop to use);
- a gateway that does not answer ARP on the interface.
A classified segment declares no way out: its stations have no next hop off
the link, so every target is "unreachable" (no route), as for a station of
it; the forwarding probes try every station of the link as a next hop.

The frames are forwarding.py's (struct-built, keyed by IP id, ICMP sequence,
UDP source port and TCP sequence); the replies are read from the frames'
bytes on one capture socket bound to the interface.
"""
from __future__ import annotations

import socket

from scanner.model import CLASSIFIED, text
from scanner.probes import forwarding as F
from scanner.probes.discovery import arp_frames, arp_replies
from scanner.probes.wire import Burst, ProbeError, require_l2, require_privileges, require_up
from scanner.scan.plan import Plan

WAIT = 1.0
ARP_WAIT = 0.5
ARP_TRIES = 3


def wanted(plan: Plan) -> bool:
    """The host has a leg in another declared segment: egress goes at layer 2."""
    from scanner.probes.egress import _own_segments
    return bool(_own_segments(plan))


def gateway(plan: Plan) -> tuple[str, str, str | None] | None:
    """(device name, IPv4 address, registered MAC) of the segment's declared
    ingress on this segment, or None when it declares none."""
    inv = plan.scope._inv
    seg = plan.segment
    dev = inv.device(seg.ingress) if seg.ingress else None
    if dev is None:
        return None
    for i in dev.interfaces:
        if i.segment == seg.name and i.ip is not None and i.ip.version == 4:
            return dev.name, str(i.ip), i.mac
    return None


class _Direct:
    """The egress tokens are minted "direct" (from this segment's own way
    out), as the own-stack egress probe mints them, whatever the frame's MAC."""

    def __init__(self, minter):
        self.minter = minter

    def mint(self, _via, proto, port=None):
        return self.minter.mint(None, proto, port)


def _items(plan: Plan, gw_ip: str, gw_mac: str) -> list[F.Probe]:
    out = []
    for t in plan.remote:
        kinds = ([("icmp", None)] if t.icmp else []) + \
            [("tcp", p) for p in t.tcp] + [("udp", p) for p in t.udp]
        out += [F.Probe(gw_ip, gw_mac, t, proto, port, F.FULL_TTL) for proto, port in kinds]
    return out


def _settle(pr: F.Probe, result: str, responder: str | None, detail: str) -> None:
    rank = {"none": 0, "unreachable": 1, "refused": 2, "answer": 3}
    if rank[result] > rank.get(pr.result, 0):
        pr.result, pr.responder_ip, pr.hop2 = result, responder, detail


def match(batch: list[F.Probe], packets) -> None:
    """Settle the egress probes `packets` answer (pure, from the bytes)."""
    by_seq = {pr.tcp_seq: k for k, pr in enumerate(batch) if pr.tcp_seq is not None}
    for p in packets:
        got = F._ipv4_l4(p)
        if got is None:
            continue
        rip, _rmac, proto, l4 = got
        if proto == 1 and len(l4) >= 8:
            typ = l4[0]
            if typ == 0 and int.from_bytes(l4[4:6], "big") == F.ICMP_ID:
                key = int.from_bytes(l4[6:8], "big")
                if key < len(batch) and batch[key].proto == "icmp" and batch[key].target.ip == rip:
                    _settle(batch[key], "answer", rip, "echo reply")
            elif typ in (3, 11) and len(l4) >= 28:
                inner = l4[8:]
                key = int.from_bytes(inner[4:6], "big")
                if key >= len(batch) or batch[key].target.ip != socket.inet_ntoa(inner[16:20]):
                    continue
                if typ == 3 and rip == batch[key].target.ip:
                    _settle(batch[key], "refused", rip, f"ICMP type 3 code {l4[1]} from the destination")
                else:
                    _settle(batch[key], "unreachable", rip, f"ICMP type {typ} code {l4[1]} from {rip}")
        elif proto == 6 and len(l4) >= 20:
            key = by_seq.get((int.from_bytes(l4[8:12], "big") - 1) & 0xFFFFFFFF, -1)
            if 0 <= key < len(batch):
                pr = batch[key]
                if pr.target.ip == rip and pr.port == int.from_bytes(l4[0:2], "big"):
                    rst = bool(l4[13] & 0x04)
                    _settle(pr, "refused" if rst else "answer", rip,
                            "connection refused (RST)" if rst else "SYN-ACK")
        elif proto == 17 and len(l4) >= 8:
            key = int.from_bytes(l4[2:4], "big") - F.SPORT_BASE
            if 0 <= key < len(batch):
                pr = batch[key]
                if pr.target.ip == rip and pr.proto == "udp" and pr.port == int.from_bytes(l4[0:2], "big"):
                    _settle(pr, "answer", rip, "reply received")


def _record(pr: F.Probe, hop: str | None) -> dict:
    t = pr.target
    return {"dst": t.ip, "dst_kind": t.kind, "dst_segment": t.segment, "dst_name": t.name,
            "proto": "dns" if pr.proto == "udp" and pr.port == 53 else pr.proto, "port": pr.port,
            "result": pr.result, "responder_ip": pr.responder_ip, "first_hop": hop,
            "detail": pr.hop2 or "no reply", "token": pr.token}


def _resolve(plan: Plan, b: Burst, ip: str) -> list[str]:
    """The MACs that answered ARP for ip on the interface (a few tries)."""
    seen: dict = {}
    for _ in range(ARP_TRIES):
        b.send(arp_frames(plan, [ip]))
        got = b.collect(ARP_WAIT, done=lambda g: bool(arp_replies(g, {ip})))
        seen = arp_replies(got, {ip})
        if seen:
            break
    return sorted(seen.get(ip, ()))


def probe(plan: Plan, wait: float = WAIT, *, minter=None, zone: str = "isoscan.invalid") -> dict:
    require_privileges()
    require_l2(plan.vantage)
    v = plan.vantage
    require_up(v.interface)
    seg = plan.segment
    method = (f"layer 2 from {v.interface} ({v.ip}, {v.mac}) to the declared gateway of "
              f"{seg.name}: the next hop is chosen at layer 2, not from this host's routing table")
    out = {"status": "ok", "error": None, "method": method, "interface": v.interface,
           "layer2": True}
    if plan.remote6:
        out["ipv6"] = {"src": None, "targets": [],
                       "note": "IPv6 egress is not probed at layer 2 from a host on several segments"}
    gw = gateway(plan)
    if gw is None:
        if seg.classification == CLASSIFIED:
            # a classified segment declares no way out: no next hop off the link
            out["gateway"] = None
            out["probes"] = [_record(pr, None) | {"result": "unreachable",
                                                  "detail": "no way out declared for this segment: "
                                                            "no next hop off the link"}
                             for pr in _items(plan, "", "00:00:00:00:00:00")]
            return out
        raise ProbeError(text(
            f"网段 {seg.name} 未声明入口（ingress，即其网关）：本机在多个网段上有接口，出站探测须经该网段自己的网关在二层发出，"
            f"无从选择下一跳。请在清单中为 {seg.name} 声明 ingress",
            f"segment {seg.name} declares no ingress (its gateway): this host has a leg in several "
            f"segments, so egress must leave at layer 2 by {seg.name}'s own gateway, and there is "
            f"no next hop to use. Declare {seg.name}'s ingress in the inventory"))
    name, gw_ip, gw_reg = gw
    plan.guard(gw_ip)
    with Burst(v.interface, f"(arp or (ip and dst host {v.ip})) and not ether src {v.mac}") as b:
        macs = _resolve(plan, b, gw_ip)
        if not macs:
            raise ProbeError(text(
                f"网段 {seg.name} 的网关 {name}（{gw_ip}）在 {v.interface} 上不应答 ARP：出站探测无法经该网段的出口发出",
                f"{seg.name}'s gateway {name} ({gw_ip}) did not answer ARP on {v.interface}: "
                f"egress cannot leave by {seg.name}'s way out"))
        gw_mac = gw_reg if gw_reg in macs else macs[0]
        batch = _items(plan, gw_ip, gw_mac)
        direct = _Direct(minter) if minter is not None else None
        frames = [F._frame(plan, pr, k, minter=direct, zone=zone) for k, pr in enumerate(batch)]
        b.got.clear()
        b.send(frames)

        def done(got) -> bool:
            match(batch, got)
            return all(pr.result != "none" for pr in batch)
        got = b.collect(wait, done=done)
        match(batch, got)
        sent = b.sent
    out["gateway"] = {"device": name, "ip": gw_ip, "mac": gw_mac, "macs": macs}
    out["sent"] = sent
    out["probes"] = [_record(pr, gw_ip) for pr in batch]
    return out
