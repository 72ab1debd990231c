"""The store, vantage by vantage: when each last reported, and a vantage's
previous scan (what tonight's scan of that vantage is compared with).

    last = last_reports(store)            # {(segment, ip): newest started_at}
    old = previous_bundle(store, bundle)  # the same vantage's scan before it, or None

A vantage is its segment and its probe: the same MAC when both scans know
one (a probe whose DHCP address moved is the same probe), else the same IP.
Only single-vantage bundles count (a merged report is nobody's previous scan).
"""
from __future__ import annotations

import json
import zlib
from typing import Mapping

from scanner.store.fingerprint import norm_mac


def last_reports(store) -> dict[tuple[str | None, str | None], str]:
    """{(segment, vantage ip): the newest start time of a scan from there},
    every source of a merged scan included."""
    from sqlalchemy import func, select
    from scanner.store import tables as T
    v = T.scan_vantages
    with store.read() as conn:
        rows = conn.execute(select(v.c.segment, v.c.ip, func.max(v.c.started_at))
                            .group_by(v.c.segment, v.c.ip)).all()
    return {(seg, ip): t for seg, ip, t in rows if t}


def previous_bundle(store, bundle: Mapping, *, look_back: int = 50) -> dict | None:
    """The stored bundle of the same vantage that started last before `bundle`
    (itself excluded, by scan_id), as it was stored; None on night one."""
    from sqlalchemy import select
    from scanner.store import tables as T
    s = T.scans
    v = bundle.get("vantage") if isinstance(bundle.get("vantage"), Mapping) else {}
    seg, ip, mac = v.get("segment"), v.get("ip"), norm_mac(v.get("mac")) or None
    started = bundle.get("started_at")
    if not isinstance(seg, str) or not isinstance(started, str):
        return None
    q = (select(s.c.id, s.c.vantage_ip, s.c.vantage_mac)
         .where(s.c.kind == "bundle", s.c.segment == seg, s.c.started_at <= started,
                s.c.scan_id != str(bundle.get("scan_id") or ""))
         .order_by(s.c.started_at.desc(), s.c.id.desc()).limit(look_back))
    with store.read() as conn:
        for pk, vip, vmac in conn.execute(q).all():
            same = (vmac == mac) if (vmac and mac) else (vip == ip)
            if same:
                body = conn.execute(select(T.documents.c.body)
                                    .where(T.documents.c.scan == pk)).scalar()
                return json.loads(zlib.decompress(body)) if body is not None else None
    return None
