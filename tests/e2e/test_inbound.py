"""End to end: logical isolation as the internet really sees a unit (issue 17).

The demo lab's uplink is a real one: the internet side has no route into the
office's private addresses, the gateway publishes the web server on its
public address (DNAT), and the faults are port forwards and a management
port on that public address. The routed lab (`internet_routes: true`) is a
unit the internet reaches without NAT.
"""
from __future__ import annotations

import pytest

import scanlib  # tests/e2e is on sys.path (rootdir-relative, no package)

pytestmark = pytest.mark.lab

HOLES = ["forgotten-forward", "high-port-forward", "gateway-admin"]


def _logical(bundle):
    return [f for f in bundle["findings"] if f["check_id"] == "ISO-LOGICAL"]


def _text(findings) -> str:
    return "\n".join(ev for f in findings for ev in f["evidence"])


@pytest.fixture(scope="module")
def holed_lab(lab_factory):
    return lab_factory(scanlib.DEMO, faults=HOLES)


@pytest.fixture(scope="module")
def clean_lab(lab_factory):
    return lab_factory(scanlib.DEMO, faults=[])


def test_quick_finds_the_low_port_hole_and_says_what_it_did_not_cover(holed_lab):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether   # noqa: F401 (the pcap's link layer, before reading it)

    from scanner.inventory.load import load_inventory
    inv = load_inventory(holed_lab.files).inventory
    cap = scanlib.Capture(holed_lab.netns("probe-internet"))
    try:
        rc, b, out = scanlib.scan(holed_lab, "probe-internet", "--inbound", "quick")
    finally:
        cap.stop()
    packets = cap.packets()
    assert b is not None, out
    fails = [f for f in _logical(b) if f["status"] == "fail"]
    assert [f["subject"]["ip"] for f in fails] == ["203.0.113.1"]
    assert "3389/tcp" in _text(fails) and "ms-wbt-server" in _text(fails)
    assert "50022" not in _text(fails) and "8291" not in _text(fails)
    assert "no full port sweep" in _text(fails)            # high ports: not covered, and said so
    assert rc == 1
    # scope: every probe went to a declared address, the inbound ones to the public one
    mac = holed_lab.hosts["probe-internet"].legs[0].mac
    assert scanlib.out_of_scope(packets, inv, {mac}) == []
    # (the egress probes' connects to other segments use 22, 80 and 443)
    syn_dsts = {p[IP].dst for p in packets if TCP in p and p[TCP].flags == "S"
                and p.src.lower() == mac and p[TCP].dport not in (22, 80, 443)}
    assert syn_dsts == {"203.0.113.1"}


def test_full_finds_every_hole_and_the_declared_service_does_not_fail(holed_lab):
    rc, b, out = scanlib.scan(holed_lab, "probe-internet", "--inbound", "full")
    assert b is not None, out
    fails = [f for f in _logical(b) if f["status"] == "fail"]
    text = _text(fails)
    for port in ("3389/tcp", "50022/tcp", "8291/tcp"):
        assert port in text, text
    assert "443/tcp" not in text
    assert "50022/tcp (service ssh" in text                # named, not just "open"
    assert not any(f["status"] == "error" for f in _logical(b)), _text(_logical(b))


def test_default_scan_sweeps_the_one_address_public_face_and_finds_every_hole(holed_lab):
    """Issue 24: the nightly default (no --inbound) from the internet sweeps
    every port of a public face whose full sweep fits the time budget: the
    forwards on 50022 and the management port 8291 make it non-compliant,
    and the finding says which pass it was and why."""
    rc, b, out = scanlib.scan(holed_lab, "probe-internet")
    assert b is not None, out
    cov = b["observations"]["inbound"]["coverage"]
    assert cov["mode"] == "full" and cov["choice"]["asked"] == "auto", cov
    assert cov["choice"]["chose"] == "full" and cov["choice"]["estimate_s"] <= cov["choice"]["budget_s"]
    fails = [f for f in _logical(b) if f["status"] == "fail"]
    text = _text(fails)
    for port in ("3389/tcp", "50022/tcp", "8291/tcp"):
        assert port in text, text
    assert "default: the full sweep, estimated at" in text and "no full port sweep" not in text
    assert rc == 1 and b["summary"]["verdict"] == "non-compliant", out


