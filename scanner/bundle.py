"""The result bundle (SPEC §5): build, write, read and validate, re-judge.

    b = build_bundle(inventory=inv, vantage=v, observations=obs, findings=fs,
                     started_at=t0, finished_at=t1, lang="zh-CN")
    write_bundle("bundle.json", b)          # atomic: never a half-written file
    b = read_bundle("bundle.json")          # BundleError (one line) if not a bundle
    fs = findings_from_bundle(b)            # back to Finding objects
    b2 = rejudge(b, load_checks())          # live checks again on the stored observations

Beyond the SPEC §5 fields (all present, as specified) a bundle carries, additively:

* `lang`: the language the flat strings of the findings are in;
* `inventory.sources`: [{path, sha256}] per file, and `inventory.document`: the
  merged inventory in the SPEC §2 file shape, so a bundle can be re-judged (a
  new check, a corrected mapping) without the original files;
* per finding `i18n`: {"title", "remediation": {"zh-CN", "en"}, "evidence":
  [{"zh-CN", "en"}]} so a report can be rendered in the other language, and
  `location` wherever the finding comes from a place in a file;
* `rejudged` after rejudge(): which checks ran again, with which tool version;
* `signature` of `scan --sign` (docs/SPEC.md §8, scanner/evidence/sign.py): not
  checked here (a malformed block is an invalid signature, which `isoscan verify`
  and `report --trust` say, not an unreadable bundle). A re-judged bundle is a
  new document, so rejudge() leaves the stored signature out.

Readers must ignore fields they do not know; `read_bundle` checks the fields
SPEC §5 names, and that the summary agrees with the findings.
"""
from __future__ import annotations

import json
import math
import os
import uuid
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from netaddr import IPAddress, IPNetwork

from scanner import __version__
from scanner.atomicio import write_text_atomic
from scanner.localtime import timestamp  # noqa: F401 (stored times: UTC; kept importable here)
from scanner.judge.run import counts, run_checks, verdict
from scanner.model import (DEFAULT_LANG, LANGS, Canary, Device, Exposed, Finding,
                           Interface, Inventory, Location, Medium, Organization, Segment,
                           Severity, SourceFile, Status, Subject, Transfer, pick)

# reading and validating live in scanner.documents.bundle (below judging); kept importable here
from scanner.documents.bundle import (SCHEMA, SEVERITIES, STATUSES, VERDICTS,  # noqa: F401
                                      BundleError, bundle_sha256, parse_bundle, read_bundle,
                                      validate)


# --------------------------------------------------------------------------
# building

def build_bundle(*, inventory: Inventory, vantage: Mapping[str, Any],
                 observations: Mapping[str, Any], findings: Sequence[Finding],
                 started_at: datetime | str, finished_at: datetime | str,
                 lang: str = DEFAULT_LANG, scan_id: str | None = None,
                 tool_version: str | None = None, embed_inventory: bool = True,
                 plain_ready: Mapping[str, tuple] | None = None) -> dict:
    """The SPEC §5 bundle of one scan (plain JSON-ready data).

    `plain_ready`: {section: (the section object, its plain copy)} made
    earlier (plain_sections()); a copy is used only for that very object."""
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    inv_part: dict[str, Any] = {
        "files": [f.path for f in inventory.files],
        "sha256": inventory.sha256,
        "sources": [{"path": f.path, "sha256": f.sha256} for f in inventory.files],
        "organization": {"name": inventory.organization.name, "id": inventory.organization.id},
    }
    if embed_inventory:
        inv_part["document"] = inventory_document(inventory)
    return {
        "schema": SCHEMA,
        "scan_id": scan_id or str(uuid.uuid4()),
        "tool": {"name": "isoscan", "version": tool_version or __version__},
        "started_at": timestamp(started_at),
        "finished_at": timestamp(finished_at),
        "lang": lang,
        "inventory": inv_part,
        "vantage": _plain(dict(vantage)),
        "observations": _plain_observations(observations, plain_ready),
        "findings": [finding_json(f, lang) for f in findings],
        "summary": summary(findings),
    }


