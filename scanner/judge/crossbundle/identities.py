"""One host on two segments, known by who it says it is (issue 13).

Pure: `judge(sources, inv, lang)` reads the "identity" section of every
bundle (scanner/probes/identity.py) and the MACs discovery saw, and returns
findings in merge's shape:

- ISO-BRIDGE, critical: one identity seen on a classified segment and on a
  segment of another classification or level. Strong identities fail;
  medium ones fail as "probable"; weak ones (a TLS certificate, a value shared
  by CLONE_MIN stations) are a notice (severity info) listing the sightings.
  The subject is the classified device of the inventory where it is
  registered. A declared transfer device is exempt.
- ISO-BRIDGE, critical, from one vantage: an identity registered to a
  classified device (`ssh_host_keys`, `names`) seen on a segment it must be
  isolated from.
- DEV-MISMATCH: a registered identity seen on its own segment with another
  MAC than registered ("ws-002, known by its host key, now answers with MAC
  …": a card was swapped); and, a notice, two stations of one vantage with
  one strong identity (one host with two addresses).

An identity equal on both sides to the MAC discovery saw is cross_bundle_bridges'
(merge.py) and is not reported twice. Everything from the wire is shown
through scanner.identity.shown (controls and bidi made visible); HTML
escaping is jinja2's.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from scanner import identity as I

EVIDENCE_MAX = 8          # sightings listed per side of a finding

_S = {
    "zh-CN": {
        "seen": "{kind} {value}（{strength}）：检查点 {vantage}，网段 {segment}，IP {ip}，MAC {mac}，时间 {time}",
        "probable": "可能为同一主机（中等强度的身份：{kind}）",
        "notice": "提示：仅凭弱身份（{kind}）相同，不足以认定为同一主机；请人工核实",
        "more": "……另有 {n} 处",
        "registered": "该身份登记于设备 {device}（{kind} {value}）",
        "mismatch": "{device} 以其{kind}被识别，现以 MAC {mac}（IP {ip}）应答，登记的 MAC 为 {want}：可能更换了网卡",
        "two_addresses": "同一主机的两个地址：{kind} {value} 见于 {a} 与 {b}（检查点 {vantage}），提示，非违规",
        "unknown": "网段 {a} 或 {b} 的类别未知，无法判断二者是否必须隔离",
        "ssh-host-key": "SSH 主机密钥", "tls-cert": "TLS 证书", "netbios-name": "NetBIOS 名称",
        "netbios-mac": "NetBIOS 报告的 MAC", "mdns-name": "mDNS 名称", "llmnr-name": "LLMNR 名称", "dhcpv6-duid": "DHCPv6 DUID",
        "snmp-sysname": "SNMP 设备名（sysName）", "snmp-ifmac": "SNMP 报告的网卡 MAC（ifPhysAddress）",
        "eui64-mac": "IPv6 地址内的 EUI-64 MAC", "arp": "主机发现所见 MAC", "name": "名称",
        "strong": "强", "medium": "中", "weak": "弱",
        "sec": "设备身份", "explain": "各检查点读到的设备身份（SSH 主机密钥、TLS 证书、NetBIOS 名称与 MAC、IPv6 EUI-64 MAC）及其所在位置；同一身份出现在两个网段的主机已在问题清单与拓扑图中标出。",
        "none": "没有结果包记录设备身份（身份步骤未运行或未读到身份）。",
        "col_device": "设备", "col_segment": "网段", "col_vantage": "检查点", "col_ip": "IP",
        "col_mac": "MAC", "col_kind": "身份类型", "col_value": "身份", "col_strength": "强度",
        "col_where": "另见于",
        "coverage": "设备身份（检查点 {vantage}，网段 {segment}）：询问 {asked} 台主机，{known} 台给出身份，{unknown} 台未能识别{which}",
        "coverage_unread": "；{n} 个 SSH/TLS 端口有应答但未能读取密钥或证书：{ports}",
        "coverage_error": "设备身份（检查点 {vantage}，网段 {segment}）未能读取：{error}；据此不能断定没有共用身份的主机",
    },
    "en": {
        "seen": "{kind} {value} ({strength}): vantage {vantage}, segment {segment}, IP {ip}, MAC {mac}, at {time}",
        "probable": "probably one host (a medium-strength identity: {kind})",
        "notice": "a notice: only a weak identity ({kind}) is shared, not enough to call it one host; check by hand",
        "more": "... and {n} more",
        "registered": "this identity is registered to device {device} ({kind} {value})",
        "mismatch": "{device}, known by its {kind}, now answers with MAC {mac} (IP {ip}); registered: {want}: a card was probably swapped",
        "two_addresses": "one host with two addresses: {kind} {value} seen at {a} and {b} (vantage {vantage}); a notice, not a breach",
        "unknown": "the classification of segment {a} or {b} is unknown: cannot tell whether they must be isolated",
        "ssh-host-key": "SSH host key", "tls-cert": "TLS certificate", "netbios-name": "NetBIOS name",
        "netbios-mac": "MAC reported over NetBIOS", "mdns-name": "mDNS name", "llmnr-name": "LLMNR name", "dhcpv6-duid": "DHCPv6 DUID",
        "snmp-sysname": "SNMP sysName", "snmp-ifmac": "a card's MAC reported over SNMP (ifPhysAddress)",
        "eui64-mac": "EUI-64 MAC in an IPv6 address", "arp": "MAC seen by discovery", "name": "name",
        "strong": "strong", "medium": "medium", "weak": "weak",
        "sec": "Device identities", "explain": "What each station said it is (SSH host keys, TLS certificates, NetBIOS names and MACs, EUI-64 MACs in IPv6 addresses) and where it was seen; an identity seen on two segments is in the findings and on the topology picture.",
        "none": "No bundle records device identities (the identity step did not run or read none).",
        "col_device": "Device", "col_segment": "Segment", "col_vantage": "Vantage", "col_ip": "IP",
        "col_mac": "MAC", "col_kind": "Kind", "col_value": "Identity", "col_strength": "Strength",
        "col_where": "Also seen on",
        "coverage": "identities (vantage {vantage}, segment {segment}): {asked} stations asked, {known} identified, {unknown} could not be identified{which}",
        "coverage_unread": "; {n} SSH/TLS ports answered but gave no key or certificate: {ports}",
        "coverage_error": "identities (vantage {vantage}, segment {segment}) could not be read: {error}; no shared identity can be concluded from it",
    },
}
_NAME_KINDS = frozenset({I.NETBIOS_NAME, I.MDNS_NAME, I.LLMNR_NAME, I.SNMP_NAME})


def _strings(lang: str) -> dict:
    return _S.get(lang) or _S["zh-CN"]


def join_key(kind: str, value: str) -> tuple[str, str]:
    """What two sightings must share to be one host: MAC kinds join with the
    MACs discovery saw; NetBIOS and mDNS names with each other, case-folded."""
    if kind in I.MAC_KINDS or kind == "arp":
        return ("mac", value)
    if kind in _NAME_KINDS:
        v = value.lower()
        return ("name", v[:-6] if v.endswith(".local") else v)
    return (kind, value)


def _sightings(sources: Sequence[Mapping]) -> list[dict]:
    out = []
    for s in sources:
        seg = (s.get("vantage") or {}).get("segment")
        obs = s.get("observations") or {}
        if not isinstance(seg, str):
            continue
        sec = obs.get("identity")
        if isinstance(sec, Mapping) and sec.get("status") == "ok" \
                and isinstance(sec.get("identities"), list):
            for r in sec["identities"][:I.RECORDS_MAX]:
                if not isinstance(r, Mapping) or not isinstance(r.get("value"), str) \
                        or not isinstance(r.get("kind"), str):
                    continue
                st = r.get("strength") if r.get("strength") in I.STRENGTHS else I.strength(r["kind"])
                out.append({"segment": seg, "vantage": s.get("label") or seg,
                            "ip": r.get("ip") if isinstance(r.get("ip"), str) else None,
                            "mac": I.norm_mac(r.get("mac")), "kind": r["kind"],
                            "value": r["value"][:I.VALUE_MAX],
                            "strength": st, "note": r.get("note"),
                            "time": r.get("time") if isinstance(r.get("time"), str) else
                            s.get("started_at")})
    return out


def _discovered(sources: Sequence[Mapping], wanted: set[str]) -> list[dict]:
    """The MACs discovery saw, as sightings, where an identity names them."""
    out = []
    if not wanted:
        return out
    for s in sources:
        seg = (s.get("vantage") or {}).get("segment")
        disc = (s.get("observations") or {}).get("discovery")
        if not isinstance(seg, str) or not isinstance(disc, Mapping):
            continue
        hosts, six = disc.get("hosts"), disc.get("neighbours6")
        for h in (hosts if isinstance(hosts, list) else []) + (six if isinstance(six, list) else []):
            if not isinstance(h, Mapping):
                continue
            mac = I.norm_mac(h.get("mac"))
            if mac in wanted:
                out.append({"segment": seg, "vantage": s.get("label") or seg,
                            "ip": h.get("ip") if isinstance(h.get("ip"), str) else None,
                            "mac": mac, "kind": "arp", "value": mac, "strength": None,
                            "note": None, "time": s.get("started_at")})
    return out


def coverage_lines(sources: Sequence[Mapping], lang: str = "zh-CN") -> list[str]:
    """One line a vantage: how many stations its identity step asked, how many
    could not be identified, and which SSH/TLS ports answered without a key
    or certificate (with the reason), so that a silent failure never reads as
    "no shared identity". Pure; everything from the wire is shown escaped
    later (jinja2) and made visible here (I.shown)."""
    S = _strings(lang)
    out = []
    for s in sources:
        seg = (s.get("vantage") or {}).get("segment")
        sec = (s.get("observations") or {}).get("identity")
        if not isinstance(seg, str) or not isinstance(sec, Mapping) or sec.get("status") == "not-run":
            continue
        vantage = s.get("label") or seg
        if sec.get("status") != "ok":
            out.append(S["coverage_error"].format(vantage=vantage, segment=seg,
                                                  error=I.shown(sec.get("error") or "?", 300)))
            continue
        targets = sec.get("targets") if isinstance(sec.get("targets"), list) else []
        unknown = [x for x in sec.get("unidentified") or () if isinstance(x, str)]
        which = f" ({', '.join(unknown[:EVIDENCE_MAX])}{' …' if len(unknown) > EVIDENCE_MAX else ''})" \
            if unknown else ""
        line = S["coverage"].format(vantage=vantage, segment=seg, asked=len(targets),
                                    known=max(0, len(targets) - len(unknown)), unknown=len(unknown),
                                    which=which)
        unread = [u for u in sec.get("unread") or () if isinstance(u, Mapping)]
        if unread:
            ports = "; ".join(I.shown(f"{u.get('ip')}:{u.get('port')}/{u.get('proto')} "
                                      f"({u.get('reason')})", 300) for u in unread[:EVIDENCE_MAX])
            line += S["coverage_unread"].format(n=len(unread), ports=ports)
        out.append(line)
    return out


def _line(S, x: Mapping) -> str:
    return S["seen"].format(kind=S.get(x["kind"], x["kind"]), value=I.shown(x["value"]),
                            strength=S.get(x["strength"] or "", "-"),
                            vantage=I.shown(x["vantage"], 80), segment=I.shown(x["segment"], 80),
                            ip=I.shown(x["ip"] or "-", 64), mac=x["mac"] or "-",
                            time=I.shown(x["time"] or "-", 40)) + \
        (f" — {I.shown(x['note'])}" if x.get("note") else "")


def _lines(S, xs: Sequence[Mapping]) -> list[str]:
    out = [_line(S, x) for x in xs[:EVIDENCE_MAX]]
    if len(xs) > EVIDENCE_MAX:
        out.append(S["more"].format(n=len(xs) - EVIDENCE_MAX))
    return out


def _weakest(xs: Iterable[Mapping]) -> str:
    ranks = [I.RANK[x["strength"]] for x in xs if x.get("strength") in I.RANK]
    return I.STRENGTHS[max(ranks)] if ranks else I.WEAK


def _registry(inv: Mapping | None) -> dict[tuple[str, str], dict]:
    """join key -> the device that registers that identity."""
    out = {}
    for d in (inv or {}).get("devices", ()):
        for k in d.get("ssh_host_keys") or ():
            out[(I.SSH_KEY, k)] = d
        for n in d.get("names") or ():
            out[join_key(I.NETBIOS_NAME, n)] = d
    return out


def _index(inv: Mapping | None) -> dict[tuple[str, str], str]:
    """(segment, MAC or IP) -> the device registered there (one pass over the inventory)."""
    out: dict[tuple[str, str], str] = {}
    for d in (inv or {}).get("devices", ()):
        for i in d.get("interfaces", ()):
            for k in (i.get("mac"), i.get("ip")):
                if k:
                    out.setdefault((i.get("segment"), k), d.get("name"))
    return out


def _device_at(index: Mapping, seg: str, xs: Sequence[Mapping]) -> str | None:
    """The device registered on seg at one of these sightings' MAC or IP."""
    for x in xs:
        for k in (x["mac"], x["ip"]):
            if k and (seg, k) in index:
                return index[(seg, k)]
    return None


