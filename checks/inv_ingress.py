"""INV-INGRESS: the unit connects to the internet through exactly one declared ingress.

Fails when the unit has non-classified segments but declares no ingress, when
its segments declare more than one ingress device, or when the ingress device
has no interface on an internet segment, or has one on a classified segment.
An ingress naming a device that no file declares is an INV-SCHEMA finding.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from checks._static import subject
from scanner.model import (INTERNET, NON_CLASSIFIED, CheckMeta, Finding, Inventory,
                           Severity, fail, passed, text)

META = CheckMeta(
    id="INV-INGRESS",
    severity=Severity.HIGH,
    title=text("互联网出入口声明不符合“一个端口接入”", "Internet ingress is not one declared gateway"),
    needs=("inventory",),
    remediation=text("为全部非涉密网段声明同一个出入口设备，该设备须接入互联网网段且不接入任何涉密网段。",
                     "Declare one ingress device for every non-classified segment; it must have an "
                     "interface on the internet segment and none on a classified segment."),
    description=text("单位只能通过一个已声明的出入口接入互联网。",
                     "A unit reaches the internet through exactly one declared ingress point."),
)


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    office = [s for s in inv.segments if s.classification == NON_CLASSIFIED]
    declaring = [s for s in inv.segments if s.ingress]
    ingresses = list(dict.fromkeys(s.ingress for s in declaring))
    if not office and not ingresses:
        yield passed(META, text("没有非涉密网段，无需声明出入口", "no non-classified segment: no ingress needed"))
        return
    found = 0
    if not ingresses:
        found += 1
        yield fail(META, text(
            f"有非涉密网段（{', '.join(s.name for s in office)}）但未声明出入口（ingress）",
            f"non-classified segments ({', '.join(s.name for s in office)}) but no ingress declared"),
            segment=office[0].name, location=office[0].loc)
    if len(ingresses) > 1:
        for s in declaring:
            if s.ingress != ingresses[0]:
                found += 1
                yield fail(META, text(
                    f"声明了多个出入口（{', '.join(ingresses)}）：网段 {s.name} 使用 {s.ingress}",
                    f"more than one ingress declared ({', '.join(ingresses)}): segment {s.name} "
                    f"uses {s.ingress}"), segment=s.name, location=s.loc)
    by_segment = {s.name: s for s in inv.segments}
    wanted = set(ingresses)
    by_device = {d.name: d for d in inv.devices if d.name in wanted}
    for name in ingresses:
        d = by_device.get(name)
        if d is None:
            continue                  # an undeclared device is an INV-SCHEMA finding
        segs = [by_segment.get(n) for n in d.segments]
        segs = [s for s in segs if s is not None]
        if not any(s.classification == INTERNET for s in segs):
            found += 1
            yield fail(META, text(f"出入口设备 {name} 没有接入互联网网段的接口",
                                  f"ingress device {name} has no interface on an internet segment"),
                       subject=subject(d), location=d.loc)
        for s in segs:
            if s.classified:
                found += 1
                yield fail(META, text(f"出入口设备 {name} 接入了涉密网段 {s.name}",
                                      f"ingress device {name} has an interface on classified segment {s.name}"),
                           segment=s.name, subject=subject(d), location=d.loc, severity=Severity.CRITICAL)
    if not found:
        yield passed(META, text(f"唯一出入口 {ingresses[0]}，接入互联网，不接入涉密网段",
                                f"one ingress, {ingresses[0]}: on the internet, on no classified segment"))
