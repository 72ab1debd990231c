"""What the console's pages show, read from the store (no HTTP here).

Everything is computed by the store's and the report's own code
(scanner.store.history, scanner.report.since/_svg, scanner.report.render):
the console says what `history`, `stations` and `report` say.
"""
from __future__ import annotations

import json
import zlib
import weakref
from datetime import datetime, timezone
from typing import Mapping

from scanner.store.changes import parse_time

SEVERITIES = ("critical", "high", "medium", "low", "info")
OPEN = ("new", "persisting", "not-assessed")


def verdict_of(findings) -> str | None:
    fs = [f for f in findings if not f.get("waiver")]
    if not fs:
        return None
    if any(f.get("status") == "fail" and f.get("severity") != "info" for f in fs):
        return "non-compliant"
    if any(f.get("status") == "error" for f in fs):
        return "incomplete"
    return "compliant"


def _latest_scan_ids(conn) -> list:
    from sqlalchemy import and_, func, select
    from scanner.store import tables as T
    s = T.scans
    newest = (select(s.c.segment, s.c.vantage_ip, func.max(s.c.started_at).label("at"))
              .where(s.c.kind == "bundle").group_by(s.c.segment, s.c.vantage_ip).subquery())
    rows = conn.execute(
        select(s.c.id, s.c.scan_id, s.c.segment, s.c.vantage_ip, s.c.started_at, s.c.verdict)
        .join(newest, and_(s.c.segment.is_not_distinct_from(newest.c.segment),
                           s.c.vantage_ip.is_not_distinct_from(newest.c.vantage_ip),
                           s.c.started_at == newest.c.at))
        .where(s.c.kind == "bundle").order_by(s.c.segment, s.c.vantage_ip, s.c.id.desc())).all()
    out, seen = [], set()
    for r in rows:                         # two scans at one second: the later stored
        if (r.segment, r.vantage_ip) not in seen:
            seen.add((r.segment, r.vantage_ip))
            out.append(r)
    return out


def overview(store, cfg, u, now: datetime | None = None) -> dict:
    """What the overview shows beside the fix-first list: the verdict, counts
    by severity and by segment (each a link to the findings it counts), each
    vantage's last report and how late it is, the 30-day trend."""
    from sqlalchemy import func, select
    from scanner.store import tables as T
    from scanner.report.since import _svg
    now = now or datetime.now(timezone.utc)
    latest = u.latest
    ids = [r.id for r in latest]
    counts: dict = {}
    statuses = []
    with store.read() as conn:
        if ids:
            for scan, sev, st, n in conn.execute(
                    select(T.findings.c.scan, T.findings.c.severity, T.findings.c.status, func.count())
                    .where(T.findings.c.scan.in_(ids))
                    .group_by(T.findings.c.scan, T.findings.c.severity, T.findings.c.status)):
                if st == "fail":
                    counts.setdefault(scan, {})[sev] = n
                statuses.extend([{"status": st, "severity": sev}] * min(n, 1))
        total = conn.execute(select(func.count()).select_from(T.scans)).scalar()
    rows = []
    for r in latest:
        t = parse_time(r.started_at)
        hours = (now - t).total_seconds() / 3600 if t else None
        limit = cfg.interval_for(r.segment)
        rows.append({"segment": r.segment, "ip": r.vantage_ip, "started_at": r.started_at,
                     "verdict": r.verdict, "scan_id": r.scan_id, "scan": r.id,
                     "classification": u.classification.get(r.segment or ""),
                     "open": {s: counts.get(r.id, {}).get(s, 0) for s in SEVERITIES},
                     "hours": None if hours is None else round(hours, 1),
                     "late": None if hours is None else round(max(0.0, hours - limit), 1),
                     "limit": limit, "overdue": hours is None or hours > limit})
    rows.sort(key=lambda v: (next((i for i, s in enumerate(u.segments) if s["name"] == v["segment"]),
                                  99), v["ip"] or ""))
    by_sev = {s: 0 for s in SEVERITIES}
    by_seg: dict = {}
    for r in u.open:
        by_sev[r.h.severity] = by_sev.get(r.h.severity, 0) + 1
        d = by_seg.setdefault(r.h.segment or "", {s: 0 for s in SEVERITIES})
        d[r.h.severity] = d.get(r.h.severity, 0) + 1
    segments = [{**s, "open": by_seg.get(s["name"], {k: 0 for k in SEVERITIES}),
                 "total": sum(by_seg.get(s["name"], {}).values())} for s in u.segments]
    return {"verdict": verdict_of(statuses), "vantages": rows, "scans": total,
            "overdue": [r for r in rows if r["overdue"]], "by_severity": by_sev,
            "segments": segments, "open_total": len(u.open), "waived_total": len(u.waived),
            "interval": cfg.expected_interval_hours, "trend": _svg(u.trend)}


_TITLES: dict = {}


def check_titles(lang: str) -> dict:
    """{check id: title in `lang`}: the installed checks' own, as the report localises them
    (the store keeps a finding's title in the language it was scanned in)."""
    if lang not in _TITLES:
        from scanner.report.render import _from_text, _metas
        out = {}
        for cid, meta in _metas().items():
            t = _from_text(getattr(meta, "title", None), lang)
            if t:
                out[cid] = t
        _TITLES[lang] = out
    return _TITLES[lang]


