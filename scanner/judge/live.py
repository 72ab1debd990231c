"""What the live checks share: the vantage, the gate, subjects, wording.

The fail-closed rule, in one place (every live check follows it):

* A **fail** needs evidence, and evidence is evidence wherever it comes from:
  a forwarding host that answered, an unknown MAC that replied to ARP. Such a
  fail is reported even when the positive control or a probe section failed,
  because a broken control can hide breaches but cannot invent replies.
* A fail that rests on *absence* (a registered device that did not answer, an
  ingress that did not carry the canary probe) is only made when the probes
  are shown to work; otherwise it is an `error`.
* A **pass** needs everything: the privileges and the positive control
  (`problem()`, the same test as `controls_problem`), and every probe section
  the check reads (`section_problem`). When one of them is missing the check
  adds one `error` finding saying why — also beside fails, so an inspector
  sees that the list of fails may be incomplete.
* Checks that judge only the local link (DEV-*, ISO-BRIDGE's MAC rule on a
  non-classified vantage) and ING-SINGLE's "the ingress does not carry" need
  only the local-link part of the control (`local_gate`, `local_problem`):
  privileges, and a registered device that answered ARP. The canary part of
  a non-classified control is what ING-SINGLE itself judges.
* A plan that probed nothing relevant proves nothing: `error`, not `pass`.
* A check that does not apply from this vantage is `skipped`, with the reason.

Nothing here does I/O: checks stay pure functions of inventory + observations.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from netaddr import IPAddress
from netaddr.core import AddrFormatError

from scanner.model import (CLASSIFIED, INTERNET, NON_CLASSIFIED, CheckMeta,
                           Device, Finding, Interface, Inventory, Segment,
                           Subject, Text, error, passed, pick, skipped, text)
from scanner.model import must_isolate  # noqa: F401 (the checks import it from here)
from scanner.model.net import norm_ip, norm_mac  # noqa: F401 (the checks import them from here)
from scanner.observations import NOT_RUN, section
from scanner.observations.records import Controls, Privileges, section_head

CLASS_WORDS = {
    CLASSIFIED: ("涉密", "classified"),
    NON_CLASSIFIED: ("非涉密", "non-classified"),
    INTERNET: ("互联网", "internet"),
}


# -- plain data helpers ------------------------------------------------------

_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


def is_link_local(ip: str | None) -> bool:
    """169.254.0.0/16 or fe80::/10 (on normalised address strings)."""
    if not ip:
        return False
    if "." in ip and ":" not in ip:
        return ip.startswith("169.254.")
    head = ip.split(":", 1)[0].lower()
    if len(head) == 4 and head[:3] in ("fe8", "fe9", "fea", "feb"):
        return True
    return "." in ip and _slow_link_local(ip)      # IPv4-mapped forms and the like


def _slow_link_local(ip: str) -> bool:
    try:
        return IPAddress(ip).is_link_local()
    except (AddrFormatError, ValueError):
        return False


def host_label(ip: str | None, mac: str | None = None) -> str:
    """'10.61.0.30 (02:11:00:00:00:30)' — how evidence names a host."""
    if ip and mac:
        return f"{ip} ({mac})"
    return ip or mac or "?"


def a_probe(p: Mapping[str, Any]) -> str:
    """'an ICMP probe', 'a TCP/443 probe' (English evidence)."""
    label = probe_label(p)
    return f"{'an' if label[:1] in 'AEIOU' else 'a'} {label} probe"


def probe_label(p: Mapping[str, Any]) -> str:
    """'ICMP', 'TCP/443', 'UDP/53'."""
    proto = str(p.get("proto") or "?").upper()
    port = p.get("port")
    return f"{proto}/{port}" if port not in (None, "") else proto


def join(items: Iterable[str], limit: int = 12) -> str:
    items = list(dict.fromkeys(items))
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", … (+{len(items) - limit})"
    return ", ".join(items) if items else "-"


# -- the vantage -------------------------------------------------------------

def vantage(obs: Mapping[str, Any]) -> Mapping[str, Any]:
    v = obs.get("vantage")
    return v if isinstance(v, Mapping) else {}


_OWN: tuple = (None, None)       # (vantage mapping, (ips, mac)): one entry


def _own(obs: Mapping[str, Any]) -> tuple[frozenset, str | None]:
    global _OWN
    v = vantage(obs)
    held, own = _OWN
    if held is not v or not v:
        ips = {norm_ip(v.get("ip"))}
        ips.update(norm_ip(a) for a in (v.get("ipv6") or ()))
        ips.update(norm_ip(a) for a in (v.get("ips") or ()))
        ips.discard(None)
        own = (frozenset(ips), norm_mac(v.get("mac")))
        _OWN = (v, own)
    return own


def own_ips(obs: Mapping[str, Any]) -> frozenset[str]:
    return _own(obs)[0]


def own_mac(obs: Mapping[str, Any]) -> str | None:
    return _own(obs)[1]


def is_own(obs: Mapping[str, Any], ip: str | None, mac: str | None) -> bool:
    """The scanner's own address is never a device, nor a forwarder."""
    ips, own = _own(obs)
    return (ip is not None and ip in ips) or (mac is not None and mac == own)


