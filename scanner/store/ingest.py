"""Storing bundles, merged bundles and canary logs.

    docs = [read_document(path) for path in paths]      # scanner.documents: report's reading/refusing
    results = ingest(store, docs)                       # one transaction for them all

A file `isoscan report` refuses is refused here with the same message
(scanner.documents.read is the one reader), and since every file
is read and checked before the transaction starts and the transaction holds
them all, a refused file leaves the store exactly as it was.

Idempotent: a document is known by the SHA-256 of its canonical JSON (keys
sorted, no spaces), so the same bundle ingested twice -- also re-indented --
is one scan. A bundle whose scan_id is stored already with other content is
refused (IngestError): a reused scan_id is a forgery or an altered bundle.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from scanner.documents.canonical import canonical
from scanner.documents.read import Document, read_document  # noqa: F401 (the store reads through documents/)
from scanner.store.fingerprint import Fingerprinter, FingerprintError, norm_mac


MAX_SCAN_ID = 200      # scans.scan_id; isoscan's own are UUIDs (36) or merged-HASH16+HASH16


class IngestError(ValueError):
    """A document the store refuses (one line); nothing of the batch was stored."""


@dataclass
class Stored:
    name: str
    kind: str              # bundle | merged | canary
    scan_id: str | None
    new: bool              # False: it was stored already (the same content)


def document(name: str, kind: str, data: dict) -> Document:
    """A document built in memory (a scan storing its own bundle, a benchmark)."""
    return Document(name, kind, data)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _s(v: Any, n: int = 200) -> str | None:
    if v is None:
        return None
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return s[:n]


def _lock_key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def ingest(store, docs: Sequence[Document], fingerprinter: Fingerprinter | None = None
           ) -> list[Stored]:
    """Store every document in one transaction (IngestError: none is stored)."""
    from scanner.store import tables as T
    fp = fingerprinter or Fingerprinter()
    when = now()
    out: list[Stored] = []
    try:                      # a plugin's bad fingerprint declaration: before any write
        for d in docs:
            if d.kind == "bundle":
                for f in d.data.get("findings") or ():
                    if isinstance(f, Mapping):
                        fp.fields(str(f.get("check_id") or ""))
    except FingerprintError as exc:
        raise IngestError(f"{exc}; nothing stored") from None
    with store.write() as conn:
        keys = sorted({_lock_key(d.scan_id if d.kind == "bundle" else d.sha256) for d in docs})
        for k in keys:                    # in one order: two batches never deadlock
            store.lock(conn, k)
        seen: dict[str, str] = {}
        for d in docs:
            if d.kind == "canary":
                out.append(_canary(conn, T, d, when))
                continue
            if len(d.scan_id) > MAX_SCAN_ID:
                raise IngestError(f"{d.name}: scan_id is {len(d.scan_id)} characters long, more "
                                  f"than the {MAX_SCAN_ID} a scan id may have; nothing stored")
            if seen.get(d.scan_id, d.sha256) != d.sha256:
                raise IngestError(f"{d.name}: scan_id {d.scan_id} is given twice with different "
                                  "content in this batch (a forged or altered bundle); nothing stored")
            seen[d.scan_id] = d.sha256
            out.append(_bundle(conn, T, d, when, fp))
    return out


def _canary(conn, T, d: Document, when: str) -> Stored:
    from sqlalchemy import select
    have = conn.execute(select(T.canary_logs.c.id)
                        .where(T.canary_logs.c.content_sha256 == d.sha256)).first()
    if have is None:
        conn.execute(T.canary_logs.insert().values(
            content_sha256=d.sha256, canary=_s(d.data.get("canary")),
            arrivals=len(d.data.get("arrivals") or ()),
            body=zlib.compress(canonical(d.data), 1), ingested_at=when))
    return Stored(d.name, "canary", None, have is None)


def _bundle(conn, T, d: Document, when: str, fp: Fingerprinter) -> Stored:
    from sqlalchemy import select
    b = d.data
    merged = isinstance(b.get("sources"), list)
    kind = "merged" if merged else "bundle"
    have = conn.execute(select(T.scans.c.content_sha256)
                        .where(T.scans.c.scan_id == d.scan_id)).first()
    if have is not None:
        if have[0] != d.sha256:
            raise IngestError(
                f"{d.name}: scan_id {d.scan_id} is stored already with other content "
                f"(sha256 {have[0][:16]}…, this file {d.sha256[:16]}…): a reused scan_id is a "
                "forged or altered bundle; nothing stored")
        return Stored(d.name, kind, d.scan_id, False)
    v = b.get("vantage") if isinstance(b.get("vantage"), Mapping) else {}
    inv = b.get("inventory") if isinstance(b.get("inventory"), Mapping) else {}
    tool = b.get("tool") if isinstance(b.get("tool"), Mapping) else {}
    started = _s(b.get("started_at"), 40) or ""
    res = conn.execute(T.scans.insert().values(
        scan_id=d.scan_id, content_sha256=d.sha256, kind=kind, started_at=started,
        finished_at=_s(b.get("finished_at"), 40) or "",
        segment=None if merged else _s(v.get("segment")),
        vantage_ip=None if merged else _s(v.get("ip"), 64),
        vantage_mac=None if merged else (norm_mac(v.get("mac"))[:32] or None),
        tool_version=_s(tool.get("version"), 64),
        verdict=_s((b.get("summary") or {}).get("verdict"), 20) or "",
        inventory_sha256=_s(inv.get("sha256"), 64), ingested_at=when))
    pk = res.inserted_primary_key[0]
    parts = [(s.get("vantage") or {}, s.get("observations") or {}, _s(s.get("started_at"), 40))
             for s in b["sources"] if isinstance(s, Mapping)] if merged else \
        [(v, b.get("observations") or {}, started)]
    conn.execute(T.scan_vantages.insert(), [
        {"scan": pk, "segment": _s(pv.get("segment")), "ip": _s(pv.get("ip"), 64),
         "mac": norm_mac(pv.get("mac"))[:32] or None, "started_at": at or started,
         "discovery": _discovery_status(obs)}
        for pv, obs, at in parts if isinstance(pv, Mapping)] or
        [{"scan": pk, "segment": None, "ip": None, "mac": None, "started_at": started,
          "discovery": "not-run"}])
    from scanner.store.changes import annotate
    rows = [_finding_row(pk, f, fp) for f in annotate(b)]
    if rows:
        conn.execute(T.findings.insert(), rows)
    sights = [s for pv, obs, at in parts if isinstance(pv, Mapping)
              for s in _sightings(pk, pv, obs, at or started)]
    if sights:
        conn.execute(T.sightings.insert(), sights)
    conn.execute(T.documents.insert().values(scan=pk, body=zlib.compress(canonical(b), 1)))
    return Stored(d.name, kind, d.scan_id, True)


def _finding_row(pk: int, f: Mapping, fp: Fingerprinter) -> dict:
    subj = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    return {"scan": pk, "fingerprint": fp(f), "check_id": _s(f.get("check_id"), 100),
            "status": _s(f.get("status"), 10), "severity": _s(f.get("severity"), 10),
            "segment": _s(f.get("segment")), "subject_ip": _s(subj.get("ip"), 64),
            "subject_mac": norm_mac(subj.get("mac"))[:32] or None,
            "subject_device": _s(subj.get("device")),
            "peer_segment": _s(f.get("peer_segment")), "title": _s(f.get("title"), 2000),
            "vantages": json.dumps(f["vantage_segments"], ensure_ascii=False),
            "subject_ports": _ports(subj.get("ports")),
            "subject_destination": _s(subj.get("destination"), 300)
            if isinstance(subj.get("destination"), str) else None}


def _ports(v: Any) -> str | None:
    """The subject's open services as a JSON list (strings only, at most 64), or None."""
    if not isinstance(v, list):
        return None
    ports = [p[:32] for p in v if isinstance(p, str)][:64]
    return json.dumps(ports, ensure_ascii=False) if ports else None


def _discovery_status(obs: Any) -> str:
    disc = obs.get("discovery") if isinstance(obs, Mapping) else None
    if not isinstance(disc, Mapping):
        return "not-run"
    return "ok" if disc.get("status") == "ok" and isinstance(disc.get("hosts"), list) else "error"


def _sightings(pk: int, v: Mapping, obs: Any, at: str) -> Iterable[dict]:
    seg = _s(v.get("segment"))
    if not seg or _discovery_status(obs) != "ok":
        return []
    disc = obs["discovery"]
    six = disc.get("neighbours6")
    out, seen = [], set()
    for h in disc["hosts"] + (six if isinstance(six, list) else []):
        if not isinstance(h, Mapping):
            continue
        mac = norm_mac(h.get("mac"))
        ip = _s(h.get("ip"), 64)
        if not mac or (mac, ip) in seen:
            continue
        seen.add((mac, ip))
        out.append({"scan": pk, "segment": seg, "mac": mac[:32], "ip": ip, "seen_at": at})
    return out
