"""The high side of a declared one-way transfer listens for what comes in.

A one-way transfer device (单向导入, inventory `transfers:`) must carry data
from its `from` segment into its `to` segment. The low-side vantage's
forwarding probes go through every host it finds, the transfer device too,
toward an address of the high side, each with a token (scanner/canary/tokens.py)
that names the sender's segment and the MAC it was handed to. The vantage on
the high side listens, for its whole scan, to IPv4 packets addressed to it
that carry a token: an arrival is the proof that the declared direction
works. The token is read without the sender's key (its HMAC is checked when
`isoscan report` joins both bundles); this only listens, it never sends.

The section "transfer_in": {"status", "error", "listened" (s), "arrivals":
[{"src_ip", "src_mac", "proto", "port", "token", "token_segment_tag",
"token_via_mac"}]}; "not-run" where the vantage's segment is no declared
transfer's `to`.
"""
from __future__ import annotations

import struct
import time

from scanner.canary import tokens
from scanner.scan.plan import Plan
from scanner.probes.wire import Burst, require_privileges, require_up

WAIT = 4.0           # about the DHCP window, which bounds the scan anyway
MAX_ARRIVALS = 256


def receives_transfer(inv, plan: Plan) -> bool:
    return any(t.to_segment == plan.segment.name for t in inv.transfers)


def _token_of(pkt) -> tuple[str, int | None, bytes] | None:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    if IP not in pkt:
        return None
    if UDP in pkt:
        data = bytes(pkt[UDP].payload)
        raw = tokens.find_in_payload(data)
        if raw is None and pkt[UDP].dport == 53:
            from scanner.canary.dns import parse_dns_query
            q = parse_dns_query(data)
            raw = tokens.from_dns_name(q[1]) if q else None
        return ("udp", pkt[UDP].dport, raw) if raw else None
    if ICMP in pkt and pkt[ICMP].type == 8:
        raw = tokens.find_in_payload(bytes(pkt[ICMP].payload))
        return ("icmp", None, raw) if raw else None
    if TCP in pkt:
        return None        # a SYN's token is its sequence number: needs the sender's key
    return None


def arrivals_of(packets, own_ip: str) -> list[dict]:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    out, seen = [], set()
    for p in packets:
        if IP not in p or p[IP].dst != own_ip:
            continue
        got = _token_of(p)
        if got is None:
            continue
        proto, port, raw = got
        if raw in seen:
            continue
        seen.add(raw)
        try:
            _m, _scan, seg_tag, via, _proto, _port, _serial = struct.unpack(
                "!4s4s4s6sBHH", raw[:tokens.BODY_LEN])
        except struct.error:
            continue
        out.append({"src_ip": p[IP].src, "src_mac": p[Ether].src.lower() if Ether in p else None,
                    "proto": proto, "port": port, "token": raw.hex(),
                    "token_segment_tag": seg_tag.hex(),
                    "token_via_mac": ":".join(f"{b:02x}" for b in via)})
        if len(out) >= MAX_ARRIVALS:
            break
    return out


def probe(inv, plan: Plan, wait: float = WAIT) -> dict:
    if not receives_transfer(inv, plan):
        return {"status": "not-run", "error": "no declared one-way transfer into this segment",
                "arrivals": []}
    require_privileges()
    v = plan.vantage
    require_up(v.interface)
    t0 = time.monotonic()
    with Burst(v.interface, f"ip dst {v.ip} and not ether src {v.mac} and (udp or icmp)") as b:
        got = b.collect(wait)
    return {"status": "ok", "error": None, "listened": round(time.monotonic() - t0, 2),
            "arrivals": arrivals_of(got, v.ip)}
