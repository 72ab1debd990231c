"""`isoscan scan --all-segments`: every segment this host has a leg in, in one
run, one bundle a vantage (issue 24).

A probe host on a trunk (eth0.10, eth0.20, ...) or with several cards is a
station of each of those segments. Each segment is scanned as a scan with
`--segment` would scan it -- discovery, forwarding and identity bound to that
segment's interface, egress at layer 2 by that segment's own gateway
(scanner/probes/egress_l2.py) -- one after the other (the DHCP and RA windows
of one segment are not shared with another's), and each gives its own bundle.

Pure except `segments_here` (reads this host's addresses, sends nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

from scanner.model import text

VERDICT_RANK = {"non-compliant": 0, "incomplete": 1, "compliant": 2}


def segments_of(inv, ifaces) -> list[str]:
    """The declared segments in which one of `ifaces` has an IPv4 address,
    in the inventory's order (pure)."""
    from netaddr import IPAddress
    have = set()
    for i in ifaces:
        for a in i.ipv4:
            seg = inv.segment_of(IPAddress(a))
            if seg is not None:
                have.add(seg.name)
    return [s.name for s in inv.segments if s.name in have]


def segments_here(paths) -> list[str]:
    """This host's segments, or [] when the inventory cannot be read (the
    scan itself then says why, with exit 2)."""
    from scanner.inventory.load import InputError, load_inventory
    from scanner.scan.vantage import VantageError, local_interfaces
    try:
        loaded = load_inventory(paths)
        if loaded.inventory is None:
            return []
        return segments_of(loaded.inventory, local_interfaces())
    except (InputError, VantageError):
        return []


@dataclass
class SegmentRun:
    segment: str
    result: object = None          # engine.ScanResult
    error: object = None           # engine.ScanInputError


def exit_code(runs: list[SegmentRun]) -> int:
    """1 when any segment is non-compliant (a violation is never hidden by
    another segment's problem), else 2 when a segment could not be scanned,
    else 3 when any is incomplete, else 0."""
    verdicts = {r.result.bundle["summary"]["verdict"] for r in runs if r.result is not None}
    if "non-compliant" in verdicts:
        return 1
    if any(r.error is not None for r in runs) or not runs:
        return 2
    if "incomplete" in verdicts:
        return 3
    return 0


def scan_all(paths, scan, progress_for, **kw) -> list[SegmentRun]:
    """engine.scan (passed as `scan`) once per segment of this host."""
    from scanner.scan.engine import ScanInputError
    segs = segments_here(paths)
    if not segs:
        scan(paths, progress=progress_for(None), **kw)     # raises the reason (exit 2)
        raise ScanInputError(text("本机没有任何地址位于清单声明的网段内",
                                  "none of this host's addresses lies in a declared segment"))
    runs = []
    for seg in segs:
        run = SegmentRun(seg)
        try:
            run.result = scan(paths, segment=seg, progress=progress_for(seg), **kw)
        except ScanInputError as exc:
            run.error = exc
        runs.append(run)
    return runs