def _exempt(inv: Mapping | None) -> tuple[set[str], set[str], set[str]]:
    """The declared transfer devices: names, MACs and IPs."""
    names = {t.get("device") for t in (inv or {}).get("transfers", ())}
    macs, ips = set(), set()
    for d in (inv or {}).get("devices", ()):
        if d.get("name") in names:
            for i in d.get("interfaces", ()):
                macs.add(i.get("mac"))
                ips.add(i.get("ip"))
    return names, macs - {None}, ips - {None}


def _finding(check, status, severity, seg, subj_x, device, evidence, vantages, peer=None):
    return {"check_id": check, "status": status, "severity": severity, "segment": seg,
            "subject": {"ip": subj_x.get("ip"), "mac": subj_x.get("mac"), "device": device},
            "title": "", "evidence": evidence, "regulation": [], "remediation": "",
            "vantages": sorted(vantages), "merged": True,
            **({"peer_segment": peer} if peer else {})}


def _must_isolate(segs: Mapping, a: str, b: str):
    from scanner.judge.crossbundle.views import must_isolate
    return must_isolate(segs.get(a), segs.get(b))


def judge(sources: Sequence[Mapping], inv: Mapping | None, lang: str = "zh-CN") -> list[dict]:
    S = _strings(lang)
    segs = (inv or {}).get("segments", {})
    ids = _sightings(sources)
    if not ids:
        return []
    wanted = {x["value"] for x in ids if x["kind"] in I.MAC_KINDS}
    every = ids + _discovered(sources, wanted)
    groups: dict[tuple[str, str], list[dict]] = {}
    for x in every:
        groups.setdefault(join_key(x["kind"], x["value"]), []).append(x)
    # a value shared by CLONE_MIN stations over all the bundles is an image, not a host
    for key, xs in groups.items():
        if key[0] == "mac":
            continue
        stations = {I.station_key(x) for x in xs}
        if len(stations) >= I.CLONE_MIN:
            for x in xs:
                if x["strength"] != I.WEAK:
                    x["strength"], x["note"] = I.WEAK, I.clone_note(len(stations))
    t_names, t_macs, t_ips = _exempt(inv)
    # the vantages' own cards (a probe host seen by another probe) are no station, as in merge
    t_macs |= {I.norm_mac((s.get("vantage") or {}).get("mac")) for s in sources} - {None}
    registry = _registry(inv)
    index = _index(inv)
    out: list[dict] = []
    for key, xs in groups.items():
        reg = registry.get(key)
        if reg is not None and reg.get("name") in t_names:
            continue
        xs = [x for x in xs if x["mac"] not in t_macs and x["ip"] not in t_ips]
        out += _registered(S, key, xs, reg, segs)
        by_seg: dict[str, list[dict]] = {}
        for x in xs:
            by_seg.setdefault(x["segment"], []).append(x)
        out += _two_addresses(S, by_seg)
        names = sorted(by_seg)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                iso = _must_isolate(segs, a, b)
                if iso is False:
                    continue
                pair = by_seg[a] + by_seg[b]
                if all(x["kind"] == "arp" for x in by_seg[a]) and \
                        all(x["kind"] == "arp" for x in by_seg[b]):
                    continue        # a MAC on both: cross_bundle_bridges reports it
                if not any(x["kind"] != "arp" for x in pair):
                    continue
                seg = a if (segs.get(a) or {}).get("classification") == "classified" or \
                    (segs.get(b) or {}).get("classification") != "classified" else b
                other = b if seg == a else a
                st = _weakest(x for x in pair if x["kind"] != "arp")
                kind = next(x["kind"] for x in pair if x["kind"] != "arp")
                ev = _lines(S, by_seg[seg]) + _lines(S, by_seg[other])
                if iso is None:
                    ev.append(S["unknown"].format(a=seg, b=other))
                if st == I.MEDIUM:
                    ev.insert(0, S["probable"].format(kind=S.get(kind, kind)))
                elif st == I.WEAK:
                    ev.insert(0, S["notice"].format(kind=S.get(kind, kind)))
                device = (reg or {}).get("name") if reg and seg in _segments_of(reg) else None
                device = device or _device_at(index, seg, by_seg[seg])
                status = "error" if iso is None else "fail"
                sev = "info" if st == I.WEAK and iso else "critical"
                out.append(_finding("ISO-BRIDGE", status, sev, seg, by_seg[seg][0], device, ev,
                                    {x["vantage"] for x in pair}, other))
    return out


