"""Judging identities across vantages (issue 13), on fixture bundles:
pass (nothing said), fail (strong; medium as "probable"), notice (weak,
clones), error (unknown classification), registered identities, the
transfer exemption, hostile values bounded and shown escaped."""
import textwrap

import pytest

from scanner import identity as I
from scanner.report.merge import SCHEMA, merge

KEY = "SHA256:" + "A" * 43
KEY2 = "SHA256:" + "B" * 43

INV = textwrap.dedent("""\
    version: 1
    organization: {name: 测试单位}
    segments:
      - {name: secret-lan, classification: classified, level: secret, networks: [10.30.0.0/24]}
      - {name: secret-b, classification: classified, level: secret, networks: [10.31.0.0/24]}
      - {name: office-lan, classification: non-classified, networks: [10.40.0.0/24]}
      - {name: office-b, classification: non-classified, networks: [10.41.0.0/24]}
    devices:
      - {name: ws-002, kind: workstation, asset_tag: A2, custodian: X, segment: secret-lan,
         ip: 10.30.0.12, mac: "02:00:00:00:1a:0c"}
      - {name: ws-003, kind: workstation, asset_tag: A3, custodian: X, segment: secret-lan,
         ip: 10.30.0.13, mac: "02:00:00:00:1a:0d", ssh_host_keys: ["%s"], names: [WS-003]}
      - name: xfer-01
        kind: transfer
        asset_tag: A5
        custodian: X
        interfaces:
          - {segment: office-lan, ip: 10.40.0.50, mac: "02:00:00:00:1b:32"}
          - {segment: secret-lan, ip: 10.30.0.50, mac: "02:00:00:00:1a:32"}
    transfers:
      - {device: xfer-01, from: office-lan, to: secret-lan}
    """ % KEY2)


@pytest.fixture
def inv(tmp_path):
    from scanner.inventory.load import load_inventory
    p = tmp_path / "unit.yaml"
    p.write_text(INV, encoding="utf-8")
    got = load_inventory([str(p)])
    assert got.inventory is not None, got.findings
    return got.inventory


def rec(ip, mac, kind, value, **kw):
    r = I.record(ip, mac, kind, value, time="2026-12-02T06:00:00Z", **kw)
    r.update({k: v for k, v in kw.items() if k in ("strength", "note")})
    return r


def bundle(seg, vip, records, hosts=(), status="ok"):
    return {"schema": SCHEMA, "scan_id": seg + vip, "findings": [],
            "started_at": "2026-12-02T06:00:00Z", "finished_at": "2026-12-02T06:01:00Z",
            "vantage": {"segment": seg, "interface": "eth0", "ip": vip, "mac": None},
            "observations": {
                "discovery": {"status": "ok", "hosts": [{"ip": i, "mac": m} for i, m in hosts]},
                "identity": {"status": status, "identities": list(records)}}}


def bridges(m, check="ISO-BRIDGE"):
    return [f for f in m["findings"] if f["check_id"] == check]


def secret(*recs, hosts=(("10.30.0.12", "02:00:00:00:1a:0c"),)):
    return bundle("secret-lan", "10.30.0.5", recs, hosts)


def office(*recs, hosts=(("10.40.0.66", "02:bb:00:00:00:66"),)):
    return bundle("office-lan", "10.40.0.5", recs, hosts)


def test_pass_distinct_keys_say_nothing(inv):
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY)),
               office(rec("10.40.0.66", "02:bb:00:00:00:66", I.SSH_KEY, "SHA256:" + "C" * 43))],
              inventory=inv, lang="en")
    assert bridges(m) == [] and m["summary"]["verdict"] == "compliant"


def test_fail_one_host_key_on_classified_and_office(inv):
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY, port=22)),
               office(rec("10.40.0.66", "02:bb:00:00:00:66", I.SSH_KEY, KEY, port=22))],
              inventory=inv, lang="en")
    (f,) = bridges(m)
    assert (f["status"], f["severity"], f["segment"]) == ("fail", "critical", "secret-lan")
    assert f["subject"] == {"ip": "10.30.0.12", "mac": "02:00:00:00:1a:0c", "device": "ws-002"}
    text = "\n".join(f["evidence"])
    for want in ("10.30.0.12", "10.40.0.66", "02:bb:00:00:00:66", "secret-lan 10.30.0.5",
                 "office-lan 10.40.0.5", KEY, "2026-12-02T06:00:00Z"):
        assert want in text
    assert "probably" not in text
    assert m["summary"]["verdict"] == "non-compliant"


def test_medium_fails_as_probable_in_both_languages(inv):
    bs = [secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.NETBIOS_NAME, "WS-002")),
          office(rec("10.40.0.66", "02:bb:00:00:00:66", I.MDNS_NAME, "ws-002.local"))]
    (f,) = bridges(merge(bs, inventory=inv, lang="en"))
    assert f["status"] == "fail" and f["severity"] == "critical" and "probably" in f["evidence"][0]
    (z,) = bridges(merge(bs, inventory=inv, lang="zh-CN"))
    assert "可能" in z["evidence"][0]


