"""NET-IPV6-RA: an IPv6 router that is not declared advertises itself (SPEC §4).

Reads the "ra" section (scanner/probes/ra.py): the Router Advertisements
that the vantage's router solicitation drew, plus those the passive
listener heard during the scan.

* One finding per advertising router (source address + MAC).
* A router is declared when the vantage segment's `ipv6_routers` names its
  source address, or names an address (link-local or global) registered to a
  device whose MAC is the advert's MAC — a router advertises from its
  link-local address, an inventory usually declares its global one. Both the
  source link-layer option and the Ethernet source must be that device's
  MACs. An advert from a declared address but another MAC than the one
  registered for it is an impersonation and fails.
* A segment that does not declare `ipv6_routers` (None) has no declared
  router, like `ipv6_routers: []`: every advert there fails. An IPv4-only
  segment is exactly where a rogue router opens an unwatched IPv6 path.
* Severity high; critical on a classified segment when the advert offers a
  default route: router lifetime > 0, or a route information option for ::/0
  with a lifetime > 0. Prefixes alone (lifetime 0) still give hosts global
  addresses and stay high.
* A fail is evidence and is reported whatever else went wrong. A pass (no
  undeclared router) needs the solicitation to have run cleanly, the
  passive listener not to have failed (one that was not started is noted),
  and the vantage's positive control to work; otherwise an `error` is added.
* The internet segment is not the unit's to declare: skipped there.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from checks import _rogue as R
from scanner.judge.live import conclude, host_label, join, norm_ip, norm_mac, section
from scanner.model import CheckMeta, Finding, Inventory, Severity, text

META = CheckMeta(
    id="NET-IPV6-RA",
    severity=Severity.HIGH,
    title=text("网段内存在未声明的 IPv6 路由器（路由通告）",
               "Undeclared IPv6 router advertises itself on the segment"),
    needs=("ra",),
    remediation=text(
        "找到并关闭发送路由通告的设备或服务（按 MAC 地址定位交换机端口），在交换机上启用 RA Guard，"
        "不使用 IPv6 的终端关闭 IPv6 或拒收路由通告（accept_ra=0）；合法路由器须在清单 ipv6_routers 中声明。",
        "Find and stop the device or service sending router advertisements (locate the switch "
        "port by its MAC), enable RA Guard on the switches, and on hosts that do not use IPv6 "
        "disable it or refuse advertisements (accept_ra=0); a legitimate router must be declared "
        "in the segment's ipv6_routers."),
    description=text(
        "从扫描位置向 ff02::2 发送路由器请求，并在整个扫描期间被动监听路由通告。"
        "未在网段 ipv6_routers 中声明的路由器即为非法路由器：终端会经它配置 IPv6 地址和默认路由，"
        "使“仅 IPv4 隔离”的网段出现一条 IPv6 通路。",
        "Sends a router solicitation to ff02::2 from the vantage and listens for router "
        "advertisements during the whole scan. A router not declared in the segment's "
        "ipv6_routers is rogue: hosts configure IPv6 addresses and a default route through it, "
        "opening an IPv6 path out of an 'IPv4-isolated' segment."),
)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _adverts(sec: Mapping[str, Any]) -> list[dict]:
    out = []
    for a in R.listed(sec.get("adverts")):
        if not isinstance(a, Mapping):
            continue
        out.append({
            "src_ip": norm_ip(a.get("src_ip")),
            "src_mac": norm_mac(a.get("src_mac")),
            "eth_src": norm_mac(a.get("eth_src")),
            "router_lifetime": _int(a.get("router_lifetime")),
            "hop_limit": _int(a.get("hop_limit")),
            "prefixes": [p for p in R.listed(a.get("prefixes")) if isinstance(p, Mapping)],
            "routes": [r for r in R.listed(a.get("routes")) if isinstance(r, Mapping)],
            "rdnss": [str(x) for x in R.listed(a.get("rdnss"))],
            "dnssl": [str(x) for x in R.listed(a.get("dnssl"))],
            "managed": bool(a.get("managed")),
            "other": bool(a.get("other")),
            "seen": [str(x) for x in R.listed(a.get("seen"))],
        })
    return out


def _default_route(a: dict) -> bool:
    if (a["router_lifetime"] or 0) > 0:
        return True
    return any(str(r.get("prefix")) in ("::/0", "::0/0") and (_int(r.get("lifetime")) or 0) > 0
               for r in a["routes"])


def _advert_text(a: dict) -> dict:
    who = host_label(a["src_ip"], a["src_mac"])
    pre = join(f"{p.get('prefix')} (valid {p.get('valid')} s, preferred {p.get('preferred')} s)"
               for p in a["prefixes"])
    pre_zh = join(f"{p.get('prefix')}（有效 {p.get('valid')} 秒，首选 {p.get('preferred')} 秒）"
                  for p in a["prefixes"])
    rl = a["router_lifetime"]
    flags = "".join(f for f, on in (("M", a["managed"]), ("O", a["other"])) if on) or "-"
    seen_en = join(a["seen"]) if a["seen"] else "-"
    seen_zh = join({"solicited": "请求应答", "passive": "被动监听"}.get(s, s) for s in a["seen"]) \
        if a["seen"] else "-"
    extra_en = f", DNSSL {join(a['dnssl'])}" if a["dnssl"] else ""
    extra_zh = f"，DNSSL {join(a['dnssl'])}" if a["dnssl"] else ""
    return text(
        f"来自 {who} 的路由通告（{seen_zh}）：路由器生存期 {rl if rl is not None else '-'} 秒，"
        f"前缀 {pre_zh}，RDNSS {join(a['rdnss'])}{extra_zh}，标志 {flags}",
        f"router advertisement from {who} ({seen_en}): router lifetime "
        f"{rl if rl is not None else '-'} s, prefixes {pre}, RDNSS {join(a['rdnss'])}{extra_en}, "
        f"flags {flags}")


def _reasons(inv: Inventory, seg, declared: set[str] | None, a: dict) -> list:
    if declared is None:
        return [text(f"网段 {seg.name} 未声明 ipv6_routers，其上任何发送路由通告的设备都未经声明",
                     f"segment {seg.name} declares no ipv6_routers: every router advertising on it "
                     "is undeclared")]
    macs = {m for m in (a["src_mac"], a["eth_src"]) if m}
    how, reg = R.match_declared(inv, declared, a["src_ip"], macs)
    if how == R.IMPERSONATED:
        return [text(
            f"冒充已声明的路由器 {a['src_ip']}：该地址登记的 MAC 为 {join(sorted(reg))}，"
            f"通告却来自 {join(sorted(macs))}",
            f"impersonates declared router {a['src_ip']}: that address is registered with MAC "
            f"{join(sorted(reg))}, the advert came from {join(sorted(macs))}")]
    if how == R.DECLARED:
        return []
    return [text(
        f"{host_label(a['src_ip'], a['src_mac'])} 不在网段 {seg.name} 声明的 IPv6 路由器"
        f"（{join(sorted(declared))}）之中（按地址及登记设备的 MAC 比对）",
        f"{host_label(a['src_ip'], a['src_mac'])} is not among the IPv6 routers declared for "
        f"segment {seg.name} ({join(sorted(declared))}), by address or by the registered "
        "devices' MACs")]


def _router_reasons(inv: Inventory, seg, declared: set[str] | None, adverts: list[dict]) -> list:
    """Why a router (its adverts) is not declared, each reason once; [] when it is."""
    reasons = []
    for a in adverts:
        reasons += [r for r in _reasons(inv, seg, declared, a) if r not in reasons]
    return reasons


def _aggravate(seg, adverts: list[dict]) -> tuple[Severity, list]:
    """Critical on a classified segment when an advert offers a default route;
    a hop limit other than 255 is noted."""
    severity, more = META.severity, []
    if seg.classified and any(_default_route(a) for a in adverts):
        severity = Severity.CRITICAL
        more.append(text(
            f"该通告在涉密网段 {seg.name} 上提供默认路由：终端会经它把 IPv6 流量引出网段",
            f"it offers a default route on classified segment {seg.name}: hosts would send "
            "their IPv6 traffic off the segment through it"))
    for a in adverts:
        if a["hop_limit"] is not None and a["hop_limit"] != 255:
            more.append(text(
                f"跳数限制为 {a['hop_limit']}（非 255），遵循 RFC 4861 的主机会忽略该通告，但发送者仍是非法路由器",
                f"hop limit {a['hop_limit']} (not 255): hosts following RFC 4861 ignore it, "
                "but the sender is still a rogue router"))
            break
    return severity, more


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    seg, early = R.vantage(META, inv, obs, text("互联网上的路由器不由本单位声明",
                                                "routers on the internet are not the unit's to declare"))
    if early is not None:
        yield early
        return

    sec = section(obs, "ra")
    declared = R.declared_set(seg.ipv6_routers)
    fails, declared_seen = R.judge_senders(
        META, inv, seg, _adverts(sec),
        reasons=lambda _ip, _mac, adverts: _router_reasons(inv, seg, declared, adverts),
        aggravate=lambda adverts: _aggravate(seg, adverts),
        describe=_advert_text)

    wait_s = R.wait_text(sec)
    passive = sec.get("passive") if isinstance(sec.get("passive"), Mapping) else {}
    secs = passive.get("seconds")
    if passive.get("status") == "ok":
        listen_zh = f"，并被动监听 {secs:g} 秒" if isinstance(secs, (int, float)) else "，并被动监听"
        listen_en = f", listening passively for {secs:g} s" if isinstance(secs, (int, float)) \
            else ", listening passively"
    else:
        listen_zh, listen_en = "（未被动监听）", " (no passive listening)"
    if not fails and not declared_seen:
        summary = text(f"发出路由器请求后 {wait_s} 秒内未收到任何路由通告{listen_zh}",
                       f"no router advertisement in {wait_s} s after a router solicitation{listen_en}")
    else:
        summary = text(f"只有已声明的 IPv6 路由器发送路由通告：{join(declared_seen)}{listen_zh}",
                       f"only declared IPv6 routers advertised: {join(declared_seen)}{listen_en}")

    why = R.pass_problem(obs, "ra", "adverts")
    if why is None and passive.get("status") == "error":
        why = f"the passive router advertisement listener failed: {passive.get('error') or '?'}"
    yield from conclude(META, seg, fails, why, summary)
