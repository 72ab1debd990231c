"""What changed between two results: pure data in, a list of Change out.

    from scanner.store.changes import changes, results_of
    for c in changes(results_of(old_bundle), results_of(new_bundle)):
        c.kind, c.fingerprint, c.check, c.segment, c.severity, c.first_seen, c.age_days

A result is a bundle, a merged bundle (`isoscan report --json`) or what the
store rebuilds of past scans (scanner.store.history.previous_results); no
database is needed here. For every fingerprint (scanner.store.fingerprint):

  new           failing now, not failing before;
  resolved      failing before and absent now, where the check ran WITHOUT
                error on that segment now (it was looked for and not seen);
  persisting    failing before and now (first seen, age in days);
  not-assessed  failing before, absent now, and the check did not run on that
                segment now (no vantage there scanned) or it errored or was
                skipped: never "resolved" -- a probe that broke is not a fix.

The alerts (scanner/alerts) call changes() and alert on `new` (and on
`worse`, a persisting finding whose severity rose: Change.old_severity).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from scanner.store.fingerprint import Fingerprinter, norm_mac

NEW, RESOLVED, PERSISTING, NOT_ASSESSED = "new", "resolved", "persisting", "not-assessed"
KINDS = (NEW, RESOLVED, PERSISTING, NOT_ASSESSED)
_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass
class Results:
    """One result, as much as a comparison needs of it."""
    started_at: str = ""
    findings: list[dict] = field(default_factory=list)   # every status, JSON shape
    # (check id, segment) the result judged without error (pass or fail only)
    assessed: set = field(default_factory=set)

    def failing(self, fp: Fingerprinter) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for f in self.findings:
            if f.get("status") == "fail":
                out.setdefault(f.get("fingerprint") or fp(f), f)
        return out


@dataclass(frozen=True)
class Change:
    kind: str
    fingerprint: str
    check: str
    segment: str | None
    severity: str
    subject: Mapping[str, Any]
    title: str
    first_seen: str | None = None
    last_seen: str | None = None
    age_days: int | None = None
    old_severity: str | None = None

    @property
    def worse(self) -> bool:
        """A persisting finding whose severity rose since the earlier result."""
        return (self.kind == PERSISTING and self.old_severity is not None
                and _SEVERITY_RANK.get(self.severity, 9) < _SEVERITY_RANK.get(self.old_severity, 9))

    def to_json(self) -> dict:
        return {"kind": self.kind, "fingerprint": self.fingerprint, "check_id": self.check,
                "segment": self.segment, "severity": self.severity,
                "subject": dict(self.subject), "title": self.title,
                "first_seen": self.first_seen, "last_seen": self.last_seen,
                "age_days": self.age_days, "old_severity": self.old_severity}


def assessed_of(findings: Iterable[Mapping]) -> set:
    """(check, segment) judged pass or fail with no error or skip among its findings."""
    ok, bad = set(), set()
    for f in findings:
        key = (f.get("check_id"), f.get("segment"))
        (ok if f.get("status") in ("pass", "fail") else bad).add(key)
    return ok - bad


def results_of(doc: Mapping) -> Results:
    """A bundle or a merged bundle as Results (its findings kept as they are)."""
    findings = [f for f in doc.get("findings") or () if isinstance(f, Mapping)]
    started = doc.get("started_at")
    return Results(started_at=started if isinstance(started, str) else "",
                   findings=list(findings), assessed=assessed_of(findings))


def _days(a: str | None, b: str | None) -> int | None:
    ta, tb = parse_time(a), parse_time(b)
    if ta is None or tb is None:
        return None
    return max(0, (tb.date() - ta.date()).days)      # calendar days (UTC), as people count them


def parse_time(s: str | None) -> datetime | None:
    if not isinstance(s, str) or not s:
        return None
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _subject(f: Mapping) -> dict:
    s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    return {"ip": s.get("ip"), "mac": norm_mac(s.get("mac")) or None, "device": s.get("device")}


def _title(f: Mapping) -> str:
    t = f.get("title")
    return t if isinstance(t, str) else ""


def changes(old: Results | Mapping, new: Results | Mapping, *,
            fingerprinter: Fingerprinter | None = None,
            first_seen: Mapping[str, str] | None = None) -> list[Change]:
    """Every fingerprint failing in `old` or `new`, with what became of it.

    `first_seen` ({fingerprint: time}, from the store) dates persisting
    findings; without it a persisting finding was first seen at `old`."""
    old = old if isinstance(old, Results) else results_of(old)
    new = new if isinstance(new, Results) else results_of(new)
    fp = fingerprinter or Fingerprinter()
    first_seen = first_seen or {}
    before, now = old.failing(fp), new.failing(fp)
    out: list[Change] = []
    for key, f in now.items():
        was = before.get(key)
        if was is None:
            seen = first_seen.get(key) or new.started_at or None
            out.append(_change(NEW, key, f, seen, new.started_at, new.started_at))
        else:
            seen = first_seen.get(key) or old.started_at or None
            out.append(_change(PERSISTING, key, f, seen, new.started_at, new.started_at,
                               old_severity=was.get("severity")))
    for key, f in before.items():
        if key in now:
            continue
        looked = (f.get("check_id"), f.get("segment")) in new.assessed
        seen = first_seen.get(key) or old.started_at or None
        out.append(_change(RESOLVED if looked else NOT_ASSESSED, key, f, seen,
                           old.started_at, new.started_at))
    out.sort(key=lambda c: (KINDS.index(c.kind), _SEVERITY_RANK.get(c.severity, 9),
                            c.check, c.segment or "", c.fingerprint))
    return out


def _change(kind, key, f, first, last, now, old_severity=None) -> Change:
    return Change(kind=kind, fingerprint=key, check=str(f.get("check_id") or ""),
                  segment=f.get("segment"), severity=str(f.get("severity") or ""),
                  subject=_subject(f), title=_title(f), first_seen=first, last_seen=last,
                  age_days=_days(first, now), old_severity=old_severity)


def counts(cs: Sequence[Change]) -> dict[str, int]:
    return {k: sum(1 for c in cs if c.kind == k) for k in KINDS}
