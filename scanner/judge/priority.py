"""What to fix first: one ranking, shared by the report, the inspection record,
the console and the alerts, so every output puts the same finding on top.

    ranked = fix_first(findings, classification_of)           # most urgent first
    ranked = fix_first(findings, classification_of, is_new=lambda f: f["fp"] in new)
    where(finding)      # 'pc-07 10.20.0.7 8291/tcp' or '10.20.0.7 -> 198.51.100.7:443/tcp'

Findings are the bundle's JSON objects (check_id, status, severity, segment,
subject, ...). The order: severity (critical first); then the segment's
classification (classified, non-classified, internet, no segment); then a
failure before an error (what could not be judged); then new before
persisting; then check id and subject, so equal findings keep a stable order.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
CLASSIFICATION_ORDER = {"classified": 0, "non-classified": 1, "internet": 2}
STATUS_ORDER = {"fail": 0, "error": 1}
ACTIONABLE = ("fail", "error")


def urgency(f: Mapping[str, Any], classification: str | None, new: bool = False) -> tuple:
    """The sort key of one finding (smaller is more urgent)."""
    subject = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    return (SEVERITY_ORDER.get(str(f.get("severity")), len(SEVERITY_ORDER)),
            CLASSIFICATION_ORDER.get(str(classification), len(CLASSIFICATION_ORDER)),
            STATUS_ORDER.get(str(f.get("status")), len(STATUS_ORDER)),
            0 if new else 1,
            str(f.get("check_id") or ""), str(f.get("segment") or ""),
            str(subject.get("device") or ""), str(subject.get("ip") or ""))


def fix_first(findings: Iterable[Mapping[str, Any]],
              classification_of: Callable[[str | None], str | None],
              is_new: Callable[[Mapping[str, Any]], bool] = lambda f: False,
              statuses: Iterable[str] = ACTIONABLE) -> list[Mapping[str, Any]]:
    """The findings whose status is in `statuses`, most urgent first.
    `classification_of(segment)` gives a segment's classification (None when unknown)."""
    keep = set(statuses)
    chosen = [f for f in findings if f.get("status") in keep]
    return sorted(chosen, key=lambda f: urgency(f, classification_of(f.get("segment")), is_new(f)))


def segment_order(classification: str | None, name: str) -> tuple:
    """Sort key of a segment section: classified, then non-classified, then internet."""
    return (CLASSIFICATION_ORDER.get(str(classification), len(CLASSIFICATION_ORDER)), name)


def where(f: Mapping[str, Any]) -> str:
    """Where a finding is, as tokens a person can act on: device, address, MAC,
    the open ports, and the destination a leak reached ('' when nothing is known)."""
    s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    parts = [str(s[k]) for k in ("device", "ip", "mac") if isinstance(s.get(k), str) and s.get(k)]
    ports = s.get("ports")
    if isinstance(ports, list) and ports:
        parts.append(", ".join(str(p) for p in ports))
    out = " ".join(parts)
    dest = s.get("destination")
    if isinstance(dest, str) and dest:
        out = f"{out} -> {dest}" if out else f"-> {dest}"
    return out
