"""Forwarding probes: the gateway-finder technique.

For every host found on the vantage's segment, frames addressed at layer 2 to
that host and at layer 3 to each canary and to one address of every other
segment (ICMP echo, TCP SYN to the target's ports, UDP), once with TTL 1 and
once with a full TTL, all in one burst on one socket with one shared wait.

What comes back, per probe:
- "time-exceeded" from the host for TTL 1: it forwards toward the destination
  (forwarding on, with a route there; the TTL check comes before the FORWARD
  hook, so even a DROP policy answers this);
- "unreachable": it routes but has no path (not a breach by itself);
- "answer": the destination itself answered (echo reply, SYN-ACK/RST, UDP
  data, or its own port-unreachable): the whole path works both ways.
For hosts that showed time-exceeded, a TTL-2 probe names the next hop
("hop2"), so ING-SINGLE can tell a router inside the unit (its next hop is
the declared ingress) from a second exit.

Each probe is keyed by its IP id (echoed in ICMP errors), its ICMP sequence
and its TCP/UDP source port, so every reply maps back to the host it was
sent through. Linux rate-limits ICMP errors per peer (a burst of about 6,
then 1/s): TTL-1 ICMP probes go first so each host's first errors are the
most telling ones.
"""
from __future__ import annotations

from dataclasses import dataclass

from scanner import tokens
from scanner.plan import Plan, Target
from scanner.probes.wire import Burst, require_privileges, require_up

ICMP_ID = 0x150C
SPORT_BASE = 20000
BATCH = 40000          # unique source ports / IP ids per burst
FULL_TTL = 64
WAIT = 1.0


@dataclass
class Probe:
    via_ip: str
    via_mac: str
    target: Target
    proto: str
    port: int | None
    ttl: int
    result: str = "none"
    responder_ip: str | None = None
    responder_mac: str | None = None
    hop2: str | None = None
    token: str | None = None
    tcp_seq: int | None = None

    def to_json(self) -> dict:
        return {"via_ip": self.via_ip, "via_mac": self.via_mac, "dst": self.target.ip,
                "dst_kind": self.target.kind, "dst_segment": self.target.segment,
                "dst_name": self.target.name, "proto": self.proto, "port": self.port,
                "ttl": self.ttl, "result": self.result, "responder_ip": self.responder_ip,
                "responder_mac": self.responder_mac, "hop2": self.hop2, "token": self.token}


_RANK = {"none": 0, "unreachable": 1, "time-exceeded": 2, "answer": 3}


def plan_probes(plan: Plan, hosts: list[dict]) -> list[Probe]:
    """The probe list, most telling first (TTL-1 ICMP to every target, host by host)."""
    v = plan.vantage
    vias = []
    seen = set()
    for h in hosts:
        ip, mac = h.get("ip"), h.get("mac")
        if not ip or not mac or ":" in ip or ip in v.own or mac in v.own_macs or (ip, mac) in seen:
            continue
        seen.add((ip, mac))
        vias.append((ip, mac))
    first, rest = [], []
    for ip, mac in vias:
        for t in plan.remote:
            plan.guard(t.ip)
            for ttl in (1, FULL_TTL):
                kinds = ([("icmp", None)] if t.icmp else []) + \
                        [("tcp", p) for p in t.tcp] + [("udp", p) for p in t.udp]
                for i, (proto, port) in enumerate(kinds):
                    pr = Probe(ip, mac, t, proto, port, ttl)
                    (first if ttl == 1 and i == 0 else rest).append(pr)
    return first + rest


def _frame(plan: Plan, pr: Probe, key: int, minter=None, zone: str = "") -> bytes:
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether
    v = plan.vantage
    dst = plan.guard(pr.target.ip)
    ip = IP(src=v.ip, dst=dst, ttl=pr.ttl, id=key & 0xFFFF)
    tok = None
    if minter is not None:
        tok = minter.mint(pr.via_mac, "dns" if pr.proto == "udp" and pr.port == 53 else pr.proto, pr.port)
        pr.token = tok.hex
    if pr.proto == "icmp":
        l4 = ICMP(type=8, id=ICMP_ID, seq=key & 0xFFFF) / (tokens.payload_for(tok) if tok else b"isoscan-fwd")
    elif pr.proto == "tcp":
        seq = tokens.tcp_seq_for(tok) if tok else 0x15050000 + key
        sport = tokens.tcp_sport_for(tok) if tok else SPORT_BASE + key
        pr.tcp_seq = seq
        l4 = TCP(sport=sport, dport=pr.port, flags="S", seq=seq,
                 window=1024, options=[("MSS", 1460)])
    else:
        if pr.port == 53:
            name = tokens.dns_name_for(tok, zone) if tok else f"f{key}.{zone or 'isoscan.invalid'}"
            l4 = UDP(sport=SPORT_BASE + key, dport=53) / DNS(id=key & 0xFFFF, rd=1, qd=DNSQR(
                qname=name, qtype="A"))
        else:
            l4 = UDP(sport=SPORT_BASE + key, dport=pr.port) / (tokens.payload_for(tok) if tok else b"isoscan-fwd")
    return bytes(Ether(src=v.mac, dst=pr.via_mac) / ip / l4)


