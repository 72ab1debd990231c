"""Golden tests on the fixed bundles: structure, not bytes."""
from __future__ import annotations

import re

import pytest

from scanner.report.render import merge_report, render_report
from tests.report.conftest import Page


def _findings(m, **kw):
    return [f for f in m["findings"] if all(f.get(k) == v for k, v in kw.items())]


def test_verdict_and_counts(bundles, inventory):
    html = render_report(bundles, "zh-CN", bundle_digests=["a" * 64, "b" * 64, "c" * 64],
                         inventory=inventory)
    p = Page(html)
    assert p.id_text("verdict-text") == "不合规"
    m = merge_report(bundles, "zh-CN", None, None, inventory)
    assert m["summary"]["verdict"] == "non-compliant"
    # counts table shows the merged totals
    total_row = re.search(r'<tr class="total">(.*?)</tr>', html, re.S).group(1)
    nums = [int(x) for x in re.findall(r'<td class="num">(\d+)</td>', total_row)]
    c = m["summary"]["counts"]
    assert nums == [c["pass"], c["fail"], c["error"], c["skipped"]]


def test_header_names_unit_versions_inventory_vantages_digests(bundles, inventory):
    html = render_report(bundles, "en", bundle_digests=["a" * 64, "b" * 64, "c" * 64],
                         inventory=inventory)
    head = Page(html).id_text("header")
    assert "示例审计局" in head
    from scanner.localtime import local_iso, unit_zone      # the host's zone: no timezone declared
    assert local_iso("2026-11-30T02:00:00Z", unit_zone()) in head
    assert local_iso("2026-11-30T02:06:10Z", unit_zone()) in head
    assert "isoscan 0.1.0" in head
    assert "inventory.yaml" in head and bundles[0]["inventory"]["sha256"] in head
    assert bundles[0]["inventory"]["sources"][0]["sha256"] in head     # each file's own digest
    for b, d in zip(bundles, "abc"):
        v = b["vantage"]
        assert v["segment"] in head and v["ip"] in head and v["mac"] in head
        assert d * 64 in head
    assert "not the one the scans used" not in head       # same inventory as the scans


def test_dedup_lists_vantages(bundles):
    m = merge_report(bundles, "en")
    dup = _findings(m, check_id="INV-DUPLICATE", status="fail")
    assert len(dup) == 1
    assert len(dup[0]["vantages"]) == 3
    assert len(_findings(m, check_id="INV-OVERLAP", status="pass")) == 1


def test_cross_vantage_bridge(bundles, inventory):
    m = merge_report(bundles, "en", inventory=inventory)
    br = [f for f in _findings(m, check_id="ISO-BRIDGE", status="fail") if f.get("merged")]
    assert len(br) == 1
    f = br[0]
    assert f["subject"]["mac"] == "02:00:00:00:0d:99"
    assert f["segment"] == "secret-lan" and f["peer_segment"] == "office-lan"
    assert f["severity"] == "critical"
    assert any("office-lan" in e for e in f["evidence"])


def test_cross_vantage_bridge_without_classification_is_error_not_silence(bundles):
    m = merge_report(bundles, "en")      # no inventory: classes unknown
    br = [f for f in m["findings"] if f.get("merged")]
    assert [f["status"] for f in br] == ["error"]


def test_two_non_classified_segments_are_not_a_bridge(bundles):
    inv = {"segments": [{"name": "secret-lan", "classification": "non-classified"},
                        {"name": "office-lan", "classification": "non-classified"}],
           "devices": []}
    m = merge_report(bundles, "en", inventory=inv)
    assert not [f for f in m["findings"] if f.get("merged")]


def test_declared_transfer_is_not_a_bridge(bundles, inventory):
    for b in bundles[:2]:
        for h in b["observations"]["discovery"]["hosts"]:
            if h["mac"] == "02:00:00:00:0d:99":
                h["mac"] = "02:00:00:00:0d:05"       # diode-01, a declared transfer
    m = merge_report(bundles, "en", inventory=inventory)
    assert not [f for f in m["findings"] if f.get("merged")]


def test_requirement_rows(bundles, inventory):
    html = render_report(bundles, "en", inventory=inventory)
    rows = {label: st for st, label in
            re.findall(r'<tr class="req-(\w+)">\s*<td>([^<]+)</td>', html)}
    assert rows == {"Physical isolation": "fail", "Logical isolation": "fail",
                    "Single ingress": "fail", "Device registration": "fail",
                    "Inventory soundness": "fail",
                    "Rogue network services (DHCP / IPv6 RA)": "error"}


def test_requirement_status_rules():
    from scanner.report.render import _requirement
    from scanner.report.strings import STRINGS
    def f(st, sev="high"):
        return {"status": st, "severity": sev}
    S = STRINGS["en"]
    assert _requirement(S, "physical", ("A",), {"A": [f("pass"), f("error")]})["status"] == "error"
    assert _requirement(S, "physical", ("A",), {"A": [f("pass"), f("fail", "info")]})["status"] == "notice"
    assert _requirement(S, "physical", ("A",), {"A": [f("skipped")]})["status"] == "notrun"
    assert _requirement(S, "physical", ("A",), {})["status"] == "notrun"
    assert _requirement(S, "physical", ("A", "B"), {"A": [f("pass")], "B": [f("fail")]})["status"] == "fail"


