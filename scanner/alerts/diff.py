"""LOCAL DIFF ADAPTER — for the lead to replace with scanner.store's `changes`.

`isoscan alert` needs the Change list between two results. The store's diff
(issue 14, scanner/store/, another branch) owns the real fingerprint rule and
the resolved/not-assessed judgement; until it is merged this file stands in
for it with the smallest rule that is safe for alerting:

- fingerprint: sha256 of check id, segment and the subject's identity (MAC,
  else device name, else IP), first 16 hex digits;
- new: failing now, not failing before; persisting: failing in both;
- resolved / not-assessed: failing before, not now (not-assessed when the
  check has an `error` finding now or no finding at all now).

Only `new` raises alerts, so the coarse rule for the other kinds costs nothing.

To wire the store: in scanner/commands/alert.py, replace `changes_between`
by `scanner.store.changes(old, new)` (same (old, new) merged-bundle dicts →
list of objects with kind, fingerprint, check, segment, severity, subject,
title) and delete this module.
"""
from __future__ import annotations

import hashlib
from typing import Mapping

from scanner.alerts.rules import Change


def fingerprint(f: Mapping) -> str:
    s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    ident = s.get("mac") or (f"device:{s['device']}" if s.get("device") else None) or \
        (f"ip:{s['ip']}" if s.get("ip") else "")
    raw = "\x1f".join([str(f.get("check_id")), str(f.get("segment") or ""), str(ident)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def _failing(bundle: Mapping | None) -> dict[str, Mapping]:
    out: dict[str, Mapping] = {}
    for f in (bundle or {}).get("findings") or []:
        if isinstance(f, Mapping) and f.get("status") == "fail" and not f.get("waiver"):
            out.setdefault(fingerprint(f), f)
    return out


def changes_between(old: Mapping | None, new: Mapping) -> list[Change]:
    before, now = _failing(old), _failing(new)
    ran_ok = {(f.get("check_id"), f.get("segment")) for f in new.get("findings") or []
              if isinstance(f, Mapping) and f.get("status") in ("pass", "fail")}
    erred = {(f.get("check_id"), f.get("segment")) for f in new.get("findings") or []
             if isinstance(f, Mapping) and f.get("status") == "error"}
    out = []
    for fp, f in now.items():
        out.append(_change("persisting" if fp in before else "new", fp, f))
    for fp, f in before.items():
        if fp in now:
            continue
        k = (f.get("check_id"), f.get("segment"))
        out.append(_change("resolved" if k in ran_ok and k not in erred else "not-assessed", fp, f))
    return out


def _change(kind: str, fp: str, f: Mapping) -> Change:
    return Change(kind=kind, fingerprint=fp, check=str(f.get("check_id")),
                  segment=f.get("segment"), severity=str(f.get("severity")),
                  subject=f.get("subject") if isinstance(f.get("subject"), Mapping) else None,
                  title=f.get("title") or "")
