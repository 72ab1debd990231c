"""ING-SINGLE: on a non-classified segment, a host other than the declared
ingress carries packets to the internet by a path that does not pass the
declared ingress (a second exit), or the declared ingress does not carry
them (SPEC §4).

It is about exits, not routers: a host that forwards toward the internet and
whose next hop (the TTL-2 hop of the probe through it) is the ingress is a
router inside the unit, not a second exit. A host whose TTL-2 hop is outside
the unit (the internet, a canary, an undeclared address) is a second exit.
A host that forwards but whose path could not be traced (no TTL-2 hop, or a
hop inside the unit that is not the ingress) is reported as `error` for that
host: it cannot be judged, and is never taken as a pass.

"The ingress does not carry them" rests on absence, so it is a fail only when
the privileges and the local-link controls (ARP) show the probes work;
otherwise it is an error (see scanner/judge/live.py).
"""
from __future__ import annotations

from scanner.judge.live import (NOTHING_PROBED, conclude, dst_label, error_for, host_label, ip_rank, is_own,
                                join, local_problem, mac_seen_for, norm_ip, norm_mac,
                                not_from, outside_class, probe_label, section,
                                sections_problem, segment_for, subject, vantage_segment,
                                destination_of)
from scanner.model import INTERNET, CheckMeta, Severity, error, fail, text

META = CheckMeta(
    id="ING-SINGLE",
    severity=Severity.HIGH,
    title=text("互联网出口不唯一", "More than one exit to the internet"),
    needs=("discovery", "forwarding", "egress"),
    remediation=text(
        "拆除第二出口（私接的 4G/无线路由、双网卡主机、其他宽带线路），使全部互联网流量只经声明的接入网关；"
        "如声明的网关未能转发，检查其线路与策略。",
        "Remove the second exit (a private 4G or wireless router, a dual-homed host, another "
        "line) so all internet traffic passes the declared ingress; if the declared ingress "
        "does not carry traffic, check its line and policy."),
    description=text(
        "从非涉密网段，经每台已发现主机向外部探针发送转发探测：除声明的接入网关外，"
        "转发路径不经该网关而直达互联网的主机即第二出口；本机经网关访问外部探针无应答亦为违规。",
        "From a non-classified vantage, forwarding probes toward the canaries through every "
        "host found: a host other than the declared ingress whose path reaches the internet "
        "without passing the ingress is a second exit; the ingress not carrying the "
        "vantage's own probes to the canary fails too."),
)

CARRIED = {"answer", "refused"}


def _internet_bound(inv, ps):
    # a /22 has 11,000 probes toward a dozen destinations: classify each once
    memo: dict = {}
    out = []
    for p in ps:
        if not isinstance(p, dict):
            continue
        key = (p.get("dst_kind"), p.get("dst"), p.get("dst_segment"))
        try:
            cls = memo[key]
        except KeyError:
            cls = memo[key] = outside_class(inv, p)
        except TypeError:                 # an unhashable value from a hostile bundle
            cls = outside_class(inv, p)
        if cls == INTERNET:
            out.append(p)
    return out