def summary(findings: Sequence[Finding | Mapping[str, Any]]) -> dict:
    return {"verdict": verdict(findings), "counts": counts(findings)}


def finding_json(f: Finding, lang: str = DEFAULT_LANG) -> dict:
    """Finding.to_json with its regulation references and both languages kept."""
    out = f.to_json(lang, regulation=_references(f.check_id, lang))
    out["i18n"] = {
        "title": _both(f.title),
        "remediation": _both(f.remediation) if f.remediation else {k: "" for k in LANGS},
        "evidence": [_both(e) for e in f.evidence],
    }
    return out


def _references(check_id: str, lang: str) -> list[str]:
    try:   # the mapping is data another module owns; no mapping is no reference
        from scanner.judge.regulations import references
        return [str(r) for r in references(check_id, lang)]
    except Exception:
        return []


def _both(t) -> dict:
    return {k: pick(t, k) for k in LANGS}


def _plain(data: Any) -> Any:
    """JSON-ready copy: netaddr objects, tuples, enums become strings and lists.

    Data that is plain already (str keys; str, int, finite float, bool, None,
    lists and tuples; exact types) is copied directly, about three times as
    fast as the JSON round trip; anything else takes the round trip."""
    try:
        return _copy_plain(data)
    except _NotPlain:
        return json.loads(json.dumps(data, default=_default, ensure_ascii=False))


class _NotPlain(Exception):
    pass


_SCALARS = (str, int, bool, type(None))


def _copy_plain(v: Any) -> Any:
    t = type(v)
    if t is dict:
        out = {}
        for k, x in v.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _copy_plain(x)
        return out
    if t is list or t is tuple:
        return [_copy_plain(x) for x in v]
    if t in _SCALARS:
        return v
    if t is float and math.isfinite(v):
        return v
    raise _NotPlain


def plain_sections(observations: Mapping[str, Any], names) -> dict[str, tuple]:
    """Plain copies of sections that will not change any more, made while the
    scan still waits (a /22's forwarding section is ~4 MB of JSON)."""
    return {n: (observations[n], _plain(observations[n])) for n in names if n in observations}


def _plain_observations(observations: Mapping[str, Any],
                        ready: Mapping[str, tuple] | None) -> dict:
    if not ready:
        return _plain(dict(observations))
    out = {}
    for k, v in observations.items():
        pre = ready.get(k)
        out[str(k)] = pre[1] if pre is not None and pre[0] is v else _plain(v)
    return out


def _default(o: Any) -> Any:
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, datetime):
        return timestamp(o)
    value = getattr(o, "value", None)       # enums
    if isinstance(value, (str, int)):
        return value
    return str(o)


# --------------------------------------------------------------------------
# the inventory, carried in the bundle in the SPEC §2 shape

def inventory_document(inv: Inventory) -> dict:
    """The merged inventory as one SPEC §2 document (long device form)."""
    def seg(s: Segment) -> dict:
        d: dict[str, Any] = {"name": s.name, "title": s.title,
                             "classification": s.classification, "level": s.level,
                             "networks": [str(n) for n in s.networks], "ingress": s.ingress}
        if s.exposed:
            d["exposed"] = [_no_none({
                "address": str(e.address) if e.address is not None else None,
                "public": str(e.public) if e.public is not None else None,
                "to": str(e.to) if e.to is not None else None, "to_port": e.to_port,
                "tcp": list(e.tcp), "udp": list(e.udp)}) for e in s.exposed]
        if s.public:
            d["public"] = [str(n) for n in s.public]
        if s.dhcp_servers is not None:
            d["dhcp_servers"] = [str(a) for a in s.dhcp_servers]
        if s.ipv6_routers is not None:
            d["ipv6_routers"] = [str(a) for a in s.ipv6_routers]
        return _no_none(d)

    doc = {
        "version": 1,
        "organization": _no_none({"name": inv.organization.name, "id": inv.organization.id}),
        "canaries": [{"name": c.name, "address": str(c.address), "tcp": list(c.tcp),
                      "udp": list(c.udp), "icmp": c.icmp} for c in inv.canaries],
        "segments": [seg(s) for s in inv.segments],
        "devices": [_no_none({
            "name": d.name, "kind": d.kind, "asset_tag": d.asset_tag, "custodian": d.custodian,
            "interfaces": [_no_none({"segment": i.segment,
                                     "ip": str(i.ip) if i.ip is not None else None,
                                     "mac": i.mac}) for i in d.interfaces],
            "disks": list(d.disks) or None})
            for d in inv.devices],
        "transfers": [{"device": t.device, "from": t.from_segment, "to": t.to_segment}
                      for t in inv.transfers],
    }
    if inv.media:        # issue 26: registered removable media (the host vantage re-judges them)
        doc["media"] = [_no_none({"serial": m.serial, "label": m.label,
                                  "classification": m.classification, "custodian": m.custodian})
                        for m in inv.media]
    return doc


