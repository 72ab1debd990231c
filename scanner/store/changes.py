"""What changed between two results: pure data in, a list of Change out.

    from scanner.store.changes import changes, results_of
    for c in changes(results_of(old_bundle), results_of(new_bundle)):
        c.kind, c.fingerprint, c.check, c.segment, c.severity, c.first_seen, c.age_days

A result is a bundle, a merged bundle (`isoscan report --json`) or what the
store rebuilds of past scans (scanner.store.history.previous_results); no
database is needed here. For every fingerprint (scanner.store.fingerprint):

  new           failing now, not failing before;
  resolved      failing before and absent now, where the check ran WITHOUT
                error on that segment now from a vantage that saw it failing
                (it was looked for where it was seen, and not seen);
  persisting    failing before and now (first seen, age in days);
  not-assessed  failing before, absent now, and no vantage that saw it ran the
                check on that segment now without error (it did not scan, the
                check errored or was skipped): never "resolved" -- a probe that
                broke is not a fix, and another vantage's pass (the internet
                probe's ISO-PHYSICAL into a classified segment) is not either.

A vantage is named by its segment (a bundle's vantage.segment; in a merged
bundle each finding's "vantages" labels, mapped through its sources).

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
    # every status, JSON shape, each with "vantage_segments" (see vantages_of)
    findings: list[dict] = field(default_factory=list)
    # (check id, segment, vantage segment) judged without error (pass or fail only)
    assessed: set = field(default_factory=set)
    # the store's scans it was rebuilt from (scans.id; history.previous_results)
    scans: list = field(default_factory=list)

    def failing(self, fp: Fingerprinter) -> dict[str, dict]:
        """{fingerprint: finding}; one fingerprint failing from several vantages
        (two bundles of one night) is one finding seen from all of them."""
        out: dict[str, dict] = {}
        for f in self.findings:
            if f.get("status") != "fail":
                continue
            key = f.get("fingerprint") or fp(f)
            have = out.get(key)
            if have is None:
                out[key] = f
            else:
                vs = sorted(set(vantages_of(have)) | set(vantages_of(f)))
                out[key] = {**have, "vantage_segments": vs}
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
    # a persisting finding's open services in the earlier result (() when it named none)
    old_ports: tuple = ()

    @property
    def opened(self) -> tuple:
        """Services open now that the earlier result of this persisting finding did
        not list (one finding per address: a newly opened port on an address that
        already failed is told apart by this, its fingerprint being the address's).
        Nothing when the earlier result listed no ports at all (a bundle from
        before subjects carried them is not "every port new")."""
        if self.kind != PERSISTING or not self.old_ports:
            return ()
        ports = self.subject.get("ports") if isinstance(self.subject, Mapping) else None
        return tuple(p for p in (ports or ()) if p not in self.old_ports)

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


def vantages_of(f: Mapping) -> list[str]:
    """The vantage segments a finding (annotated by results_of) came from; [""] unknown."""
    vs = f.get("vantage_segments")
    return list(vs) if isinstance(vs, (list, tuple)) and vs else [""]


def assessed_of(findings: Iterable[Mapping]) -> set:
    """(check, segment, vantage) judged pass or fail with no error or skip among its findings."""
    ok, bad = set(), set()
    for f in findings:
        good = f.get("status") in ("pass", "fail")
        for v in vantages_of(f):
            (ok if good else bad).add((f.get("check_id"), f.get("segment"), v))
    return ok - bad


def label_segments(doc: Mapping) -> dict[str, str]:
    """{vantage label: its segment} of a merged bundle's sources."""
    out = {}
    for s in doc.get("sources") or ():
        if isinstance(s, Mapping) and isinstance(s.get("label"), str):
            v = s.get("vantage") if isinstance(s.get("vantage"), Mapping) else {}
            if isinstance(v.get("segment"), str):
                out[s["label"]] = v["segment"]
    return out


def annotate(doc: Mapping) -> list[dict]:
    """The document's findings, each with "vantage_segments": the bundle's
    vantage segment, or a merged finding's vantages mapped to theirs (a label
    that maps to none, "canary", stays as it is)."""
    findings = [f for f in doc.get("findings") or () if isinstance(f, Mapping)]
    if isinstance(doc.get("sources"), list):
        labels = label_segments(doc)
        out = []
        for f in findings:
            vs = f.get("vantages") if isinstance(f.get("vantages"), list) else []
            segs = sorted({labels.get(x, x) for x in vs if isinstance(x, str)})
            out.append({**f, "vantage_segments": f.get("vantage_segments") or segs or [""]})
        return out
    v = doc.get("vantage") if isinstance(doc.get("vantage"), Mapping) else {}
    seg = v.get("segment") if isinstance(v.get("segment"), str) else ""
    return [{**f, "vantage_segments": f.get("vantage_segments") or [seg]} for f in findings]


def results_of(doc: Mapping) -> Results:
    """A bundle or a merged bundle as Results."""
    findings = annotate(doc)
    started = doc.get("started_at")
    return Results(started_at=started if isinstance(started, str) else "",
                   findings=findings, assessed=assessed_of(findings))


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
    """ip, mac, device; and the open ports and a leak's destination when the
    finding names them (what tells one finding on an address from another)."""
    s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    out = {"ip": s.get("ip"), "mac": norm_mac(s.get("mac")) or None, "device": s.get("device")}
    if isinstance(s.get("ports"), list) and s["ports"]:
        out["ports"] = [str(p) for p in s["ports"]]
    if isinstance(s.get("destination"), str) and s["destination"]:
        out["destination"] = s["destination"]
    return out


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
            out.append(_change(NEW, key, f, new.started_at or None, new.started_at,
                               new.started_at))
        else:
            seen = first_seen.get(key) or old.started_at or None
            out.append(_change(PERSISTING, key, f, seen, new.started_at, new.started_at,
                               old_severity=was.get("severity"), old_ports=_ports(was)))
    for key, f in before.items():
        if key in now:
            continue
        looked = any((f.get("check_id"), f.get("segment"), v) in new.assessed
                     for v in vantages_of(f))
        seen = first_seen.get(key) or old.started_at or None
        out.append(_change(RESOLVED if looked else NOT_ASSESSED, key, f, seen,
                           old.started_at, new.started_at))
    out.sort(key=lambda c: (KINDS.index(c.kind), _SEVERITY_RANK.get(c.severity, 9),
                            c.check, c.segment or "", c.fingerprint))
    return out


def _ports(f: Mapping) -> tuple:
    s = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    return tuple(str(p) for p in s.get("ports") or () if isinstance(p, str)) \
        if isinstance(s.get("ports"), list) else ()


def _change(kind, key, f, first, last, now, old_severity=None, old_ports=()) -> Change:
    return Change(kind=kind, fingerprint=key, check=str(f.get("check_id") or ""),
                  segment=f.get("segment"), severity=str(f.get("severity") or ""),
                  subject=_subject(f), title=_title(f), first_seen=first, last_seen=last,
                  age_days=_days(first, now), old_severity=old_severity, old_ports=old_ports)


def counts(cs: Sequence[Change]) -> dict[str, int]:
    return {k: sum(1 for c in cs if c.kind == k) for k in KINDS}
