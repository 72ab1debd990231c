"""Judging: run checks over inventory + observations; verdicts; exit codes.

A check that raises is not silenced: its exception becomes an `error`
finding, and an `error` can never turn into a pass.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from scanner.model import (CheckMeta, Finding, Inventory, Severity, Status,
                           error, skipped, text)

from scanner.model.verdict import COMPLIANT, INCOMPLETE, NON_COMPLIANT, counts, verdict  # noqa: F401 (re-exported)

# SPEC §3 exit codes of `isoscan scan`
EXIT_BY_VERDICT = {COMPLIANT: 0, NON_COMPLIANT: 1, INCOMPLETE: 3}


def _host_vantage(obs: Mapping[str, Any]) -> bool:
    v = obs.get("vantage") if isinstance(obs, Mapping) else None
    return isinstance(v, Mapping) and v.get("kind") == "host"


def run_check(meta: CheckMeta, evaluate, inv: Inventory,
              obs: Mapping[str, Any]) -> list[Finding]:
    """The findings of one check; never raises for anything the check does.

    Fail closed: a check that raises (anything, SystemExit too: a plugin must
    not end the run as if it were clean) keeps the fails it yielded before
    (evidence is evidence) and loses its passes (a check that broke half-way
    has not earned one), plus an `error` saying why. Something yielded that
    is not a Finding of this check is an `error` too, never a silent pass.
    """
    if not meta.static and "host" not in meta.needs and _host_vantage(obs):
        # issue 26: a bundle from inside a computer (`isoscan host`) has none of
        # the network probes' sections; the network's checks are not judged from it
        return [skipped(meta, text(
            "不适用：本结果包来自计算机内部（isoscan host），该检查由网络探测位置判定",
            "does not apply: this bundle is from inside a computer (isoscan host); the check "
            "is judged from the network's vantages"))]
    found: list[Finding] = []
    broken: list[Finding] = []
    try:
        for f in evaluate(inv, obs) or ():
            why = _not_a_finding(meta, f)
            if why is None:
                found.append(f)
            else:
                broken.append(error(meta, why))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a broken check is an error finding, never a pass
        msg = str(exc)[:300]
        return [f for f in found if f.status == Status.FAIL] + broken + [error(meta, text(
            f"检查程序异常：{type(exc).__name__}: {msg}",
            f"the check raised {type(exc).__name__}: {msg}"))]
    if broken:
        return [f for f in found if f.status != Status.PASS] + broken
    if not found:
        return [error(meta, text("检查未给出任何结果", "the check returned no result"))]
    return found


def _not_a_finding(meta: CheckMeta, f: Any):
    if not isinstance(f, Finding):
        return text(f"检查给出的结果不是 Finding（{type(f).__name__}）",
                    f"the check yielded a {type(f).__name__}, not a Finding")
    if f.check_id != meta.id:
        return text(f"检查给出了另一检查编号的结果（{f.check_id}）",
                    f"the check yielded a finding of another check id ({f.check_id})")
    if not isinstance(f.status, Status) or not isinstance(f.severity, Severity):
        return text("检查结果的状态或级别无效", "the finding's status or severity is not valid")
    return None


def run_checks(checks: Iterable[tuple[CheckMeta, Any]], inv: Inventory,
               obs: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    for meta, evaluate in checks:
        out.extend(run_check(meta, evaluate, inv, obs))
    return out
