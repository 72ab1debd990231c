"""The alert rules, pure: regressions only."""
from __future__ import annotations

import datetime as dt

from scanner.alerts.rules import Change, VantageSeen, compute, worse

NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.timezone.utc)


def ch(kind, fp="fp1", sev="high", check="DEV-UNREGISTERED", seg="office-lan"):
    return Change(kind, fp, check, seg, sev, {"ip": "10.20.0.99", "mac": "02:00:00:00:0d:99",
                                              "device": None}, "未登记设备")


def run(changes=(), prev=None, cur="non-compliant", vantages=(), **kw):
    return compute(changes, prev, cur, vantages, now=NOW, result_id="scan-2", **kw)


def test_a_new_failing_finding_alerts_once_with_both_languages():
    [a] = run([ch("new")], prev="non-compliant")
    assert a.kind == "new-finding" and a.key == "new-finding:fp1:scan-2"
    assert a.severity == "high" and a.segment == "office-lan" and a.check == "DEV-UNREGISTERED"
    assert "10.20.0.99" in a.text["en"] and "10.20.0.99" in a.text["zh-CN"]
    assert a.title["en"].startswith("new finding: DEV-UNREGISTERED")
    assert a.title["zh-CN"].startswith("新发现：DEV-UNREGISTERED")
    assert a.time == "2026-12-02T03:00:00Z"


def test_persisting_resolved_and_not_assessed_send_nothing():
    assert run([ch("persisting"), ch("resolved", "fp2"), ch("not-assessed", "fp3")],
               prev="non-compliant") == []


def test_info_findings_are_notices_unless_asked():
    assert run([ch("new", sev="info")], prev="non-compliant") == []
    [a] = run([ch("new", sev="info")], prev="non-compliant", min_severity="info")
    assert a.severity == "info"


def test_unknown_severity_is_loudest():
    [a] = run([ch("new", sev="bogus")], prev="non-compliant")
    assert a.severity == "critical"


def test_verdict_order():
    assert worse("compliant", "incomplete") and worse("compliant", "non-compliant")
    assert worse("incomplete", "non-compliant")
    assert not worse("non-compliant", "incomplete") and not worse("incomplete", "compliant")
    assert not worse("compliant", "compliant")


def test_a_worse_verdict_alerts_and_a_better_one_does_not():
    [a] = run(prev="compliant", cur="incomplete")
    assert a.kind == "verdict-worse" and a.key == "verdict-worse:compliant->incomplete:scan-2"
    assert a.severity == "medium"
    [a] = run(prev="incomplete", cur="non-compliant")
    assert a.severity == "high"
    assert run(prev="non-compliant", cur="compliant") == []
    assert run(prev=None, cur="non-compliant") == []      # nothing to compare with


def test_a_silent_vantage_alerts_once_per_silence():
    day = 26 * 3600
    fresh = VantageSeen("office-lan", NOW - dt.timedelta(hours=20), day)
    stale = VantageSeen("secret-lan", NOW - dt.timedelta(hours=50), day)
    never = VantageSeen("internet 203.0.113.50", None, day)
    alerts = run(prev="non-compliant", vantages=[fresh, stale, never])
    assert [a.kind for a in alerts] == ["vantage-silent", "vantage-silent"]
    assert alerts[0].key == "vantage-silent:secret-lan:2026-11-30T01:00:00Z"
    assert alerts[1].key == "vantage-silent:internet 203.0.113.50:never"
    assert alerts[1].segment == "internet"
    assert "26" in alerts[0].text["en"]
    # the next night, still silent: the same key, so the outbox sends nothing again
    later = compute((), "non-compliant", "non-compliant", [stale], now=NOW + dt.timedelta(days=1),
                    result_id="scan-3")
    assert later[0].key == alerts[0].key


def test_a_finding_back_after_a_fix_alerts_again():
    a1 = run([ch("new")], prev="non-compliant")[0]
    a2 = compute([ch("new")], "non-compliant", "non-compliant", now=NOW, result_id="scan-9")[0]
    assert a1.key != a2.key


