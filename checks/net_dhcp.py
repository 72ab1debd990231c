"""NET-DHCP: a DHCP server that is not declared answers a discovery (SPEC §4).

Reads the "dhcp" section (scanner/probes/dhcp.py): every DHCPOFFER the
vantage's DHCPDISCOVER drew in the wait window.

* One finding per server seen on the wire (source IP + source MAC; its
  server identifiers are named in the evidence).
* A server is declared when its server identifier (or, lacking one, its
  source IP) is in the vantage segment's `dhcp_servers`, and — when that
  address is registered to a device with a MAC — the offer came from that
  MAC (an offer claiming a declared server's address from another MAC is an
  impersonation and fails).
* DHCPv6 servers (offers with "version": 6, from the probe's Solicit) answer
  from their link-local address and name themselves by a DUID: one is
  declared when `dhcp_servers` names its address, or names an address of a
  registered device whose MACs include the advertise's source MAC.
* A segment that does not declare `dhcp_servers` at all (None) has no
  declared server: every offer there fails, as on a segment that declares
  `dhcp_servers: []`. An inventory that wants DHCP on a segment says so.
* Severity high; critical on a classified segment when an offer's router
  option points off the segment (clients would send their traffic to a
  gateway outside it), or is not an address at all.
* A fail is evidence and is reported whatever else went wrong. A pass (no
  undeclared server) needs the probe to have run cleanly and the vantage's
  positive control to work; otherwise the check adds an `error`.
* The internet segment is not the unit's to declare: skipped there.

Host names, domain names and other strings in an offer came from the
network: they are quoted as data and never interpreted.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from netaddr import IPAddress
from netaddr.core import AddrFormatError

from checks import _rogue as R
from scanner.judge.live import (conclude, host_label, interfaces_with_ip, join, norm_ip,
                                norm_mac, section)
from scanner.model import CheckMeta, Finding, Inventory, Severity, text

META = CheckMeta(
    id="NET-DHCP",
    severity=Severity.HIGH,
    title=text("网段内存在未声明的 DHCP 服务器", "Undeclared DHCP server on the segment"),
    needs=("dhcp",),
    remediation=text(
        "找到并关闭该 DHCP 服务（按提供的 MAC 地址定位交换机端口），在交换机上启用 DHCP Snooping，"
        "只信任已声明 DHCP 服务器所在端口；确属合法的服务器须在清单 dhcp_servers 中声明。",
        "Find and stop the DHCP service (locate the switch port by its MAC), enable DHCP "
        "snooping on the switches and trust only the ports of declared servers; a legitimate "
        "server must be declared in the segment's dhcp_servers."),
    description=text(
        "从扫描位置广播一个 DHCPDISCOVER（固定的本地管理客户端 MAC 02:69:73:6f:73:63，广播标志，"
        "从不发送 DHCPREQUEST，不占用地址池），收集等待时间内的全部 DHCPOFFER。"
        "未在网段 dhcp_servers 中声明的服务器即为非法服务器：它可以给终端下发新的网关和 DNS，绕过隔离。",
        "Broadcasts one DHCPDISCOVER from the vantage (fixed locally administered client MAC "
        "02:69:73:6f:73:63, broadcast flag, never a DHCPREQUEST, so no pool is used) and "
        "collects every DHCPOFFER in the wait window. A server not declared in the segment's "
        "dhcp_servers is rogue: it can hand hosts a new gateway and DNS server round the isolation."),
)


def _ip_or_none(v: Any) -> str | None:
    if v in (None, ""):
        return None
    try:
        return str(IPAddress(str(v)))
    except (AddrFormatError, ValueError, TypeError):
        return None


def _strs(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v if x is not None]
    return [str(v)]


def _offers(sec: Mapping[str, Any]) -> list[dict]:
    out = []
    for o in R.listed(sec.get("offers")):
        if not isinstance(o, Mapping):
            continue
        if o.get("version") == 6:
            out.append({
                "version": 6,
                "server_id": str(o.get("server_id") or "")[:400] or None,   # a DUID
                "src_ip": norm_ip(o.get("src_ip")),
                "src_mac": norm_mac(o.get("src_mac")),
                "yiaddr": norm_ip(o.get("yiaddr")),
                "router": [],
                "dns": [norm_ip(r) or r for r in _strs(o.get("dns"))],
                "lease": o.get("lease"),
                "hostname": None,
                "domain": o.get("domain"),
                "count": o.get("count") or 1,
            })
            continue
        out.append({
            "version": 4,
            "server_id": norm_ip(o.get("server_id")),
            "src_ip": norm_ip(o.get("src_ip")),
            "src_mac": norm_mac(o.get("src_mac")),
            "yiaddr": norm_ip(o.get("yiaddr")),
            "router": [norm_ip(r) or r for r in _strs(o.get("router"))],
            "dns": [norm_ip(r) or r for r in _strs(o.get("dns"))],
            "lease": o.get("lease"),
            "hostname": o.get("hostname"),
            "domain": o.get("domain"),
            "count": o.get("count") or 1,
        })
    return out


def _off_segment(seg, addr: str) -> bool:
    ip = _ip_or_none(addr)
    return ip is None or not seg.contains(ip)


def _offer6_text(o: dict) -> dict:
    who = host_label(o["src_ip"], o["src_mac"])
    lease = f"{o['lease']}" if o["lease"] is not None else "-"
    dom_zh = f"，搜索域 {o['domain']!r}" if o["domain"] else ""
    dom_en = f", search domains {o['domain']!r}" if o["domain"] else ""
    return text(
        f"来自 {who} 的 DHCPv6 ADVERTISE：服务器 DUID {o['server_id'] or '-'}，"
        f"分配地址 {o['yiaddr'] or '-'}，DNS {join(o['dns'])}，有效期 {lease} 秒{dom_zh}",
        f"DHCPv6 ADVERTISE from {who}: server DUID {o['server_id'] or '-'}, offered address "
        f"{o['yiaddr'] or '-'}, DNS {join(o['dns'])}, valid lifetime {lease} s{dom_en}")


def _offer_text(o: dict) -> dict:
    if o.get("version") == 6:
        return _offer6_text(o)
    sid = o["server_id"] or "-"
    who = host_label(o["src_ip"], o["src_mac"])
    extra_zh, extra_en = [], []
    if o["hostname"]:
        extra_zh.append(f"主机名 {o['hostname']!r}")
        extra_en.append(f"host name {o['hostname']!r}")
    if o["domain"]:
        extra_zh.append(f"域名 {o['domain']!r}")
        extra_en.append(f"domain {o['domain']!r}")
    lease = f"{o['lease']}" if o["lease"] is not None else "-"
    tail_zh = ("，" + "，".join(extra_zh)) if extra_zh else ""
    tail_en = (", " + ", ".join(extra_en)) if extra_en else ""
    return text(
        f"来自 {who} 的 DHCPOFFER：服务器标识 {sid}，分配地址 {o['yiaddr'] or '-'}，"
        f"网关 {join(o['router'])}，DNS {join(o['dns'])}，租期 {lease} 秒{tail_zh}",
        f"DHCPOFFER from {who}: server identifier {sid}, offered address {o['yiaddr'] or '-'}, "
        f"router {join(o['router'])}, DNS {join(o['dns'])}, lease {lease} s{tail_en}")


def _registered_macs(inv: Inventory, ip: str | None) -> set[str]:
    return {i.mac for _, i in interfaces_with_ip(inv, ip) if i.mac}


def _reasons6(inv: Inventory, seg, declared: set[str], src_ip, src_mac) -> list:
    """A DHCPv6 server answers from its link-local address, and its server id is a
    DUID: it is declared by address, or by the MAC of a device with a declared address."""
    how, reg = R.match_declared(inv, declared, src_ip, {src_mac} if src_mac else set())
    if how == R.IMPERSONATED:
        return [text(
            f"冒充已声明的 DHCP 服务器 {src_ip}：该地址登记的 MAC 为 {join(sorted(reg))}，应答却来自 {src_mac}",
            f"impersonates declared DHCP server {src_ip}: that address is registered with MAC "
            f"{join(sorted(reg))}, the offer came from {src_mac}")]
    if how == R.DECLARED:
        return []
    return [text(
        f"DHCPv6 服务器 {host_label(src_ip, src_mac)} 不在网段 {seg.name} 声明的 DHCP 服务器"
        f"（{join(sorted(declared))}）之中（按地址及登记设备的 MAC 比对）",
        f"DHCPv6 server {host_label(src_ip, src_mac)} is not among the DHCP servers declared for "
        f"segment {seg.name} ({join(sorted(declared))}), by address or by the registered devices' MACs")]


def _reasons(inv: Inventory, seg, declared: set[str] | None, src_ip, src_mac, offers) -> list:
    """Why a server (its offers) is not declared; [] when it is."""
    if declared is None:
        return [text(
            f"网段 {seg.name} 未声明 dhcp_servers，其上任何 DHCP 服务器都未经声明",
            f"segment {seg.name} declares no dhcp_servers: every DHCP server on it is undeclared")]
    if any(o["version"] == 6 for o in offers):
        return _reasons6(inv, seg, declared, src_ip, src_mac)
    reasons = []
    for sid in dict.fromkeys(o["server_id"] or src_ip for o in offers if o["version"] == 4):
        if sid not in declared:
            reasons.append(text(
                f"服务器标识 {sid} 不在网段 {seg.name} 声明的 DHCP 服务器（{join(sorted(declared))}）之中",
                f"server identifier {sid} is not among the DHCP servers declared for segment "
                f"{seg.name} ({join(sorted(declared))})"))
        elif sid == src_ip and src_mac:
            macs = _registered_macs(inv, sid)
            if macs and src_mac not in macs:
                reasons.append(text(
                    f"冒充已声明的 DHCP 服务器 {sid}：该地址登记的 MAC 为 {join(sorted(macs))}，"
                    f"应答却来自 {src_mac}",
                    f"impersonates declared DHCP server {sid}: that address is registered with "
                    f"MAC {join(sorted(macs))}, the offer came from {src_mac}"))
    return reasons


def _aggravate(seg, offers) -> tuple[Severity, list]:
    """Critical on a classified segment when an offer's router lies off the segment."""
    off = [r for o in offers for r in o["router"] if _off_segment(seg, r)] if seg.classified else []
    if not off:
        return META.severity, []
    return Severity.CRITICAL, [text(
        f"提供的网关 {join(off)} 不在涉密网段 {seg.name} 之内：终端的流量将被引出网段",
        f"the offered router {join(off)} lies outside classified segment {seg.name}: "
        "hosts would send their traffic off the segment")]


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    seg, early = R.vantage(META, inv, obs, text("互联网上的 DHCP 服务器不由本单位声明",
                                                "DHCP servers on the internet are not the unit's to declare"))
    if early is not None:
        yield early
        return

    sec = section(obs, "dhcp")
    declared = R.declared_set(seg.dhcp_servers)
    fails, declared_seen = R.judge_senders(
        META, inv, seg, _offers(sec),
        reasons=lambda src_ip, src_mac, offers: _reasons(inv, seg, declared, src_ip, src_mac, offers),
        aggravate=lambda offers: _aggravate(seg, offers),
        describe=_offer_text)

    wait_s = R.wait_text(sec)
    if not fails and not declared_seen:
        summary = [text(f"{wait_s} 秒内未收到任何 DHCP 应答（DHCPOFFER）",
                        f"no DHCP offer in {wait_s} s")]
    else:
        summary = [text(f"{wait_s} 秒内只有已声明的 DHCP 服务器应答：{join(declared_seen)}",
                        f"only declared DHCP servers offered in {wait_s} s: {join(declared_seen)}")]
    v6 = sec.get("v6") if isinstance(sec.get("v6"), Mapping) else None
    if v6 is not None and v6.get("status") != "ok":
        summary.append(text(f"未探测 DHCPv6 服务器：{v6.get('error') or v6.get('status')}",
                            f"DHCPv6 servers were not probed: {v6.get('error') or v6.get('status')}"))
    yield from conclude(META, seg, fails, R.pass_problem(obs, "dhcp", "offers"), summary)