def vantage_segment(meta: CheckMeta, inv: Inventory,
                    obs: Mapping[str, Any]) -> tuple[Segment | None, Finding | None]:
    """The vantage's declared segment, or an error finding saying why not."""
    name = vantage(obs).get("segment")
    seg = inv.segment(name) if isinstance(name, str) else None
    if seg is None:
        return None, error(meta, text(
            f"无法判定：扫描位置所在网段“{name}”未在清单中声明",
            f"could not be judged: the vantage segment '{name}' is not declared in the inventory"))
    return seg, None


def not_from(meta: CheckMeta, seg: Segment, why: Text) -> Finding:
    zh, en = CLASS_WORDS.get(seg.classification, (seg.classification, seg.classification))
    return skipped(meta, text(
        f"不适用于本扫描位置（{seg.name}，{zh}网段）：{why['zh-CN']}",
        f"does not apply from this vantage ({seg.name}, a {en} segment): {why['en']}"),
        segment=seg.name)


# -- segments ---------------------------------------------------------------

def segment_for(inv: Inventory, ip: str | None, declared: str | None = None) -> Segment | None:
    """The segment a probed address belongs to: the probe's own label first."""
    if declared:
        seg = inv.segment(declared)
        if seg is not None:
            return seg
    if ip:
        try:
            return inv.segment_of(ip)
        except (AddrFormatError, ValueError):
            return None
    return None


def is_canary(inv: Inventory, ip: str | None) -> bool:
    return ip is not None and any(str(c.address) == ip for c in inv.canaries)


def outside_class(inv: Inventory, p: Mapping[str, Any]) -> str:
    """Classification of a probe's destination; canaries and undeclared
    addresses count as the internet."""
    if p.get("dst_kind") == "canary" or is_canary(inv, norm_ip(p.get("dst"))):
        return INTERNET
    seg = segment_for(inv, norm_ip(p.get("dst")), p.get("dst_segment"))
    return seg.classification if seg is not None else INTERNET


def dst_segment(inv: Inventory, p: Mapping[str, Any]) -> Segment | None:
    if p.get("dst_kind") == "canary" or is_canary(inv, norm_ip(p.get("dst"))):
        return None
    return segment_for(inv, norm_ip(p.get("dst")), p.get("dst_segment"))


def dst_label(inv: Inventory, p: Mapping[str, Any]) -> Text:
    """'203.0.113.10 (canary internet-canary)' in both languages."""
    dst = norm_ip(p.get("dst")) or "?"
    canary = next((c for c in inv.canaries if str(c.address) == dst), None)
    if canary is not None:
        return text(f"{dst}（外部探针 {canary.name}）", f"{dst} (canary {canary.name})")
    seg = dst_segment(inv, p)
    if seg is not None:
        return text(f"{dst}（网段 {seg.name}）", f"{dst} (segment {seg.name})")
    return text(dst, dst)


# -- devices ----------------------------------------------------------------

def interfaces_with_mac(inv: Inventory, mac: str | None) -> list[tuple[Device, Interface]]:
    return inv.interfaces_with_mac(mac)


