"""Reading the store: per-fingerprint history, station history (as arpwatch
keeps it), the report's "previous scan" and trend.

    rows = finding_history(store, segment="secret-lan", since="2026-11-01T00:00:00Z")
    sts = station_history(store, segment="office-lan")
    prev = previous_results(store, before="2026-12-01T02:00:00Z", exclude={"scan-id", ...})
    pts = trend(store, days=30)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence

from scanner.store.changes import (NEW, NOT_ASSESSED, PERSISTING, RESOLVED, Results,
                                   assessed_of, parse_time, vantages_of)

SEVERITIES = ("critical", "high", "medium", "low", "info")


def since_time(spec: str | None, now: datetime | None = None) -> str | None:
    """'30d', '12h', '2w' or an ISO date/time -> an ISO UTC time (None: no limit)."""
    if not spec:
        return None
    now = now or datetime.now(timezone.utc)
    m = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", spec)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
        return (now - delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    t = parse_time(spec if "T" in spec else spec + "T00:00:00Z")
    if t is None:
        raise ValueError(f"--since {spec!r}: expected 30d, 12h, 2w or a date (2026-11-01)")
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# findings

@dataclass
class FindingHistory:
    fingerprint: str
    check: str
    segment: str | None
    severity: str
    subject: dict
    title: str
    state: str                    # new | persisting | resolved | not-assessed
    first_seen: str
    last_seen: str                # the last scan it failed in
    age_days: int | None = None
    events: list = field(default_factory=list)   # [(time, new|resolved|not-assessed|returned)]

    def to_json(self) -> dict:
        return {"fingerprint": self.fingerprint, "check_id": self.check, "segment": self.segment,
                "severity": self.severity, "subject": self.subject, "title": self.title,
                "state": self.state, "first_seen": self.first_seen, "last_seen": self.last_seen,
                "age_days": self.age_days,
                "events": [{"time": t, "event": e} for t, e in self.events]}


def _finding_rows(conn, segment, check):
    from sqlalchemy import select
    from scanner.store import tables as T
    f, s = T.findings, T.scans
    q = (select(s.c.id, s.c.started_at, f.c.fingerprint, f.c.check_id, f.c.status,
                f.c.severity, f.c.segment, f.c.subject_ip, f.c.subject_mac,
                f.c.subject_device, f.c.title, f.c.vantages, f.c.subject_ports,
                f.c.subject_destination)
         .join(s, s.c.id == f.c.scan))
    if segment is not None:
        q = q.where(f.c.segment == segment)
    if check is not None:
        q = q.where(f.c.check_id == check)
    return conn.execute(q.order_by(s.c.started_at, s.c.id)).all()


def finding_history(store, *, segment: str | None = None, check: str | None = None,
                    since: str | None = None) -> list[FindingHistory]:
    """Every fingerprint that failed, walked scan by scan in time order.

    A scan that judged a fingerprint's (check, segment) without error and did
    not see it resolves it; one where that check errored or was skipped there
    leaves it not assessed; a scan that did not look there changes nothing."""
    with store.read() as conn:
        rows = _finding_rows(conn, segment, check)
    out: dict[str, FindingHistory] = {}
    open_: set[str] = set()
    seen_from: dict[str, set] = {}          # fingerprint -> vantage segments that saw it fail
    by_key: dict[tuple, set[str]] = {}      # (check, segment) -> fingerprints ever open
    i = 0
    while i < len(rows):
        scan, at = rows[i][0], rows[i][1]
        j = i
        while j < len(rows) and rows[j][0] == scan:
            j += 1
        batch = [_row_finding(r) for r in rows[i:j]]
        i = j
        fails: dict[str, dict] = {}
        for r in batch:
            if r["status"] == "fail":
                fails.setdefault(r["fingerprint"], r)
                seen_from.setdefault(r["fingerprint"], set()).update(vantages_of(r))
        assessed = assessed_of(batch)
        touched = {(r["check_id"], r["segment"], v) for r in batch for v in vantages_of(r)}
        for fp, r in fails.items():
            h = out.get(fp)
            if h is None:
                h = out[fp] = FindingHistory(
                    fp, r["check_id"], r["segment"], r["severity"], r["subject"],
                    r["title"], NEW, at, at, events=[(at, NEW)])
                by_key.setdefault((r["check_id"], r["segment"]), set()).add(fp)
            elif fp not in open_:
                h.events.append((at, "returned"))
                h.state = NEW
            else:
                h.state = PERSISTING
            h.severity, h.last_seen = r["severity"], at
            open_.add(fp)
        for key in {(c, sg) for c, sg, _ in touched}:
            for fp in by_key.get(key, ()):
                if fp in fails or fp not in open_:
                    continue
                mine = [(key[0], key[1], v) for v in seen_from.get(fp, ())]
                h = out[fp]
                if any(k in assessed for k in mine):
                    h.state = RESOLVED
                    h.events.append((at, RESOLVED))
                    open_.discard(fp)
                elif any(k in touched for k in mine) and h.state != NOT_ASSESSED:
                    h.state = NOT_ASSESSED
                    h.events.append((at, NOT_ASSESSED))
    now = datetime.now(timezone.utc)
    result = []
    for h in out.values():
        if since and h.last_seen < since and not any(t >= since for t, _ in h.events):
            continue
        t0 = parse_time(h.first_seen)
        end = parse_time(h.last_seen) if h.state == RESOLVED else now
        h.age_days = max(0, (end.date() - t0.date()).days) if t0 and end else None
        result.append(h)
    order = {NEW: 0, PERSISTING: 1, NOT_ASSESSED: 2, RESOLVED: 3}
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    result.sort(key=lambda h: (order.get(h.state, 9), rank.get(h.severity, 9), h.check,
                               h.segment or "", h.first_seen))
    return result


def _row_finding(r) -> dict:
    """A stored finding row in the JSON shape changes.py reads."""
    try:
        vs = json.loads(r.vantages) if r.vantages else [""]
    except ValueError:
        vs = [""]
    subject = {"ip": r.subject_ip, "mac": r.subject_mac, "device": r.subject_device}
    try:
        ports = json.loads(r.subject_ports) if r.subject_ports else None
    except ValueError:
        ports = None
    if isinstance(ports, list) and ports:
        subject["ports"] = [str(p) for p in ports]
    if r.subject_destination:
        subject["destination"] = r.subject_destination
    return {"check_id": r.check_id, "status": r.status, "severity": r.severity,
            "segment": r.segment, "fingerprint": r.fingerprint,
            "subject": subject,
            "title": r.title or "", "vantage_segments": vs or [""]}


def first_seen(store, fingerprints: Iterable[str]) -> dict[str, str]:
    """{fingerprint: when it first failed} for those the store knows."""
    from sqlalchemy import func, select
    from scanner.store import tables as T
    fps = sorted(set(fingerprints))
    out: dict[str, str] = {}
    with store.read() as conn:
        for k in range(0, len(fps), 500):
            q = (select(T.findings.c.fingerprint, func.min(T.scans.c.started_at))
                 .join(T.scans, T.scans.c.id == T.findings.c.scan)
                 .where(T.findings.c.status == "fail", T.findings.c.fingerprint.in_(fps[k:k + 500]))
                 .group_by(T.findings.c.fingerprint))
            out.update({fp: t for fp, t in conn.execute(q)})
    return out


def previous_results(store, *, before: str, exclude: Iterable[str] = ()) -> Results | None:
    """The unit as the store last saw it before `before`: for each vantage
    (segment and address) its latest scan, and the latest merged scan, their
    findings together (as a merged report holds them). None when the store
    holds nothing earlier."""
    from sqlalchemy import func, select
    from scanner.store import tables as T
    s, f = T.scans, T.findings
    exclude = list(set(exclude))
    with store.read() as conn:
        cond = [s.c.started_at < before]
        if exclude:
            cond.append(s.c.scan_id.not_in(exclude))
        # per vantage: the newest bundles (ties kept), in one pass over the scans
        # (a window, not a group-by joined back: 18,250 scans were read three times);
        # plus the newest merged scan
        ranked = (select(s.c.id, s.c.started_at,
                         func.rank().over(partition_by=(s.c.segment, s.c.vantage_ip),
                                          order_by=s.c.started_at.desc()).label("r"))
                  .where(*cond, s.c.kind == "bundle").subquery())
        newest = conn.execute(select(ranked.c.id, ranked.c.started_at)
                              .where(ranked.c.r == 1)).all()
        ids = list({r[0] for r in newest})
        m = conn.execute(select(s.c.id, s.c.started_at, s.c.finished_at)
                         .where(*cond, s.c.kind == "merged")
                         .order_by(s.c.started_at.desc(), s.c.id.desc()).limit(1)).first()
        newest_bundle = max(r[1] for r in newest) if newest else None
        # the merged scan only when it is of the last scans, not older than a bundle it
        # would contradict (a month-old merged report's failure fixed since is no "before")
        if m and (newest_bundle is None or max(m[1] or "", m[2] or "") >= newest_bundle):
            ids.append(m[0])
        if not ids:
            return None
        rows = conn.execute(
            select(f.c.scan, s.c.started_at, f.c.fingerprint, f.c.check_id, f.c.status,
                   f.c.severity, f.c.segment, f.c.subject_ip, f.c.subject_mac,
                   f.c.subject_device, f.c.title, f.c.peer_segment, f.c.vantages,
                   f.c.subject_ports, f.c.subject_destination)
            .join(s, s.c.id == f.c.scan).where(f.c.scan.in_(ids))).all()
    # every vantage's latest findings together, as a merged report holds them
    findings = [dict(_row_finding(r), peer_segment=r.peer_segment) for r in rows]
    started = max((r.started_at for r in rows), default="")
    return Results(started_at=started, findings=findings, assessed=assessed_of(findings),
                   scans=sorted(ids))


def stored_documents(store, scans: Iterable[int]) -> list[tuple[str, dict]]:
    """[(scan_id, the document as ingested, its signature block included)] of
    these scans (scans.id): what a report verifies again (report --trust --db)."""
    import zlib

    from sqlalchemy import select
    from scanner.store import tables as T
    ids = sorted(set(scans))
    if not ids:
        return []
    with store.read() as conn:
        rows = conn.execute(select(T.scans.c.scan_id, T.documents.c.body)
                            .join(T.documents, T.documents.c.scan == T.scans.c.id)
                            .where(T.scans.c.id.in_(ids)).order_by(T.scans.c.id)).all()
    return [(sid, json.loads(zlib.decompress(body))) for sid, body in rows]


def trend(store, *, days: int = 30, until: str | None = None) -> list[dict]:
    """[{"day": "2026-11-30", "critical": n, ...}] over the last `days` scan days:
    distinct failing fingerprints a day, by severity."""
    from sqlalchemy import desc, distinct, func, select
    from scanner.store import tables as T
    s, f = T.scans, T.findings
    day = func.substr(s.c.started_at, 1, 10)
    with store.read() as conn:
        q = select(day.label("d")).distinct()
        if until:
            q = q.where(s.c.started_at <= until)
        last = [r[0] for r in conn.execute(q.order_by(desc("d")).limit(days))]
        if not last:
            return []
        q = (select(day.label("d"), f.c.severity, func.count(distinct(f.c.fingerprint)))
             .join(s, s.c.id == f.c.scan)
             .where(f.c.status == "fail", day >= min(last), day <= max(last))
             .group_by(day, f.c.severity))
        rows = conn.execute(q).all()
    points = {d: {"day": d, **{k: 0 for k in SEVERITIES}} for d in sorted(last)}
    for d, sev, n in rows:
        if d in points and sev in SEVERITIES:
            points[d][sev] = n
    return list(points.values())


# --------------------------------------------------------------------------
# stations

@dataclass
class Station:
    segment: str
    mac: str
    first_seen: str
    last_seen: str
    addresses: list = field(default_factory=list)
    state: str = "present"            # present | vanished
    events: list = field(default_factory=list)   # [(time, event, detail)]

    def to_json(self) -> dict:
        return {"segment": self.segment, "mac": self.mac, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "addresses": self.addresses, "state": self.state,
                "events": [{"time": t, "event": e, "detail": d} for t, e, d in self.events]}


def station_history(store, *, segment: str | None = None, since: str | None = None
                    ) -> list[Station]:
    """Every station the discovery saw, walked over the scans whose discovery
    succeeded on its segment (a failed discovery makes nobody vanish).

    Events: new (first seen), flip-flop (an address now answers from another
    MAC; on the station that took it), vanished (not seen by a discovery of
    its segment that succeeded), returned (seen again after vanishing)."""
    from sqlalchemy import select
    from scanner.store import tables as T
    v, g = T.scan_vantages, T.sightings
    with store.read() as conn:
        q = select(v.c.scan, v.c.segment, v.c.started_at).where(v.c.discovery == "ok")
        if segment is not None:
            q = q.where(v.c.segment == segment)
        covers = conn.execute(q.order_by(v.c.started_at, v.c.scan)).all()
        q = select(g.c.scan, g.c.segment, g.c.mac, g.c.ip, g.c.seen_at)
        if segment is not None:
            q = q.where(g.c.segment == segment)
        seen = conn.execute(q).all()
    by_scan: dict[tuple, list] = {}
    for r in seen:
        by_scan.setdefault((r.scan, r.segment), []).append(r)
    stations: dict[tuple, Station] = {}
    owner: dict[tuple, str] = {}          # (segment, ip) -> mac
    for scan, seg, at in covers:
        here = by_scan.get((scan, seg), [])
        macs = set()
        for r in here:
            key = (seg, r.mac)
            macs.add(r.mac)
            st = stations.get(key)
            if st is None:
                st = stations[key] = Station(seg, r.mac, at, at, events=[(at, "new", r.ip)])
            elif st.state == "vanished":
                st.state = "present"
                st.events.append((at, "returned", r.ip))
            st.last_seen = at
            if r.ip and r.ip not in st.addresses:
                st.addresses.append(r.ip)
            if r.ip:
                was = owner.get((seg, r.ip))
                if was is not None and was != r.mac:
                    st.events.append((at, "flip-flop", f"{r.ip}: {was} -> {r.mac}"))
                owner[(seg, r.ip)] = r.mac
        for (sseg, mac), st in stations.items():
            if sseg == seg and mac not in macs and st.state == "present":
                st.state = "vanished"
                st.events.append((at, "vanished", None))
    _watched(store, stations, segment)
    out = [s for s in stations.values()
           if not since or s.last_seen >= since or any(t >= since for t, _, _ in s.events)]
    out.sort(key=lambda s: (s.segment, s.mac))
    return out


# what `isoscan watch` heard between scans (watch_events, issue 27), in the words of the
# stations' history: its station-gone is "vanished", station-back "returned"
_WATCH_WORDS = {"station-new": "new", "flip-flop": "flip-flop", "station-gone": "vanished",
                "station-back": "returned", "address-conflict": "conflict",
                "station-misplaced": "misplaced", "rogue-dhcp": "rogue-dhcp", "rogue-ra": "rogue-ra"}


def _watched(store, stations: dict, segment: str | None) -> None:
    from sqlalchemy import inspect, select
    from scanner.store import tables as T
    e = T.watch_events
    with store.read() as conn:
        if not inspect(conn).has_table("watch_events"):
            return                        # a store opened without its migrations
        q = select(e.c.at, e.c.event, e.c.segment, e.c.mac, e.c.ip).where(
            e.c.event.in_(list(_WATCH_WORDS)), e.c.mac.is_not(None), e.c.segment.is_not(None))
        if segment is not None:
            q = q.where(e.c.segment == segment)
        rows = conn.execute(q.order_by(e.c.at, e.c.id)).all()
    touched = set()
    for r in rows:
        key = (r.segment, r.mac)
        st = stations.get(key)
        if st is None:
            st = stations[key] = Station(r.segment, r.mac, r.at, r.at)
        word = _WATCH_WORDS[r.event]
        st.events.append((r.at, word, f"{r.ip} (watch)" if r.ip else "(watch)"))
        if r.ip and r.ip not in st.addresses:
            st.addresses.append(r.ip)
        st.first_seen, st.last_seen = min(st.first_seen, r.at), max(st.last_seen, r.at)
        if word == "vanished":
            st.state = "vanished"
        elif word in ("returned", "new"):
            st.state = "present"
        touched.add(key)
    for key in touched:
        stations[key].events.sort(key=lambda ev: ev[0])


# --------------------------------------------------------------------------
# vantages (for the alerts: a vantage that stopped reporting is itself a finding)

def vantage_last_seen(store) -> list[dict]:
    """[{"segment", "ip", "last_started_at", "scans"}] of every vantage the store
    has a bundle of (merged bundles' sources included), newest report first."""
    from sqlalchemy import func, select
    from scanner.store import tables as T
    v = T.scan_vantages
    with store.read() as conn:
        rows = conn.execute(select(v.c.segment, v.c.ip, func.max(v.c.started_at),
                                   func.count(func.distinct(v.c.scan)))
                            .group_by(v.c.segment, v.c.ip)).all()
    out = [{"segment": seg, "ip": ip, "last_started_at": at, "scans": n}
           for seg, ip, at, n in rows]
    out.sort(key=lambda d: (d["last_started_at"] or ""), reverse=True)
    return out