def inventory_from_bundle(bundle: Mapping[str, Any]) -> Inventory:
    """The inventory a bundle carries (BundleError when it carries none)."""
    part = bundle.get("inventory") or {}
    doc = part.get("document") if isinstance(part, Mapping) else None
    if not isinstance(doc, Mapping):
        raise BundleError("the bundle carries no inventory document; give the inventory files")
    try:
        return _inventory_from_document(doc, part)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"the bundle's inventory document is malformed "
                          f"({type(exc).__name__}: {exc})") from None


def _inventory_from_document(doc: Mapping, part: Mapping) -> Inventory:
    def ips(v):
        return None if v is None else tuple(IPAddress(a) for a in v)

    def ip(v):
        return None if v is None else IPAddress(v)

    org = doc.get("organization") or {}
    return Inventory(
        organization=Organization(name=str(org.get("name") or ""), id=org.get("id")),
        segments=tuple(Segment(
            name=s["name"], classification=s["classification"],
            networks=tuple(IPNetwork(n) for n in s.get("networks") or ()),
            title=s.get("title"), level=s.get("level"), ingress=s.get("ingress"),
            exposed=tuple(Exposed(ip(e.get("address")), tuple(e.get("tcp") or ()),
                                  tuple(e.get("udp") or ()), public=ip(e.get("public")),
                                  to=ip(e.get("to")), to_port=e.get("to_port"))
                          for e in s.get("exposed") or ()),
            public=tuple(IPNetwork(n) for n in s.get("public") or ()),
            dhcp_servers=ips(s.get("dhcp_servers")), ipv6_routers=ips(s.get("ipv6_routers")))
            for s in doc.get("segments") or ()),
        devices=tuple(Device(
            name=d["name"], kind=d.get("kind") or "other",
            interfaces=tuple(Interface(segment=i["segment"],
                                       ip=IPAddress(i["ip"]) if i.get("ip") else None,
                                       mac=i.get("mac")) for i in d.get("interfaces") or ()),
            asset_tag=d.get("asset_tag"), custodian=d.get("custodian"),
            disks=tuple(str(x) for x in d.get("disks") or ()))
            for d in doc.get("devices") or ()),
        canaries=tuple(Canary(name=c["name"], address=IPAddress(c["address"]),
                              tcp=tuple(c.get("tcp", (80, 443))), udp=tuple(c.get("udp", (53,))),
                              icmp=bool(c.get("icmp", True)))
                       for c in doc.get("canaries") or ()),
        transfers=tuple(Transfer(t["device"], t["from"], t["to"]) for t in doc.get("transfers") or ()),
        files=tuple(SourceFile(str(s["path"]), str(s["sha256"]))
                    for s in part.get("sources") or () if isinstance(s, Mapping)),
        sha256=str(part.get("sha256") or ""),
        media=tuple(Medium(serial=str(m["serial"]), classification=str(m["classification"]),
                           label=m.get("label"), custodian=m.get("custodian"))
                    for m in doc.get("media") or ()),
    )


