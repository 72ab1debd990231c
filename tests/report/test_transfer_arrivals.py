"""`report` verifies the arrival a high-side XFER-ONEWAY pass rests on with
the low side's canary key (scanner/report/transfer.py), on plain data."""
from __future__ import annotations

import copy

from scanner.canary import tokens
from scanner.report.transfer import check_arrivals

INV = {"transfers": [{"device": "xfer-01", "from": "office-lan", "to": "secret-lan"}]}


def _sources(key_low: bytes, token: tokens.Token, low_scan="scan-low"):
    low = {"scan_id": low_scan, "label": "office-lan@10.40.0.5",
           "vantage": {"segment": "office-lan"},
           "observations": {"canary_key": tokens.key_to_json(key_low)}}
    high = {"scan_id": "scan-high", "label": "secret-lan@10.30.0.5",
            "vantage": {"segment": "secret-lan"},
            "observations": {"canary_key": tokens.key_to_json(tokens.new_key()),
                             "transfer_in": {"status": "ok", "arrivals": [{
                                 "src_ip": "10.40.0.5", "proto": "udp", "port": 9,
                                 "token": token.hex,
                                 "token_segment_tag": tokens.tag("office-lan").hex(),
                                 "token_via_mac": "02:00:00:00:1a:32"}]}}}
    return [low, high]


def _pass():
    return {"check_id": "XFER-ONEWAY", "status": "pass", "severity": "critical",
            "segment": "secret-lan", "subject": {"ip": "10.30.0.50", "mac": "02:00:00:00:1b:32",
                                                 "device": "xfer-01"},
            "evidence": ["the declared direction works: ..."]}


def _minted(key, scan="scan-low"):
    return tokens.TokenMinter(scan, "office-lan", key).mint("02:00:00:00:1a:32", "udp", 9)


def test_verified_with_the_low_sides_key():
    key = tokens.new_key()
    f = [_pass()]
    check_arrivals(f, _sources(key, _minted(key)), INV, "en")
    assert f[0]["status"] == "pass"
    assert any("verifies with the key of the low side's scan (office-lan@10.40.0.5, scan-low)" in e
               for e in f[0]["evidence"]), f[0]["evidence"]


def test_a_token_no_low_side_key_verifies_unproves_the_direction():
    f = [_pass()]
    check_arrivals(f, _sources(tokens.new_key(), _minted(tokens.new_key())), INV, "en")
    assert (f[0]["status"], f[0]["severity"]) == ("fail", "info")
    assert any("is unproven" in e and "does not verify" in e for e in f[0]["evidence"])


def test_a_token_of_another_scan_with_the_same_key_is_refuted():
    key = tokens.new_key()
    f = [_pass()]
    check_arrivals(f, _sources(key, _minted(key, scan="an-older-scan")), INV, "en")
    assert f[0]["status"] == "fail"


def test_without_a_low_side_bundle_the_pass_stands_and_says_so():
    key = tokens.new_key()
    src = _sources(key, _minted(key))[1:]
    f = [_pass()]
    check_arrivals(f, src, INV, "zh-CN")
    assert f[0]["status"] == "pass"
    assert any("未经验证" in e for e in f[0]["evidence"])


def test_other_findings_and_hostile_arrivals_are_left_alone():
    key = tokens.new_key()
    src = _sources(key, _minted(key))
    src[1]["observations"]["transfer_in"]["arrivals"] += [None, {"token": ["x"]}, {"token": "zz"}]
    other = dict(_pass(), check_id="ISO-BRIDGE")
    f = [copy.deepcopy(other), _pass()]
    check_arrivals(f, src, INV, "en")
    assert f[0] == other and f[1]["status"] == "pass"
