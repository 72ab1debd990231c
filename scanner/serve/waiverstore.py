"""Waivers and acknowledgements kept in the store (console_waivers, console_acks).

One place for waivers: the console makes them (admin: reason, expiry,
approver), `isoscan report --db URL --waivers store` and `isoscan alert
--waivers URL` read them (scanner.commands.common.load_waivers dispatches here for
`store` or a database URL), and `isoscan serve waivers import|export`
moves them from and to waivers.yaml. The rules are scanner.waivers' own: a
protected check on a classified segment is refused when it is applied.

    add_waiver(store, fingerprint=fp, reason=..., approver=..., expires=date, by=name)
    ws = store_waivers(store)        # [scanner.waivers.Waiver] not revoked (expired ones too)
    add_ack(store, fp, assignee, note, by)
"""
from __future__ import annotations

import datetime as _dt
import json

from scanner.serve import tables as C


class WaiverStoreError(ValueError):
    """A waiver or acknowledgement refused (one line)."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(v, what, n) -> str:
    if not isinstance(v, str) or not v.strip():
        raise WaiverStoreError(f"{what} is required")
    if len(v) > n:
        raise WaiverStoreError(f"{what} is longer than {n} characters")
    return v.strip()


def add_waiver(store, *, reason, approver, expires, by, fingerprint=None, match=None) -> int:
    if (fingerprint is None) == (match is None):
        raise WaiverStoreError("a waiver names either a fingerprint or a match, exactly one")
    if isinstance(expires, str):
        try:
            expires = _dt.date.fromisoformat(expires.strip())
        except ValueError:
            raise WaiverStoreError(f"expiry {expires!r} is not a date (2027-03-31)") from None
    if not isinstance(expires, _dt.date):
        raise WaiverStoreError("an expiry date is required")
    if expires < _dt.datetime.now(_dt.timezone.utc).date():
        raise WaiverStoreError(f"expiry {expires} is in the past")
    if match is not None and not (isinstance(match, dict) and match.get("check")):
        raise WaiverStoreError("a match needs at least check:")
    row = dict(fingerprint=_text(fingerprint, "fingerprint", 200) if fingerprint else None,
               match=json.dumps(match, ensure_ascii=False, sort_keys=True) if match else None,
               reason=_text(reason, "a reason", 2000), approver=_text(approver, "an approver", 100),
               expires=expires.isoformat(), created_by=str(by)[:100], created_at=_now(),
               changed_at=_now())
    with store.write() as conn:
        return conn.execute(C.waivers.insert().values(**row)).inserted_primary_key[0]


def revoke_waiver(store, waiver_id: int, by: str) -> None:
    with store.write() as conn:
        conn.execute(C.waivers.update().where(C.waivers.c.id == waiver_id,
                                              C.waivers.c.revoked_at.is_(None))
                     .values(revoked_at=_now(), revoked_by=str(by)[:100], changed_at=_now()))


def list_waivers(store, include_revoked=False) -> list[dict]:
    from sqlalchemy import inspect, select
    with store.read() as conn:
        if not inspect(conn).has_table("console_waivers"):
            return []
        q = select(C.waivers).order_by(C.waivers.c.id)
        if not include_revoked:
            q = q.where(C.waivers.c.revoked_at.is_(None))
        return [dict(r._mapping, match=json.loads(r.match) if r.match else None)
                for r in conn.execute(q)]


def as_waiver(w: dict):
    from scanner.waivers import Waiver
    where = f"store:waiver#{w['id']}"
    return Waiver(w["reason"], w["approver"], _dt.date.fromisoformat(w["expires"]), where,
                  fingerprint=w["fingerprint"], match=w["match"] or {}, check_where=where)


def store_waivers(store) -> list:
    return [as_waiver(w) for w in list_waivers(store)]


def live_waivers(store) -> list:
    today = _dt.datetime.now(_dt.timezone.utc).date()
    return [(w, as_waiver(w)) for w in list_waivers(store)
            if _dt.date.fromisoformat(w["expires"]) >= today]


def covering(waivers, h, detail) -> dict | None:
    """The first live waiver (its row) that covers the finding of history `h`."""
    f = dict(detail) if detail else {"check_id": h.check, "segment": h.segment,
                                      "subject": h.subject}
    for row, w in waivers:
        if w.covers(f, h.fingerprint):
            return row
    return None


def load_from_store(spec: str, db: str | None = None) -> list:
    """`--waivers store` (the --db store, else ISOSCAN_DB) or `--waivers URL`."""
    from scanner.store.db import StoreError, open_store
    from scanner.waivers import WaiverError
    url = db if spec == "store" else spec
    try:
        store = open_store(url)
    except StoreError as exc:
        raise WaiverError(f"--waivers {spec}: {exc}") from None
    try:
        return store_waivers(store)
    finally:
        store.close()


# ---------------------------------------------------------------- waivers.yaml

def import_yaml(store, path: str, by: str) -> int:
    """Every waiver of a waivers.yaml (refused as `report --waivers` refuses it)."""
    from scanner.waivers import load_waivers
    n = 0
    for w in load_waivers(path):
        add_waiver(store, fingerprint=w.fingerprint, match=dict(w.match) if w.match else None,
                   reason=w.reason, approver=w.approver, expires=w.expires, by=by)
        n += 1
    return n


def export_yaml(store) -> str:
    import yaml
    out = []
    for w in list_waivers(store):
        e = {"fingerprint": w["fingerprint"]} if w["fingerprint"] else {"match": w["match"]}
        e.update(reason=w["reason"], approver=w["approver"], expires=w["expires"])
        out.append(e)
    return yaml.safe_dump({"version": 1, "waivers": out}, allow_unicode=True, sort_keys=False)


# ---------------------------------------------------------------- acknowledgements

def add_ack(store, fingerprint: str, assignee: str, note: str, by: str) -> None:
    row = dict(fingerprint=_text(fingerprint, "fingerprint", 64),
               assignee=_text(assignee, "a person to fix it", 100),
               note=(note or "").strip()[:2000] or None, by=str(by)[:100], at=_now())
    with store.write() as conn:
        conn.execute(C.acks.insert().values(**row))


def acks_by_fingerprint(store) -> dict:
    """{fingerprint: the newest acknowledgement}"""
    from sqlalchemy import select
    out = {}
    with store.read() as conn:
        for r in conn.execute(select(C.acks).order_by(C.acks.c.id)):
            out[r.fingerprint] = dict(r._mapping)
    return out