def _segments_of(d: Mapping) -> set[str]:
    return {i.get("segment") for i in d.get("interfaces", ())}


def _registered(S, key, xs: list[dict], reg: Mapping | None, segs: Mapping) -> list[dict]:
    """The sightings of an identity the inventory registers to one device."""
    if reg is None:
        return []
    out = []
    home = _segments_of(reg)
    classified = [s for s in home if (segs.get(s) or {}).get("classification") == "classified"]
    kind = next((x["kind"] for x in xs if x["kind"] != "arp"), key[0])
    said = S["registered"].format(device=reg.get("name"), kind=S.get(kind, kind),
                                  value=I.shown(key[1]))
    for x in xs:
        if x["kind"] == "arp":
            continue
        if x["segment"] in home:
            want = {i.get("mac") for i in reg.get("interfaces", ())
                    if i.get("segment") == x["segment"] and i.get("mac")}
            if want and x["mac"] and x["mac"] not in want and x["strength"] != I.WEAK:
                ev = [S["mismatch"].format(device=reg.get("name"), kind=S.get(x["kind"], x["kind"]),
                                           mac=x["mac"], ip=x["ip"] or "-",
                                           want=", ".join(sorted(want))), _line(S, x)]
                f = _finding("DEV-MISMATCH", "fail", "high", x["segment"], x,
                             reg.get("name"), ev, {x["vantage"]})
                f["swapped_card"] = True
                out.append(f)
            continue
        for c in classified:
            if not _must_isolate(segs, c, x["segment"]):
                continue
            ev = [said, _line(S, x)]
            if x["strength"] == I.MEDIUM:
                ev.insert(0, S["probable"].format(kind=S.get(x["kind"], x["kind"])))
            elif x["strength"] == I.WEAK:
                ev.insert(0, S["notice"].format(kind=S.get(x["kind"], x["kind"])))
            sev = "info" if x["strength"] == I.WEAK else "critical"
            sub = next((i for i in reg.get("interfaces", ()) if i.get("segment") == c), {})
            out.append(_finding("ISO-BRIDGE", "fail", sev, c,
                                {"ip": sub.get("ip"), "mac": sub.get("mac")}, reg.get("name"),
                                ev, {x["vantage"]}, x["segment"]))
    return out


