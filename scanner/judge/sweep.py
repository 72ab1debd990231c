"""The full inbound sweep: whether one reached the unit, and whether the
newest one still backs a quick scan (ISO-LOGICAL's rule; the report and the
`report` command say the same about the inputs they merge). Reads the
`inbound` section of observations; imports only scanner.model."""
from __future__ import annotations

import datetime as _dt

from scanner.model import text

FULL_SWEEP_MAX_AGE_DAYS = 30


def _days(since: str | None, as_of: str | None) -> int | None:
    try:
        a = _dt.datetime.strptime(str(since), "%Y-%m-%dT%H:%M:%SZ")
        b = _dt.datetime.strptime(str(as_of), "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return None
    return max(0, (b - a).days)


def full_sweep_problem(cov, policy) -> tuple[object, object]:
    """(the words of the sweep that backs this result, a warning or None).

    The last full sweep is this scan's own (mode "full"), else the one a
    report or a store knows of (`policy.last_full_sweep`); a quick scan with
    none, or one older than `policy.full_sweep_max_age_days` (30), warns."""
    max_age = policy.get("full_sweep_max_age_days") or FULL_SWEEP_MAX_AGE_DAYS
    try:
        max_age = int(max_age)
    except (TypeError, ValueError):
        max_age = FULL_SWEEP_MAX_AGE_DAYS
    last = cov.get("started_at") if cov.get("mode") == "full" else None
    if last is None and policy.get("last_full_sweep"):
        # a sweep of another run backs this one only where it covered every
        # address this one probed (a public range added since is not covered)
        swept = set(policy.get("last_full_sweep_addresses") or ())
        mine = {*(cov.get("public") or ()), *(cov.get("routed") or ())}
        if mine <= swept:
            last = policy.get("last_full_sweep")
    as_of = policy.get("as_of") or cov.get("started_at")
    if not last:
        return None, text(
            "未进行全端口扫描：仅测试了常用端口与已声明端口，其余高位端口未覆盖（请定期运行 --inbound full）",
            "no full port sweep: only the top ports and the declared ones were tested, the "
            "other (high) ports were not covered (run --inbound full regularly)")
    age = _days(last, as_of)
    said = text(f"最近一次全端口扫描：{last}（{age if age is not None else '?'} 天前）",
                f"last full port sweep: {last} ({age if age is not None else '?'} days ago)")
    if age is None or age > max_age:
        return said, text(
            f"最近一次全端口扫描（{last}）已超过 {max_age} 天，高位端口的结论已过期",
            f"the last full port sweep ({last}) is older than {max_age} days: what it "
            "said of the high ports is out of date")
    return said, None


def sweep_reached(inbound) -> bool:
    """A full sweep that reached the unit: its probes ran and something
    answered (an open or closed port). Only such a sweep may back the quick
    scans after it; one that reached nothing proves nothing of the high ports."""
    if not isinstance(inbound, dict) or inbound.get("status") != "ok":
        return False
    cov = inbound.get("coverage")
    if not isinstance(cov, dict) or cov.get("mode") != "full":
        return False
    rows = [p for p in inbound.get("probes") or () if isinstance(p, dict)]
    quiet = [q for q in inbound.get("filtered") or () if isinstance(q, dict)]
    return (any(p.get("state") in ("open", "closed") for p in rows)
            or any(count(q.get("closed")) for q in quiet))


def count(v) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0
