"""The verdict and counts that follow from a list of findings (SPEC §5): a fact
of the findings, so model/ owns it; judge/ and documents/ (bundle validation)
both read it from here."""
from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from scanner.model import Finding, Severity, Status

COMPLIANT = "compliant"
NON_COMPLIANT = "non-compliant"
INCOMPLETE = "incomplete"


def verdict(findings: Sequence[Finding | Mapping[str, Any]]) -> str:
    """SPEC §5: non-compliant when a finding of severity low or above fails,
    else incomplete when any errs, else compliant (a failing info is a notice)."""
    statuses = [(_status(f), _severity(f)) for f in findings]
    if any(s == Status.FAIL and sev != Severity.INFO for s, sev in statuses):
        return NON_COMPLIANT
    if any(s == Status.ERROR for s, _ in statuses):
        return INCOMPLETE
    return COMPLIANT


def counts(findings: Sequence[Finding | Mapping[str, Any]]) -> dict[str, int]:
    c = Counter(_status(f).value for f in findings)
    return {s.value: c.get(s.value, 0) for s in Status}


def _status(f) -> Status:
    return f.status if isinstance(f, Finding) else Status(f["status"])


def _severity(f) -> Severity:
    return f.severity if isinstance(f, Finding) else Severity(f["severity"])