def test_titles_from_the_checks_metadata_give_both_languages():
    [a] = run([ch("new")], prev="non-compliant",
              titles={"DEV-UNREGISTERED": {"zh-CN": "发现未登记设备", "en": "Unregistered device"}})
    assert a.title == {"zh-CN": "新发现：DEV-UNREGISTERED 发现未登记设备",
                       "en": "new finding: DEV-UNREGISTERED Unregistered device"}


def test_chinese_texts_name_severity_and_verdict_in_chinese():
    [a] = run([ch("new", sev="critical")], prev="non-compliant")
    assert a.text["zh-CN"] == "新发现 DEV-UNREGISTERED 未登记设备（严重）：10.20.0.99 02:00:00:00:0d:99（网段 office-lan）"
    [v] = run(prev="compliant", cur="non-compliant")
    assert v.title["zh-CN"] == "结论变差：合规 → 不合规"
    [s] = run(prev="non-compliant", vantages=[VantageSeen("dmz", None, 3600)])
    assert s.text["zh-CN"] == "探针 dmz 超过 1 小时未报告扫描结果（最近一次：从未）"


def test_an_alert_names_the_port_or_the_destination_and_the_title_in_its_language():
    titles = {"ISO-LOGICAL": {"zh-CN": "非涉密网络向互联网开放了未声明的服务",
                              "en": "Non-classified network exposes an undeclared service"}}
    svc = Change("new", "fp9", "ISO-LOGICAL", "internet", "high",
                 {"ip": "203.0.113.1", "mac": None, "device": "gw-01", "ports": ["8291/tcp"]}, "x")
    leak = Change("new", "fp8", "ISO-PHYSICAL", "secret-lan", "critical",
                  {"ip": "10.10.0.14", "mac": None, "device": "ws-004",
                   "destination": "203.0.113.10:443/tcp"}, "y")
    a, b = run([svc, leak], prev="non-compliant", titles=titles)
    assert a.text["zh-CN"] == ("新发现 ISO-LOGICAL 非涉密网络向互联网开放了未声明的服务（高）："
                               "gw-01 203.0.113.1 8291/tcp（网段 internet）")
    assert a.text["en"] == ("new ISO-LOGICAL Non-classified network exposes an undeclared service "
                            "(high): gw-01 203.0.113.1 8291/tcp (segment internet)")
    assert "ws-004 10.10.0.14 -> 203.0.113.10:443/tcp" in b.text["en"]


def test_a_port_newly_open_on_an_address_that_already_failed_alerts_once():
    from scanner.store.changes import changes
    def doc(sid, ports):
        return {"scan_id": sid, "started_at": "2026-12-01T02:00:00Z", "vantage": {"segment": "internet"},
                "findings": [{"check_id": "ISO-LOGICAL", "status": "fail", "severity": "high",
                              "segment": "office-lan", "title": "t",
                              "subject": {"ip": "203.0.113.1", "mac": None, "device": "gw-01",
                                          **({"ports": ports} if ports is not None else {})}}]}
    fp = {"ISO-LOGICAL": ("subject.ip",)}
    from scanner.store.fingerprint import Fingerprinter
    cs = changes(doc("a", ["3389/tcp"]), doc("b", ["3389/tcp", "8291/tcp"]),
                 fingerprinter=Fingerprinter(fp))
    [a] = compute(cs, "non-compliant", "non-compliant", now=NOW, result_id="b")
    assert a.kind == "new-finding" and a.subject["ports"] == ["8291/tcp"]
    assert "203.0.113.1 8291/tcp" in a.text["en"] and "3389" not in a.text["en"]
    # the same ports again, or an earlier result that listed none: nothing
    cs = changes(doc("b", ["3389/tcp", "8291/tcp"]), doc("c", ["3389/tcp", "8291/tcp"]),
                 fingerprinter=Fingerprinter(fp))
    assert compute(cs, "non-compliant", "non-compliant", now=NOW, result_id="c") == []
    cs = changes(doc("old", None), doc("d", ["3389/tcp"]), fingerprinter=Fingerprinter(fp))
    assert compute(cs, "non-compliant", "non-compliant", now=NOW, result_id="d") == []
