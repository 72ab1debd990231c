"""judge_arrivals on fixture bundles and canary logs: no network."""
import json
from pathlib import Path

import pytest

from scanner.judge.crossbundle.canary import attribute, judge_arrivals, outside_view
from scanner.inventory.load import load_inventory
from scanner.judge.run import verdict
from scanner.model import Status

FIX = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def load(name):
    return json.loads((FIX / name).read_text())


@pytest.fixture(scope="module")
def inv():
    res = load_inventory([ROOT / "inventories" / "lab" / "demo.yaml"])
    assert res.inventory is not None
    return res.inventory


@pytest.fixture
def bundles():
    return [load("bundle-secret.json"), load("bundle-office.json")]


def summary(findings):
    return sorted((f.check_id, f.status.value, f.segment, f.subject.ip, f.subject.mac, f.subject.device)
                  for f in findings)


def test_no_logs_no_findings(inv, bundles):
    assert judge_arrivals(bundles, [], inv) == []
    assert judge_arrivals(bundles, None, inv) == []


def test_breach_names_the_carrying_host(inv, bundles):
    got = judge_arrivals(bundles, [load("log-breach.json")], inv)
    assert summary(got) == [
        ("ING-SINGLE", "fail", "office-lan", "10.20.0.21", "02:00:00:00:0b:15", "ws-101"),
        ("ISO-BRIDGE", "fail", "secret-lan", "10.10.0.15", "02:00:00:00:0a:0f", "ws-005"),
    ]
    bridge = next(f for f in got if f.check_id == "ISO-BRIDGE")
    ev = [e["en"] for e in bridge.evidence]
    assert len(ev) == 3                                 # ICMP, TCP (by seq), DNS; not the forged one
    assert any("TCP sequence number matches" in e for e in ev)
    assert all("10.10.0.5" in e and "TTL left 63" in e for e in ev)
    assert all(e.startswith("internet-canary (203.0.113.10)") for e in ev)   # named after the canary
    assert bridge.severity.value == "critical" and bridge.title["zh-CN"]
    single = next(f for f in got if f.check_id == "ING-SINGLE")
    assert "203.0.113.99" in single.evidence[0]["en"] and "gw-01" in single.evidence[0]["en"]
    assert verdict(got) == "non-compliant"


def test_clean_log_vouches_for_the_classified_vantage(inv, bundles):
    got = judge_arrivals(bundles, [load("log-clean.json")], inv)
    assert summary(got) == [
        ("ING-SINGLE", "pass", "office-lan", None, None, None),
        ("ISO-BRIDGE", "pass", "secret-lan", None, None, None),
        ("ISO-PHYSICAL", "pass", "secret-lan", None, None, None),
    ]
    assert verdict(got) == "compliant"


def test_empty_log_is_a_failed_positive_control(inv, bundles):
    got = judge_arrivals(bundles, {"hits-empty.json": load("log-empty.json")}, inv)
    # the office vantage should have reached the canary: error; the secret vantage
    # cannot pass on a log that never proved it listened: nothing
    assert summary(got) == [("ING-SINGLE", "error", "office-lan", None, None, None)]
    assert "hits-empty.json" in got[0].evidence[0]["en"]
    assert verdict(got) == "incomplete"


def test_log_not_covering_the_scan_gives_no_pass(inv, bundles):
    lg = load("log-clean.json")
    lg["started_at"] = "2026-11-30T02:00:20Z"          # started after the scan began
    got = judge_arrivals(bundles, [lg], inv)
    assert [f.check_id for f in got] == ["ING-SINGLE"]


def test_untranslated_source_cannot_tell_the_exit(inv, bundles):
    got = judge_arrivals(bundles, [load("log-untranslated.json")], inv)
    office = [f for f in got if f.segment == "office-lan"]
    assert [(f.check_id, f.status) for f in office] == [("ING-SINGLE", Status.ERROR)]


