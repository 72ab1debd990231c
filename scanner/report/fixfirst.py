"""What to fix first, as the report and the inspection record show it.

    view = fix_first_view(merged, S, lang)          # for templates/_fixfirst.html.j2
    tally = finding_tally(merged)                   # the one count of findings of a run

The ranking is scanner.judge.priority.fix_first (severity, then the segment's
classification, then a failure before an error, then new before persisting);
"new" is what the store says (merged["since_last"], from `report --db` or
`--previous`). Each line reads as an instruction: what is wrong (the check's
title in the page's language), where (device, address, ports, destination:
priority.where), and what to do (the check's remediation; for a check that
could not be judged, to run it again once the reason is removed).
"""
from __future__ import annotations

from typing import Any, Mapping

from scanner.judge.priority import fix_first, segment_order, where

SHOWN = 10          # lines in the list; the rest are counted, and all are in the sections below


def classification_map(m: Mapping[str, Any]) -> dict[str, str | None]:
    """segment name -> classification, from the inventory the report was judged with."""
    inv = m.get("inventory_view") or {}
    segs = inv.get("segments") if isinstance(inv, Mapping) else None
    if not isinstance(segs, Mapping):
        return {}
    return {str(n): (s.get("classification") if isinstance(s, Mapping) else None)
            for n, s in segs.items()}


def new_fingerprints(m: Mapping[str, Any]) -> set[str] | None:
    """The fingerprints the store (or --previous) calls new; None when nothing was compared."""
    since = m.get("since_last")
    if not isinstance(since, Mapping) or since.get("previous") is None:
        return None
    return {str(c.get("fingerprint")) for c in since.get("changes") or ()
            if isinstance(c, Mapping) and c.get("kind") == "new"}


def finding_tally(m: Mapping[str, Any]) -> dict[str, int]:
    """The one count of a run's findings, as the demo, the report and the record say it:
    violations (failing, severity low or above, not waived) — the number that decides
    the verdict and fills the rectification list; then, by design apart, notices
    (failing at severity info), errors (could not be judged) and waived findings."""
    out = {"violations": 0, "notices": 0, "errors": 0, "waived": 0}
    for f in m.get("findings") or ():
        if not isinstance(f, Mapping):
            continue
        if f.get("waiver"):
            out["waived"] += f.get("status") in ("fail", "error")
        elif f.get("status") == "error":
            out["errors"] += 1
        elif f.get("status") == "fail":
            out["notices" if f.get("severity") == "info" else "violations"] += 1
    return out


def ranked(m: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], bool]]:
    """Every violation and error of the run (not waived, not notices), most urgent
    first, each with whether it is new since the last scan."""
    cls = classification_map(m)
    new = new_fingerprints(m)
    is_new = (lambda f: False)
    if new:
        from scanner.store.fingerprint import Fingerprinter
        fp = Fingerprinter()
        is_new = (lambda f: fp(f) in new)
    chosen = [f for f in m.get("findings") or ()
              if isinstance(f, Mapping) and not f.get("waiver") and f.get("severity") != "info"]
    out = fix_first(chosen, lambda seg: cls.get(seg) if seg else None, is_new=is_new)
    return [(f, bool(new) and is_new(f)) for f in out]


def ordered_segments(names, m: Mapping[str, Any]) -> list:
    """Segment names in section order: classified, non-classified, internet, then unknown;
    the findings without a segment (the inventory file's own) last."""
    cls = classification_map(m)
    return sorted(names, key=lambda n: (n == "", segment_order(cls.get(n), n)))


def where_tokens(f: Mapping[str, Any]) -> list[str]:
    """priority.where() as the tokens a page never breaks inside (device, address,
    MAC, each port, the destination): a line may wrap between them only."""
    out: list[str] = []
    for t in where(f).split(" "):
        if t and out and out[-1] == "->":
            out[-1] = f"-> {t}"            # the arrow stays with where it points
        elif t:
            out.append(t)
    return out


def segment_label(name: str, classification: str | None, S: Mapping[str, str]) -> str:
    """'secret-lan（涉密网段）': a segment with its classification in the page's language."""
    if not name:
        return ""
    key = "cls_" + (classification or "unknown").replace("-", "_")
    return S["seg_with_class"].format(name=name, cls=S[key] if key in S else S["cls_unknown"])


def line_of(f: Mapping[str, Any], S: Mapping[str, str], new: bool = False,
            classification: str | None = None, zone: Any = None) -> dict:
    """One line of the list: what is wrong, where, what to do."""
    sev = str(f.get("severity"))
    status = str(f.get("status"))
    loc = f.get("location") if isinstance(f.get("location"), Mapping) else None
    place = where_tokens(f)
    if not place and loc and loc.get("file"):
        place = [f"{loc['file']}:{loc.get('line') or '?'}"]
    if status == "error":
        from scanner.report.render import local_times
        why = "; ".join(local_times([str(e) for e in (f.get("evidence") or ())[:1]], zone))
        action = S["ff_error_action"] + (f" ({why})" if why else "")
    else:
        action = str(f.get("remediation") or "") or S["ff_no_action"]
    return {"severity": sev, "sev_label": S["sev_" + sev] if ("sev_" + sev) in S else sev,
            "status": status, "error": status == "error",
            "check_id": str(f.get("check_id") or ""), "title": str(f.get("title") or ""),
            "segment": str(f.get("segment") or ""),
            "segment_label": segment_label(str(f.get("segment") or ""), classification, S),
            "where": place, "action": action,
            "new": new}


def fix_first_view(m: Mapping[str, Any], S: Mapping[str, str], shown: int = SHOWN) -> dict:
    """The ranked list at the top of the report, and the sentence of its verdict box."""
    rs = ranked(m)
    tally = finding_tally(m)
    cls = classification_map(m)
    from scanner.localtime import unit_zone
    zone = unit_zone(m.get("timezone"))
    lines = [line_of(f, S, new, cls.get(str(f.get("segment"))), zone) for f, new in rs[:shown]]
    compared = new_fingerprints(m) is not None
    parts = [S["ff_tally_violations"].format(n=tally["violations"])]
    for k in ("notices", "errors", "waived"):
        if tally[k]:
            parts.append(S["ff_tally_" + k].format(n=tally[k]))
    return {"lines": lines, "more": max(0, len(rs) - shown), "total": len(rs),
            "tally": tally, "tally_text": S["ff_tally_sep"].join(parts),
            "first": lines[0] if lines else None, "compared": compared}