def test_clean_unit_passes_with_its_coverage_stated(clean_lab):
    rc, b, out = scanlib.scan(clean_lab, "probe-internet", "--inbound", "full")
    assert rc == 0, out
    (f,) = _logical(b)
    assert f["status"] == "pass"
    text = _text([f])
    assert "all 65,535 TCP ports" in text and "203.0.113.1" in text and "203.0.113.5" in text
    assert "declared and open: 203.0.113.1 443/tcp → dmz-web 10.20.0.30:443" in text
    assert "no full port sweep" not in text
    assert "(forced with --inbound full)" in text


def test_declared_service_down_is_an_error_not_a_pass(clean_lab):
    drop = ["iptables", "-I", "INPUT", "-p", "tcp", "--dport", "443", "-j", "DROP"]
    r = clean_lab.exec("dmz-web", drop)
    assert r.returncode == 0, r.stderr
    try:
        rc, b, out = scanlib.scan(clean_lab, "probe-internet")
    finally:
        clean_lab.exec("dmz-web", ["iptables", "-D", *drop[2:]])
    assert rc == 3, out
    (f,) = _logical(b)
    assert f["status"] == "error"
    assert "declared service 203.0.113.1:443/tcp did not answer" in _text([f])


def test_strict_without_a_full_sweep_is_an_error(clean_lab):
    rc, b, out = scanlib.scan(clean_lab, "probe-internet", "--inbound", "quick", "--strict")
    assert rc == 3, out
    (f,) = _logical(b)
    assert f["status"] == "error" and "strict mode: no full port sweep" in _text([f])


@pytest.fixture(scope="module")
def routed_lab(lab_factory):
    return lab_factory(scanlib.REPO / "inventories" / "lab" / "routed.yaml")


def test_routed_unit_private_address_hole_is_found(routed_lab):
    rc, b, out = scanlib.scan(routed_lab, "probe-internet")
    assert b is not None, out
    fails = [f for f in _logical(b) if f["status"] == "fail"]
    assert [(f["subject"]["ip"], f["subject"]["device"]) for f in fails] == [("10.30.0.30", "web-r")]
    assert "8080/tcp" in _text(fails) and "443/tcp" not in _text(fails)
    routed = b["observations"]["inbound"]["coverage"]["routed"]
    assert "10.30.0.30" in routed and "10.30.0.21" in routed



def test_routed_unit_full_sweep_finds_a_station_nobody_registered(routed_lab, tmp_path):
    """The internet routes into the office: a full sweep tries the other
    addresses of its network too; the merged report joins the internet's
    ISO-LOGICAL with the office's DEV-UNREGISTERED for the same address."""
    import json
    import subprocess
    import sys
    rc, b_in, out = scanlib.scan(routed_lab, "probe-internet", "--inbound", "full",
                                 "--inbound-rate", "20000")
    assert b_in is not None, out
    assert b_in["observations"]["inbound"]["coverage"]["swept"] == ["10.30.0.0/24"]
    stray = [f for f in _logical(b_in) if f["status"] == "fail" and f["subject"]["ip"] == "10.30.0.77"]
    assert stray and stray[0]["subject"]["device"] is None and "8080/tcp" in _text(stray)
    rc, b_off, out = scanlib.scan(routed_lab, "probe-office")
    assert b_off is not None, out
    paths = []
    for n, b in (("in", b_in), ("off", b_off)):
        p = tmp_path / f"{n}.json"
        p.write_text(json.dumps(b), encoding="utf-8")
        paths.append(str(p))
    merged = tmp_path / "merged.json"
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "report", *paths, "--lang", "en",
                        "-o", str(tmp_path / "r.html"), "--json", str(merged)],
                       capture_output=True, text=True, cwd=scanlib.REPO)
    assert r.returncode == 0, r.stderr
    m = json.loads(merged.read_text(encoding="utf-8"))
    (logical,) = [f for f in m["findings"] if f["check_id"] == "ISO-LOGICAL"
                  and f["subject"]["ip"] == "10.30.0.77"]
    (unreg,) = [f for f in m["findings"] if f["check_id"] == "DEV-UNREGISTERED"
                and f["subject"]["ip"] == "10.30.0.77"]
    assert any("nobody registered this address" in e for e in logical["evidence"])
    assert any("reachable from the internet" in e for e in unreg["evidence"])
    assert logical["subject"]["mac"] == "02:aa:00:00:1b:77"