def _two_addresses(S, by_seg: Mapping[str, list[dict]]) -> list[dict]:
    """Two stations of one vantage with one strong identity: one host, two
    addresses (a notice in the device reconciliation, never a breach)."""
    out = []
    for seg, xs in by_seg.items():
        strong: dict[str, list[dict]] = {}
        for x in xs:
            if x["kind"] != "arp" and x["strength"] == I.STRONG and x["kind"] not in I.MAC_KINDS:
                strong.setdefault(x["vantage"], []).append(x)
        for vantage, ys in strong.items():
            stations = {}
            for y in ys:
                stations.setdefault((y["ip"], y["mac"]), y)
            if len(stations) < 2:
                continue
            a, b = list(stations.values())[:2]
            ev = [S["two_addresses"].format(kind=S.get(a["kind"], a["kind"]),
                                            value=I.shown(a["value"]),
                                            a=f"{a['ip']} ({a['mac'] or '-'})",
                                            b=f"{b['ip']} ({b['mac'] or '-'})",
                                            vantage=I.shown(vantage, 80))]
            out.append(_finding("DEV-MISMATCH", "fail", "info", seg, a, None, ev, {vantage}))
    return out


def fold_swapped_cards(findings: list[dict]) -> list[dict]:
    """A registered device known by its identity behind another MAC is one
    DEV-MISMATCH (a swapped card), not an unregistered station plus a missing
    device: the DEV-UNREGISTERED of that station and the DEV-MISSING of that
    device on that segment give their evidence to it and are dropped."""
    swapped = [f for f in findings if f.get("swapped_card")]
    if not swapped:
        return findings
    gone: set[int] = set()
    for s in swapped:
        seg, mac, dev = s["segment"], s["subject"]["mac"], s["subject"]["device"]
        for i, f in enumerate(findings):
            if f["status"] != "fail" or f["segment"] != seg or f is s:
                continue
            if (f["check_id"] == "DEV-UNREGISTERED" and mac and f["subject"]["mac"] == mac) or \
                    (f["check_id"] == "DEV-MISSING" and f["subject"]["device"] == dev):
                gone.add(i)
                for e in f["evidence"]:
                    if e not in s["evidence"]:
                        s["evidence"].append(f"{f['check_id']}: {e}")
                for v in f.get("vantages") or ():
                    if v not in s["vantages"]:
                        s["vantages"].append(v)
    return [f for i, f in enumerate(findings) if i not in gone]