def test_findings_grouped_by_segment_and_severity(bundles, inventory):
    html = render_report(bundles, "en", inventory=inventory)
    sec = html[html.index('<section id="findings"'):html.index('<section id="errors"')]
    segs = re.findall(r'<h3 class="seg">Segment: <span class="mono">([^<]+)</span>', sec)
    assert segs == ["secret-lan", "office-lan", "(no segment)"]      # classified first
    secret = sec[sec.index('<span class="mono">secret-lan</span>'):
                 sec.index('<span class="mono">office-lan</span>')]
    sevs = re.findall(r'<h4><span class="sev (\w+)">', secret)
    assert sevs == ["critical", "high", "info"]
    # a finding row carries subject, evidence, regulation, remediation, vantages
    # (identifiers sit in <span class="tok">, kept on one line: issue 22)
    row = re.search(r'<tr class="sev-high"><td><span class="tok">DEV-UNREGISTERED</span></td>(.*?)</tr>',
                    secret, re.S).group(1)
    row = re.sub(r'</?span[^>]*>', "", row)
    assert "10.10.0.77" in row and "02:aa:00:00:00:77" in row
    assert "ARP reply from 10.10.0.77" in row
    assert "secret-lan 10.10.0.5" in row


def test_errors_are_never_hidden(bundles):
    html = render_report(bundles, "en")
    sec = Page(html).id_text("errors")
    assert "NET-DHCP" in sec and "no CAP_NET_RAW on eth0" in sec


def test_passes_collapse_into_counts(bundles):
    html = render_report(bundles, "en")
    sec = html[html.index('<section id="passed"'):]
    assert "<details>" in sec
    assert re.search(r'<td class="mono">INV-OVERLAP</td><td>[^<]+</td><td class="num">1</td>', sec)


def test_reconciliation_with_inventory(bundles, inventory):
    m = merge_report(bundles, "en", inventory=inventory)
    from scanner.report.render import build_context
    ctx = build_context(m, "en")
    by_seg = {r["segment"]: r for r in ctx["recon"]}
    assert "internet" not in by_seg
    secret = {c["key"]: c["n"] for c in by_seg["secret-lan"]["counts"]}
    # ws-001, ws-002 seen; 10.10.0.77 and the bridging host unregistered; ws-003 missing;
    # diode-01's secret leg is the secret-lan probe's own address (10.10.0.5): present,
    # not "registered but not found" (issue 22)
    assert secret == {"seen": 3, "unregistered": 2, "missing": 1}
    office = {c["key"]: c["n"] for c in by_seg["office-lan"]["counts"]}
    assert office == {"seen": 2, "unregistered": 1, "missing": 1}
    rows = by_seg["secret-lan"]["table"]["rows"]
    assert rows[0][0] == "recon-unregistered"         # problems first
    ws3 = [r for r in rows if r[2] == "ws-003"][0]
    assert ws3[0] == "recon-missing" and ws3[4] == "BM-2026-0003" and ws3[5] == "王五"


def test_reconciliation_without_inventory_from_findings(bundles):
    m = merge_report(bundles, "en")
    from scanner.report.render import build_context
    by_seg = {r["segment"]: r for r in build_context(m, "en")["recon"]}
    secret = {c["key"]: c["n"] for c in by_seg["secret-lan"]["counts"]}
    assert secret == {"unregistered": 1, "missing": 1, "seen": 3}


def test_topology_draws_breaches_in_red(bundles, inventory):
    html = render_report(bundles, "en", inventory=inventory)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count('class="edge breach"') == 3       # out to internet x2 groups + bridge
    assert 'class="edge ingress"' in svg and 'class="edge transfer"' in svg
    for seg in ("secret-lan", "office-lan", "internet", "gw-01"):
        assert f">{seg}<" in svg
    assert "ISO-PHYSICAL" in svg and "ING-SINGLE" in svg and "ISO-LOGICAL" in svg


def test_compliant_and_incomplete_verdicts(bundles):
    b = bundles[2]
    b["findings"] = [f for f in b["findings"] if f["status"] != "fail"]
    assert Page(render_report([b], "en")).id_text("verdict-text") == "Compliant"
    b["findings"].append({"check_id": "ISO-LOGICAL", "status": "error", "severity": "high",
                          "segment": "office-lan", "subject": {"ip": None, "mac": None, "device": None},
                          "title": "x", "evidence": ["nmap failed"], "regulation": []})
    assert Page(render_report([b], "en")).id_text("verdict-text") == "Incomplete"


def test_titles_in_report_language_evidence_as_stored(bundles):
    m = merge_report(bundles, "en")
    phys = _findings(m, check_id="ISO-PHYSICAL", status="fail")[0]
    assert phys["title"] != "涉密网段未物理隔离"          # the bundle's zh title is replaced
    assert not re.search(r"[\u4e00-\u9fff]", phys["title"])


def test_single_scan_call_of_scan_command(bundles):
    # `isoscan scan --report` calls render_report([bundle], lang=...)
    html = render_report([bundles[0]], lang="en")
    assert "Non-compliant" in html


def test_bad_language():
    with pytest.raises(ValueError):
        render_report([], "fr")


def test_no_bundle_is_no_report():
    with pytest.raises(ValueError):
        render_report([], "zh-CN")
