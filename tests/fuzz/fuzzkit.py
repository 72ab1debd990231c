"""Helpers of the fuzz and review tests: real bundles from the check fixtures.

    b = make_bundle("ISO-BRIDGE/fail/packets-cross")   # judged by every installed check
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from scanner import bundle as B
from scanner.inventory.load import load_inventory
from scanner.judge.run import run_checks
from scanner.judge.registry import load_checks

TESTS = Path(__file__).resolve().parents[1]
CHECKS = TESTS / "checks"
CANARY = TESTS / "canary" / "fixtures"
T0 = datetime(2026, 11, 30, 2, 0, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 30, 2, 0, 41, tzinfo=timezone.utc)


def case(path: str):
    inv = load_inventory([CHECKS / path.split("/")[0] / "inventory.yaml"]).inventory
    obs = json.loads((CHECKS / path / "observations.json").read_text(encoding="utf-8"))
    return inv, obs


def make_bundle(path: str = "ISO-BRIDGE/fail/packets-cross", lang: str = "zh-CN",
                only: tuple[str, ...] | None = None) -> dict:
    """A bundle as a scan writes it: the live checks judged on a fixture."""
    inv, obs = case(path)
    pairs = [(c.meta, c.evaluate) for c in load_checks().checks
             if not c.meta.static and (only is None or c.meta.id in only)]
    findings = run_checks(pairs, inv, obs)
    return B.build_bundle(inventory=inv, vantage=obs["vantage"], observations=obs,
                          findings=findings, started_at=T0, finished_at=T1, lang=lang,
                          scan_id="scan-fuzz")


def canary_log(name: str = "log-breach") -> dict:
    return json.loads((CANARY / f"{name}.json").read_text(encoding="utf-8"))


def canary_bundle(name: str = "bundle-secret", judged: bool = True) -> dict:
    """A canary-judging fixture bundle (keys, tokens) made whole for `report`:
    with judged, the static INV-SCHEMA pass every real scan carries (a bundle
    that judged nothing is refused)."""
    b = json.loads((CANARY / f"{name}.json").read_text(encoding="utf-8"))
    if judged and not b["findings"]:
        from checks.inv_schema import META
        from scanner.model import passed
        b["findings"] = [B.finding_json(passed(META, "inventory read"), b.get("lang") or "zh-CN")]
    b["summary"] = B.summary(b["findings"])
    return b