def _no_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


# --------------------------------------------------------------------------
# writing and reading

def write_bundle(path: str | os.PathLike, bundle: Mapping[str, Any]) -> None:
    """Write atomically (scanner.atomicio): fsync'd, with the permissions open() would give."""
    text = json.dumps(bundle, ensure_ascii=False, indent=1, default=_default) + "\n"
    write_text_atomic(path, text, prefix=".isoscan-bundle-")


# --------------------------------------------------------------------------
# back to findings; re-judging

def findings_from_bundle(bundle: Mapping[str, Any]) -> list[Finding]:
    """The bundle's findings as Finding objects (both languages where kept)."""
    return [_finding_from_json(f) for f in bundle.get("findings") or ()]


def _finding_from_json(f: Mapping[str, Any]) -> Finding:
    i18n = f.get("i18n") if isinstance(f.get("i18n"), Mapping) else {}
    evidence = list(f.get("evidence") or ())
    both = i18n.get("evidence")
    if isinstance(both, list) and len(both) == len(evidence) and all(
            isinstance(e, Mapping) for e in both):
        evidence = [dict(e) for e in both]
    loc = f.get("location")
    s = f.get("subject") or {}
    return Finding(
        check_id=f["check_id"], status=Status(f["status"]), severity=Severity(f["severity"]),
        title=dict(i18n["title"]) if isinstance(i18n.get("title"), Mapping) else f.get("title", ""),
        segment=f.get("segment"),
        subject=Subject.from_json(s),
        evidence=tuple(evidence),
        location=Location(loc["file"], loc["line"], loc["column"]) if isinstance(loc, Mapping) else None,
        remediation=(dict(i18n["remediation"]) if isinstance(i18n.get("remediation"), Mapping)
                     and any(i18n["remediation"].values()) else (f.get("remediation") or {})),
    )


def rejudge(bundle: Mapping[str, Any], registry: Any, inventory: Inventory | None = None,
            *, lang: str | None = None, policy: Mapping[str, Any] | None = None) -> dict:
    """Run the live checks of `registry` again on the stored observations.

    `registry` is a scanner.judge.registry.Registry (its load problems become part
    of the result, as in a scan), or any iterable of checks / (meta, evaluate)
    pairs. The inventory is `inventory` when given, else the one the bundle
    carries. Findings of checks that are not re-run (the static INV-* checks,
    which need the files; checks not in the registry) are kept as stored.
    `policy` (how to judge: ISO-LOGICAL's full-sweep age and strictness, what
    the report knows of the last full sweep) overrides the scan's own for
    this judgement only; the stored observations are not changed.
    Returns a new bundle; the input is not changed.
    """
    inv = inventory if inventory is not None else inventory_from_bundle(bundle)
    lang = lang or bundle.get("lang") or DEFAULT_LANG
    pairs = _pairs(registry)
    live = [(m, ev) for m, ev in pairs if not m.static]
    rerun = {m.id for m, _ in live}
    kept = [f for f in findings_from_bundle(bundle) if f.check_id not in rerun]
    problems = list(getattr(registry, "problems", ()) or ())
    obs = bundle.get("observations") or {}
    if policy is not None and isinstance(obs, Mapping):
        mine = obs.get("policy") if isinstance(obs.get("policy"), Mapping) else {}
        obs = {**obs, "policy": {**mine, **policy}}
    new = run_checks(live, inv, obs)
    findings = kept + problems + new
    out = dict(bundle)
    out.pop("signature", None)      # the signature is of the stored bundle, not of this one
    out["lang"] = lang
    out["findings"] = [finding_json(f, lang) for f in findings]
    out["summary"] = summary(findings)
    out["rejudged"] = {"checks": sorted(rerun), "tool_version": __version__}
    return out


def _pairs(registry: Any) -> list[tuple]:
    items: Iterable = getattr(registry, "checks", registry)
    out = []
    for c in items:
        if isinstance(c, tuple):
            out.append(c)
        else:
            out.append((c.meta, c.evaluate))
    return out
