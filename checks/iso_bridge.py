"""ISO-BRIDGE: a host on a classified segment forwards packets off the
segment, or one host is seen on two segments that must be isolated (SPEC §4).

Two levels of forwarding evidence are kept apart in the finding:
* "forwarding enabled with a route toward X": the host answered a probe
  addressed (at layer 2) to it and (at layer 3) to X with ICMP time-exceeded
  — the TTL check comes before any forward policy, so this proves forwarding
  is on and the host has a route toward X, not that packets get through;
* "packets cross": X itself answered a probe sent through the host.
On a classified segment either is a breach. A destination-unreachable from
the host says it routes but has no path: not a breach by itself.

The second rule (one host seen on two segments that must be isolated) needs
two vantages: the report joins their bundles and fails ISO-BRIDGE for a MAC
really seen on both. One vantage sees one segment: a registered device that
merely answers on the wrong segment is DEV-MISPLACED (critical where it
crosses an isolation boundary), not a bridge.
"""
from __future__ import annotations

from checks._livecommon import (NOTHING_PROBED, a_probe, conclude, dst_label, dst_segment,
                                host_label, hosts, is_own, join, merge_by_station,
                                must_isolate, norm_ip, norm_mac, not_from, probe_label,
                                problem, section, subject, vantage_segment)
from scanner.model import CheckMeta, Severity, fail, text

META = CheckMeta(
    id="ISO-BRIDGE",
    severity=Severity.CRITICAL,
    title=text("涉密网段存在跨网桥接或转发主机", "Host bridges or forwards off a classified segment"),
    needs=("discovery", "forwarding"),
    remediation=text(
        "关闭该主机的 IP 转发，拆除其连接其他网络的网卡或链路（双网卡、无线、4G）；"
        "查明已转发的流量并按泄密隐患处置。",
        "Turn IP forwarding off on the host and remove its link to the other network "
        "(second card, wireless, 4G); find out what it carried and handle it as a "
        "potential leak."),
    description=text(
        "从涉密网段，经每台已发现主机（二层地址指向该主机）向外部探针和其他网段发送 TTL=1 与完整 TTL 的探测："
        "TTL=1 的 ICMP 超时说明该主机开启转发且有通往目标的路由；目标应答说明数据包确已穿越。"
        "同一主机（MAC）在两个必须隔离的网段上被发现时，由报告合并各探测点结果判定。",
        "From a classified vantage, probes addressed at layer 2 to every host found and at "
        "layer 3 to canaries and other segments, with TTL 1 and a full TTL: a TTL-1 ICMP "
        "time-exceeded proves the host forwards with a route there; an answer from the "
        "destination proves packets cross. One host (MAC) seen on two segments that must "
        "be isolated is judged by the report, which joins the vantages' bundles."),
)

PROVES = {"answer": 0, "time-exceeded": 1}   # evidence level, strongest first


def _forwarding_line(inv, p, via):
    lbl = dst_label(inv, p)
    ttl = p.get("ttl")
    hop2 = norm_ip(p.get("hop2"))
    h2_zh = f"，第二跳 {hop2}" if hop2 else ""
    h2_en = f", second hop {hop2}" if hop2 else ""
    if p.get("result") == "answer":
        return text(
            f"数据包已穿越：经 {via} 转发、发往 {lbl['zh-CN']} 的 {probe_label(p)} 探测（TTL={ttl}）得到目标应答{h2_zh}",
            f"packets cross: {lbl['en']} answered {a_probe(p)} sent through "
            f"{via}, TTL {ttl}{h2_en}")
    r_ip = norm_ip(p.get("responder_ip"))
    r_mac = norm_mac(p.get("responder_mac"))
    dst = norm_ip(p.get("dst"))
    same = (r_ip is None and r_mac is None) or r_ip == norm_ip(p.get("via_ip")) or (
        r_mac is not None and r_mac == norm_mac(p.get("via_mac")))
    if same:
        return text(
            f"已开启转发且有通往 {lbl['zh-CN']} 的路由：{via} 对发往 {dst} 的 "
            f"TTL={ttl} {probe_label(p)} 探测返回 ICMP 超时{h2_zh}",
            f"forwarding enabled with a route toward {lbl['en']}: ICMP time-exceeded from "
            f"{via} for {a_probe(p)} to {dst}, TTL {ttl}{h2_en}")
    responder = host_label(r_ip, r_mac)
    return text(
        f"已开启转发且有通往 {lbl['zh-CN']} 的路由：经 {via} 发往 {dst} 的 TTL={ttl} {probe_label(p)} 探测"
        f"在其后的 {responder} 处超时（数据包已离开本网段）{h2_zh}",
        f"forwarding enabled with a route toward {lbl['en']}: {a_probe(p)} to "
        f"{dst} sent through {via}, TTL {ttl}, expired beyond it at {responder} "
        f"(it left the segment){h2_en}")


def _forwarders(inv, seg, obs):
    probes = [p for p in section(obs, "forwarding").get("probes") or ()
              if isinstance(p, dict) and must_isolate(seg, dst_segment(inv, p))]
    by_host: dict = {}
    routes_only = set()
    for p in probes:
        via_ip, via_mac = norm_ip(p.get("via_ip")), norm_mac(p.get("via_mac"))
        if is_own(obs, via_ip, via_mac):
            continue
        if p.get("result") in PROVES:
            by_host.setdefault((via_ip, via_mac), []).append(p)
        elif p.get("result") == "unreachable" and ":" not in str(p.get("dst") or ""):
            # (over IPv6 Linux answers "no route" even with forwarding off: it
            # says nothing about routing there, so only IPv4 ones are noted)
            routes_only.add(host_label(via_ip, via_mac))
    fails = []
    for (ip, mac), ps in by_host.items():
        ps.sort(key=lambda p: (PROVES[p["result"]], str(p.get("dst")), probe_label(p)))
        fails.append(fail(META, [_forwarding_line(inv, p, host_label(ip, mac)) for p in ps],
                          segment=seg.name, subject=subject(inv, ip, mac)))
    vias = {(norm_ip(p.get("via_ip")), norm_mac(p.get("via_mac"))) for p in probes}
    summary = [text(
        f"经 {len(vias)} 台主机向 {len({p.get('dst') for p in probes})} 个网段外目标发出 {len(probes)} 个转发探测，"
        f"没有主机转发",
        f"{len(probes)} forwarding probes through {len(vias)} hosts toward "
        f"{len({p.get('dst') for p in probes})} destinations off the segment; no host forwarded")]
    if routes_only:
        summary.append(text(
            f"以下主机返回“目标不可达”（有路由功能但无通路，本身不构成违规）：{join(sorted(routes_only))}",
            f"these hosts answered destination-unreachable (they route but have no path; "
            f"not a breach by itself): {join(sorted(routes_only))}"))
    return fails, summary, probes


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if not seg.classified:
        yield not_from(META, seg, text(
            "转发探测从涉密网段进行；同一主机出现在两个隔离网段由报告合并各探测点结果判定",
            "forwarding is probed from classified segments; one host seen on two isolated "
            "segments is judged by the report across vantages"))
        return
    fails, summary, probes = _forwarders(inv, seg, obs)
    empty = NOTHING_PROBED if not probes and hosts(obs) else None
    yield from conclude(META, seg, merge_by_station(fails), problem(obs, *META.needs) or empty,
                        summary)