def test_weak_port_only_match_never_fails_and_never_passes(inv, bundles):
    got = judge_arrivals(bundles, [load("log-weak.json")], inv)
    assert summary(got) == [
        ("ING-SINGLE", "pass", "office-lan", None, None, None),
        ("ISO-PHYSICAL", "error", "secret-lan", "10.10.0.5", "02:00:00:00:0a:05", None),
    ]
    view = outside_view(bundles, [load("log-weak.json")], inv)
    secret = next(v for v in view["vantages"] if v["segment"] == "secret-lan")
    assert [(r["exit"], r["match"]) for r in secret["rows"]] == [("198.51.100.200", "port only")]


def test_bundle_without_key_is_an_error(inv):
    got = judge_arrivals([load("bundle-nokey.json")], [load("log-clean.json")], inv)
    assert [(f.check_id, f.status) for f in got] == [("ING-SINGLE", Status.ERROR)]
    assert "no canary key" in got[0].evidence[0]["en"]


def test_a_key_from_another_bundle_verifies_nothing(inv, bundles):
    secret, office = bundles
    office["observations"]["canary_key"] = secret["observations"]["canary_key"]
    got = judge_arrivals([office], [load("log-clean.json")], inv)
    # the office's own records no longer verify: it cannot be joined at all
    assert [(f.check_id, f.status) for f in got] == [("ING-SINGLE", Status.ERROR)]


def test_raw_inventory_dict_and_report_view_work_too(inv, bundles):
    from scanner.report.merge import inventory_view
    want = summary(judge_arrivals(bundles, [load("log-breach.json")], inv))
    assert summary(judge_arrivals(bundles, [load("log-breach.json")], inventory_view(inv))) == want


def test_without_inventory_fail_closed(bundles):
    got = judge_arrivals(bundles, [load("log-breach.json")], None)
    assert got and all(f.status == Status.ERROR for f in got)


def test_outside_view_groups_by_exit(inv, bundles):
    view = outside_view(bundles, [load("log-breach.json")], inv)
    assert view["logs"][0]["arrivals"] == 11 and view["logs"][0]["unmatched"] == 4
    by = {v["segment"]: v for v in view["vantages"]}
    office = {r["exit"]: r for r in by["office-lan"]["rows"]}
    assert office["203.0.113.1"]["is_ingress"] is True and office["203.0.113.1"]["arrivals"] == 3
    assert office["203.0.113.99"]["is_ingress"] is False
    assert office["203.0.113.99"]["via"] == ["ws-101 (10.20.0.21, 02:00:00:00:0b:15)"]
    secret = by["secret-lan"]["rows"]
    assert [(r["exit"], r["arrivals"]) for r in secret] == [("10.10.0.5", 3)]
    assert secret[0]["probes"] == {"ICMP": 1, "TCP/443": 1, "DNS/53": 1}
    json.dumps(view)                                   # plain data


def test_attribute_hook(bundles):
    sources = [dict(b, label=f"{b['vantage']['segment']} {b['vantage']['ip']}") for b in bundles]
    log = load("log-breach.json")
    labels = [attribute(a, sources) for a in log["arrivals"]]
    assert labels.count("secret-lan 10.10.0.5") == 3
    assert labels.count("office-lan 10.20.0.5") == 4
    assert labels.count(None) == 4


def test_hostile_logs_do_not_raise(inv, bundles):
    junk = [{"arrivals": [None, 1, "x", {"token": 5}, {"proto": "tcp", "tcp_seq": "x"},
                          {"token": "00" * 33}, {"time": 7, "proto": "tcp", "sport": 1}]},
            {"arrivals": "nope"}, "str", 5, None]
    found = judge_arrivals(bundles, junk, inv)
    # nothing of the junk is evidence: no pass, no fail; the one log that reads as a
    # log (the first) saw nothing of the non-classified vantage, so its exit is unproven
    assert [(f.check_id, f.status, f.segment) for f in found] == \
        [("ING-SINGLE", Status.ERROR, "office-lan")]
    assert verdict(found) == "incomplete"
    view = outside_view(bundles, junk, inv)
    assert [(lg["arrivals"], lg["unmatched"], lg["complete"]) for lg in view["logs"]] == [(7, 7, False)]
    assert [v["rows"] for v in view["vantages"]] == [[], []]
    # bundles that are no bundles give no vantage to judge, and no finding out of the log
    assert judge_arrivals([{"vantage": 3}, {}, "x"], [load("log-breach.json")], inv) == []