def _leaves(inv, hop: str) -> bool:
    """A hop outside the unit: a canary, the internet, or undeclared."""
    s = segment_for(inv, hop)
    return s is None or s.is_internet


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if seg.classified or seg.is_internet:
        yield not_from(META, seg, text("单一出口针对非涉密网段", "the single-exit rule is about non-classified segments"))
        return
    gw = inv.device(seg.ingress) if seg.ingress else None
    if gw is None:
        yield error_for(META, seg, text(
            f"网段 {seg.name} 未声明可用的接入网关（{seg.ingress or '无'}），见 INV-INGRESS",
            f"segment {seg.name} declares no usable ingress ({seg.ingress or 'none'}); see INV-INGRESS"))
        return
    gw_ips = {str(i.ip) for i in gw.interfaces if i.ip is not None}
    # a path through the ingress meets it on the unit's side; a next hop at its
    # internet-side address means the packet is already on the internet
    gw_inside = {str(i.ip) for i in gw.interfaces if i.ip is not None
                 and not getattr(inv.segment(i.segment), "is_internet", False)}
    gw_macs = {i.mac for i in gw.interfaces if i.mac}
    # A probe addressed to the ingress itself says nothing about the exit: the
    # ingress answers for its own internet-side address on any interface, so
    # its TTL-2 hop is that address whichever way the packet went.
    fwd = [p for p in _internet_bound(inv, section(obs, "forwarding").get("probes") or ())
           if norm_ip(p.get("dst")) not in gw_ips]
    egress = [p for p in _internet_bound(inv, section(obs, "egress").get("probes") or ())
              if norm_ip(p.get("dst")) not in gw_ips]

    fails, untraced, routers, carriers = [], [], [], []
    by_host: dict = {}
    for p in fwd:
        via = (norm_ip(p.get("via_ip")), norm_mac(p.get("via_mac")))
        if is_own(obs, *via):
            continue
        # one host per MAC: its IPv4 and IPv6 probes are judged together
        by_host.setdefault(via[1] or via[0], []).append(p)
    for ps in by_host.values():
        proved = [p for p in ps if p.get("result") in ("answer", "time-exceeded")]
        ips = sorted({ip for p in ps if (ip := norm_ip(p.get("via_ip")))}, key=ip_rank)
        named = sorted({ip for p in proved if (ip := norm_ip(p.get("via_ip")))}, key=ip_rank) or ips
        ip, mac = (named[0] if named else None), norm_mac(ps[0].get("via_mac"))
        label = host_label(ip, mac)
        is_gw = any(i in gw_ips for i in ips) or (mac is not None and mac in gw_macs)
        if is_gw:
            carriers += [p for p in ps if p.get("result") == "answer"]
            continue
        if not proved:
            continue
        hops = {norm_ip(p.get("hop2")) for p in ps if p.get("hop2")}
        outside = sorted(h for h in hops if h not in gw_inside and _leaves(inv, h))
        inside = sorted(h for h in hops if h not in gw_inside and not _leaves(inv, h))
        lines = []
        for p in proved:
            lbl = dst_label(inv, p)
            p_ip = norm_ip(p.get("via_ip")) or ip
            p_label = host_label(p_ip, mac)
            r_ip, r_mac = norm_ip(p.get("responder_ip")), norm_mac(p.get("responder_mac"))
            who = p_label if r_ip in (None, p_ip) else host_label(r_ip, r_mac)
            how_zh = "目标应答" if p["result"] == "answer" else f"{who} 返回 ICMP 超时"
            how_en = "the destination answered" if p["result"] == "answer" else f"ICMP time-exceeded from {who}"
            hop2 = norm_ip(p.get("hop2"))
            lines.append(text(
                f"经 {p_label} 发往 {lbl['zh-CN']} 的 {probe_label(p)} 探测（TTL={p.get('ttl')}）：{how_zh}"
                f"；第二跳 {hop2 or '未知'}",
                f"{probe_label(p)} probe to {lbl['en']} through {p_label}, TTL {p.get('ttl')}: "
                f"{how_en}; second hop {hop2 or 'unknown'}"))
        if outside:
            lines.append(text(
                f"其路径经 {join(outside)} 出网，未经声明的接入网关 {gw.name}（{join(sorted(gw_inside))}）：第二出口",
                f"its path leaves by {join(outside)}, not through the declared ingress {gw.name} "
                f"({join(sorted(gw_inside))}): a second exit"))
            fails.append(fail(META, lines, segment=seg.name,
                              subject=subject(inv, ip, mac, destination=destination_of(inv, proved))))
        elif inside or not hops:
            lines.append(text(
                f"该主机向互联网转发，但其路径未能追踪到声明的接入网关 {gw.name}（第二跳：{join(inside) if inside else '未知'}），无法判定",
                f"the host forwards toward the internet but its path could not be traced to the "
                f"declared ingress {gw.name} (second hop: {join(inside) if inside else 'unknown'}); "
                f"not judged"))
            untraced.append(error(META, lines, segment=seg.name, subject=subject(inv, ip, mac)))
        else:
            routers.append(label)

    own_answers = [p for p in egress if p.get("result") in CARRIED]
    carried = bool(own_answers or carriers)
    local = local_problem(obs)
    if not carried and local is None and sections_problem(obs, "egress") is None:
        gw_if = next((i for i in gw.interfaces if i.segment == seg.name), None)
        gw_ip = str(gw_if.ip) if gw_if is not None and gw_if.ip is not None else None
        gw_mac = mac_seen_for(obs, gw_ip) or (gw_if.mac if gw_if is not None else None)
        if egress or [p for p in fwd if norm_ip(p.get("via_ip")) in gw_ips]:
            tried = join(sorted({f"{norm_ip(p.get('dst'))} {probe_label(p)}" for p in egress}))
            fails.append(fail(META, text(
                f"声明的接入网关 {gw.name}（{host_label(gw_ip, gw_mac)}）未转发发往外部探针的探测：{tried} 均无应答",
                f"the declared ingress {gw.name} ({host_label(gw_ip, gw_mac)}) does not carry "
                f"probes to the canary: no answer to {tried}"),
                segment=seg.name, subject=subject(inv, gw_ip, gw_mac, gw.name)))
        else:
            untraced.append(error_for(META, seg, NOTHING_PROBED))

    why = local or sections_problem(obs, *META.needs)
    summary = [text(
        f"经 {len(by_host)} 台主机向互联网发送转发探测：除接入网关 {gw.name} 外没有第二出口；"
        f"本机经网关访问外部探针得到 {len(own_answers)} 个应答",
        f"forwarding probes toward the internet through {len(by_host)} hosts: no exit other "
        f"than the declared ingress {gw.name}; {len(own_answers)} of this host's probes to "
        f"the canary were answered")]
    if routers:
        summary.append(text(f"单位内部路由器（下一跳为接入网关，不是第二出口）：{join(routers)}",
                            f"routers inside the unit (next hop is the ingress, not a second exit): "
                            f"{join(routers)}"))
    yield from conclude(META, seg, fails + untraced, why, summary)
