"""The report's "changes since the last scan" and its trend (issue 14).

    merged["since_last"] = since_last(merged, previous, first_seen=..., trend=..., source="store")
    ctx["since"] = since_context(merged, S)        # for templates/_since.html.j2

since_last() is plain data (it is also in `report --json`); the comparison
itself is scanner.store.changes, so the report, `isoscan diff` and the alerts
say the same thing.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from scanner.store.changes import KINDS, Results, changes, counts, results_of
from scanner.store.fingerprint import Fingerprinter

TREND_SEVERITIES = ("critical", "high", "medium", "low")
TREND_COLOURS = {"critical": "#7f1d1d", "high": "#b3261e", "medium": "#c2410c", "low": "#a16207"}
_W, _H, _PAD = 640, 140, 28


def trend_point(findings: Sequence[Mapping], day: str, fp: Fingerprinter) -> dict:
    """Distinct failing fingerprints by severity, as scanner.store.history.trend counts them."""
    seen: dict[str, set] = {}
    for f in findings:
        if f.get("status") == "fail":
            seen.setdefault(f.get("severity"), set()).add(f.get("fingerprint") or fp(f))
    return {"day": day, **{s: len(seen.get(s, ())) for s in ("critical", "high", "medium", "low", "info")}}


def since_last(merged: Mapping, previous: Results | None, *, first_seen=None,
               trend: Sequence[Mapping] = (), source: str = "store") -> dict:
    fp = Fingerprinter()
    now = results_of(merged)
    points = [dict(p) for p in trend]
    day = (merged.get("started_at") or "")[:10]
    if day:
        points = [p for p in points if p["day"] != day] + [trend_point(now.findings, day, fp)]
        points.sort(key=lambda p: p["day"])
    if previous is None:
        return {"previous": None, "source": source, "counts": None, "changes": [],
                "trend": points}
    cs = changes(previous, now, fingerprinter=fp, first_seen=first_seen)
    return {"previous": previous.started_at, "source": source, "counts": counts(cs),
            "changes": [c.to_json() for c in cs], "trend": points}


def _svg(points: Sequence[Mapping]) -> dict | None:
    if len(points) < 2:
        return None
    top = max(1, max(p[s] for p in points for s in TREND_SEVERITIES))
    n = len(points)

    def x(i):
        return round(_PAD + i * (_W - 2 * _PAD) / (n - 1), 1)

    def y(v):
        return round(_H - _PAD - v * (_H - 2 * _PAD) / top, 1)

    lines = [{"sev": s, "colour": TREND_COLOURS[s],
              "points": " ".join(f"{x(i)},{y(p[s])}" for i, p in enumerate(points)),
              "last": points[-1][s], "x": x(n - 1), "y": y(points[-1][s])}
             for s in TREND_SEVERITIES]
    return {"width": _W, "height": _H, "lines": lines, "top": top, "y_top": y(top),
            "y_zero": y(0), "x0": x(0), "x1": x(n - 1), "first": points[0]["day"],
            "last": points[-1]["day"], "n": n}


def since_context(m: Mapping, S, lang: str = "zh-CN") -> dict | None:
    data = m.get("since_last")
    if not isinstance(data, Mapping):
        return None
    from scanner.localtime import local_iso, unit_zone
    from scanner.report.render import _table
    zone = unit_zone(m.get("timezone"))
    from scanner.report.render import check_title
    label = {"new": S.since_new, "resolved": S.since_resolved,
             "persisting": S.since_persisting, "not-assessed": S.since_not_assessed}
    rows = []
    for c in data.get("changes") or ():
        subj = c.get("subject") or {}
        who = "\n".join(x for x in (subj.get("device"), subj.get("ip"), subj.get("mac")) if x) or "—"
        age = S.since_age.format(n=c["age_days"]) if c.get("age_days") is not None else "—"
        rows.append(["since-" + c["kind"] + " sev-" + c["severity"], label[c["kind"]],
                     S["sev_" + c["severity"]] if ("sev_" + c["severity"]) in S else c["severity"],
                     c["check_id"], c.get("segment") or "—", who,
                     c.get("title") or check_title(c["check_id"], lang),
                     local_iso(c["first_seen"], zone) if c.get("first_seen") else "—", age])
    cols = [S.col_change, S.col_severity, S.col_check, S.col_segment, S.col_subject,
            S.col_finding, S.col_first_seen, S.col_age]
    cnt = data.get("counts")
    source = S.since_source_store if data.get("source") == "store" else S.since_source_file
    prev = data.get("previous")
    return {"previous": local_iso(prev, zone) if prev else prev, "source": source,
            "counts": [(k, label[k], cnt[k]) for k in KINDS] if cnt else None,
            "table": _table("since", cols, rows, S.none), "trend": _svg(data.get("trend") or ())}
