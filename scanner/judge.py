"""Judging: run checks over inventory + observations; verdicts; exit codes.

A check that raises is not silenced: its exception becomes an `error`
finding, and an `error` can never turn into a pass.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

from scanner.model import (CheckMeta, Finding, Inventory, Severity, Status,
                           error, text)

COMPLIANT = "compliant"
NON_COMPLIANT = "non-compliant"
INCOMPLETE = "incomplete"

# SPEC §3 exit codes of `isoscan scan`
EXIT_BY_VERDICT = {COMPLIANT: 0, NON_COMPLIANT: 1, INCOMPLETE: 3}


def run_check(meta: CheckMeta, evaluate, inv: Inventory,
              obs: Mapping[str, Any]) -> list[Finding]:
    try:
        findings = list(evaluate(inv, obs))
    except Exception as exc:  # a broken check is an error finding, never a pass
        return [error(meta, text(
            f"检查程序异常：{type(exc).__name__}: {exc}",
            f"the check raised {type(exc).__name__}: {exc}"))]
    if not findings:
        return [error(meta, text("检查未给出任何结果", "the check returned no result"))]
    return findings


def run_checks(checks: Iterable[tuple[CheckMeta, Any]], inv: Inventory,
               obs: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    for meta, evaluate in checks:
        out.extend(run_check(meta, evaluate, inv, obs))
    return out


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
