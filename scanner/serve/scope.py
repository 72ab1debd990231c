"""What a probe token bound to segments may push: one bundle (not a merged
one, not a canary log) in which EVERYTHING lies within its segments:

- the vantage's segment;
- every finding's `segment` (a finding of a check that reads the inventory
  alone -- INV-*, `needs: [inventory]` -- is a statement about the inventory
  file that every vantage judges alike, not something this probe saw: it may
  name any segment, or none; any other check may fail only on the token's
  segments: its failure of no segment is refused, its error of none, a probe
  that could not run, is taken);
- every finding's `vantage_segments`;
- every station a finding names (its subject's MAC): one the store has seen
  only on segments outside the token's is another segment's station, unless
  this bundle's own discovery saw it on the vantage's segment (a station that
  moved is exactly what the probe must be able to report). An address alone
  is not a station: a leak's destination lies outside the segment by nature.

    reason = out_of_scope(store, doc_data, kind, allowed)   # None: within scope

A token of the internet vantage that reports the exposed stations of
office-lan needs both segments (`--segment internet --segment office-lan`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping


def _macs(rows) -> set:
    from scanner.store.fingerprint import norm_mac
    return {norm_mac(m)[:32] for m in rows if isinstance(m, str)} - {""}


def _named(doc: Mapping) -> set:
    return _macs(f["subject"].get("mac") for f in doc.get("findings") or ()
                 if isinstance(f, Mapping) and isinstance(f.get("subject"), Mapping))


def _discovered(doc: Mapping) -> set:
    obs = doc.get("observations") if isinstance(doc.get("observations"), Mapping) else {}
    disc = obs.get("discovery") if isinstance(obs.get("discovery"), Mapping) else {}
    hosts = [h for k in ("hosts", "neighbours6") if isinstance(disc.get(k), list)
             for h in disc[k] if isinstance(h, Mapping)]
    return _macs(h.get("mac") for h in hosts)


def _outside(value, allowed: set) -> bool:
    """Whether a segment name lies outside the token's: anything but a string
    is outside (a list, an object or a number names no segment of the token)."""
    return not isinstance(value, str) or value not in allowed


def out_of_scope(store, doc: Mapping, kind: str, allowed) -> str | None:
    allowed = set(allowed)
    if kind != "bundle" or isinstance(doc.get("sources"), list):
        return "only a bundle of one vantage (not a merged bundle or a canary log)"
    v = doc.get("vantage") if isinstance(doc.get("vantage"), Mapping) else {}
    if _outside(v.get("segment"), allowed):
        return f"its vantage is on {v.get('segment')!r}"
    paper = inventory_only_checks()
    for i, f in enumerate(doc.get("findings") or ()):
        if not isinstance(f, Mapping):
            continue
        seg = f.get("segment")
        if seg not in (None, "") and _outside(seg, allowed) and f.get("check_id") not in paper:
            return f"finding {i} ({f.get('check_id')}) is of segment {seg!r}"
        if seg in (None, "") and f.get("status") == "fail" and f.get("check_id") not in paper:
            return (f"finding {i} ({f.get('check_id')}) is a failure of no segment, and only a "
                    "check of the inventory alone may fail without one")
        vs = f.get("vantage_segments")
        if vs is not None:
            bad = [x for x in (vs if isinstance(vs, list) else [vs]) if _outside(x, allowed)]
            if bad:
                return f"finding {i} ({f.get('check_id')}) names vantage segment {bad[0]!r}"
    return _foreign_station(store, doc, allowed)


@lru_cache(maxsize=1)
def inventory_only_checks() -> frozenset:
    """The installed checks that read nothing but the inventory."""
    from scanner.report.render import _metas
    return frozenset(cid for cid, m in _metas().items()
                     if tuple(getattr(m, "needs", ()) or ()) == ("inventory",))


def _foreign_station(store, doc: Mapping, allowed: set) -> str | None:
    from sqlalchemy import select
    from scanner.store import tables as T
    macs = _named(doc) - _discovered(doc)
    if not macs:
        return None
    s = T.sightings
    seen: dict[str, set] = {}
    with store.read() as conn:
        for mac, seg in conn.execute(select(s.c.mac, s.c.segment)
                                     .where(s.c.mac.in_(sorted(macs))).distinct()):
            seen.setdefault(mac, set()).add(seg)
    for mac, segs in sorted(seen.items()):
        if not segs & allowed:
            return f"it names the station {mac}, seen only on {', '.join(sorted(segs))}"
    return None
