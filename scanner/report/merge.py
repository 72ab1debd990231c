"""Merging the bundles of several vantage points into one result.

Pure data in, pure data out (no I/O): `merge()` takes bundle dicts (SPEC §5)
and returns one merged bundle dict, which `isoscan report --json` writes and
the HTML report renders.

- Findings are normalised (every field present, strings coerced) and
  deduplicated: the same check_id + status + segment + subject from several
  vantages is one finding that lists its vantages and the union of evidence.
- A hardware address seen by the discovery of two bundles on two segments that
  must be isolated (one classified, the other of another classification or
  level) is one host on both: an ISO-BRIDGE failure no single vantage could see.
- Canary logs (issue 8) join here: `attach_canary()` is the one place that
  turns them into per-vantage arrivals; until token verification lands it
  keeps what the outside saw, grouped by exit address, and judges nothing.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping, Sequence

from scanner.model import DEFAULT_LANG
from scanner.judge.crossbundle.views import must_isolate  # noqa: F401 (re-exported)
from scanner.model.net import norm_mac
from scanner.report.strings import STRINGS
from scanner.judge.run import counts, verdict

from scanner.documents.bundle import (SCHEMA, SEVERITIES, STATUSES,  # noqa: F401 (re-exported)
                                      ReportInputError, check_bundle)

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


# --------------------------------------------------------------------------
# small coercions: bundles are attacker-influenced data, every field optional


def _s(v: Any) -> str | None:
    if v is None or type(v) is str:
        return v
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _strs(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in v]
    return [_s(v) or ""]


def vantage_of(b: Mapping) -> dict:
    v = b.get("vantage") or {}
    out = {k: _s(v.get(k)) for k in ("segment", "interface", "ip", "mac")}
    if v.get("kind") == "host":      # issue 26: seen from inside a computer (isoscan host)
        out.update(kind="host", device=_s(v.get("device")))
    return out


def vantage_label(v: Mapping) -> str:
    if v.get("kind") == "host":
        return f"host {v.get('device') or v.get('ip') or '?'}"
    seg = v.get("segment") or "?"
    return f"{seg} {v['ip']}" if v.get("ip") else seg


def _in_lang(t: Any, lang: str | None) -> str | None:
    if lang and isinstance(t, Mapping) and isinstance(t.get(lang), str) and t.get(lang):
        return t[lang]
    return None


def join_exposed_unregistered(findings: Sequence[dict], lang: str) -> None:
    """An address the internet reaches with an undeclared open port (ISO-LOGICAL)
    that its own segment's vantage found unregistered (DEV-UNREGISTERED) is one
    station: each finding names the other, in place."""
    unregistered = {f["subject"]["ip"]: f for f in findings
                    if f["check_id"] == "DEV-UNREGISTERED" and f["status"] == "fail"
                    and f["subject"]["ip"]}
    zh = lang == "zh-CN"
    for f in findings:
        other = unregistered.get(f["subject"]["ip"])
        if (f["check_id"] != "ISO-LOGICAL" or f["status"] != "fail" or other is None
                or f["subject"]["device"]):
            continue
        ip, mac, seg = f["subject"]["ip"], other["subject"]["mac"], other["segment"]
        _add_new(f["evidence"], [
            f"该地址无人登记：{ip} 在网段 {seg} 上被发现未登记（DEV-UNREGISTERED，MAC {mac or '?'}）"
            if zh else f"nobody registered this address: {ip} was found unregistered on segment "
                       f"{seg} (DEV-UNREGISTERED, MAC {mac or '?'})"])
        _add_new(other["evidence"], [
            "该未登记设备可从互联网访问（ISO-LOGICAL）" if zh
            else "this unregistered station is reachable from the internet (ISO-LOGICAL)"])
        if not f["subject"]["mac"] and mac:
            f["subject"]["mac"] = mac


def norm_finding(f: Mapping, lang: str | None = None) -> dict:
    """Every field present and a string; with `lang`, the text the bundle
    keeps in both languages (its "i18n" part) is taken in that language."""
    subj = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    i18n = f.get("i18n") if isinstance(f.get("i18n"), Mapping) else {}
    evidence = _strs(f.get("evidence"))
    ev_both = i18n.get("evidence")
    if lang and isinstance(ev_both, list) and len(ev_both) == len(evidence):
        evidence = [_in_lang(b, lang) or e for b, e in zip(ev_both, evidence)]
    out = {
        "check_id": f["check_id"],
        "status": f["status"],
        "severity": f["severity"],
        "segment": _s(f.get("segment")),
        "subject": {"ip": _s(subj.get("ip")), "mac": norm_mac(subj.get("mac")),
                    "device": _s(subj.get("device"))},
        "title": _in_lang(i18n.get("title"), lang) or _s(f.get("title")) or "",
        "evidence": evidence,
        "regulation": _strs(f.get("regulation")),
        "remediation": _in_lang(i18n.get("remediation"), lang) or _s(f.get("remediation")) or "",
    }
    ports = _strs(subj.get("ports"))          # what tells one finding of a host from another
    if ports:
        out["subject"]["ports"] = ports
    if _s(subj.get("destination")):
        out["subject"]["destination"] = _s(subj.get("destination"))
    loc = f.get("location")
    if isinstance(loc, Mapping):
        out["location"] = {"file": _s(loc.get("file")), "line": loc.get("line"),
                           "column": loc.get("column")}
    return out


def finding_key(f: Mapping) -> tuple:
    s = f["subject"]
    loc = f.get("location") or {}
    return (f["check_id"], f["status"], f["segment"], s["ip"], s["mac"], s["device"],
            tuple(s.get("ports") or ()), s.get("destination"),
            loc.get("file"), loc.get("line"), loc.get("column"))


# --------------------------------------------------------------------------
# inventory view: what the report needs of an inventory, from either the
# model's Inventory or a raw SPEC §2 document (embedded in a bundle).


def inventory_view(inv: Any) -> dict | None:
    """{"organization": str|None, "segments": {...}, "devices": [...], "transfers": [...]}"""
    if inv is None:
        return None
    if isinstance(inv, Mapping):
        return _inventory_view_raw(inv)
    segs = {}
    for s in getattr(inv, "segments", ()):
        segs[s.name] = {"name": s.name, "classification": s.classification, "level": s.level,
                        "title": s.title, "ingress": s.ingress,
                        "networks": [str(n) for n in s.networks]}
    devs = []
    for d in getattr(inv, "devices", ()):
        devs.append({"name": d.name, "kind": d.kind, "asset_tag": d.asset_tag,
                     "custodian": d.custodian,
                     "interfaces": [{"segment": i.segment,
                                     "ip": str(i.ip) if i.ip is not None else None,
                                     "mac": norm_mac(i.mac)} for i in d.interfaces],
                     "ssh_host_keys": list(getattr(d, "ssh_host_keys", ())),
                     "names": list(getattr(d, "names", ()))})
    transfers = [{"device": t.device, "from": t.from_segment, "to": t.to_segment}
                 for t in getattr(inv, "transfers", ())]
    org = getattr(inv, "organization", None)
    return {"organization": getattr(org, "name", None), "segments": segs,
            "devices": devs, "transfers": transfers,
            "timezone": getattr(org, "timezone", None)}


def _inventory_view_raw(doc: Mapping) -> dict | None:
    if not isinstance(doc.get("segments"), list) and not isinstance(doc.get("devices"), list):
        return None
    segs = {}
    for s in doc.get("segments") or []:
        if isinstance(s, Mapping) and isinstance(s.get("name"), str):
            segs[s["name"]] = {"name": s["name"], "classification": _s(s.get("classification")),
                               "level": _s(s.get("level")), "title": _s(s.get("title")),
                               "ingress": _s(s.get("ingress")),
                               "networks": _strs(s.get("networks"))}
    devs = []
    for d in doc.get("devices") or []:
        if not isinstance(d, dict) and not isinstance(d, Mapping):
            continue
        if isinstance(d.get("interfaces"), list):
            ifs = [i for i in d["interfaces"] if isinstance(i, dict) or isinstance(i, Mapping)]
        else:
            ifs = [d]
        devs.append({"name": _s(d.get("name")) or "", "kind": _s(d.get("kind")),
                     "asset_tag": _s(d.get("asset_tag")), "custodian": _s(d.get("custodian")),
                     "interfaces": [{"segment": _s(i.get("segment")), "ip": _s(i.get("ip")),
                                     "mac": norm_mac(i.get("mac"))} for i in ifs],
                     "ssh_host_keys": _str_list(d.get("ssh_host_keys")),
                     "names": _str_list(d.get("names"))})
    transfers = [{"device": _s(t.get("device")), "from": _s(t.get("from")), "to": _s(t.get("to"))}
                 for t in doc.get("transfers") or [] if isinstance(t, Mapping)]
    org = doc.get("organization")
    return {"organization": _s(org.get("name")) if isinstance(org, Mapping) else None,
            "segments": segs, "devices": devs, "transfers": transfers,
            "timezone": _s(org.get("timezone")) if isinstance(org, Mapping) else None}


def _str_list(v: Any, limit: int = 64) -> list[str]:
    """The strings of a list (a bundle's registered identities), at most `limit`."""
    return [x for x in v if isinstance(x, str)][:limit] if isinstance(v, list) else []


def embedded_inventory(b: Mapping) -> dict | None:
    """An inventory a bundle carries beside its files/sha256, if any."""
    inv = b.get("inventory")
    if not isinstance(inv, Mapping):
        return None
    for key in ("document", "data", "content"):
        if isinstance(inv.get(key), Mapping):
            return _inventory_view_raw(inv[key])
    return _inventory_view_raw(inv)


# --------------------------------------------------------------------------
# merge


def _add_new(have: list, items: Iterable) -> None:
    """Append each item that `have` does not hold yet, in order."""
    for x in items:
        if x not in have:
            have.append(x)


def _fold_in(merged: dict[tuple, dict], f: dict) -> None:
    """A finding judged after the bundles' (cross-bundle, canary): new, or its
    evidence added to the finding of the same key."""
    key = finding_key(f)
    if key in merged:
        _add_new(merged[key]["evidence"], f["evidence"])
    else:
        merged[key] = f


def merge(bundles: Sequence[Mapping], digests: Sequence[str | None] | None = None,
          inventory: Any = None, canary_logs: Sequence[Any] | None = None,
          tool: Mapping | None = None, lang: str = DEFAULT_LANG) -> dict:
    """Merge bundles into one bundle dict (SPEC §5 shape plus `sources`)."""
    digests = list(digests or [])
    for i, b in enumerate(bundles):
        check_bundle(b, f"bundle {i + 1}")
    inv = inventory_view(inventory)
    if inv is None:
        for b in bundles:
            inv = embedded_inventory(b)
            if inv:
                break

    sources = []
    for i, b in enumerate(bundles):
        v = vantage_of(b)
        invb = b.get("inventory") or {}
        toolb = b.get("tool") or {}
        sources.append({
            "scan_id": _s(b.get("scan_id")),
            "sha256": digests[i] if i < len(digests) else None,
            "vantage": v,
            "label": vantage_label(v),
            "started_at": _s(b.get("started_at")),
            "finished_at": _s(b.get("finished_at")),
            "tool": {"name": _s(toolb.get("name")), "version": _s(toolb.get("version"))},
            "inventory": {"files": _strs(invb.get("files")), "sha256": _s(invb.get("sha256")),
                          "sources": [{"path": _s(x.get("path")), "sha256": _s(x.get("sha256"))}
                                      for x in invb.get("sources") or [] if isinstance(x, Mapping)]},
            "observations": b.get("observations") if isinstance(b.get("observations"), Mapping) else {},
        })

    merged: dict[tuple, dict] = {}
    for src, b in zip(sources, bundles):
        for raw in b["findings"]:
            f = norm_finding(raw, lang)
            key = finding_key(f)
            have = merged.get(key)
            if have is None:
                f["vantages"] = [src["label"]]
                merged[key] = f
                continue
            _add_new(have["vantages"], [src["label"]])
            _add_new(have["evidence"], f["evidence"])
            _add_new(have["regulation"], f["regulation"])
            # the most severe reading wins
            if SEVERITY_RANK[f["severity"]] < SEVERITY_RANK[have["severity"]]:
                have["severity"] = f["severity"]

    for f in cross_bundle_bridges(sources, inv, lang):
        _fold_in(merged, f)
    # issue 26: a computer whose own cards sit on segments that must be isolated
    from scanner.report.hostmerge import host_bridges
    for f in host_bridges(sources, inv, lang):
        _fold_in(merged, f)
    # issue 13: one host on two segments known by who it says it is (host key, names, ...)
    from scanner.judge.crossbundle.identities import judge as judge_identities
    for f in judge_identities(sources, inv, lang):
        _fold_in(merged, f)
    # issue 24: an ISO-BRIDGE pass says how many stations no identity joined
    from scanner.judge.crossbundle.identities import coverage_lines
    lines = coverage_lines(sources, lang)
    for f in merged.values():
        if lines and f["check_id"] == "ISO-BRIDGE" and f["status"] == "pass":
            _add_new(f["evidence"], lines)

    # canary logs (issue 8): verified arrivals re-judge ISO-BRIDGE / ISO-PHYSICAL / ING-SINGLE
    if canary_logs:
        from scanner.judge.crossbundle.canary import judge_arrivals_json
        for raw in judge_arrivals_json(bundles, canary_logs,
                                       inventory if inventory is not None else inv, lang):
            f = norm_finding(raw, lang)
            f["vantages"] = ["canary"]
            _fold_in(merged, f)

    from scanner.judge.crossbundle.identities import fold_swapped_cards
    findings = fold_swapped_cards(list(merged.values()))
    join_exposed_unregistered(findings, lang)
    from scanner.report.transfer import check_arrivals
    check_arrivals(findings, sources, inv, lang)
    starts = [s["started_at"] for s in sources if s["started_at"]]
    ends = [s["finished_at"] for s in sources if s["finished_at"]]
    inv_files: list[str] = []
    inv_shas: list[str] = []
    file_shas: dict[str, str] = {}
    for s in sources:
        _add_new(inv_files, s["inventory"]["files"])
        for src in s["inventory"]["sources"]:
            if src["path"] and src["sha256"]:
                file_shas.setdefault(src["path"], src["sha256"])
        if s["inventory"]["sha256"] and s["inventory"]["sha256"] not in inv_shas:
            inv_shas.append(s["inventory"]["sha256"])
    ids = "\n".join(s["scan_id"] or "" for s in sources)
    out = {
        "schema": SCHEMA,
        "scan_id": "merged-" + hashlib.sha256(ids.encode()).hexdigest()[:16],
        "tool": dict(tool) if tool else (sources[0]["tool"] if sources else {}),
        "started_at": min(starts) if starts else "",
        "finished_at": max(ends) if ends else "",
        # one sha256 when every bundle used the same inventory (else the first; all in sha256s,
        # and the report warns)
        "inventory": {"files": inv_files, "sha256": inv_shas[0] if inv_shas else "",
                      "sha256s": inv_shas,
                      "sources": [{"path": k, "sha256": v} for k, v in file_shas.items()]},
        # a merged bundle has no single vantage: they are all in "vantages"
        "vantage": {"segment": None, "interface": None, "ip": None, "mac": None},
        "vantages": [s["vantage"] for s in sources],
        "sources": sources,
        "observations": {"canary": attach_canary(canary_logs, sources)},
        "findings": findings,
        "summary": {"verdict": verdict(findings), "counts": counts(findings)},
    }
    if inv is not None:
        out["inventory_view"] = inv
    for b in bundles:           # the unit's name, also when no inventory document is kept
        org = (b.get("inventory") or {}).get("organization")
        if isinstance(org, Mapping) and isinstance(org.get("name"), str):
            out["organization"] = org["name"]
            break
    for b in bundles:           # the unit's time zone (what a person reads is local time)
        org = (b.get("inventory") or {}).get("organization")
        if isinstance(org, Mapping) and isinstance(org.get("timezone"), str):
            out["timezone"] = org["timezone"]
            break
    if inv is not None and inv.get("organization"):
        out["organization"] = inv["organization"]
    if inv is not None and inv.get("timezone"):
        out["timezone"] = inv["timezone"]
    return out


def cross_bundle_bridges(sources: Sequence[Mapping], inv: Mapping | None,
                         lang: str = DEFAULT_LANG) -> list[dict]:
    """One MAC in the discovery of two vantages on segments that must be isolated."""
    S = STRINGS[lang]
    vantage_macs = {norm_mac(s["vantage"].get("mac")) for s in sources} - {None}
    transfer_devs = {t["device"] for t in (inv or {}).get("transfers", [])}
    transfer_macs = set()
    for d in (inv or {}).get("devices", []):
        if d["name"] in transfer_devs:
            transfer_macs.update(i["mac"] for i in d["interfaces"] if i["mac"])
    # pass 1 (cheap, over every host): the MACs seen on more than one segment
    first_seg: dict[str, str] = {}
    multi: set[str] = set()
    hosts_of = []
    for s in sources:
        seg = s["vantage"].get("segment")
        disc = s["observations"].get("discovery")
        if not seg or not isinstance(disc, Mapping) or not isinstance(disc.get("hosts"), list):
            continue
        # IPv4 stations and IPv6 neighbours: a MAC seen by either counts
        six = disc.get("neighbours6")
        seen_here = disc["hosts"] + (six if isinstance(six, list) else [])
        hosts_of.append((s, seg, seen_here))
        for h in seen_here:
            if type(h) is not dict and not isinstance(h, Mapping):
                continue
            mac = h.get("mac")
            if type(mac) is not str:
                continue
            mac = norm_mac(mac)
            f = first_seg.setdefault(mac, seg)
            if f != seg:
                multi.add(mac)
    multi -= vantage_macs | transfer_macs
    # pass 2: details for those alone
    seen: dict[str, dict[str, list]] = {}   # mac -> segment -> [(label, ip)]
    if multi:
        for s, seg, hosts in hosts_of:
            for h in hosts:
                if type(h) is not dict and not isinstance(h, Mapping):
                    continue
                mac = norm_mac(h.get("mac"))
                if mac in multi:
                    seen.setdefault(mac, {}).setdefault(seg, []).append((s["label"], _s(h.get("ip"))))
    segs = (inv or {}).get("segments", {})
    out = []
    for mac, by_seg in seen.items():
        if len(by_seg) < 2:
            continue
        names = sorted(by_seg)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                iso = must_isolate(segs.get(a), segs.get(b))
                if iso is False:
                    continue
                # the finding sits on the classified side when there is one
                seg = a if (segs.get(a) or {}).get("classification") == "classified" or \
                    (segs.get(b) or {}).get("classification") != "classified" else b
                other = b if seg == a else a
                ips = [ip for _, ip in by_seg[seg] if ip]
                ev = [S["ev_bridge_seen"].format(
                    mac=mac, segment=x, ips=", ".join(ip for _, ip in by_seg[x] if ip) or "-",
                    vantages=", ".join(sorted({lab for lab, _ in by_seg[x]}))) for x in (seg, other)]
                if iso is None:
                    ev.append(S["ev_bridge_unknown"].format(a=seg, b=other))
                out.append({
                    "check_id": "ISO-BRIDGE",
                    "status": "fail" if iso else "error",
                    "severity": "critical",
                    "segment": seg,
                    "subject": {"ip": ips[0] if ips else None, "mac": mac,
                                "device": _device_by_mac(inv, mac)},
                    "title": "",
                    "evidence": ev,
                    "regulation": [],
                    "remediation": "",
                    "vantages": sorted({lab for x in (seg, other) for lab, _ in by_seg[x]}),
                    "merged": True,
                    "peer_segment": other,
                })
    return out


def _device_by_mac(inv: Mapping | None, mac: str) -> str | None:
    for d in (inv or {}).get("devices", []):
        if any(i["mac"] == mac for i in d["interfaces"]):
            return d["name"]
    return None


# --------------------------------------------------------------------------
# canary logs (issue 8 hook)


def attach_canary(canary_logs: Sequence[Any] | None, sources: Sequence[Mapping]) -> dict:
    """What the outside saw, as data the report shows (issue 8 joins here).

    A canary log is SPEC `isoscan.canary/1` (scanner/canary/listen.py): "arrivals"
    with token, proto, src, dport, ttl, time, count. An arrival is attributed
    to the vantage whose bundle key verifies its token and whose scan and
    segment the token names (scanner.canary.tokens); others stay unattributed.
    Judging what arrived (ISO-PHYSICAL / ING-SINGLE from canary evidence) is
    issue 8's: this only reports it.
    """
    if not canary_logs:
        return {"status": "not-run", "error": None, "arrivals": []}
    keys = []
    try:
        from scanner.canary import tokens
        for s in sources:
            k = tokens.key_from_json(s["observations"].get("canary_key"))
            if k:
                keys.append((k, s))
    except Exception:   # tokens module unavailable: nothing can be attributed
        tokens = None
    arrivals = []
    for log in canary_logs:
        if not isinstance(log, Mapping):
            continue
        canary = _s(log.get("canary"))
        for a in log.get("arrivals") or []:
            if not isinstance(a, Mapping):
                continue
            vantage = None
            tok = a.get("token")
            if tokens is not None and isinstance(tok, str):
                for k, s in keys:
                    info = tokens.verify(tok, k)
                    if info is not None and info.names(s["scan_id"] or "", s["vantage"].get("segment") or ""):
                        vantage = s["label"]
                        break
            cnt = a.get("count")
            arrivals.append({"canary": canary, "vantage": vantage,
                             "src": _s(a.get("src")), "proto": _s(a.get("proto")),
                             "port": _s(a.get("dport", a.get("port"))),
                             "ttl": _s(a.get("ttl")), "time": _s(a.get("time")),
                             "count": cnt if isinstance(cnt, int) and cnt > 0 else 1,
                             "token": _s(tok)})
    return {"status": "ok", "error": None, "arrivals": arrivals}
