"""Review of the waivers (issue 14): no classified isolation finding is waivable."""
from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path

import pytest

from scanner.inventory.load import load_inventory
from scanner.judge.run import run_check
from scanner.report.merge import inventory_view
from scanner.waivers import WaiverError, apply_waivers, load_waivers

CASES = Path(__file__).resolve().parents[1] / "checks" / "ISO-BRIDGE" / "fail"
TODAY = dt.date(2026, 12, 2)


def _result(case: str) -> dict:
    """The real ISO-BRIDGE findings of a check fixture, as a result the report waives."""
    mod = importlib.import_module("checks.iso_bridge")
    folder = CASES / case
    inv = next(load_inventory([p / "inventory.yaml"]).inventory
               for p in (folder, *folder.parents) if (p / "inventory.yaml").is_file())
    obs = json.loads((folder / "observations.json").read_text("utf-8"))
    fs = [f.to_json("en") for f in run_check(mod.META, mod.evaluate, inv, obs)]
    assert any(f["status"] == "fail" for f in fs)
    return {"findings": fs, "summary": {}, "inventory_view": inventory_view(inv)}


@pytest.mark.parametrize("case", ["office-gateway-reaches-classified",
                                  "office-station-holds-classified-address",
                                  "office-nd-answer-for-classified-ipv6"])
def test_a_bridge_into_the_classified_segment_seen_from_the_office_is_not_waivable(tmp_path, case):
    # ISO-BRIDGE seen from a non-classified vantage sits on that vantage's segment
    # (office-lan), but what it reports is a path into the classified segment (the
    # office gateway routes there, a classified machine has a card in the office):
    # the secrecy rules know no exception for it, whatever segment the finding names
    res = _result(case)
    fails = [f for f in res["findings"] if f["status"] == "fail"]
    assert {f["segment"] for f in fails} == {"office-lan"}
    p = tmp_path / "w.yaml"
    p.write_text("version: 1\nwaivers:\n  - {match: {check: ISO-BRIDGE, segment: office-lan}, "
                 "reason: r, approver: a, expires: 2099-01-01}\n", "utf-8")
    with pytest.raises(WaiverError, match="classified"):
        apply_waivers(res, load_waivers(str(p)), today=TODAY)
    assert not any(f.get("waiver") for f in res["findings"])
