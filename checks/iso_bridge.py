"""ISO-BRIDGE: a host on a classified segment forwards packets off the
segment, or one host is seen on two segments that must be isolated (SPEC §4).

Two levels of forwarding evidence are kept apart in the finding:
* "forwarding enabled with a route toward X": the host answered a probe
  addressed (at layer 2) to it and (at layer 3) to X with ICMP time-exceeded
  — the TTL check comes before any forward policy, so this proves forwarding
  is on and the host has a route toward X, not that packets get through;
* "packets cross": X itself answered a probe sent through the host.
On a classified segment either is a breach. A destination-unreachable from
the host says it routes but has no path: not a breach by itself. A declared
one-way transfer device into this segment forwards by design: its
time-exceeded is no breach (XFER-ONEWAY judges its direction), packets that
cross through it are.

Third, the link itself: from a classified or non-classified vantage the
registered addresses of every segment that must be isolated from it are
asked for by ARP (their IPv6 addresses by neighbour solicitation, where the
vantage's segment declares IPv6), and probed (ICMP echo, TCP) through whoever
answered (forwarding "claims", probes marked "claim"). A dual-homed workstation with
forwarding off still answers on the office wire for its classified address
(Linux answers ARP for any local address on any interface, arp_ignore=0):
* on a non-classified vantage, a station answering for a classified address
  is ISO-BRIDGE (critical), naming the classified device, the local station
  and what it answered; a registered router, gateway or firewall of the
  segment answering is proxy ARP (it routes the address elsewhere) and fails
  only when the classified address answered through it;
* on a classified vantage any station answering for an isolated segment's
  address fails (nothing routes there).

The second rule (one host seen on two segments that must be isolated) needs
two vantages: the report joins their bundles and fails ISO-BRIDGE for a MAC
really seen on both. One vantage sees one segment: a registered device that
merely answers on the wrong segment is DEV-MISPLACED (critical where it
crosses an isolation boundary), not a bridge.
"""
from __future__ import annotations

from scanner.judge.live import (NOTHING_PROBED, ROUTER_KINDS, a_probe, conclude, device_of,
                                dst_label, dst_segment, host_label, hosts, interfaces_with_mac,
                                ip_rank, is_own, join, local_gate, merge_by_station, must_isolate,
                                norm_ip, norm_mac, not_from, probe_label, problem, section,
                                subject, transfer_macs, vantage_segment, destination_of)
from scanner.model import CheckMeta, Severity, Subject, fail, text

META = CheckMeta(
    id="ISO-BRIDGE",
    severity=Severity.CRITICAL,
    title=text("涉密网段存在跨网桥接或转发主机", "Host bridges or forwards off a classified segment"),
    needs=("discovery", "forwarding"),
    # one host bridging the classified segment to two others is two findings (the
    # report's cross-vantage ones name the other segment)
    fingerprint=("identity", "peer_segment"),
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
              if isinstance(p, dict) and not p.get("claim")
              and must_isolate(seg, dst_segment(inv, p))]
    by_host: dict = {}
    routes_only = set()
    transfers = transfer_macs(inv, seg)
    excused = set()
    for p in probes:
        via_ip, via_mac = norm_ip(p.get("via_ip")), norm_mac(p.get("via_mac"))
        if is_own(obs, via_ip, via_mac):
            continue
        if via_mac in transfers and p.get("result") == "time-exceeded":
            # a declared one-way transfer forwards by design; the TTL check comes
            # before its firewall, so this is no breach (XFER-ONEWAY judges it)
            excused.add(f"{transfers[via_mac].name} ({host_label(via_ip, via_mac)})")
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
                          segment=seg.name,
                          subject=subject(inv, ip, mac, destination=destination_of(inv, ps))))
    vias = {(norm_ip(p.get("via_ip")), norm_mac(p.get("via_mac"))) for p in probes}
    summary = [text(
        f"经 {len(vias)} 台主机向 {len({p.get('dst') for p in probes})} 个网段外目标发出 {len(probes)} 个转发探测，"
        f"没有主机转发",
        f"{len(probes)} forwarding probes through {len(vias)} hosts toward "
        f"{len({p.get('dst') for p in probes})} destinations off the segment; no host forwarded")]
    if excused:
        summary.append(text(
            f"已登记的单向导入设备按设计转发（TTL=1 超时不构成违规，由 XFER-ONEWAY 判定其方向）：{join(sorted(excused))}",
            f"declared one-way transfer devices forward by design (their TTL-1 time-exceeded is no "
            f"breach; XFER-ONEWAY judges the direction): {join(sorted(excused))}"))
    if routes_only:
        summary.append(text(
            f"以下主机返回“目标不可达”（有路由功能但无通路，本身不构成违规）：{join(sorted(routes_only))}",
            f"these hosts answered destination-unreachable (they route but have no path; "
            f"not a breach by itself): {join(sorted(routes_only))}"))
    return fails, summary, probes


def _station_ip(obs, mac, probes) -> str | None:
    """The address a station answering on this link is known by here."""
    for p in probes:
        if norm_mac(p.get("via_mac")) == mac and norm_ip(p.get("via_ip")):
            return norm_ip(p.get("via_ip"))
    ips = [h["ip"] for h in hosts(obs) if h["mac"] == mac and h["ip"]]
    return min(ips, key=ip_rank) if ips else None     # IPv4, then global IPv6, then link-local


