"""What the report shows of the evidence: the signature table of its header, the
alert of its verdict, the inspection record (检查记录) and the print footer.

    extend = report_extension(merged, lang, evidence=ev, record=opts, print_all=True,
                              report_sha="ab12…")
    html = render_report(..., merged=merged, extend=extend)

The templates (_evidence.html.j2, _evidence_verdict.html.j2, _record.html.j2)
read ctx["evidence"], ctx["record"] and ctx["print_footer"]; every value is
autoescaped there, as in the rest of the report.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from scanner.evidence.keys import short_fingerprint
from scanner.evidence.verify import ChainReport, Result
from scanner.localtime import local_iso, unit_zone
from scanner.model import pick
from scanner.report.fixfirst import ranked, segment_label, where_tokens

SEV_ORDER = ("critical", "high", "medium", "low", "info")


@dataclass
class RecordOptions:
    inspector: str | None = None
    responsible: str | None = None
    deadline: str | None = None
    unit: str | None = None


@dataclass
class Evidence:
    """The verification of every input, done before the report is rendered."""
    checked: bool                    # --trust was given
    results: list[Result]
    chains: list[ChainReport]

    @property
    def bad(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    @property
    def broken(self) -> list[ChainReport]:
        return [c for c in self.chains if c.status != "whole"]

    @property
    def all_good(self) -> bool:
        return self.checked and not self.bad and not self.broken


def finding_id(f: Mapping[str, Any]) -> str:
    """A finding's id in the record: the check id and 6 hex digits of a digest
    of what it is about (segment, subject, file location), so the same problem
    keeps its id from one report to the next. A bundle's own `id` wins."""
    if isinstance(f.get("id"), str) and f["id"]:
        return f["id"]
    s = f.get("subject") or {}
    loc = f.get("location") or {}
    key = [f.get("check_id"), f.get("segment"), s.get("ip"), s.get("mac"), s.get("device"),
           loc.get("file"), loc.get("line"), loc.get("column")]
    if not any(key[2:]):        # no subject: the evidence tells one finding from another
        key.append(list(f.get("evidence") or ())[:1])
    h = hashlib.sha256(json.dumps(key, ensure_ascii=False, default=str).encode()).hexdigest()
    return f"{f.get('check_id')}-{h[:6]}"


def numbered_ids(findings: Sequence[Mapping]) -> list[str]:
    """finding_id for each, with -2, -3 … where two findings share one."""
    seen: Counter = Counter()
    out = []
    for f in findings:
        fid = finding_id(f)
        seen[fid] += 1
        out.append(fid if seen[fid] == 1 else f"{fid}-{seen[fid]}")
    return out


def evidence_view(ev: Evidence | None, S: Mapping[str, str], lang: str,
                  signed_unchecked: bool, zone: Any = None) -> dict | None:
    if ev is None:
        return {"checked": False, "rows": [], "chains": [], "bad": [], "broken": [],
                "all_good": False, "n": 0} if signed_unchecked else None
    rows = []
    for r in ev.results:
        rows.append({
            "file": r.name, "file_parts": _path_parts(r.name),
            "kind": S["ev_kind_" + r.kind], "status": r.status,
            "status_label": S["ev_status_" + r.status],
            "signer": (r.key_name or "") if r.fingerprint else "",
            "fingerprint": r.fingerprint or "",
            "short": short_fingerprint(r.fingerprint) if r.fingerprint else "",
            "signed_at": local_iso(r.signed_at, zone) if r.signed_at else "",
            "chain": f"{r.chain} #{r.sequence}" if r.chain and r.sequence else "—",
            # a valid signature's detail only repeats the signer and its fingerprint,
            # which the signer column shows: each fingerprint is printed once
            "detail": "" if (r.status == "valid" and r.fingerprint
                             and r.fingerprint in pick(r.detail, lang)) else pick(r.detail, lang)})
    chains = [{"chain": c.chain, "status": c.status, "label": S["ev_chain_" + c.status],
               "span": (f"#{c.links[0][0]}–#{c.links[-1][0]}" if c.links else ""),
               "count": len(c.links),
               "problems": [pick(p, lang) for p in c.problems],
               "notes": [pick(n, lang) for n in c.notes]} for c in ev.chains]
    return {"checked": True, "rows": rows, "chains": chains,
            "bad": [r for r in rows if r["status"] != "valid"],
            "broken": [c for c in chains if c["status"] != "whole"],
            "all_good": ev.all_good, "n": len(rows)}


