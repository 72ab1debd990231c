"""INV-OVERLAP: the networks of two segments overlap.

Linear after one sort: networks become (version, first, last) integer
intervals, sorted; each interval is compared with the one reaching furthest
so far, so 200 segments or 20,000 cost the same per network.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner.model import CheckMeta, Finding, Inventory, Severity, fail, passed, text

META = CheckMeta(
    id="INV-OVERLAP",
    severity=Severity.HIGH,
    title=text("网段地址范围重叠", "Segment networks overlap"),
    needs=("inventory",),
    remediation=text("为每个网段分配互不重叠的地址范围；一个地址只能属于一个网段。",
                     "Give every segment address ranges of its own: an address belongs to one segment."),
    description=text("两个网段的网络地址重叠时，无法判断一台主机属于哪个网段。",
                     "When two segments' networks overlap, no one can tell which segment a host is on."),
)


def _at(seg, idx: int):
    """The line of the network itself (`networks: [...]` item), else the segment's."""
    locs = getattr(seg, "network_locs", ())
    return (locs[idx] if idx < len(locs) else None) or seg.loc


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    intervals = sorted(
        ((n.version, n.first, -n.last, i, s) for s in inv.segments
         for i, n in enumerate(s.networks)),
        key=lambda t: t[:3])
    reported: set[tuple[str, str]] = set()
    reach = None          # (version, last, net index, segment) reaching furthest
    found = 0
    for version, first, neg_last, idx, seg in intervals:
        last = -neg_last
        if reach is not None and reach[0] == version and first <= reach[1] \
                and reach[3].name != seg.name:
            other, onet = reach[3], reach[3].networks[reach[2]]
            net = seg.networks[idx]
            pair = tuple(sorted((seg.name, other.name)))
            if pair not in reported:
                reported.add(pair)
                found += 1
                yield fail(META, text(
                    f"网段 {seg.name} 的 {net} 与网段 {other.name} 的 {onet} 重叠",
                    f"network {net} of segment {seg.name} overlaps {onet} of segment {other.name}"),
                    segment=seg.name, location=_at(seg, idx))
        if reach is None or reach[0] != version or last > reach[1]:
            reach = (version, last, idx, seg)
    if not found:
        yield passed(META, text(f"{len(intervals)} 个网络、{len(inv.segments)} 个网段互不重叠",
                                f"{len(intervals)} networks of {len(inv.segments)} segments, none overlap"))
