"""Host bundles (issue 26, `isoscan host`) beside the probes' bundles.

A computer seen from inside knows what the wire cannot join: its cards
belong to one machine. When the host record shows one card up with an
address on one segment and another on a segment that must be isolated from
it (a classified PC's second card on the office LAN), that is one host on
both: ISO-BRIDGE, critical, on the classified side. Where a probe's discovery
saw that second card's MAC on its segment (the office probe's station), the
evidence names it: the two views are one row.

Pure data in, pure data out.
"""
from __future__ import annotations

import ipaddress
from typing import Mapping, Sequence

from scanner.model import DEFAULT_LANG


def _segment_of(inv: Mapping | None, ip: str) -> str | None:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if a.is_loopback or a.is_link_local:
        return None
    for name, s in ((inv or {}).get("segments") or {}).items():
        for n in s.get("networks") or ():
            try:
                if a in ipaddress.ip_network(n, strict=False):
                    return name
            except ValueError:
                continue
    return None


def _stations(sources: Sequence[Mapping]) -> dict[str, list[tuple[str, str | None]]]:
    """MAC -> [(probe label, ip)] of every probe's discovery."""
    out: dict[str, list] = {}
    for s in sources:
        disc = (s.get("observations") or {}).get("discovery")
        if not isinstance(disc, Mapping):
            continue
        for h in list(disc.get("hosts") or ()) + list(disc.get("neighbours6") or ()):
            if isinstance(h, Mapping) and isinstance(h.get("mac"), str):
                out.setdefault(h["mac"].lower(), []).append((s["label"], h.get("ip")))
    return out


def host_bridges(sources: Sequence[Mapping], inv: Mapping | None,
                 lang: str = DEFAULT_LANG) -> list[dict]:
    from scanner.report.merge import must_isolate
    segs = (inv or {}).get("segments") or {}
    transfers = {t.get("device") for t in (inv or {}).get("transfers") or ()}
    stations = None
    out = []
    for s in sources:
        v = s.get("vantage") or {}
        host = (s.get("observations") or {}).get("host")
        if v.get("kind") != "host" or not isinstance(host, Mapping) or v.get("device") in transfers:
            continue                  # a declared one-way transfer device is on both by design
        on: dict[str, list[tuple[str, str | None, str]]] = {}     # segment -> cards
        for n in host.get("interfaces") or ():
            if not isinstance(n, Mapping) or n.get("kind") == "loopback":
                continue
            if not (n.get("up") or n.get("operstate") == "up"):
                continue
            for a in n.get("addresses") or ():
                ip = str(a).split("/")[0]
                seg = _segment_of(inv, ip)
                if seg is not None:
                    on.setdefault(seg, []).append((str(n.get("name")), n.get("mac"), ip))
        names = sorted(on)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                iso = must_isolate(segs.get(a), segs.get(b))
                if not iso:
                    continue
                side = a if (segs.get(a) or {}).get("classification") == "classified" else b
                other = b if side == a else a
                stations = _stations(sources) if stations is None else stations
                card = on[other][0]
                ev = [f"{v.get('device')} (isoscan host): "
                      + "; ".join(f"{nm} {mac or '-'} {ip} on {seg}"
                                  for seg in (side, other) for nm, mac, ip in on[seg])]
                ev_zh = [f"{v.get('device')}（本机检查）："
                         + "；".join(f"{nm} {mac or '-'} {ip} 位于 {seg}"
                                    for seg in (side, other) for nm, mac, ip in on[seg])]
                for label, ip in stations.get(str(card[1] or "").lower(), []):
                    ev.append(f"the probe {label} saw {card[1]} at {ip or '-'} on the wire")
                    ev_zh.append(f"探针 {label} 在线路上发现 {card[1]}（{ip or '-'}）")
                out.append({
                    "check_id": "ISO-BRIDGE", "status": "fail", "severity": "critical",
                    "segment": side,
                    "subject": {"ip": card[2], "mac": card[1], "device": v.get("device")},
                    "title": "", "evidence": ev_zh if lang == "zh-CN" else ev,
                    "regulation": [], "remediation": "", "vantages": [s["label"]],
                    "merged": True, "peer_segment": other,
                })
    return out