def interfaces_with_ip(inv: Inventory, ip: str | None) -> list[tuple[Device, Interface]]:
    return inv.interfaces_with_ip(ip)


def device_of(inv: Inventory, ip: str | None, mac: str | None) -> Device | None:
    """The registered device a seen host is, by MAC first, then by IP (Inventory's index)."""
    return inv.device_of(ip, mac)


def subject(inv: Inventory, ip: str | None = None, mac: str | None = None,
            device: str | None = None, *, ports: Iterable[str] = (),
            destination: str | None = None) -> Subject:
    """Who a finding is about, and what tells it apart: the open services
    (`ports`, "8291/tcp") or where a leak reached (`destination`)."""
    if device is None:
        d = device_of(inv, ip, mac)
        device = d.name if d is not None else None
    return Subject(ip=ip, mac=mac, device=device, ports=tuple(dict.fromkeys(ports)),
                   destination=destination or None)


def port_of(p: Mapping[str, Any]) -> str:
    """'8291/tcp' of a probe record; 'icmp' for one without a port."""
    proto = str(p.get("proto") or "?").lower()
    port = p.get("port")
    return f"{port}/{proto}" if port not in (None, "") else proto


def destination_of(inv: Inventory, probes: Iterable[Mapping[str, Any]], limit: int = 3) -> str | None:
    """Where the answered probes went, as a person acts on it: one service
    '198.51.100.7:443/tcp', several 'internet-canary 203.0.113.10 (icmp, 443/tcp)',
    an IPv6 address in brackets; several destinations joined, at most `limit` and '+N'."""
    by_dst: dict[str, list[str]] = {}
    for p in probes:
        by_dst.setdefault(norm_ip(p.get("dst")) or "?", []).append(port_of(p))
    if not by_dst:
        return None
    shown = []
    for dst, svcs in by_dst.items():
        svcs = list(dict.fromkeys(svcs))
        canary = next((c.name for c in inv.canaries if str(c.address) == dst), None)
        addr = f"[{dst}]" if ":" in dst else dst
        label = f"{canary} {addr}" if canary else addr
        shown.append(f"{label}:{svcs[0]}" if len(svcs) == 1 and "/" in svcs[0]
                     else f"{label} ({', '.join(svcs)})")
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" +{more}" if more > 0 else "")


_HOSTS: tuple = (None, ())       # ((raw lists, their lengths, own), hosts): one entry


def hosts(obs: Mapping[str, Any]) -> list[dict]:
    """Discovery hosts (ip, mac, via) normalised, without the scanner itself,
    one per (ip, mac): the IPv4 stations ("hosts") and the IPv6 neighbours
    ("neighbours6", via "ndp"), so an IPv6-only station is judged too.
    Computed once per observation set (treat as read-only)."""
    global _HOSTS
    disc = section(obs, "discovery")
    raw = disc.get("hosts") or ()
    raw6 = disc.get("neighbours6") or ()
    key = (raw, raw6, len(raw) if isinstance(raw, list) else -1,
           len(raw6) if isinstance(raw6, list) else -1, _own(obs))
    held, found = _HOSTS
    if (held is not None and held[0] is raw and held[1] is raw6 and held[2:] == key[2:]
            and isinstance(raw, list)):
        return list(found)
    seen: dict[tuple, dict] = {}
    for default_via, entries in (("arp", raw), ("ndp", raw6)):
        if not isinstance(entries, (list, tuple)):
            continue
        for h in entries:
            if not isinstance(h, Mapping):
                continue
            ip, mac = norm_ip(h.get("ip")), norm_mac(h.get("mac"))
            if (ip is None and mac is None) or is_own(obs, ip, mac):
                continue
            seen.setdefault((ip, mac), {"ip": ip, "mac": mac,
                                        "via": h.get("via") or default_via})
    found = tuple(seen.values())
    _HOSTS = (key, found)
    return list(found)


