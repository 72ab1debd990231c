"""The typed observation records: what a bundle holds reads and writes back equal,
anything else reads without raising and fails closed, and docs/SPEC.md prints
the records' own JSON Schema."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scanner.observations.records import (RECORDS, SECTIONS, TOP, ControlItem, Controls,
                                          Discovery, Privileges, Section, Station, Vantage,
                                          json_schema, section_head)

TESTS = Path(__file__).resolve().parents[1]
SPEC = TESTS.parent / "docs" / "SPEC.md"


def _observation_sets():
    """Every observation set the tests hold: check fixtures and fixture bundles."""
    out = []
    for p in sorted(TESTS.rglob("*.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if p.name == "observations.json" and isinstance(d, dict):
            out.append((str(p.relative_to(TESTS)), d))
        elif isinstance(d, dict) and isinstance(d.get("observations"), dict):
            out.append((str(p.relative_to(TESTS)), d["observations"]))
    return out


SETS = _observation_sets()


def test_there_are_observations_to_read():
    assert len(SETS) > 100


@pytest.mark.parametrize("name,obs", SETS, ids=[n for n, _ in SETS])
def test_well_formed_sections_read_and_write_back_equal(name, obs):
    for key in (*TOP, *SECTIONS):
        data = obs.get(key)
        if isinstance(data, dict):
            record = TOP.get(key, Section)
            assert record.from_json(data).to_json() == data, (name, key)


HOSTILE = [None, 7, "x", [], [None], {"ok": 1}, {"ok": "true"}, {"status": 5},
           {"items": "nope"}, {"items": [None, 3, {"ok": "yes", "macs": "02:.."}]},
           {"hosts": {"ip": "10.0.0.1"}}, {"hosts": [None, {"ip": 5, "mac": ["x"]}]},
           {"error": {"zh-CN": 3}}, {"ipv6": "fe80::1"}]


@pytest.mark.parametrize("data", HOSTILE, ids=[repr(h)[:30] for h in HOSTILE])
def test_from_json_forgives_and_fails_closed(data):
    for record in RECORDS:
        r = record.from_json(data)                   # never raises
        json.dumps(r.to_json())                      # and writes JSON back
    assert Privileges.from_json(data).ok is False    # "ok": 1 or "true" is no proof
    assert Controls.from_json(data).ok is False
    assert all(i.ok is False for i in Controls.from_json(data).items)
    assert Section.from_json(data).status != "ok" and not Section.from_json(data).ran
    assert all(isinstance(h.ip, (str, type(None))) for h in Discovery.from_json(data).hosts)


def test_a_missing_section_is_not_run():
    assert section_head({}, "egress") == Section(status="not-run", error="probe 'egress' did not run")
    assert section_head({"egress": "garbage"}, "egress").status == "not-run"
    assert section_head({"egress": {"status": "ok"}}, "egress").ran


def test_records_built_in_code_write_every_field_and_read_back_equal():
    records = [Vantage(segment="secret-lan", ip="10.10.0.5", mac="02:00:00:00:0a:05",
                       ipv6=("fe80::1",), up=True),
               Privileges(ok=True),
               Controls(ok=True, items=(ControlItem(kind="arp", target="10.10.0.11", ok=True,
                                                    macs=("02:00:00:00:0a:0b",)),)),
               Discovery(status="ok", hosts=(Station(ip="10.10.0.11", mac="02:00:00:00:0a:0b",
                                                     via="arp"),))]
    for r in records:
        j = r.to_json()
        assert set(j) == set(type(r).FIELDS)
        assert type(r).from_json(j) == r


def _spec_schema() -> dict:
    text = SPEC.read_text(encoding="utf-8")
    m = re.search(r"<!-- observations-schema:begin -->\n```json\n(.*?)```\n"
                  r"<!-- observations-schema:end -->", text, re.S)
    assert m, "docs/SPEC.md has no observations schema block"
    return json.loads(m.group(1))


def test_spec_prints_the_schema_of_the_records():
    assert _spec_schema() == json_schema(), \
        "docs/SPEC.md §5.1 is stale: print scanner.observations.records.json_schema() there"


def test_the_schema_names_every_field_of_every_record():
    defs = json_schema()["$defs"]
    for r in RECORDS:
        assert set(defs[r.__name__]["properties"]) == set(r.FIELDS)
        assert r.FIELDS.keys() <= {f for f in r.__dataclass_fields__}