def test_netbios_mac_joins_the_classified_mac_discovery_saw(inv):
    """The office card reports the classified card's MAC over NBSTAT: strong."""
    m = merge([secret(),
               office(rec("10.40.0.66", "02:bb:00:00:00:66", I.NETBIOS_MAC, "02:00:00:00:1a:0c"))],
              inventory=inv, lang="en")
    (f,) = bridges(m)
    assert f["status"] == "fail" and f["subject"]["device"] == "ws-002"


def test_weak_tls_certificate_is_a_notice(inv):
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.TLS_CERT, "ab" * 32)),
               office(rec("10.40.0.66", "02:bb:00:00:00:66", I.TLS_CERT, "ab" * 32))],
              inventory=inv, lang="en")
    (f,) = bridges(m)
    assert (f["status"], f["severity"]) == ("fail", "info")
    assert "notice" in f["evidence"][0] and len(f["evidence"]) == 3


def test_cloned_images_are_not_bridges(inv):
    """One key on three office stations and a classified one: an image, not a host."""
    office_recs = [rec(f"10.40.0.{i}", f"02:cc:00:00:00:{i:02x}", I.SSH_KEY, KEY)
                   for i in (31, 32, 33)]
    I.lower_clones(office_recs)
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY)),
               office(*office_recs)], inventory=inv, lang="en")
    fs = bridges(m)
    assert fs and all(f["severity"] == "info" for f in fs)
    assert m["summary"]["verdict"] != "non-compliant" or \
        not any(f["severity"] != "info" and f["status"] == "fail" for f in m["findings"])
    assert any("cloned" in e for f in fs for e in f["evidence"])


def test_same_level_classified_segments_are_not_judged(inv):
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY)),
               bundle("secret-b", "10.31.0.5", [rec("10.31.0.9", "02:dd:00:00:00:09",
                                                    I.SSH_KEY, KEY)])], inventory=inv, lang="en")
    assert bridges(m) == []


def test_unknown_classification_is_an_error(inv):
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY)),
               bundle("nobody-knows", "10.77.0.5", [rec("10.77.0.9", "02:dd:00:00:00:09",
                                                        I.SSH_KEY, KEY)])], inventory=inv, lang="en")
    (f,) = bridges(m)
    assert f["status"] == "error"


def test_failed_identity_section_judges_nothing(inv):
    bad = office(rec("10.40.0.66", "02:bb:00:00:00:66", I.SSH_KEY, KEY))
    bad["observations"]["identity"]["status"] = "error"
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY)), bad],
              inventory=inv, lang="en")
    assert bridges(m) == []


def test_declared_transfer_device_is_exempt(inv):
    m = merge([secret(rec("10.30.0.50", "02:00:00:00:1a:32", I.SSH_KEY, KEY),
                      hosts=(("10.30.0.50", "02:00:00:00:1a:32"),)),
               office(rec("10.40.0.50", "02:00:00:00:1b:32", I.SSH_KEY, KEY),
                      hosts=(("10.40.0.50", "02:00:00:00:1b:32"),))], inventory=inv, lang="en")
    assert bridges(m) == []


def test_registered_key_on_the_office_fails_from_one_vantage(inv):
    m = merge([office(rec("10.40.0.66", "02:bb:00:00:00:66", I.SSH_KEY, KEY2))],
              inventory=inv, lang="en")
    (f,) = bridges(m)
    assert (f["status"], f["severity"], f["segment"]) == ("fail", "critical", "secret-lan")
    assert f["subject"]["device"] == "ws-003" and f["peer_segment"] == "office-lan"
    assert "registered to device ws-003" in f["evidence"][0]


def test_registered_key_with_another_mac_is_dev_mismatch_evidence(inv):
    b = secret(rec("10.30.0.13", "02:ee:00:00:00:0d", I.SSH_KEY, KEY2),
               hosts=(("10.30.0.13", "02:ee:00:00:00:0d"),))
    sub = {"ip": "10.30.0.13", "mac": "02:ee:00:00:00:0d", "device": None}
    b["findings"] = [
        {"check_id": "DEV-UNREGISTERED", "status": "fail", "severity": "high",
         "segment": "secret-lan", "subject": sub, "evidence": ["unregistered"]},
        {"check_id": "DEV-MISSING", "status": "fail", "severity": "info", "segment": "secret-lan",
         "subject": {"ip": "10.30.0.13", "mac": "02:00:00:00:1a:0d", "device": "ws-003"},
         "evidence": ["did not answer"]}]
    m = merge([b], inventory=inv, lang="en")
    assert [f["check_id"] for f in m["findings"] if f["status"] == "fail"] == ["DEV-MISMATCH"]
    (f,) = bridges(m, "DEV-MISMATCH")
    assert "DEV-UNREGISTERED: unregistered" in f["evidence"]
    assert f["subject"]["device"] == "ws-003" and f["status"] == "fail"
    assert "ws-003, known by its SSH host key, now answers with MAC 02:ee:00:00:00:0d" in \
        f["evidence"][0]
    assert bridges(m) == []