def neighbours6_problem(obs: Mapping[str, Any]) -> Text | None:
    """Why the IPv6 neighbours of a segment that declares IPv6 are not known
    (the ND probe failed): an IPv6-only station could then go unseen."""
    disc = section(obs, "discovery")
    why = disc.get("neighbours6_error")
    if not why and not (disc.get("networks6") and not isinstance(disc.get("neighbours6"), list)):
        return None
    zh, en = _why(why) if why else ("未记录 IPv6 邻居", "no IPv6 neighbours recorded")
    return text(f"网段声明了 IPv6，但 IPv6 邻居发现失败（仅有 IPv6 地址的设备可能未被发现）：{zh}",
                f"the segment declares IPv6 but IPv6 neighbour discovery failed (a station "
                f"with IPv6 addresses only could go unseen): {en}")


def dev_gate(obs: Mapping[str, Any], *sections: str) -> Text | None:
    """local_gate() for the device checks, which also need the IPv6
    neighbours where the segment declares IPv6."""
    return local_gate(obs, *sections) or neighbours6_problem(obs)


def ip_rank(ip: str | None) -> int:
    """Which address names a station: IPv4 first, then a global IPv6
    address, then a link-local one."""
    if ip is None:
        return 3
    if _version(ip) == 4:
        return 0
    return 2 if is_link_local(ip) else 1


