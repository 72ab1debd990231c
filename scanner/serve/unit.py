"""The unit's state as the console's pages read it, computed once per change
of the store (a new scan, an acknowledgement, a waiver) and shared by every
page until the next: a year of 50 probes' nightly scans is walked once, not
at each request.

    u = unit_state(store, cfg)          # UnitState (cached on the store's version)
    u.open                              # [Row]: open findings, fix-first order
    u.segments                          # [{name, title, classification, ...}] classified first

A Row is one finding as the pages and exports show it: its history (state,
first/last seen, events), its details from the newest bundle that carries it
(evidence, remediation, regulation, ports, destination), its segment's
classification, and its acknowledgement and waiver from the store.
"""
from __future__ import annotations

import json
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

from scanner.judge.priority import segment_order, urgency, where

OPEN = ("new", "persisting", "not-assessed")
SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass
class Row:
    h: object                         # scanner.store.history.FindingHistory
    classification: str | None
    detail: dict                      # the finding's JSON in its newest bundle ({} when none)
    scan: int | None                  # that bundle's scan (the report section links to it)
    ack: dict | None = None
    waiver: dict | None = None

    @property
    def fingerprint(self) -> str:
        return self.h.fingerprint

    @property
    def where(self) -> str:
        d = dict(self.detail) if self.detail else {}
        if "subject" not in d:
            d["subject"] = self.h.subject
        return where(d)

    @property
    def evidence(self) -> list[str]:
        ev = self.detail.get("evidence") if self.detail else None
        return [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False)
                for e in ev] if isinstance(ev, list) else []

    def text(self, title: str) -> str:
        """What free-text search reads: title, subject and evidence."""
        s = self.h.subject or {}
        return " ".join([title, self.h.check, self.h.segment or "", self.where,
                         *(str(v) for v in s.values() if v), *self.evidence]).lower()

    def key(self) -> tuple:
        f = {"severity": self.h.severity, "status": "fail", "check_id": self.h.check,
             "segment": self.h.segment, "subject": self.h.subject}
        return urgency(f, self.classification, self.h.state == "new")[:4] + (self.h.first_seen,)


@dataclass
class UnitState:
    version: tuple
    name: str | None
    segments: list                    # classified first (segment_order)
    classification: dict              # segment -> classification
    rows: list                        # every finding that ever failed, as Rows
    latest: list                      # the newest scan of each vantage (store rows)
    trend: list = field(default_factory=list)   # scanner.store.history.trend, 30 scan days
    made_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def open(self) -> list:
        return [r for r in self.rows if r.h.state in OPEN and not r.waiver]

    @property
    def waived(self) -> list:
        return [r for r in self.rows if r.h.state in OPEN and r.waiver]

    def row(self, fp: str):
        for r in self.rows:
            if r.fingerprint == fp:
                return r
        return None


_CACHE: dict = {}
_LOCK = threading.Lock()


def version(store) -> tuple:
    """What the state depends on: the newest scan, acknowledgements, waivers."""
    from sqlalchemy import func, select
    from scanner.serve import tables as C
    from scanner.store import tables as T
    with store.read() as conn:
        return (tuple(conn.execute(select(func.max(T.scans.c.id), func.count())
                                   .select_from(T.scans)).one())
                + tuple(conn.execute(select(func.max(C.acks.c.id))).one())
                + tuple(conn.execute(select(func.max(C.waivers.c.id),
                                            func.max(C.waivers.c.changed_at))).one()))


def unit_state(store, cfg) -> UnitState:
    v = version(store)
    key = id(store)
    have = _CACHE.get(key)
    today = datetime.now(timezone.utc).date()
    if have is not None and have.version == v and have.made_at.date() == today:
        return have
    with _LOCK:                       # one computation at a time; the others wait for it
        have = _CACHE.get(key)
        if have is not None and have.version == v and have.made_at.date() == today:
            return have
        s = _compute(store, cfg, v)
        _CACHE[key] = s
        return s


def forget(store) -> None:
    _CACHE.pop(id(store), None)


def _compute(store, cfg, v) -> UnitState:
    from scanner.report.merge import embedded_inventory
    from scanner.serve import views as V
    from scanner.serve.waiverstore import acks_by_fingerprint, live_waivers, covering
    from scanner.store.changes import annotate
    from scanner.store.fingerprint import Fingerprinter
    from scanner.store.history import finding_history
    with store.read() as conn:
        latest = V._latest_scan_ids(conn)
        docs = [(r.id, V._body(conn, r.id)) for r in latest]
    segs: dict = {}
    name = cfg.unit_name
    details: dict = {}
    fp = Fingerprinter()
    for pk, doc in sorted(docs, key=lambda x: x[0]):
        if not isinstance(doc, Mapping):
            continue
        inv = embedded_inventory(doc) or {}
        for s in (inv.get("segments") or {}).values():
            segs.setdefault(s["name"], dict(s))
        org = (doc.get("inventory") or {}).get("organization") if isinstance(doc.get("inventory"), Mapping) else None
        if not name:
            name = (org or {}).get("name") if isinstance(org, Mapping) else None
            name = name or inv.get("organization")
        for f in annotate(doc):
            try:
                details[fp(f)] = (f, pk)
            except Exception:         # a plugin's broken fingerprint fields: no details, still listed
                continue
    history = finding_history(store)
    acks = acks_by_fingerprint(store)
    waivers = live_waivers(store)
    for r in latest:
        if r.segment and r.segment not in segs:
            segs[r.segment] = {"name": r.segment, "title": None, "classification": None}
    rows = []
    for h in history:
        if h.segment and h.segment not in segs:
            segs[h.segment] = {"name": h.segment, "title": None, "classification": None}
        d, pk = details.get(h.fingerprint, ({}, None))
        cls = segs.get(h.segment or "", {}).get("classification")
        row = Row(h, cls, d, pk, acks.get(h.fingerprint))
        row.waiver = covering(waivers, h, d)
        rows.append(row)
    rows.sort(key=Row.key)
    ordered = sorted(segs.values(), key=lambda s: segment_order(s.get("classification"), s["name"]))
    from scanner.store.history import trend
    return UnitState(v, name, ordered, {k: s.get("classification") for k, s in segs.items()},
                     rows, latest, trend(store, days=30))
