"""Waivers (a baseline, as Checkov keeps one): accepted failing findings, each
with a reason, an approver and an expiry date (docs/SPEC.md §7).

    version: 1
    waivers:
      - fingerprint: 3db89281559b5be0          # one finding, by its fingerprint
        reason: 报废待回收，已断电               # all four keys required
        approver: 李四
        expires: 2027-03-31                     # valid through this day (UTC)
      - match: {check: DEV-MISSING, segment: office-lan, subject: "ws-*"}
        reason: ...
        approver: ...
        expires: 2027-01-15

`match` takes shell globs (fnmatch, case-sensitive; MACs compared lower case):
`check` (required), `segment`, and `subject` (the device name, IP or MAC),
`ip`, `mac`. `apply_waivers()` marks each failing finding a live waiver
covers with `"waiver": {...}`: its status stays `fail`, it is shown in the
report's own section and it does not count toward the verdict. An expired
waiver waives nothing and is itself a failing finding, WAIVER-EXPIRED.

Refused (WaiverError: file:line:column, exit 2): a waiver that could cover
ISO-PHYSICAL, ISO-BRIDGE or XFER-ONEWAY on a classified segment (the secrecy
rules know no exception for connecting a classified network outward), and
one of those checks on a segment whose classification is not known (fail
closed: no inventory, no waiver of them).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
import fnmatch
import re
from fnmatch import fnmatchcase
from typing import Mapping, Sequence

from scanner import yamlconfig as yc
from scanner.model import CheckMeta, Severity, text

# Never waivable on a classified segment.
PROTECTED = ("ISO-PHYSICAL", "ISO-BRIDGE", "XFER-ONEWAY")

# WAIVER-EXPIRED is the report's own finding, not a check plugin: no probe, no
# entry point (a live check without observations would be an error in every
# re-judged bundle). Its id is never reused for anything else.
META = CheckMeta(
    id="WAIVER-EXPIRED",
    severity=Severity.MEDIUM,
    title=text("豁免已过期", "Waiver expired"),
    needs=("waivers",),
    remediation=text("复核该发现：整改，或经审批人重新批准并更新豁免的到期日期。",
                     "Review the finding: fix it, or have the approver renew the waiver "
                     "with a new expiry date."),
    description=text("豁免文件中的一条豁免已过到期日期；过期的豁免不再豁免任何发现。",
                     "A waiver of the waivers file is past its expiry date; an expired "
                     "waiver no longer waives anything."),
)

_MATCH_KEYS = {"check", "segment", "subject", "ip", "mac"}
_MAX_PATTERN = 200


class WaiverError(yc.ConfigError):
    """A waivers file that is refused: `file:line:column: message`."""


@dataclass(frozen=True)
class Waiver:
    reason: str
    approver: str
    expires: _dt.date
    where: str                              # file:line:column of the entry
    fingerprint: str | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    check_where: str = ""                   # where the check (or fingerprint) is named
    _rx: dict = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_rx", _compile(self.match))

    @property
    def label(self) -> str:
        if self.fingerprint:
            return f"waiver:{self.fingerprint}"
        return "waiver:" + "/".join(f"{k}={self.match[k]}" for k in sorted(self.match))

    def expired(self, today: _dt.date) -> bool:
        return today > self.expires

    def covers(self, f: Mapping, fp: str) -> bool:
        if self.fingerprint is not None:
            return fp == self.fingerprint
        rx = self._rx
        s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
        ip, mac, dev = s.get("ip") or "", (s.get("mac") or "").lower(), s.get("device") or ""
        for key, value in (("check", str(f.get("check_id") or "")),
                           ("segment", str(f.get("segment") or "")), ("ip", ip), ("mac", mac)):
            if key in rx and not rx[key](value):
                return False
        if "subject" in rx and not (any(v and rx["subject"](v) for v in (dev, ip))
                                    or (mac and rx["subject_mac"](mac))):
            return False
        return True


def _compile(match: Mapping[str, str]) -> dict:
    """The match's globs as compiled regexes, once per waiver (fnmatch's own
    cache holds 256 patterns: a file of 1,000 waivers would compile them again
    for every finding)."""
    rx = {k: re.compile(fnmatch.translate(p.lower() if k == "mac" else p)).match
          for k, p in match.items()}
    if "subject" in match:
        rx["subject_mac"] = re.compile(fnmatch.translate(match["subject"].lower())).match
    return rx


_GLOB = set("*?[")


def _literal(pat: str | None) -> bool:
    return pat is not None and not (_GLOB & set(pat))


class _Index:
    """Which waivers may cover a finding, without trying all of them: each
    waiver is filed under its most selective literal field (fingerprint, ip,
    mac, subject, check); those with globs only are tried for every finding.
    The order of the file decides between several that cover one finding."""

    def __init__(self, waivers: Sequence[Waiver]):
        self.by: dict[tuple, list[int]] = {}
        self.always: list[int] = []
        for i, w in enumerate(waivers):
            m = w.match
            if w.fingerprint is not None:
                keys = [("fp", w.fingerprint)]
            elif _literal(m.get("ip")):
                keys = [("ip", m["ip"])]
            elif _literal(m.get("mac")):
                keys = [("mac", m["mac"].lower())]
            elif _literal(m.get("subject")):
                keys = [("subj", m["subject"]), ("subj", m["subject"].lower())]
            elif _literal(m.get("check")):
                keys = [("check", m["check"])]
            else:
                self.always.append(i)
                continue
            for k in set(keys):
                self.by.setdefault(k, []).append(i)

    def candidates(self, f: Mapping, fp: str) -> list[int]:
        s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
        ip, mac, dev = s.get("ip"), (s.get("mac") or "").lower() or None, s.get("device")
        keys = [("fp", fp), ("ip", ip), ("mac", mac), ("subj", dev), ("subj", ip), ("subj", mac),
                ("check", f.get("check_id"))]
        out = set(self.always)
        for k in keys:
            if k[1] is not None:
                out.update(self.by.get(k, ()))
        return sorted(out)


def load_waivers(path: str) -> list[Waiver]:
    """A waivers.yaml (the commands' `--waivers store` or a database URL reads the
    waivers the console keeps instead: scanner.commands.common.load_waivers)."""
    try:
        doc = yc.load(path, "a waivers file")
    except yc.ConfigError as exc:
        raise WaiverError(str(exc)) from None
    try:
        return _read(doc)
    except yc.ConfigError as exc:
        raise WaiverError(str(exc)) from None


def _read(doc: yc.Doc) -> list[Waiver]:
    d = doc.data
    yc.keys(doc, (), d, {"version", "waivers"}, {"version", "waivers"})
    if d["version"] != 1:
        raise doc.problem(("version",), "version must be 1")
    if not isinstance(d["waivers"], list):
        raise doc.problem(("waivers",), "must be a list of waivers")
    for i in range(len(d["waivers"])):        # every entry's place in one pass of the file
        for tail in ((), ("fingerprint",), ("match", "check")):
            doc.locator.want(("waivers", i) + tail)
    out = []
    for i, w in enumerate(d["waivers"]):
        p = ("waivers", i)
        yc.keys(doc, p, w, {"fingerprint", "match", "reason", "approver", "expires"},
                {"reason", "approver", "expires"})
        if ("fingerprint" in w) == ("match" in w):
            raise doc.problem(p, "a waiver names either a fingerprint or a match, exactly one")
        reason = yc.string(doc, p + ("reason",), w["reason"])
        approver = yc.string(doc, p + ("approver",), w["approver"])
        expires = yc.date(doc, p + ("expires",), w["expires"])
        if "fingerprint" in w:
            fp = yc.string(doc, p + ("fingerprint",), w["fingerprint"]).strip()
            if len(fp) > _MAX_PATTERN or any(c.isspace() for c in fp):
                raise doc.problem(p + ("fingerprint",), "not a fingerprint")
            out.append(Waiver(reason, approver, expires, doc.where(p), fingerprint=fp,
                              check_where=doc.where(p + ("fingerprint",))))
            continue
        m = w["match"]
        yc.keys(doc, p + ("match",), m, _MATCH_KEYS, {"check"})
        pats = {}
        for k, v in m.items():
            pats[k] = yc.string(doc, p + ("match", k), v)
            if len(pats[k]) > _MAX_PATTERN:
                raise doc.problem(p + ("match", k), f"longer than {_MAX_PATTERN} characters")
        out.append(Waiver(reason, approver, expires, doc.where(p), match=pats,
                          check_where=doc.where(p + ("match", "check"))))
    return out


# --------------------------------------------------------------------------
# applying


def _segments(result: Mapping) -> dict[str, str | None] | None:
    """segment name → classification, from the inventory the result carries
    (a merged bundle's inventory_view, or a bundle's embedded document)."""
    view = result.get("inventory_view")
    if not isinstance(view, Mapping):
        from scanner.report.merge import embedded_inventory
        view = embedded_inventory(result) if isinstance(result.get("inventory"), Mapping) else None
    if not isinstance(view, Mapping) or not isinstance(view.get("segments"), Mapping):
        return None
    return {str(k): (v.get("classification") if isinstance(v, Mapping) else None)
            for k, v in view["segments"].items()}


def _refuse_static(w: Waiver, segments: dict | None) -> None:
    """A match waiver that could cover a protected check on a classified segment."""
    if w.fingerprint is not None:
        return
    hit = [c for c in PROTECTED if fnmatchcase(c, w.match["check"])]
    if not hit:
        return
    if segments is None:
        raise WaiverError(f"{w.check_where}: a waiver of {', '.join(hit)} needs the inventory "
                          "(isoscan report -i) to show that its segment is not classified; refused")
    pat = w.match.get("segment", "*")
    classified = sorted(s for s, c in segments.items() if c == "classified" and fnmatchcase(s, pat))
    if classified:
        raise WaiverError(f"{w.check_where}: {', '.join(hit)} cannot be waived on classified "
                          f"segment {', '.join(classified)}: the secrecy rules know no exception "
                          "for connecting a classified network (涉密网络不得豁免)")


_ADDRESS = re.compile(r"[0-9A-Fa-f:.]{3,}")


def _classified_parts(result: Mapping) -> dict:
    """What of the inventory belongs to a classified segment: {"networks": [...],
    "devices": {name: segment}, "macs": {...}, "ips": {...}} (a finding on another
    segment may still be about one: an office gateway that routes into it)."""
    import ipaddress
    view = result.get("inventory_view")
    if not isinstance(view, Mapping):
        from scanner.report.merge import embedded_inventory
        view = embedded_inventory(result) if isinstance(result.get("inventory"), Mapping) else None
    out: dict = {"networks": [], "devices": {}, "macs": {}, "ips": {}}
    if not isinstance(view, Mapping):
        return out
    segs = view.get("segments") if isinstance(view.get("segments"), Mapping) else {}
    classified = {str(k) for k, v in segs.items()
                  if isinstance(v, Mapping) and v.get("classification") == "classified"}
    for name in classified:
        for n in segs[name].get("networks") or ():
            try:
                out["networks"].append((ipaddress.ip_network(str(n), strict=False), name))
            except ValueError:
                continue
    for d in view.get("devices") or ():
        if not isinstance(d, Mapping):
            continue
        for i in d.get("interfaces") or ():
            if isinstance(i, Mapping) and i.get("segment") in classified:
                if d.get("name"):
                    out["devices"][d["name"]] = i["segment"]
                if i.get("mac"):
                    out["macs"][str(i["mac"]).lower()] = i["segment"]
                if i.get("ip"):
                    out["ips"][str(i["ip"])] = i["segment"]
    return out


def _classified_touched(f: Mapping, parts: Mapping) -> str | None:
    """A classified segment the finding is about, by its peer segment, its subject
    or an address its evidence names (None: none is known)."""
    import ipaddress
    s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    if s.get("device") in parts["devices"]:
        return parts["devices"][s["device"]]
    if str(s.get("mac") or "").lower() in parts["macs"]:
        return parts["macs"][str(s["mac"]).lower()]
    words = [str(s.get("ip") or "")]
    for e in f.get("evidence") or ():
        words += [str(v) for v in e.values()] if isinstance(e, Mapping) else [str(e)]
    for word in words:
        for tok in _ADDRESS.findall(word):
            tok = tok.strip(".:")
            if tok in parts["ips"]:
                return parts["ips"][tok]
            try:
                ip = ipaddress.ip_address(tok)
            except ValueError:
                continue
            for net, name in parts["networks"]:
                if ip.version == net.version and ip in net:
                    return name
    return None


def _refuse_finding(w: Waiver, f: Mapping, segments: dict | None,
                    parts: Mapping | None = None) -> None:
    cid = f.get("check_id")
    if cid not in PROTECTED:
        return
    seg = f.get("segment")
    cls = (segments or {}).get(seg) if seg else None
    if cls == "classified":
        raise WaiverError(f"{w.check_where}: {cid} cannot be waived on classified segment {seg}: "
                          "the secrecy rules know no exception for connecting a classified "
                          "network (涉密网络不得豁免)")
    peer = f.get("peer_segment")
    other = (peer if (segments or {}).get(peer) == "classified" else None) or \
        (_classified_touched(f, parts) if parts else None)
    if other:
        raise WaiverError(f"{w.check_where}: {cid} on segment {seg} concerns the classified "
                          f"segment {other} and cannot be waived: the secrecy rules know no "
                          "exception for connecting a classified network (涉密网络不得豁免)")
    if cls is None:
        raise WaiverError(f"{w.check_where}: {cid} on segment {seg or '(none)'} of unknown "
                          "classification cannot be waived (give the inventory with -i); refused")


def expired_finding(w: Waiver, lang: str) -> dict:
    """The failing finding an expired waiver is (norm_finding's shape)."""
    file, line, col = (w.where.rsplit(":", 2) + ["", ""])[:3]
    what = (f"fingerprint {w.fingerprint}" if w.fingerprint else
            ", ".join(f"{k}={w.match[k]}" for k in sorted(w.match)))
    ev = (f"{w.where}: 豁免（{what}）已于 {w.expires.isoformat()} 到期；审批人：{w.approver}；理由：{w.reason}"
          if lang == "zh-CN" else
          f"{w.where}: the waiver ({what}) expired on {w.expires.isoformat()}; approver: "
          f"{w.approver}; reason: {w.reason}")
    seg = w.match.get("segment") if w.match and not any(c in w.match.get("segment", "*")
                                                        for c in "*?[") else None
    out = {"check_id": META.id, "status": "fail", "severity": META.severity.value,
           "segment": seg, "subject": {"ip": None, "mac": None, "device": w.label},
           "title": META.title[lang], "evidence": [ev], "regulation": [],
           "remediation": META.remediation[lang], "vantages": ["waivers"]}
    try:
        out["location"] = {"file": file, "line": int(line), "column": int(col)}
    except ValueError:
        pass
    return out


def apply_waivers(result: dict, waivers: Sequence[Waiver], *, today: _dt.date,
                  lang: str | None = None, fingerprint=None) -> dict:
    """Mark the waived failing findings of `result` (a bundle or merged bundle,
    changed in place), add a WAIVER-EXPIRED finding per expired waiver, and
    judge the verdict and counts again without the waived findings. Raises
    WaiverError for a refused waiver (nothing is changed then)."""
    from scanner.judge.run import counts, verdict
    if fingerprint is None:
        from scanner.store.fingerprint import Fingerprinter
        fingerprint = Fingerprinter()        # the store's rule (SPEC §9.1): history shows them
    lang = lang or result.get("lang") or "zh-CN"
    if lang not in ("zh-CN", "en"):
        lang = "zh-CN"
    segments = _segments(result)
    for w in waivers:
        _refuse_static(w, segments)
    parts = _classified_parts(result)
    findings = [f for f in result.get("findings") or [] if isinstance(f, dict)]
    marks: list[tuple[dict, Waiver]] = []
    index = _Index(waivers)
    for f in findings:
        if f.get("status") != "fail" or f.get("check_id") == META.id:
            continue
        fp = f.get("fingerprint") if isinstance(f.get("fingerprint"), str) else fingerprint(f)
        for i in index.candidates(f, fp):
            w = waivers[i]
            if w.covers(f, fp):
                _refuse_finding(w, f, segments, parts)
                if not w.expired(today):
                    marks.append((f, w))
                    break
    for f, w in marks:
        f["waiver"] = {"reason": w.reason, "approver": w.approver,
                       "expires": w.expires.isoformat(), "source": w.where,
                       **({"fingerprint": w.fingerprint} if w.fingerprint else {"match": dict(w.match)})}
    expired = [expired_finding(w, lang) for w in waivers if w.expired(today)]
    result["findings"] = list(result.get("findings") or []) + expired
    counted = [f for f in result["findings"] if isinstance(f, dict) and not f.get("waiver")]
    summary = dict(result.get("summary") or {})
    summary["verdict"], summary["counts"] = verdict(counted), counts(counted)
    summary["waived"] = len(marks)
    result["summary"] = summary
    result["waivers"] = {"applied": len(marks), "expired": len(expired), "entries": len(waivers),
                         "as_of": today.isoformat()}
    return result


# --------------------------------------------------------------------------
# the report's section (templates/report_waived.html.j2)

STRINGS = {
    "zh-CN": {"sec_waived": "已豁免的发现", "col_check": "检查项", "col_segment": "网段",
              "col_subject": "对象", "col_finding": "发现", "col_reason": "豁免理由",
              "col_approver": "审批人", "col_expires": "到期日期", "col_source": "豁免条目",
              "explain": "以下失败发现经审批豁免，状态仍为“不通过”，在到期前不计入合规结论；"
                         "过期的豁免本身列为失败发现（WAIVER-EXPIRED）。",
              "none": "没有被豁免的发现。",
              "tally": "豁免条目 {entries} 条，生效 {applied} 项，已过期 {expired} 条（截至 {as_of}）"},
    "en": {"sec_waived": "Waived findings", "col_check": "Check", "col_segment": "Segment",
           "col_subject": "Subject", "col_finding": "Finding", "col_reason": "Reason",
           "col_approver": "Approver", "col_expires": "Expires", "col_source": "Waiver entry",
           "explain": "These failing findings are waived by an approver: their status stays "
                      "fail, and they do not count toward the verdict until the waiver expires; "
                      "an expired waiver is itself a failing finding (WAIVER-EXPIRED).",
           "none": "No finding is waived.",
           "tally": "{entries} waiver entries, {applied} findings waived, {expired} expired "
                    "(as of {as_of})"},
}


def report_section(m: Mapping, lang: str, table) -> dict | None:
    """The waived section's context (None: no waivers file was given).
    `table` is render._table, so the rows page like every other table."""
    info = m.get("waivers")
    if not isinstance(info, Mapping):
        return None
    S = STRINGS[lang]
    dash = "—"
    rows = []
    for f in sorted((f for f in m["findings"] if f.get("waiver")),
                    key=lambda f: (f["check_id"], f.get("segment") or "")):
        w = f["waiver"]
        s = f.get("subject") or {}
        subj = "\n".join(x for x in (s.get("device"), s.get("ip"), s.get("mac")) if x) or dash
        rows.append(["sev-" + f["severity"], f["check_id"], f.get("segment") or dash, subj,
                     f.get("title") or dash, w["reason"], w["approver"], w["expires"],
                     w["source"]])
    cols = [S["col_check"], S["col_segment"], S["col_subject"], S["col_finding"],
            S["col_reason"], S["col_approver"], S["col_expires"], S["col_source"]]
    return {"t": S, "table": table("waived", cols, rows, S["none"]),
            "tally": S["tally"].format(**{k: info.get(k) for k in
                                          ("entries", "applied", "expired", "as_of")})}