def view(m: Mapping, lang: str) -> dict:
    """The report's "device identities" section: one row per identity seen,
    with the registered device it belongs to and the other segments where the
    same identity was seen. Rows are plain strings (jinja2 escapes them)."""
    S = _strings(lang)
    inv = m.get("inventory_view")
    ids = _sightings(m.get("sources") or ())
    where: dict[tuple[str, str], set[str]] = {}
    for x in ids:
        where.setdefault(join_key(x["kind"], x["value"]), set()).add(x["segment"])
    rows = []
    index = _index(inv)
    for x in sorted(ids, key=lambda x: (x["segment"], x["ip"] or "", x["kind"])):
        elsewhere = sorted(where[join_key(x["kind"], x["value"])] - {x["segment"]})
        rows.append(["warn" if elsewhere else "",
                     _device_at(index, x["segment"], [x]) or "—", x["segment"], x["vantage"],
                     x["ip"] or "—", x["mac"] or "—", S.get(x["kind"], x["kind"]),
                     I.shown(x["value"]) + (f" ({I.shown(x['note'])})" if x.get("note") else ""),
                     S.get(x["strength"], x["strength"]), ", ".join(elsewhere) or "—"])
    cols = [S[k] for k in ("col_device", "col_segment", "col_vantage", "col_ip", "col_mac",
                           "col_kind", "col_value", "col_strength", "col_where")]
    return {"title": S["sec"], "explain": S["explain"], "none": S["none"], "rows": rows,
            "columns": cols}
