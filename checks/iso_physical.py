"""ISO-PHYSICAL: from a classified vantage anything outside the segment
answers (a canary, another segment); from another vantage anything inside a
classified segment answers (SPEC §4).

"Outside" means a segment that must be isolated from this one (another
classification or level, the internet, a canary); two classified segments of
the same level may be connected (as INV-BRIDGE judges the inventory).
Answers through a forwarding host on the segment are ISO-BRIDGE's evidence;
this check judges the vantage's own probes: egress (the plan sends them from
every vantage to the canaries and to one address of every other segment, so
a pass needs them), and any inbound probe into a classified segment (extra
evidence; the plan's inbound scan covers non-classified segments). An ICMP
unreachable from a router is not an answer; a TCP RST or port-unreachable
from the destination itself ("refused") is.
"""
from __future__ import annotations

from scanner.judge.live import (NOTHING_PROBED, conclude, destination_of, dst_label, dst_segment,
                                host_label, join, mac_seen_for, must_isolate, norm_ip, not_from,
                                port_of, probe_label, problem, section, subject, vantage_segment)
from scanner.model import CheckMeta, Severity, fail, text

META = CheckMeta(
    id="ISO-PHYSICAL",
    severity=Severity.CRITICAL,
    title=text("涉密网络未实现物理隔离", "Classified network is not physically isolated"),
    needs=("egress", "inbound"),
    remediation=text(
        "立即断开涉密网络与互联网及其他网络之间的一切连接（双网卡、无线网卡、4G 模块、代理、路由），"
        "查明连接途径并按泄密隐患处置。",
        "Cut every connection between the classified network and the internet or other "
        "networks at once (second cards, wireless, 4G modems, proxies, routes); find the "
        "path and handle it as a potential leak."),
    description=text(
        "从涉密网段：本机发往网段外（外部探针、其他网段）的探测不得有任何应答。"
        "从其他网段或互联网：发往涉密网段的探测不得有任何应答。需要 egress 探测（inbound 探测作为补充证据）。",
        "From a classified vantage, no probe to anything outside the segment (a canary, "
        "another segment) may be answered; from any other vantage, nothing inside a "
        "classified segment may answer. Reads egress (and inbound as extra evidence)."),
)

ANSWERED = {"answer", "refused"}


def _answer_words(p) -> tuple[str, str]:
    if p.get("result") == "refused":
        return "以 TCP RST 拒绝", "refused with a TCP RST"
    return "应答", "answered"


def _egress_probes(obs):
    return [p for p in section(obs, "egress").get("probes") or () if isinstance(p, dict)]


def _from_classified(inv, seg, obs):
    """The vantage's own probes to anything it must be isolated from."""
    groups: dict = {}
    reached: dict = {}               # key -> the answered probes (where the leak went)
    probes = [p for p in _egress_probes(obs) if must_isolate(seg, dst_segment(inv, p))]
    for p in probes:
        if p.get("result") not in ANSWERED:
            continue
        dst = norm_ip(p.get("dst"))
        responder = norm_ip(p.get("responder_ip")) or dst
        hop = norm_ip(p.get("first_hop"))
        hop_mac = mac_seen_for(obs, hop)
        carrier = hop if hop and seg.contains(hop) else None
        key = (carrier, hop_mac) if carrier else (responder, None)
        zh_a, en_a = _answer_words(p)
        lbl = dst_label(inv, p)
        reached.setdefault(key, []).append(p)
        via_zh = f"，首跳 {host_label(hop, hop_mac)}" if hop else ""
        via_en = f", first hop {host_label(hop, hop_mac)}" if hop else ""
        groups.setdefault(key, []).append(text(
            f"从涉密网段 {seg.name} 的本机发往 {lbl['zh-CN']} 的 {probe_label(p)} 探测被 {responder} {zh_a}{via_zh}",
            f"{probe_label(p)} probe from this host on classified segment {seg.name} to "
            f"{lbl['en']} was {en_a} by {responder}{via_en}"))
    fails = [fail(META, ev, segment=seg.name,
                  subject=subject(inv, ip, mac, destination=destination_of(inv, reached[(ip, mac)])))
             for (ip, mac), ev in groups.items()]
    summary = text(
        f"从涉密网段 {seg.name} 本机向网段外 {len({p.get('dst') for p in probes})} 个目标发出 "
        f"{len(probes)} 个探测，均无应答：{join(norm_ip(p.get('dst')) or '?' for p in probes)}",
        f"{len(probes)} probes from this host on classified segment {seg.name} to "
        f"{len({p.get('dst') for p in probes})} destinations outside it, none answered: "
        f"{join(norm_ip(p.get('dst')) or '?' for p in probes)}")
    return fails, summary, len(probes)


def _into_classified(inv, seg, obs):
    """Probes from a non-classified or internet vantage into classified segments."""
    groups: dict = {}
    ports: dict = {}                 # classified address -> what answered on it ("443/tcp")
    egress = [p for p in _egress_probes(obs) if must_isolate(seg, dst_segment(inv, p))]
    inbound = [p for p in section(obs, "inbound").get("probes") or ()
               if isinstance(p, dict) and must_isolate(seg, dst_segment(inv, p))]
    for p in egress:
        if p.get("result") not in ANSWERED:
            continue
        dst = norm_ip(p.get("dst"))
        responder = norm_ip(p.get("responder_ip")) or dst
        zh_a, en_a = _answer_words(p)
        lbl = dst_label(inv, p)
        ports.setdefault(dst, []).append(port_of(p))
        groups.setdefault(dst, []).append(text(
            f"从网段 {seg.name} 发往涉密地址 {lbl['zh-CN']} 的 {probe_label(p)} 探测被 {responder} {zh_a}",
            f"{probe_label(p)} probe from {seg.name} to classified address {lbl['en']} "
            f"was {en_a} by {responder}"))
    for p in inbound:
        if p.get("state") != "open":
            continue
        dst = norm_ip(p.get("dst"))
        lbl = dst_label(inv, p)
        ports.setdefault(dst, []).append(port_of(p))
        groups.setdefault(dst, []).append(text(
            f"从网段 {seg.name} 可访问涉密地址 {lbl['zh-CN']} 的 {probe_label(p)} 端口（开放）",
            f"{probe_label(p)} on classified address {lbl['en']} is open from {seg.name}"))
    fails = [fail(META, ev, segment=seg.name, subject=subject(inv, ip, ports=ports[ip]))
             for ip, ev in groups.items()]
    n = len(egress) + len(inbound)
    targets = {norm_ip(p.get("dst")) or "?" for p in egress + inbound}
    summary = text(
        f"从网段 {seg.name} 向涉密网段的 {len(targets)} 个地址发出 {n} 个探测，均无应答：{join(sorted(targets))}",
        f"{n} probes from {seg.name} to {len(targets)} addresses of classified segments, "
        f"none answered: {join(sorted(targets))}")
    return fails, summary, n


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if seg.classified:
        fails, summary, n = _from_classified(inv, seg, obs)
        needs = ("egress",)
    elif not any(s.classified for s in inv.segments):
        yield not_from(META, seg, text("清单中没有涉密网段", "the inventory declares no classified segment"))
        return
    else:
        fails, summary, n = _into_classified(inv, seg, obs)
        needs = ("egress",)
    yield from conclude(META, seg, fails, problem(obs, *needs) or (None if n else NOTHING_PROBED),
                        summary)
