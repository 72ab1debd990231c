"""INV-BRIDGE: a declared device joins a classified segment to another kind.

Fails when a device has interfaces on a classified segment and on a segment
of another classification or another level, unless a declared one-way
transfer (单向导入) covers it: the device is the transfer's device, it sits
only on the transfer's `from` and `to` segments, and data flows *into* the
classified side (never out of it, never down a level). A transfer declared
the other way round fails on its own.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from checks._static import subject
from scanner.model import (CLASSIFIED, CheckMeta, Finding, Inventory, Severity,
                           fail, passed, text)

META = CheckMeta(
    id="INV-BRIDGE",
    severity=Severity.CRITICAL,
    title=text("设备跨接涉密网段与其他网段", "Device bridges a classified segment to another"),
    needs=("inventory",),
    remediation=text("拆除该设备在非同级网段上的接口；确需导入数据的，改用已登记的单向导入设备。",
                     "Remove the device's interface on the other segment; where data must come in, use a "
                     "declared one-way transfer device."),
    description=text("涉密网络须与其他网络物理隔离；跨接设备即是通路。",
                     "A classified network is physically isolated; a device on both sides is a path."),
)

LEVEL_RANK = {"secret": 1, "confidential": 2, "top-secret": 3}


def _rank(seg) -> int:
    return LEVEL_RANK.get(seg.level or "", 0) if seg.classification == CLASSIFIED else -1


def _inward(src, dst) -> bool:
    """Data may flow from src to dst: into a classified segment of at least src's level."""
    return dst.classification == CLASSIFIED and _rank(dst) > _rank(src)


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    found = 0
    by_name = {s.name: s for s in inv.segments}
    transfers: dict[str, list] = {}
    for t in inv.transfers:
        src, dst = by_name.get(t.from_segment), by_name.get(t.to_segment)
        if src is None or dst is None:
            continue
        if not _inward(src, dst):
            found += 1
            yield fail(META, text(
                f"单向导入 {t.device} 的方向 {src.name} → {dst.name} 不是导入涉密网段（数据不得流出涉密网络）",
                f"one-way transfer {t.device} runs {src.name} -> {dst.name}, which is not into a "
                "classified segment of a higher level (data never leaves a classified network)"),
                segment=src.name, location=t.loc)
            continue
        transfers.setdefault(t.device, []).append((src.name, dst.name))
    checked = 0
    for d in inv.devices:
        if len(d.interfaces) < 2:
            continue
        segs = [s for s in (by_name.get(n) for n in d.segments) if s is not None]
        if len(segs) < 2 or not any(s.classified for s in segs):
            continue
        checked += 1
        kinds = {(s.classification, s.level if s.classified else None) for s in segs}
        if len(kinds) < 2:
            continue                  # classified segments of one level
        allowed = {n for pair in transfers.get(d.name, ()) for n in pair}
        if allowed and {s.name for s in segs} <= allowed:
            continue
        found += 1
        names = ", ".join(f"{s.name}（{s.classification}{'/' + s.level if s.level else ''}）" for s in segs)
        names_en = ", ".join(f"{s.name} ({s.classification}{'/' + s.level if s.level else ''})" for s in segs)
        why_zh = "且未登记为单向导入设备" if not allowed else "超出其单向导入声明的网段"
        why_en = "and is not a declared one-way transfer" if not allowed else \
            "beyond the segments of its one-way transfer"
        classified = next(s for s in segs if s.classified)
        yield fail(META, text(f"设备 {d.name} 同时接入 {names}，{why_zh}",
                              f"device {d.name} has interfaces on {names_en}, {why_en}"),
                   segment=classified.name, subject=subject(d), location=d.loc)
    if not found:
        yield passed(META, text(
            f"没有设备跨接涉密网段（{checked} 台多网段设备均为同级或已登记的单向导入）",
            f"no device bridges a classified segment ({checked} multi-segment device(s) checked "
            "are same-level or declared one-way transfers)"))
