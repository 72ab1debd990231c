"""changes(): the pure comparison of two results (no store)."""
from __future__ import annotations

from scanner.store.changes import changes, counts, results_of


def bundle(at, findings):
    return {"started_at": at, "findings": findings}


def f(check, seg, status, mac=None, ip=None, sev="high"):
    return {"check_id": check, "segment": seg, "status": status, "severity": sev,
            "subject": {"ip": ip, "mac": mac, "device": None}, "title": check}


def kinds(cs):
    return {(c.check, c.subject.get("mac") or c.subject.get("ip")): c.kind for c in cs}


def test_new_persisting_resolved_not_assessed():
    old = bundle("2026-11-01T02:00:00Z", [
        f("DEV-UNREGISTERED", "lan", "fail", mac="02:00:00:00:00:01"),
        f("DEV-UNREGISTERED", "lan", "fail", mac="02:00:00:00:00:02"),
        f("ISO-BRIDGE", "sec", "fail", mac="02:00:00:00:00:03", sev="critical"),
        f("NET-DHCP", "lan", "fail", ip="10.0.0.9"),
    ])
    new = bundle("2026-11-08T02:00:00Z", [
        # 01 persists (its address moved: DHCP), 02 is gone and the check ran: resolved
        f("DEV-UNREGISTERED", "lan", "fail", mac="02:00:00:00:00:01", ip="10.0.0.50", sev="critical"),
        f("DEV-UNREGISTERED", "lan", "fail", mac="02:00:00:00:00:04"),
        # ISO-BRIDGE errored on sec: not assessed, never resolved
        f("ISO-BRIDGE", "sec", "error"),
        # NET-DHCP did not run on lan at all (another vantage): not assessed
    ])
    cs = changes(results_of(old), results_of(new))
    assert kinds(cs) == {
        ("DEV-UNREGISTERED", "02:00:00:00:00:01"): "persisting",
        ("DEV-UNREGISTERED", "02:00:00:00:00:04"): "new",
        ("DEV-UNREGISTERED", "02:00:00:00:00:02"): "resolved",
        ("ISO-BRIDGE", "02:00:00:00:00:03"): "not-assessed",
        ("NET-DHCP", "10.0.0.9"): "not-assessed",
    }
    assert counts(cs) == {"new": 1, "resolved": 1, "persisting": 1, "not-assessed": 2}
    p = next(c for c in cs if c.kind == "persisting")
    assert p.first_seen == "2026-11-01T02:00:00Z" and p.age_days == 7
    assert p.worse and p.old_severity == "high"
    assert cs[0].kind == "new"                 # new first


def test_a_pass_alongside_an_error_is_not_a_resolution():
    old = bundle("t1", [f("ING-SINGLE", "lan", "fail", mac="02:00:00:00:00:09")])
    new = bundle("t2", [f("ING-SINGLE", "lan", "pass"), f("ING-SINGLE", "lan", "error")])
    assert [c.kind for c in changes(old, new)] == ["not-assessed"]
    skipped = bundle("t2", [f("ING-SINGLE", "lan", "skipped")])
    assert [c.kind for c in changes(old, skipped)] == ["not-assessed"]
    ran = bundle("t2", [f("ING-SINGLE", "lan", "pass")])
    assert [c.kind for c in changes(old, ran)] == ["resolved"]


def test_first_seen_from_the_store():
    old = bundle("2026-11-07T00:00:00Z", [f("X", "s", "fail", mac="02:00:00:00:00:01")])
    new = bundle("2026-11-08T00:00:00Z", [f("X", "s", "fail", mac="02:00:00:00:00:01")])
    c0 = changes(old, new)[0]
    c = changes(old, new, first_seen={c0.fingerprint: "2026-10-01T00:00:00Z"})[0]
    assert c.first_seen == "2026-10-01T00:00:00Z" and c.age_days == 38


def test_another_vantages_pass_is_not_a_resolution():
    """The classified probe saw ISO-PHYSICAL fail; tonight it did not scan, and the
    internet probe's ISO-PHYSICAL into that segment passed: not assessed."""
    def vb(seg, at, fs):
        return {"started_at": at, "vantage": {"segment": seg}, "findings": fs}
    old = vb("secret-lan", "t1", [f("ISO-PHYSICAL", "secret-lan", "fail", ip="203.0.113.10")])
    internet = vb("internet", "t2", [f("ISO-PHYSICAL", "secret-lan", "pass")])
    assert [c.kind for c in changes(old, internet)] == ["not-assessed"]
    back = vb("secret-lan", "t2", [f("ISO-PHYSICAL", "secret-lan", "pass")])
    assert [c.kind for c in changes(old, back)] == ["resolved"]


def test_merged_results_map_vantage_labels_to_segments():
    from scanner.report.render import merge_report
    from storelib import NAMES, fixture_bundle
    full = merge_report([fixture_bundle(n) for n in NAMES], "en", [], [None] * 3, None)
    no_secret = merge_report([fixture_bundle(n) for n in NAMES[1:]], "en", [], [None] * 2, None)
    cs = changes(full, no_secret)
    phys = [c for c in cs if c.check == "ISO-PHYSICAL"]
    assert phys and all(c.kind == "not-assessed" for c in phys)
    assert not [c for c in cs if c.kind == "resolved"]