def _is_router_here(inv, seg, mac) -> bool:
    return any(d.kind in ROUTER_KINDS and i.segment == seg.name
               for d, i in interfaces_with_mac(inv, mac))


def _claim_fails(inv, seg, obs) -> tuple[list, int]:
    """Stations of this link that answered ARP for an isolated segment's
    registered address (and what that address answered through them)."""
    fwd = section(obs, "forwarding")
    probes = [p for p in fwd.get("probes") or () if isinstance(p, dict) and p.get("claim")]
    fails = []
    for c in fwd.get("claims") or ():
        if not isinstance(c, dict):
            continue
        ip, dev = norm_ip(c.get("ip")), c.get("device")
        other = inv.segment(c.get("segment")) if c.get("segment") else None
        if other is None or not must_isolate(seg, other):
            continue
        for mac in (norm_mac(m) for m in c.get("macs") or ()):
            if mac is None or is_own(obs, None, mac):
                continue
            mine = [p for p in probes if norm_mac(p.get("via_mac")) == mac and norm_ip(p.get("dst")) == ip]
            answered = [p for p in mine if p.get("result") == "answer"]
            if not seg.classified and _is_router_here(inv, seg, mac) and not answered:
                continue          # proxy ARP of the segment's router: it routes there, nothing crossed
            local = _station_ip(obs, mac, probes)
            who = host_label(local, mac)
            cls = "涉密" if other.classified else "隔离"
            ask_zh, ask_en = (("邻居请求（IPv6 ND）", "neighbour solicitation (IPv6 ND)") if ":" in ip
                              else ("ARP 请求", "ARP"))
            lines = [text(
                f"{who} 在本网段（{seg.name}）上应答了 {ip} 的{ask_zh}，该地址登记为{cls}网段 {other.name} 的设备 {dev}",
                f"{who} answered {ask_en} on this link ({seg.name}) for {ip}, registered to {dev} on "
                f"the {other.classification} segment {other.name}")]
            for p in answered:
                lines.append(text(
                    f"{ip} 应答了以二层地址发往 {who} 的 {probe_label(p)} 探测：该地址在本网段可达",
                    f"{ip} answered {a_probe(p)} framed to {who}: the address is reachable on this link"))
            if not answered and mine:
                lines.append(text(f"经 {who} 发往 {ip} 的探测未获应答", f"probes to {ip} framed to {who} got no answer"))
            if not seg.classified:
                lines.append(text(
                    f"一机两用或违规接入：{dev} 很可能有一块网卡接入本网段（{who}），或整机被移到了本网段",
                    f"one machine on two networks: {dev} very likely has a card on this segment "
                    f"({who}), or was moved here"))
            d = device_of(inv, local, mac)
            fails.append(fail(META, lines, segment=seg.name,
                              subject=Subject(ip=local or ip, mac=mac,
                                              device=d.name if d is not None else dev)))
    return fails, int(fwd.get("claims_asked") or 0)


def _claims_planned(obs) -> bool | None:
    """Whether this bundle's plan asked for the isolated segments' addresses
    (None: a bundle from before that probe existed)."""
    plan = obs.get("plan")
    if not isinstance(plan, dict) or "claims" not in plan:
        return None
    return bool(plan.get("claims"))


def _from_open_segment(inv, seg, obs):
    """A non-classified vantage: the link rule only."""
    planned = _claims_planned(obs)
    if not planned:
        yield not_from(META, seg, text(
            "本网段以外无须隔离的涉密网段登记地址可询问；转发探测从涉密网段进行" if planned is False else
            "转发探测从涉密网段进行；同一主机出现在两个隔离网段由报告合并各探测点结果判定",
            "no registered address of a classified segment to ask for on this link; forwarding "
            "is probed from classified segments" if planned is False else
            "forwarding is probed from classified segments; one host seen on two isolated "
            "segments is judged by the report across vantages"))
        return
    fails, asked = _claim_fails(inv, seg, obs)
    why = local_gate(obs, "discovery", "forwarding")
    if why is None and not asked:
        why = text("计划询问的涉密地址未被询问（转发探测未记录）",
                   "the classified addresses planned were not asked for (the forwarding probe "
                   "did not record them)")
    yield from conclude(META, seg, merge_by_station(fails), why, text(
        f"在本网段上以 ARP 询问了 {asked} 个涉密网段登记地址，无主机应答（无一机两用迹象）",
        f"{asked} registered addresses of classified segments were asked for by ARP on this "
        f"link: no station answered (no sign of a machine on both networks)"))


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if not seg.classified and not seg.is_internet:
        yield from _from_open_segment(inv, seg, obs)
        return
    if not seg.classified:
        yield not_from(META, seg, text(
            "转发探测从涉密网段进行；同一主机出现在两个隔离网段由报告合并各探测点结果判定",
            "forwarding is probed from classified segments; one host seen on two isolated "
            "segments is judged by the report across vantages"))
        return
    fails, summary, probes = _forwarders(inv, seg, obs)
    claimed, asked = _claim_fails(inv, seg, obs)
    if asked:
        summary.append(text(f"在本网段上以 ARP 询问了 {asked} 个须隔离网段的登记地址",
                            f"{asked} registered addresses of segments that must be isolated "
                            f"from this one were asked for by ARP on this link"))
    empty = NOTHING_PROBED if not probes and hosts(obs) else None
    yield from conclude(META, seg, merge_by_station(fails + claimed),
                        problem(obs, *META.needs) or empty, summary)
