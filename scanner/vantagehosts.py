"""The probes' own hosts: a probe is never in its own discovery (nmap and the
ARP sweep do not list the scanning host), so a reconciliation of "registered
but not seen" must count each vantage as seen on its own segment, from its
own bundle: `vantage.segment`, `vantage.ip`, `vantage.mac` (the interface it
probed from; scanner.scan.engine writes them).

    own = vantage_hosts(merged["sources"])       # {segment: {(ip, mac), ...}}
    if (ip, mac) in own.get(seg, ()):            # the registered probe itself
        state = "seen"                            # with REASON as its note

DEV-MISSING already skips the scanning host (scanner/judge/live.is_own); this
is the same rule for the report's and the console's device tables.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from scanner.model import text
from scanner.model.net import norm_mac

REASON = text("扫描位置本机：探针不出现在自己的发现结果中，按其结果包中的扫描位置计为在线",
              "the vantage itself: a probe is not in its own discovery, so it counts as seen "
              "where its bundle says it scanned from")


def vantage_hosts(sources: Iterable[Mapping]) -> dict[str, set[tuple[str | None, str | None]]]:
    """{segment: {(ip, mac)}} of every source's vantage (bundle or merged sources)."""
    out: dict[str, set] = {}
    for s in sources or ():
        v = s.get("vantage") if isinstance(s, Mapping) else None
        if not isinstance(v, Mapping) or not isinstance(v.get("segment"), str):
            continue
        ip = v.get("ip") if isinstance(v.get("ip"), str) else None
        mac = norm_mac(v.get("mac")) or None
        if ip or mac:
            out.setdefault(v["segment"], set()).add((ip, mac))
    return out


def is_vantage(own: Mapping[str, set], segment: str, ip: str | None, mac: str | None) -> bool:
    """Whether a registered interface (ip, mac) on `segment` is a vantage's own."""
    mac = norm_mac(mac) or None
    return any((ip and vip == ip) or (mac and vmac == mac) for vip, vmac in own.get(segment, ()))