def record_view(m: Mapping[str, Any], ctx: Mapping[str, Any], opts: RecordOptions,
                S: Mapping[str, str], lang: str) -> dict:
    findings = m["findings"]
    rid = {id(f): i for f, i in zip(findings, numbered_ids(findings))}
    inv = m.get("inventory_view") or {}
    custodian = {}
    for d in inv.get("devices") or ():
        if d.get("custodian"):
            custodian[d.get("name")] = d["custodian"]
            for i in d.get("interfaces") or ():
                if i.get("ip"):
                    custodian[i["ip"]] = d["custodian"]

    # basis: every clause the findings cite, in order of first citation
    basis: list[str] = []
    for f in findings:
        for c in f.get("regulation") or ():
            if c not in basis:
                basis.append(c)
    from scanner import __version__
    mapping = S["rec_basis_builtin"].format(version=__version__)   # never an install path

    segs = inv.get("segments") or {}
    def level(s):
        key = "level_" + str(s.get("level"))
        return f" {S[key]}" if s.get("level") and key in S else ""
    seg_rows = [segment_label(s["name"], s.get("classification"), S) + level(s)
                + (f" {s['title']}" if s.get("title") else "")
                for s in sorted(segs.values(), key=lambda s: _seg_key(s))]
    if not seg_rows:
        seg_rows = sorted({f["segment"] for f in findings if f.get("segment")})
    vantages = []
    for s in m.get("sources") or ():
        v = s.get("vantage") or {}
        vantages.append(" ".join(x for x in (v.get("segment"), v.get("interface"), v.get("ip"))
                                 if x) or "—")

    # per requirement: verdict and the ids of its failing and erring findings
    by_check: dict[str, list[Mapping]] = {}
    for f in findings:
        by_check.setdefault(f["check_id"], []).append(f)
    order = {id(f): n for n, (f, _new) in enumerate(ranked(m))}   # what to fix first
    verdicts = []
    for r in ctx.get("requirements") or ():
        cited = [f for c in r["checks"] for f in by_check.get(c["id"], ())
                 if f["status"] in ("fail", "error") and not f.get("waiver")]
        cited = [rid[id(f)] for f in sorted(cited, key=lambda f: order.get(id(f), len(order)))]
        cited = list(dict.fromkeys(cited))   # a check under two requirements is cited once each
        verdicts.append({"label": r["label"], "status": r["status"],
                         "status_label": r["status_label"], "ids": cited})

    # the rectification list: one row per failing finding of severity low or above
    deadline = opts.deadline or S["rec_blank"]
    rows = []
    # ranked as the report's "what to fix first" (scanner.judge.priority.fix_first)
    fails = [f for f, _new in ranked(m) if f["status"] == "fail"]
    cls = {n: s.get("classification") for n, s in segs.items()}
    for n, f in enumerate(fails, 1):
        s = f.get("subject") or {}
        who = (custodian.get(s.get("device")) or custodian.get(s.get("ip"))
               or opts.responsible or S["rec_blank"])
        loc = f.get("location") or {}
        subject = where_tokens(f) or ([f"{loc['file']}:{loc.get('line') or '?'}"]
                                      if loc.get("file") else ["—"])
        rows.append({"no": n, "id": rid[id(f)], "check_id": f["check_id"],
                     "severity": f["severity"],
                     "sev_label": S["sev_" + f["severity"]], "problem": f.get("title") or "",
                     "subject": subject,
                     "segment": segment_label(f.get("segment") or "", cls.get(f.get("segment")), S),
                     "action": f.get("remediation") or "—", "deadline": deadline, "who": who})
    notices = sum(1 for f in findings if f["status"] == "fail" and f["severity"] == "info")
    errors = sum(1 for f in findings if f["status"] == "error")
    verdict = m["summary"]["verdict"]
    key = "rec_opinion_" + verdict.replace("-", "_")
    opinion = S[key].format(n=len(rows)) if "{n}" in S[key] else S[key]
    return {
        "unit": opts.unit or ctx.get("org") or S["rec_blank"],
        "inspector": opts.inspector or "", "responsible": opts.responsible or "",
        "deadline": opts.deadline or "", "span": ctx.get("span") or "—",
        "basis": basis, "mapping": mapping, "segments": seg_rows, "vantages": vantages,
        "method": S["rec_method_text"].format(version=__version__, checks=len(by_check)),
        "verdicts": verdicts, "rows": rows,
        "notes": S["rec_list_notes"].format(notices=notices, errors=errors)
        if notices or errors else "",
        "opinion": opinion, "verdict": verdict,
    }


