"""NET-DHCP and NET-IPV6-RA on malformed observations: never a pass, never a crash.
(Their pass/fail/error fixtures run with every live check's, in test_live_fixtures.py.)"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from scanner.inventory.load import load_inventory

HERE = Path(__file__).resolve().parent
MODULES = {"NET-DHCP": "checks.net_dhcp", "NET-IPV6-RA": "checks.net_ipv6_ra"}

GARBAGE = [None, "x", 7, {}, ["x", 3, None], [{"src_ip": 5, "src_mac": [], "router": 9,
                                                "prefixes": "p", "router_lifetime": "1800",
                                                "rdnss": 3, "wait": "long"}]]


@pytest.mark.parametrize("cid", sorted(MODULES))
def test_malformed_observations_never_pass_and_never_crash(cid):
    mod = importlib.import_module(MODULES[cid])
    case = HERE / cid / "pass" / "basic"
    inv = load_inventory([case / "inventory.yaml"]).inventory
    good = json.loads((case / "observations.json").read_text(encoding="utf-8"))
    name, key = ("dhcp", "offers") if cid == "NET-DHCP" else ("ra", "adverts")
    for g in GARBAGE + [[]]:
        for obs in (dict(good, **{name: g}), dict(good, **{name: dict(good[name], **{key: g})})):
            if g == [] and isinstance(obs[name], dict):
                continue                              # an empty list is a clean "nothing seen"
            got = list(mod.evaluate(inv, obs))        # never raises
            statuses = {f.status.value for f in got}
            assert statuses and "pass" not in statuses, (g, statuses)