def test_one_host_two_addresses_in_one_vantage_is_a_notice(inv):
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY),
                      rec("10.30.0.99", "02:00:00:00:1a:99", I.SSH_KEY, KEY))],
              inventory=inv, lang="en")
    assert bridges(m) == []
    (f,) = bridges(m, "DEV-MISMATCH")
    assert f["severity"] == "info" and "one host with two addresses" in f["evidence"][0]


def test_hostile_values_are_bounded_and_shown_escaped(inv):
    evil = "WS\u202e" + "\x1b[31m" * 5000 + "\x00"
    m = merge([secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.NETBIOS_NAME, evil)),
               office(rec("10.40.0.66", "02:bb:00:00:00:66", I.NETBIOS_NAME, evil))],
              inventory=inv, lang="en")
    (f,) = bridges(m)
    for e in f["evidence"]:
        assert "\u202e" not in e and "\x1b" not in e and "\x00" not in e
        assert len(e) < 2000
    # a hostile bundle: identities not a list, records not objects
    junk = office()
    junk["observations"]["identity"]["identities"] = {"x": 1}
    merge([junk, secret("nope", 5, None)], inventory=inv, lang="en")


def test_a_thousand_bundles_join_quickly(inv):
    import time
    bs = [bundle("office-lan" if i % 2 else "secret-lan", f"10.{40 if i % 2 else 30}.0.5",
                 [rec(f"10.{40 if i % 2 else 30}.{i // 250}.{i % 250}", f"02:00:00:00:{i // 256:02x}:{i % 256:02x}",
                      I.SSH_KEY, "SHA256:%043d" % (i * 1000 + j)) for j in range(20)])
          for i in range(1000)]
    t0 = time.monotonic()
    merge(bs, inventory=inv, lang="en")
    assert time.monotonic() - t0 < 5


def test_hostile_identities_are_escaped_in_the_html_report(inv):
    from scanner.report.render import render_report
    xss = "<script>alert(1)</script>\u202e<img src=x onerror=alert(2)>"
    bs = [secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.NETBIOS_NAME, xss),
                 rec("10.30.0.12", "02:00:00:00:1a:0c", I.TLS_CERT, "ab" * 32,
                     detail="CN=" + "\u202e\x07" * 5000)),
          office(rec("10.40.0.66", "02:bb:00:00:00:66", I.NETBIOS_NAME, xss))]
    html = render_report(bs, "en", inventory=inv)
    assert "<script>alert" not in html and "<img" not in html and "\u202e" not in html
    assert 'id="identities"' in html and "&lt;script&gt;" in html
    zh = render_report(bs, "zh-CN", inventory=inv)
    assert "设备身份" in zh and "可能" in zh


def test_junk_identity_sections_never_crash_the_merge(inv):
    import random
    rnd = random.Random(13)
    junk = [None, 1, -1, 2.5, True, "", "x" * 300, [], {}, ["a"], {"k": "v"}, "\x00\u202e",
            "02:00:00:00:1a:0c", "SHA256:" + "A" * 43]
    keys = ("ip", "mac", "kind", "value", "detail", "port", "strength", "note", "time")
    kinds = list(I.KINDS) + ["arp", "nonsense"]
    for _ in range(300):
        recs = []
        for _ in range(rnd.randint(0, 6)):
            r = {k: rnd.choice(junk) for k in keys if rnd.random() < 0.8}
            if rnd.random() < 0.7:
                r["kind"] = rnd.choice(kinds)
            recs.append(r if rnd.random() < 0.9 else rnd.choice(junk))
        a = bundle(rnd.choice(["secret-lan", "office-lan", "nope"]), "10.30.0.5", recs)
        a["observations"]["identity"]["status"] = rnd.choice(["ok", "ok", "error", None, 3])
        if rnd.random() < 0.2:
            a["observations"]["discovery"] = rnd.choice(junk)
        b = office(rec("10.40.0.66", "02:bb:00:00:00:66", I.SSH_KEY, "SHA256:" + "A" * 43))
        m = merge([a, b], inventory=inv, lang=rnd.choice(["en", "zh-CN"]))
        for f in m["findings"]:
            assert all(isinstance(e, str) for e in f["evidence"])


def test_a_probe_host_seen_by_another_probe_is_no_bridge(inv):
    a = secret(rec("10.30.0.12", "02:00:00:00:1a:0c", I.SSH_KEY, KEY))
    b = office(rec("10.40.0.66", "02:bb:00:00:00:66", I.SSH_KEY, KEY))
    b["vantage"]["mac"] = "02:00:00:00:1a:0c"      # the same laptop, its other card probing
    assert bridges(merge([a, b], inventory=inv, lang="en")) == []