def stations(seen: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Seen (ip, mac) entries grouped into stations: one per MAC (an entry
    without a MAC is its own station). Each station: "mac", "ip" (the address
    that names it: IPv4 first), "ips" (every address, in that order) and
    "entries" (the seen entries)."""
    groups: dict[tuple, dict] = {}
    for h in seen:
        key = ("mac", h["mac"]) if h.get("mac") else ("ip", h.get("ip"))
        g = groups.setdefault(key, {"mac": h.get("mac"), "entries": []})
        g["entries"].append(h)
    out = []
    for g in groups.values():
        ips = sorted(dict.fromkeys(h["ip"] for h in g["entries"] if h.get("ip")), key=ip_rank)
        g["ips"] = ips
        g["ip"] = ips[0] if ips else None
        out.append(g)
    return out


def merge_by_station(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per station: findings of one check, status and segment
    about the same MAC are joined (evidence in order; the subject named by
    its IPv4 address first), then merge_by_subject for those without a MAC."""
    merged: dict[tuple, Finding] = {}
    rest: list = []
    for f in findings:
        if not f.subject.mac:
            rest.append(f)
            continue
        key = (f.check_id, f.status, f.segment, f.subject.mac)
        old = merged.get(key)
        if old is None:
            merged[key] = f
            rest.append(key)
            continue
        first, second = (old, f) if ip_rank(old.subject.ip) <= ip_rank(f.subject.ip) else (f, old)
        extra = tuple(e for e in second.evidence if e not in first.evidence)
        merged[key] = replace(first, evidence=first.evidence + extra,
                              severity=max((old.severity, f.severity), key=_sev_rank),
                              subject=_joined(first.subject, second.subject))
    return merge_by_subject(merged[x] if isinstance(x, tuple) else x for x in rest)


def _sev_rank(s) -> int:
    order = ("info", "low", "medium", "high", "critical")
    v = getattr(s, "value", s)
    return order.index(v) if v in order else -1


def mac_seen_for(obs: Mapping[str, Any], ip: str | None) -> str | None:
    for h in hosts(obs):
        if h["ip"] == ip and h["mac"]:
            return h["mac"]
    return None


def seen_text(h: Mapping[str, Any]) -> Text:
    how = str(h.get("via") or "arp")
    return text(f"{how.upper()} 应答：{host_label(h['ip'], h['mac'])}",
                f"{how.upper()} reply from {host_label(h['ip'], h['mac'])}")


# -- the gate and the conclusion ----------------------------------------------

def _why(v: Any) -> tuple[str, str]:
    """A recorded reason in (zh-CN, en): probes record plain strings (in the
    scan's language) or Text."""
    if isinstance(v, Mapping):
        return pick(v, "zh-CN"), pick(v, "en")
    return (str(v), str(v)) if v else ("-", "-")


def problem(obs: Mapping[str, Any], *sections: str) -> Text | None:
    """Why a pass is not allowed — privileges, the positive control, or a probe
    section (the same tests as controls_problem and section_problem, worded in
    both languages; the probe's own reason is kept as it was recorded). Reads
    the typed records: a malformed section is what from_json makes of it."""
    priv = Privileges.from_json(obs.get("privileges"))
    if not priv.ok:
        zh, en = _why(priv.error)
        return text(f"未取得探测所需权限（root / CAP_NET_RAW）：{zh}",
                    f"privileges were not established (root / CAP_NET_RAW): {en}")
    ctl = Controls.from_json(obs.get("controls"))
    if not ctl.ok:
        zh, en = _why(ctl.error)
        return text(f"正向对照未通过，本位置的探测未被证明有效：{zh}",
                    f"the positive control did not succeed, so this vantage's probes are "
                    f"not shown to work: {en}")
    return sections_problem(obs, *sections)


def sections_problem(obs: Mapping[str, Any], *sections: str) -> Text | None:
    for name in sections:
        if not isinstance(obs.get(name), Mapping):
            return text(f"探测“{name}”未运行", f"probe '{name}' did not run")
        s = section_head(obs, name)
        if not s.ran:
            zh, en = _why(s.error)
            if s.status == NOT_RUN:
                return text(f"探测“{name}”未运行：{zh}", f"probe '{name}' did not run: {en}")
            return text(f"探测“{name}”出错：{zh}", f"probe '{name}' failed: {en}")
    return None


def local_problem(obs: Mapping[str, Any]) -> Text | None:
    """Like problem(obs), but vouching only for the local link.

    The non-classified positive control includes a canary answering through
    the ingress (control items of kind "canary"); ING-SINGLE must tell "our
    probes do not work" (error) from "the ingress does not carry" (fail), so
    here the control counts as shown when the privileges are there and a
    local-link item (kind "arp" or "ndp") succeeded — as the control itself
    asks of its ARP part (scanner/probes/control.py). Without such items it
    is the whole control.
    """
    if problem(obs) is None:
        return None
    items = [i for i in (obs.get("controls") or {}).get("items") or ()
             if isinstance(i, Mapping) and i.get("kind") in ("arp", "ndp")]
    if not items or not (obs.get("privileges") or {}).get("ok"):
        return problem(obs)
    if not any(i.get("ok") for i in items):
        why = "; ".join(str(i.get("detail") or f"{i.get('kind')} {i.get('target')}") for i in items)
        return text(f"本地链路正向对照未通过：{why}",
                    f"the local-link positive control did not succeed: {why}")
    return None


def local_gate(obs: Mapping[str, Any], *sections: str) -> Text | None:
    """problem() for checks that judge only the local link (DEV-*, the MAC
    rule of ISO-BRIDGE): the local-link control suffices, so a canary that
    did not answer through the ingress does not make them unjudgeable.

    A discovery that missed a station which answered the control is no
    evidence of a clean segment (the sweep was cut short, or lost its
    answers): it cannot vouch for a pass either."""
    why = local_problem(obs) or sections_problem(obs, *sections)
    if why is None and "discovery" in sections:
        why = _discovery_missed_control(obs)
    return why


def _discovery_missed_control(obs: Mapping[str, Any]) -> Text | None:
    items = (obs.get("controls") or {}).get("items") or ()
    answered = [norm_ip(i.get("target")) for i in items if isinstance(i, Mapping)
                and i.get("kind") in ("arp", "ndp") and i.get("ok") is True]
    seen = {h["ip"] for h in hosts(obs)}
    missed = sorted(ip for ip in answered if ip is not None and ip not in seen)
    if not missed:
        return None
    return text(f"设备发现漏掉了已应答正向对照的 {join(missed)}，发现结果不完整",
                f"discovery missed {join(missed)}, which answered the positive control: "
                f"the sweep is incomplete")


def error_for(meta: CheckMeta, seg: Segment | None, why: str | Text) -> Finding:
    """`error`: could not be judged, and why (probe reasons are plain data)."""
    zh, en = (why, why) if isinstance(why, str) else (why["zh-CN"], why["en"])
    return error(meta, text(f"无法判定：{zh}", f"could not be judged: {en}"),
                 segment=seg.name if seg is not None else None)


NOTHING_PROBED = text("没有进行任何相关探测（探测计划为空），无法证明隔离",
                      "no relevant probe was made (the probe plan was empty); isolation is not shown")


def conclude(meta: CheckMeta, seg: Segment, fails: list[Finding], why: str | None,
             summary: Iterable[Text] | Text) -> Iterator[Finding]:
    """The fails; then an error when a pass was not earned (why is not None),
    else — when nothing failed — the pass with its summary."""
    yield from fails
    if why is not None:
        yield error_for(meta, seg, why)
    elif not fails:
        yield passed(meta, summary, segment=seg.name)


# -- reconciling what discovery saw with the registry (DEV-*) ------------------

def reconcile(inv: Inventory, seg: Segment, h: Mapping[str, Any]) -> dict:
    """How one seen host (ip, mac) on segment `seg` relates to the registry.

    Returns {"unregistered": bool, "misplaced": [devices registered only on
    other segments], "mismatch": [(device, interface, "mac" | "ip")]}:

    * unregistered: neither its IP nor its MAC is registered anywhere;
    * misplaced: it is a registered device (by MAC or IP) none of whose
      interfaces is on this segment;
    * mismatch: a registered IP of this segment answers with another MAC
      ("mac"), or a registered MAC of this segment answers from another IPv4
      address ("ip"). IPv6 link-local addresses are never registered, so for
      them only the MAC is compared; and a registered MAC answering from an
      unregistered global IPv6 address is no mismatch either (stateless
      autoconfiguration and privacy addresses are unregistered by nature): a
      registered IPv6 address must answer with its registered MAC.
    """
    ip, mac = h.get("ip"), h.get("mac")
    if is_link_local(ip):
        by_ip = []
    else:
        by_ip = interfaces_with_ip(inv, ip)
    by_mac = interfaces_with_mac(inv, mac)
    out: dict = {"unregistered": not by_ip and not by_mac, "misplaced": [], "mismatch": []}
    matched = list(dict.fromkeys(d.name for d, _ in by_mac + by_ip))
    here = [n for n in matched if seg.name in inv.device(n).segments]
    if matched and not here:
        out["misplaced"] = [inv.device(n) for n in matched]
    for d, i in by_ip:
        if i.segment == seg.name and i.mac and mac and i.mac != mac:
            out["mismatch"].append((d, i, "mac"))
    version = _version(ip)
    if version == 4:
        for d, i in by_mac:
            if (i.segment == seg.name and i.ip is not None and i.ip.version == version
                    and str(i.ip) != ip
                    and not any(str(j.ip) == ip for j in d.interfaces if j.ip is not None)):
                out["mismatch"].append((d, i, "ip"))
    return out


def _version(ip: str | None) -> int | None:
    if ip and _IPV4.fullmatch(ip):
        return 4
    try:
        return IPAddress(ip).version if ip else None
    except (AddrFormatError, ValueError):
        return None


def dev_applies(meta: CheckMeta, seg: Segment) -> Finding | None:
    """DEV-* judge classified and non-classified segments; nobody registers
    the internet (SPEC §4)."""
    if seg.is_internet:
        return not_from(meta, seg, text("互联网网段不登记设备",
                                        "nobody registers devices on the internet"))
    return None


def _joined(first: Subject, second: Subject) -> Subject:
    """One subject of two findings joined: the first's, its device, ports and
    destination completed from the second's."""
    dests = [d for d in (first.destination, second.destination) if d]
    return replace(first, device=first.device or second.device,
                   ports=tuple(dict.fromkeys(first.ports + second.ports)),
                   destination=", ".join(dict.fromkeys(dests)) or None)


def merge_by_subject(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per subject: evidence of findings about the same subject
    (same check, status, segment, ip, mac) is joined, in order."""
    merged: dict[tuple, Finding] = {}
    for f in findings:
        key = (f.check_id, f.status, f.segment, f.subject.ip, f.subject.mac)
        if key in merged:
            old = merged[key]
            extra = tuple(e for e in f.evidence if e not in old.evidence)
            merged[key] = replace(old, evidence=old.evidence + extra,
                                  subject=_joined(old.subject, f.subject))
        else:
            merged[key] = f
    return list(merged.values())


# -- proxy ARP and address conflicts (DEV-MISMATCH, DEV-CONFLICT) ---------------

ROUTER_KINDS = ("router", "gateway", "firewall")


def proxy_answers(inv: Inventory, seg: Segment,
                  seen: Iterable[Mapping[str, Any]]) -> dict[str, dict]:
    """Proxy ARP: a registered router, gateway or firewall of `seg` answering
    ARP (IPv4) from addresses it does not own and no device of `seg` is
    registered at -- addresses it routes elsewhere. MAC -> {"device",
    "interface" (its own on seg), "ips" (the addresses it answered for)}."""
    out: dict[str, dict] = {}
    for h in seen:
        ip, mac = h.get("ip"), h.get("mac")
        if not mac or _version(ip) != 4:
            continue
        mine = [(d, i) for d, i in interfaces_with_mac(inv, mac)
                if d.kind in ROUTER_KINDS and i.segment == seg.name]
        if not mine:
            continue
        d, i = mine[0]
        if any(j.ip is not None and str(j.ip) == ip for j in d.interfaces):
            continue
        if any(x.segment == seg.name for _, x in interfaces_with_ip(inv, ip)):
            continue                    # a registered station's address: not routed elsewhere
        entry = out.setdefault(mac, {"device": d, "interface": i, "ips": []})
        if ip not in entry["ips"]:
            entry["ips"].append(ip)
    for entry in out.values():
        entry["ips"].sort(key=lambda a: IPAddress(a))
    return out


def address_conflicts(inv: Inventory, seg: Segment,
                      seen: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Addresses (not link-local) that more than one MAC answered for on `seg`,
    proxy ARP answers left out: [{"ip", "macs" (sorted), "device" (registered
    at ip on seg, or None), "registered_mac"}], sorted by address."""
    seen = list(seen)
    proxy = proxy_answers(inv, seg, seen)
    macs: dict[str, set] = {}
    for h in seen:
        ip, mac = h.get("ip"), h.get("mac")
        if not ip or not mac or is_link_local(ip):
            continue
        if mac in proxy and ip in proxy[mac]["ips"]:
            continue
        macs.setdefault(ip, set()).add(mac)
    out = []
    for ip, ms in macs.items():
        if len(ms) < 2:
            continue
        reg = next(((d, i) for d, i in interfaces_with_ip(inv, ip) if i.segment == seg.name), None)
        out.append({"ip": ip, "macs": sorted(ms), "device": reg[0] if reg else None,
                    "registered_mac": reg[1].mac if reg else None})
    out.sort(key=lambda c: (_version(c["ip"]) or 9, IPAddress(c["ip"])))
    return out


def ranges(ips: Iterable[str]) -> str:
    """'10.40.0.128–10.40.0.254, 10.40.0.7': consecutive IPv4 addresses as ranges."""
    vals = sorted({int(IPAddress(a)) for a in ips})
    out, start = [], None
    for k, v in enumerate(vals):
        if start is None:
            start = v
        if k + 1 == len(vals) or vals[k + 1] != v + 1:
            out.append(str(IPAddress(start)) if start == v
                       else f"{IPAddress(start)}–{IPAddress(v)}")
            start = None
    return ", ".join(out) if out else "-"


def every_mac_problem(obs: Mapping[str, Any]) -> Text | None:
    """Why discovery may have kept one MAC per address (python-nmap does): a
    conflict could then go unseen, so no pass on it."""
    disc = section(obs, "discovery")
    if disc.get("every_mac") is True:
        return None
    return text("设备发现未记录每个地址的全部应答 MAC（nmap 每个地址只保留一个），无法排除地址冲突",
                "discovery did not record every MAC that answered for an address (nmap keeps "
                "one per address): an address conflict cannot be ruled out")


def transfer_macs(inv: Inventory, seg: Segment) -> dict[str, Device]:
    """MAC on `seg` -> device, for every declared one-way transfer into `seg`."""
    out: dict[str, Device] = {}
    for t in inv.transfers:
        if t.to_segment != seg.name:
            continue
        d = inv.device(t.device)
        for i in (d.interfaces if d is not None else ()):
            if i.segment == seg.name and i.mac:
                out[i.mac] = d
    return out