def _match(batch: list[Probe], packets) -> None:
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror
    from scapy.layers.l2 import Ether
    by_seq = {pr.tcp_seq: k for k, pr in enumerate(batch) if pr.tcp_seq is not None}

    def settle(key, result, rip, rmac):
        if not 0 <= key < len(batch):
            return
        pr = batch[key]
        if _RANK[result] > _RANK[pr.result]:
            pr.result, pr.responder_ip, pr.responder_mac = result, rip, rmac

    for p in packets:
        if IP not in p or Ether not in p:
            continue
        rip, rmac = p[IP].src, p[Ether].src.lower()
        if ICMP in p:
            ic = p[ICMP]
            if ic.type == 0 and ic.id == ICMP_ID:
                key = ic.seq
                if key < len(batch) and batch[key].target.ip == rip and batch[key].proto == "icmp":
                    settle(key, "answer", rip, rmac)
            elif ic.type in (3, 11) and IPerror in p:
                inner = p[IPerror]
                key = inner.id
                if key >= len(batch) or batch[key].target.ip != inner.dst:
                    continue
                if ic.type == 11:
                    settle(key, "time-exceeded", rip, rmac)
                elif rip == inner.dst:          # the destination itself: it was reached
                    settle(key, "answer", rip, rmac)
                else:
                    settle(key, "unreachable", rip, rmac)
        elif TCP in p:
            key = by_seq.get((p[TCP].ack - 1) & 0xFFFFFFFF, -1)
            if 0 <= key < len(batch):
                pr = batch[key]
                if pr.target.ip == rip and pr.port == p[TCP].sport:
                    settle(key, "answer", rip, rmac)
        elif UDP in p:
            l4 = p[UDP]
            key = l4.dport - SPORT_BASE
            if 0 <= key < len(batch):
                pr = batch[key]
                if pr.target.ip == rip and pr.proto == "udp" and pr.port == l4.sport:
                    settle(key, "answer", rip, rmac)


def _burst(plan: Plan, probes: list[Probe], wait: float, minter=None, zone: str = "") -> int:
    v = plan.vantage
    bpf = f"ether dst {v.mac} and not ether src {v.mac} and ip and (icmp or tcp or udp)"
    sent = 0
    for start in range(0, len(probes), BATCH):
        batch = probes[start:start + BATCH]
        frames = [_frame(plan, pr, k, minter, zone) for k, pr in enumerate(batch)]
        with Burst(v.interface, bpf) as b:
            b.send(frames)
            got = b.collect(wait)
            sent += b.sent
        _match(batch, got)
    return sent


def probe(plan: Plan, hosts: list[dict], wait: float = WAIT, *, minter=None, zone: str = "") -> dict:
    require_privileges()
    require_up(plan.vantage.interface)
    probes = plan_probes(plan, hosts)
    sent = _burst(plan, probes, wait, minter, zone) if probes else 0
    # second round: the next hop behind every host that forwards
    hop_probes = []
    pairs = {}
    for pr in probes:
        if pr.ttl == 1 and pr.result == "time-exceeded":
            pairs.setdefault((pr.via_ip, pr.via_mac, pr.target.ip), pr)
    for (vip, vmac, _), pr in pairs.items():
        proto, port = ("icmp", None) if pr.target.icmp else (pr.proto, pr.port)
        hop_probes.append(Probe(vip, vmac, pr.target, proto, port, 2))
    if hop_probes:
        sent += _burst(plan, hop_probes, wait, minter, zone)
        hop = {}
        for hp in hop_probes:
            if hp.result in ("time-exceeded", "unreachable", "answer"):
                hop[(hp.via_ip, hp.via_mac, hp.target.ip)] = hp.responder_ip
        for pr in probes + hop_probes:
            pr.hop2 = hop.get((pr.via_ip, pr.via_mac, pr.target.ip))
    return {"status": "ok", "error": None, "method": "scapy L2 burst (gateway-finder)",
            "vias": len({(p.via_ip, p.via_mac) for p in probes}),
            "targets": [t.ip for t in plan.remote], "sent": sent,
            "probes": [p.to_json() for p in probes + hop_probes]}