def findings(store, *, segment=None, check=None, severity=None) -> list:
    from scanner.store.history import finding_history
    out = [h for h in finding_history(store, segment=segment or None, check=check or None)
           if h.state in OPEN]
    if severity:
        out = [h for h in out if h.severity == severity]
    return out


def facets(store) -> dict:
    from sqlalchemy import select
    from scanner.store import tables as T
    with store.read() as conn:
        segs = [r[0] for r in conn.execute(select(T.findings.c.segment).distinct()) if r[0]]
        checks = [r[0] for r in conn.execute(select(T.findings.c.check_id).distinct()) if r[0]]
    return {"segments": sorted(segs), "checks": sorted(checks), "severities": SEVERITIES}


def one_finding(store, fingerprint: str):
    from scanner.store.history import finding_history
    for h in finding_history(store):
        if h.fingerprint == fingerprint:
            return h
    return None


def changes(store, since: str, u=None) -> list[dict]:
    """Every event since `since`; from the unit's state when given (the same
    histories, walked once per new scan)."""
    from scanner.store.history import finding_history
    out = []
    hs = [r.h for r in u.rows] if u is not None else finding_history(store, since=since)
    for h in hs:
        for t, ev in h.events:
            if t >= since:
                out.append({"time": t, "event": ev, "h": h})
    out.sort(key=lambda e: (e["time"], e["h"].check), reverse=True)
    return out


def _body(conn, scan_pk: int) -> dict:
    from sqlalchemy import select
    from scanner.store import tables as T
    r = conn.execute(select(T.documents.c.body).where(T.documents.c.scan == scan_pk)).first()
    return json.loads(zlib.decompress(r[0])) if r else None


def latest_bundles(store) -> list[dict]:
    with store.read() as conn:
        return [b for r in _latest_scan_ids(conn) for b in [_body(conn, r.id)] if b]


def scan_list(store, limit: int = 500) -> list[dict]:
    from sqlalchemy import select
    from scanner.store import tables as T
    s = T.scans
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(s.c.id, s.c.scan_id, s.c.kind, s.c.started_at, s.c.segment, s.c.vantage_ip,
                   s.c.verdict).order_by(s.c.started_at.desc(), s.c.id.desc()).limit(limit))]


def scan_document(store, pk: int) -> dict | None:
    with store.read() as conn:
        return _body(conn, pk)


def report_of(docs: list[Mapping], lang: str) -> str:
    """The same HTML report `isoscan report` writes (a merged bundle: its sources)."""
    from scanner.report.render import render_report
    bundles = []
    for d in docs:
        if isinstance(d.get("sources"), list):
            bundles.extend(s for s in d["sources"] if isinstance(s, Mapping))
        else:
            bundles.append(d)
    return render_report(bundles, lang)


_DEVICES = weakref.WeakKeyDictionary()    # store -> {(scan version, lang): ...}


def devices(store, lang: str) -> dict:
    """devices_now(), kept per new scan and language (the register and the
    station history walk every sighting: once per scan, not per request)."""
    from scanner.serve.unit import scan_version
    key = (scan_version(store), lang)
    mine = _DEVICES.get(store)
    if mine is None or key not in mine:
        mine = {k: v for k, v in (mine or {}).items() if k[0] == key[0]}
        mine[key] = devices_now(store, lang)
        _DEVICES[store] = mine
    return mine[key]


def devices_now(store, lang: str) -> dict:
    """The register against what was seen, each segment's table; the probes'
    own stations marked as probes (they are no missing or unknown device)."""
    from scanner.report.render import _T, merge_report, reconcile
    from scanner.report.strings import STRINGS
    from scanner.store.fingerprint import norm_mac
    from scanner.store.history import station_history
    bundles = latest_bundles(store)
    recon = []
    probes = set()                    # (segment, ip or MAC) of each vantage, on its own segment
    for b in bundles:
        v = b.get("vantage") if isinstance(b.get("vantage"), Mapping) else {}
        if isinstance(v.get("mac"), str) and norm_mac(v["mac"]):
            probes.add((v.get("segment"), norm_mac(v["mac"])))
        if isinstance(v.get("ip"), str) and v["ip"]:
            probes.add((v.get("segment"), v["ip"]))
    if bundles:
        recon = reconcile(merge_report(bundles, lang), _T(STRINGS[lang]))
    probe_label = "探针（本系统）" if lang == "zh-CN" else "probe (isoscan's own)"
    for r in recon:
        t = r.get("table") or {}
        rows = t.get("data") or t.get("rows") or []
        for row in rows:
            # the row's own addresses: not its last column, the vantages that saw it
            cells = [str(x) for x in row[2:-1]]
            tokens = {w.strip(",;()") for c in cells for w in c.split()}
            tokens |= {norm_mac(w) for w in tokens if ":" in w}
            if {(r.get("segment"), w) for w in tokens} & probes:
                row[0], row[1] = "recon-probe", probe_label
    stations = station_history(store)
    for st in stations:
        st.probe = (st.segment, st.mac) in probes
    return {"recon": recon, "stations": stations}
