"""ISO-LOGICAL: from an internet vantage a service of a non-classified
segment answers that is not declared `exposed` (SPEC §4).

Only an open port is an answer from inside: "closed" and "filtered" are not,
and an ICMP unreachable from a router on the way (which the inbound probe
reports as filtered) is not an answer either.
"""
from __future__ import annotations

from checks._livecommon import (NOTHING_PROBED, conclude, dst_label, dst_segment, join, norm_ip,
                                not_from, probe_label, problem, section, subject,
                                vantage_segment)
from scanner.model import NON_CLASSIFIED, CheckMeta, Severity, fail, text

META = CheckMeta(
    id="ISO-LOGICAL",
    severity=Severity.HIGH,
    title=text("非涉密网络向互联网开放了未声明的服务",
               "Non-classified network exposes an undeclared service to the internet"),
    needs=("inbound",),
    remediation=text(
        "在边界防火墙上关闭该服务的互联网访问；确需开放的，经审批后在清单的 exposed 中声明。",
        "Block internet access to the service at the boundary firewall; if it must be "
        "reachable, have it approved and declare it under the segment's `exposed`."),
    description=text(
        "从互联网位置探测非涉密网段的地址与常用端口：凡开放而未在 exposed 中声明的服务均为违规。",
        "From an internet vantage, probes the addresses and common ports of non-classified "
        "segments: every open service not declared under `exposed` fails."),
)


def _declared(inv) -> set[tuple[str, str, int]]:
    out = set()
    for seg in inv.segments:
        for e in seg.exposed:
            out.update((str(e.address), "tcp", int(port)) for port in e.tcp)
            out.update((str(e.address), "udp", int(port)) for port in e.udp)
    return out


def _banner(p) -> tuple[str, str]:
    b = p.get("banner")
    if not b:
        return "", ""
    b = " ".join(str(b).split())[:80]
    return f"（服务标识：{b}）", f" (banner: {b})"


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if not seg.is_internet:
        yield not_from(META, seg, text("逻辑隔离只能从互联网位置检验",
                                       "logical isolation is judged from an internet vantage"))
        return
    if not any(s.classification == NON_CLASSIFIED for s in inv.segments):
        yield not_from(META, seg, text("清单中没有非涉密网段", "the inventory declares no non-classified segment"))
        return
    declared = _declared(inv)
    probes = []
    for p in section(obs, "inbound").get("probes") or ():
        target = dst_segment(inv, p) if isinstance(p, dict) else None
        if target is not None and target.classification == NON_CLASSIFIED:
            probes.append(p)
    groups: dict = {}
    allowed = []
    for p in probes:
        if p.get("state") != "open":
            continue
        dst = norm_ip(p.get("dst"))
        try:
            key = (dst, str(p.get("proto") or "").lower(), int(p.get("port")))
        except (TypeError, ValueError):
            key = (dst, "", -1)
        zh_b, en_b = _banner(p)
        lbl = dst_label(inv, p)
        if key in declared:
            allowed.append(f"{dst} {probe_label(p)}")
            continue
        groups.setdefault(dst, []).append(text(
            f"从互联网可访问 {lbl['zh-CN']} 的 {probe_label(p)}（开放），该服务未在 exposed 中声明{zh_b}",
            f"{probe_label(p)} on {lbl['en']} is open from the internet and not declared "
            f"exposed{en_b}"))
    fails = [fail(META, ev, segment=seg.name, subject=subject(inv, ip)) for ip, ev in groups.items()]
    targets = {norm_ip(p.get("dst")) for p in probes}
    summary = [text(
        f"从互联网探测非涉密网段 {len(targets)} 个地址的 {len(probes)} 个端口，仅已声明的服务开放",
        f"{len(probes)} ports on {len(targets)} addresses of non-classified segments probed "
        f"from the internet; only declared services answered")]
    if allowed:
        summary.append(text(f"已声明且开放：{join(sorted(allowed))}",
                            f"declared and open: {join(sorted(allowed))}"))
    why = problem(obs, *META.needs) or (None if probes else NOTHING_PROBED)
    yield from conclude(META, seg, fails, why, summary)
