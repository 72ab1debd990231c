"""The unit's state as the console's pages read it. What depends on the scans
(every finding's history and details, the segments, the trend) is computed once
per new scan and shared by every page until the next: a year of 50 probes'
nightly scans is walked once, not at each request. When that took longer than
STALE_AFTER_S, a new scan's state is made in a thread while the pages show the
one there is, saying so. Acknowledgements and waivers are laid over it at once.

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
import weakref
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
    heavy: object = None              # the Heavy it was laid over
    stale: bool = False               # a newer scan arrived; its state is being made

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


# keyed by the store object itself (weakly): an id() could be reused by the next store
_HEAVY = weakref.WeakKeyDictionary()  # store -> (scan version, day, Heavy, seconds it took)
_STATE = weakref.WeakKeyDictionary()  # store -> UnitState
_LOCK = threading.Lock()
_REFRESHING = weakref.WeakSet()
STALE_AFTER_S = 3.0                   # a state that took longer is refreshed in the background


@dataclass
class Heavy:
    """What depends on the scans alone (the expensive part)."""
    name: str | None
    segments: list
    classification: dict
    rows: list                        # [(history, classification, detail, scan)]
    latest: list
    trend: list


def scan_version(store) -> tuple:
    from sqlalchemy import func, select
    from scanner.store import tables as T
    with store.read() as conn:
        return tuple(conn.execute(select(func.max(T.scans.c.id), func.count())
                                  .select_from(T.scans)).one())


def overlay_version(store) -> tuple:
    from sqlalchemy import func, select
    from scanner.serve import tables as C
    with store.read() as conn:
        return (tuple(conn.execute(select(func.max(C.acks.c.id))).one())
                + tuple(conn.execute(select(func.max(C.waivers.c.id),
                                            func.max(C.waivers.c.changed_at))).one()))


def _heavy(store, cfg) -> tuple:
    """(scan version, Heavy, stale): computed now when there is none or it is
    quick; when the last one took longer than STALE_AFTER_S (a year of 50
    probes), the one there is serves while a thread makes the next."""
    import time
    key, v, today = store, scan_version(store), datetime.now(timezone.utc).date()
    have = _HEAVY.get(key)
    if have is not None and have[0] == v and have[1] == today:
        return have[0], have[2], False
    if have is not None and have[3] > STALE_AFTER_S:
        with _LOCK:
            if key not in _REFRESHING:
                _REFRESHING.add(key)

                def refresh():
                    try:
                        t = time.perf_counter()
                        vv = scan_version(store)
                        h = _compute_heavy(store, cfg)
                        _HEAVY[key] = (vv, today, h, time.perf_counter() - t)
                    except Exception:     # the next request tries again; the stale state stays
                        import logging
                        logging.getLogger("isoscan.serve").exception("unit state refresh failed")
                    finally:
                        _REFRESHING.discard(key)
                threading.Thread(target=refresh, name="isoscan-unit-state", daemon=True).start()
        return have[0], have[2], True
    with _LOCK:                       # one computation at a time; the others wait for it
        have = _HEAVY.get(key)
        if have is not None and have[0] == v and have[1] == today:
            return have[0], have[2], False
        t = time.perf_counter()
        h = _compute_heavy(store, cfg)
        _HEAVY[key] = (v, today, h, time.perf_counter() - t)
        return v, h, False


def unit_state(store, cfg) -> UnitState:
    """The unit's state: the scans' part (cached, see _heavy) with the
    acknowledgements and waivers laid over it (cheap: always current)."""
    sv, heavy, stale = _heavy(store, cfg)
    v = sv + overlay_version(store)
    key = store
    have = _STATE.get(key)
    if have is not None and have.version == v and have.heavy is heavy:
        have.stale = stale
        return have
    s = _overlay(store, heavy, v)
    s.stale = stale
    _STATE[key] = s
    return s


def forget(store) -> None:
    _HEAVY.pop(store, None)
    _STATE.pop(store, None)


def _compute_heavy(store, cfg) -> Heavy:
    from scanner.report.merge import embedded_inventory
    from scanner.serve import views as V
    from scanner.store.changes import annotate
    from scanner.store.fingerprint import Fingerprinter
    from scanner.store.history import finding_history, trend
    with store.read() as conn:
        latest = V._latest_scan_ids(conn)
        docs = [(r.id, V._body(conn, r.id)) for r in latest]
    own: dict = {}                    # segment -> what bundles of its own vantages say of it
    told: dict = {}                   # segment -> what other segments' bundles say of it
    names: set = set()                # the organization each bundle names
    details: dict = {}
    fp = Fingerprinter()
    for pk, doc in sorted(docs, key=lambda x: x[0]):
        if not isinstance(doc, Mapping):
            continue
        inv = embedded_inventory(doc) or {}
        v = doc.get("vantage") if isinstance(doc.get("vantage"), Mapping) else {}
        for s in (inv.get("segments") or {}).values():
            (own if s["name"] == v.get("segment") else told).setdefault(s["name"], []).append(dict(s))
        org = (doc.get("inventory") or {}).get("organization") if isinstance(doc.get("inventory"), Mapping) else None
        said = (org or {}).get("name") if isinstance(org, Mapping) else None
        if said or inv.get("organization"):
            names.add(str(said or inv.get("organization")))
        for f in annotate(doc):
            try:
                details[fp(f)] = (f, pk)
            except Exception:         # a plugin's broken fingerprint fields: no details, still listed
                continue
    segs = described(own, told)
    # console.yaml's unit_name, else the bundles' organization when they agree on it
    # (any token's bundle names one: the oldest's word would let any probe retitle the unit)
    name = cfg.unit_name or (next(iter(names)) if len(names) == 1 else None)
    history = finding_history(store)
    for r in latest:
        if r.segment and r.segment not in segs:
            segs[r.segment] = {"name": r.segment, "title": None, "classification": None}
    rows = []
    for h in history:
        if h.segment and h.segment not in segs:
            segs[h.segment] = {"name": h.segment, "title": None, "classification": None}
        d, pk = details.get(h.fingerprint, ({}, None))
        rows.append((h, segs.get(h.segment or "", {}).get("classification"), d, pk))
    ordered = sorted(segs.values(), key=lambda s: segment_order(s.get("classification"), s["name"]))
    return Heavy(name, ordered, {k: s.get("classification") for k, s in segs.items()},
                 rows, latest, trend(store, days=30))


def described(own: dict, told: dict) -> dict:
    """Each segment as the bundles' embedded inventories describe it. A token
    bound to office-lan may push office-lan's bundles, whose inventory could
    say anything of secret-lan: a segment is what the newest bundle of its own
    vantage says; one no bundle of its own describes is what the others say
    only when they agree on its classification and level, else its
    classification is unknown (fail closed: protected checks are not waived)."""
    out = {}
    for seg, said in told.items():
        s = dict(said[0])
        if any((x.get("classification"), x.get("level")) != (s.get("classification"), s.get("level"))
               for x in said[1:]):
            s.update(classification=None, level=None)
        out[seg] = s
    for seg, said in own.items():
        out[seg] = dict(said[-1])
    return out


def _overlay(store, heavy: Heavy, v) -> UnitState:
    from scanner.serve.waiverstore import acks_by_fingerprint, covering, live_waivers
    acks = acks_by_fingerprint(store)
    waivers = live_waivers(store)
    rows = []
    for h, cls, d, pk in heavy.rows:
        row = Row(h, cls, d, pk, acks.get(h.fingerprint))
        row.waiver = covering(waivers, h, d)
        rows.append(row)
    rows.sort(key=Row.key)
    s = UnitState(v, heavy.name, heavy.segments, heavy.classification, rows, heavy.latest,
                  heavy.trend)
    s.heavy = heavy
    return s
