"""One bundle or canary log, pushed or spooled, into the store exactly as
`isoscan ingest` stores it: the same reader and refusals (scanner.documents,
from the bytes as pushed: one parse, no temporary file), the same transaction.

    p = prepare(raw_bytes, "push:probe-secret", cfg, trust)   # Refused: nothing stored
    result = commit(store, p)                                # Refused: nothing stored

Signatures (SPEC §8) are checked against the console's trusted keys where
`trust:` is configured: a block that does not verify is refused; with
`require_signed: true` so is an unsigned or untrusted one. A signed document
whose chain and sequence were received already with other content is refused
as a replay; the same document again is `already stored` (409, nothing new).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.documents.read import InputProblem, max_input_bytes, parse_document
from scanner.serve.accounts import now


class Refused(Exception):
    def __init__(self, status: int, reason: str, **extra):
        super().__init__(reason)
        self.status, self.reason, self.extra = status, reason, extra


@dataclass
class Prepared:
    name: str
    doc: object                      # scanner.documents.read.Document
    signature: str = "unchecked"     # valid | untrusted | invalid | unsigned | unchecked
    key_fingerprint: str | None = None
    chain: str | None = None
    sequence: int | None = None
    detail: str = ""
    meta: dict = field(default_factory=dict)


def cap(cfg) -> int:
    return min(cfg.max_push_bytes, max_input_bytes())


def prepare(raw: bytes, name: str, cfg, trust) -> Prepared:
    if len(raw) > cap(cfg):
        raise Refused(413, f"{name}: larger than {cap(cfg):,} bytes (max_push_bytes); nothing stored")
    try:
        # one parse: strict (a key twice refused, SPEC §8.2) where signatures are checked
        doc = parse_document(raw, name, strict=trust is not None)
    except InputProblem as exc:
        raise Refused(400, f"{exc}; nothing stored") from None
    p = Prepared(name, doc)
    if trust is not None:
        from scanner.evidence.verify import INVALID, VALID, verify_document
        from scanner.model import pick
        r = verify_document(doc.data, trust, name)
        p.signature, p.key_fingerprint = r.status, r.fingerprint
        p.chain, p.sequence, p.detail = r.chain, r.sequence, pick(r.detail, "en")
        if r.status == INVALID:
            raise Refused(403, f"{name}: signature {r.status}: {p.detail}; nothing stored")
        if cfg.require_signed and r.status != VALID:
            raise Refused(403, f"{name}: signature {r.status} ({p.detail}) and this console "
                               "requires every bundle validly signed by a trusted key; nothing stored")
    elif cfg.require_signed:
        raise Refused(500, "require_signed without trusted keys")
    return p


def _replay(store, p: Prepared) -> None:
    from sqlalchemy import select
    from scanner.serve import tables as C
    if p.signature != "valid" or not p.chain or p.sequence is None:
        return
    with store.read() as conn:
        rows = conn.execute(select(C.chains.c.content_sha256).where(
            C.chains.c.chain == p.chain[:200], C.chains.c.sequence == p.sequence)).all()
    if any(r[0] != p.doc.sha256 for r in rows):
        raise Refused(409, f"{p.name}: chain {p.chain} #{p.sequence} was received already with "
                           "other content (a replayed or forged document); nothing stored")


def _unsquat(store, p: Prepared, trust) -> None:
    """A validly signed bundle whose scan_id is stored already with other
    content that is NOT validly signed by a trusted key: that earlier copy
    squats the id (an unsigned copy pushed first). It is kept, renamed
    SCAN_ID~unsigned-HASH16, and the signed bundle takes its id."""
    import json
    import zlib
    from sqlalchemy import select
    from scanner.evidence.verify import VALID, verify_document
    from scanner.store import tables as T
    from scanner.store.ingest import _lock_key
    if p.signature != "valid" or p.doc.kind != "bundle" or trust is None:
        return
    sid = p.doc.scan_id
    with store.write() as conn:
        store.lock(conn, _lock_key(sid))
        have = conn.execute(select(T.scans.c.id, T.scans.c.content_sha256)
                            .where(T.scans.c.scan_id == sid)).first()
        if have is None or have.content_sha256 == p.doc.sha256:
            return
        body = conn.execute(select(T.documents.c.body).where(T.documents.c.scan == have.id)).scalar()
        try:
            old = json.loads(zlib.decompress(body)) if body is not None else None
        except (ValueError, zlib.error):
            old = None
        if old is not None and verify_document(old, trust, sid).status == VALID:
            return                               # two signed documents: ingest refuses (409)
        moved = _free_name(conn, sid, have.content_sha256)
        conn.execute(T.scans.update().where(T.scans.c.id == have.id).values(scan_id=moved))
    p.meta["superseded"] = moved


def _free_name(conn, sid: str, sha: str) -> str:
    """SCAN_ID~unsigned-HASH16, or, when a squatter took that name first (he
    knows his own hash), the same with a random tail he cannot foresee."""
    import secrets
    from sqlalchemy import select
    from scanner.store import tables as T
    for tail in ("", *(f"-{secrets.token_hex(6)}" for _ in range(4))):
        suffix = f"~unsigned-{sha[:16]}{tail}"
        name = sid[:200 - len(suffix)] + suffix
        if conn.execute(select(T.scans.c.id).where(T.scans.c.scan_id == name)).first() is None:
            return name
    raise Refused(503, f"{sid}: no free name to move the unsigned copy of this scan_id to; "
                       "nothing stored")


def commit(store, p: Prepared, trust=None) -> dict:
    from scanner.serve import tables as C
    from scanner.store.db import StoreError
    from scanner.store.ingest import IngestError, ingest
    _replay(store, p)
    _unsquat(store, p, trust)
    try:
        stored = ingest(store, [p.doc])[0]
    except IngestError as exc:
        raise Refused(409, str(exc)) from None
    except StoreError as exc:
        raise Refused(503, str(exc)) from None
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError
        if not isinstance(exc, SQLAlchemyError):
            raise
        from scanner.store.db import store_problem
        raise Refused(503, f"the store failed, nothing stored: {store_problem(exc)}") from None
    if stored.new and p.signature == "valid" and p.chain and p.sequence is not None:
        with store.write() as conn:
            conn.execute(C.chains.insert().values(
                chain=p.chain[:200], sequence=p.sequence, content_sha256=p.doc.sha256,
                key_fingerprint=p.key_fingerprint, received_at=now()))
    out = {"name": p.name, "kind": stored.kind, "scan_id": stored.scan_id,
           "stored": stored.new, "already_stored": not stored.new,
           "sha256": p.doc.sha256, "signature": p.signature,
           "key_fingerprint": p.key_fingerprint}
    if p.meta.get("superseded"):
        out["superseded"] = p.meta["superseded"]
    if not stored.new:
        raise Refused(409, f"{p.name}: already stored (the same content); nothing new stored", **out)
    return out