def _path_parts(path: str) -> list[str]:
    """A path in the pieces a line may break between (after each '/'), never inside a name."""
    parts = str(path).split("/")
    return [p + "/" for p in parts[:-1]] + [parts[-1]]


def _seg_key(s: Mapping) -> tuple:
    from scanner.judge.priority import segment_order
    return segment_order(s.get("classification"), str(s.get("name")))


def css_string(s: str) -> str:
    """A CSS string literal: anything but letters, digits, CJK and a few marks
    escaped as \\HHHHHH (no quote, backslash, '<' or newline survives)."""
    out = []
    for ch in s:
        if ch.isalnum() or ch in " :·-….,/()（）：，" :
            out.append(ch)
        else:
            out.append("\\%06x" % ord(ch))
    return '"' + "".join(out) + '"'


def unpage(ctx: Any) -> None:
    """Every row of every table into the HTML (the PDF has no pager to page with)."""
    if isinstance(ctx, dict):
        if {"rows", "total", "data", "page"} <= set(ctx) and isinstance(ctx.get("data"), list):
            ctx["rows"] = ctx["data"]
            ctx["data"] = None
        for v in ctx.values():
            unpage(v)
    elif isinstance(ctx, list):
        for v in ctx:
            if isinstance(v, (dict, list)):
                unpage(v)


def report_extension(m: Mapping[str, Any], lang: str, *, evidence: Evidence | None,
                     record: RecordOptions | None, print_all: bool = False,
                     report_sha: str | None = None,
                     signed_unchecked: bool = False) -> Callable[[dict], None]:
    """The function render_report calls with its context (render.py's `extend`)."""
    def extend(ctx: dict) -> None:
        S = ctx["t"]
        zone = unit_zone(m.get("timezone"))
        ctx["evidence"] = evidence_view(evidence, S, lang, signed_unchecked, zone)
        ctx["record"] = record_view(m, ctx, record, S, lang) if record is not None else None
        if ctx["record"] is not None:       # the printed record is filed: it comes first
            ctx["record"]["first"] = print_all
        fps = []
        for r in (evidence.results if evidence else ()):
            if r.fingerprint and r.fingerprint not in fps:
                fps.append(r.fingerprint)
        sha = report_sha[:16] + "…" if report_sha else S["print_sha_see_package"]
        signers = " · ".join(short_fingerprint(fp) for fp in fps) or S["print_unsigned"]
        line = f"{S['print_report_sha']}: {sha}  ·  {S['print_signers']}: {signers}"
        # in the page margin of every printed page (never over the content)
        ctx["extra_css"] = ("@page{@bottom-left{content:" + css_string(line)
                            + ";font-size:7pt;color:#5f6368;white-space:pre}}")
        if print_all:
            unpage(ctx)
    return extend
