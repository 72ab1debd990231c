"""The report's logical-isolation row says what the internet vantage covered,
judged as the report judged the findings (no network)."""
from scanner.report.render import inbound_coverage_note


def _src(mode="quick", started="2026-11-30T02:00:00Z", policy=None):
    cov = {"mode": mode, "tcp": "all" if mode == "full" else "top", "tcp_ports": 200,
           "public": ["203.0.113.1"], "routed": [], "from": "203.0.113.5",
           "started_at": started}
    return {"observations": {"inbound": {"coverage": cov}, "policy": policy or {}}}


def test_quick_scan_without_a_full_sweep_says_so():
    note = inbound_coverage_note([_src()], "en")
    assert "203.0.113.1" in note and "no full port sweep" in note
    assert "未进行全端口扫描" in inbound_coverage_note([_src()], "zh-CN")


def test_the_report_policy_rules_the_row_as_it_ruled_the_finding():
    policy = {"as_of": "2026-11-30T02:00:00Z", "last_full_sweep": "2026-10-16T02:00:00Z",
              "last_full_sweep_addresses": ["203.0.113.1"], "full_sweep_max_age_days": 60}
    note = inbound_coverage_note([_src()], "en", policy)
    assert "last full port sweep: 2026-10-16T02:00:00Z (45 days ago)" in note
    assert "older than" not in note
    policy["full_sweep_max_age_days"] = 30
    assert "older than 30 days" in inbound_coverage_note([_src()], "en", policy)


def test_junk_coverage_is_shown_not_a_traceback():
    src = _src()
    src["observations"]["inbound"]["coverage"]["public"] = [None, 7, "<b>x</b>"]
    assert "<b>x</b>" in inbound_coverage_note([src], "en")     # escaped by the template
    assert inbound_coverage_note([{"observations": {"inbound": "junk"}}], "en") is None
