"""End to end: rogue DHCP servers and rogue IPv6 routers, found by `isoscan scan`.

The demo lab (inventories/lab/demo.yaml) is built twice:
* with its `soho-router` (rogue-dhcp on office-lan) and `rogue-ra` (radvd on
  ws-001 in secret-lan) faults: each is found from the vantage its `expect`
  names, with the right server/router address and MAC; the declared DHCP
  server gw-01 (10.20.0.1), which the lab runs too, answers but is not
  reported;
* clean: both vantages judge both checks `pass` (the declared server still
  offers), and the scan exits 0;
* clean, plus radvd on the gateway gw-01: with an inventory that declares
  gw-01's link-local address in office-lan's `ipv6_routers` its adverts pass;
  with the demo inventory (ipv6_routers: []) the same adverts fail.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEMO_LAB = Path(__file__).resolve().parents[2] / "inventories" / "lab" / "demo.yaml"

pytestmark = pytest.mark.lab

CHECKS = "NET-DHCP,NET-IPV6-RA"
VANTAGES = ("probe-office", "probe-secret")


def scan(lab, vantage: str, out, limit: bool = True) -> tuple[int, dict, str]:
    """A scan limited to the two checks (a limited scan is never 'compliant': the
    checks it left out are errors), or with limit=False the whole scan."""
    only = ["--checks", CHECKS] if limit else []
    r = lab.exec(vantage, [sys.executable, "-m", "scanner.cli", "scan", "-i", *lab.files,
                           *only, "-o", str(out), "--lang", "en"], timeout=180)
    bundle = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return r.returncode, bundle, r.stdout + r.stderr


def of(bundle: dict, check: str, status: str | None = None) -> list[dict]:
    return [f for f in bundle.get("findings", [])
            if f["check_id"] == check and (status is None or f["status"] == status)]


@pytest.fixture(scope="module")
def faulty(lab_factory, tmp_path_factory):
    lab = lab_factory(DEMO_LAB, faults=["soho-router", "rogue-ra"])
    d = tmp_path_factory.mktemp("rogue")
    return lab, {v: scan(lab, v, d / f"{v}.json") for v in VANTAGES}


@pytest.fixture(scope="module")
def clean(lab_factory, tmp_path_factory):
    lab = lab_factory(DEMO_LAB, faults=[])
    d = tmp_path_factory.mktemp("clean")
    return lab, {v: scan(lab, v, d / f"{v}.json", limit=False) for v in VANTAGES}


def expects(lab, fault_id: str, check: str) -> list[dict]:
    f = lab.fault(fault_id)
    assert f is not None, fault_id
    return [e for e in f.expect if e.get("check") == check]


@pytest.mark.parametrize("fault_id,check", [("soho-router", "NET-DHCP"),
                                            ("rogue-ra", "NET-IPV6-RA")])
def test_rogue_found_from_the_expected_vantage(faulty, fault_id, check):
    lab, scans = faulty
    exp = expects(lab, fault_id, check)
    assert exp, f"the lab's {fault_id} fault names no {check} expectation"
    for e in exp:
        code, bundle, log = scans[e["vantage"]]
        assert code == 1, log
        fails = of(bundle, check, "fail")
        assert len(fails) == 1, (fails, log)
        subj = fails[0]["subject"]
        assert subj["ip"] == e["ip"] and subj["mac"] == e["mac"], (subj, e)
        if e.get("device"):
            assert subj["device"] == e["device"]


def test_rogue_ra_on_classified_segment_is_critical(faulty):
    _, scans = faulty
    (f,) = of(scans["probe-secret"][1], "NET-IPV6-RA", "fail")
    assert f["severity"] == "critical"
    assert any("2001:db8:bad::/64" in e for e in f["evidence"])


def test_declared_dhcp_server_answers_but_is_not_reported(faulty):
    _, scans = faulty
    _, bundle, log = scans["probe-office"]
    offers = bundle["observations"]["dhcp"]["offers"]
    assert {(o["src_ip"], o["src_mac"]) for o in offers} >= {("10.20.0.1", "02:00:00:00:0b:01")}, log
    assert all(f["subject"]["ip"] != "10.20.0.1" for f in of(bundle, "NET-DHCP", "fail"))


def test_segments_without_rogues_are_clean_in_the_faulty_lab(faulty):
    _, scans = faulty
    assert [f["status"] for f in of(scans["probe-secret"][1], "NET-DHCP")] == ["pass"]
    assert [f["status"] for f in of(scans["probe-office"][1], "NET-IPV6-RA")] == ["pass"]


def test_clean_lab_passes_both_checks_from_every_vantage(clean):
    _, scans = clean
    for v, (code, bundle, log) in scans.items():
        for check in CHECKS.split(","):
            assert [f["status"] for f in of(bundle, check)] == ["pass"], (v, check, log)
        assert code == 0, (v, log)
    offers = scans["probe-office"][1]["observations"]["dhcp"]["offers"]
    assert [(o["src_ip"], o["src_mac"]) for o in offers] == [("10.20.0.1", "02:00:00:00:0b:01")]


GW_LL = "fe80::ff:fe00:b01"          # gw-01's link-local address (from 02:00:00:00:0b:01)
GW_MAC = "02:00:00:00:0b:01"


@pytest.fixture(scope="module")
def gateway_router(clean, tmp_path_factory):
    lab, _ = clean
    d = tmp_path_factory.mktemp("declared")
    text = DEMO_LAB.read_text(encoding="utf-8")
    i = text.index("name: office-lan")
    j = text.index("ipv6_routers: []", i)
    declared = d / "declared.yaml"
    declared.write_text(text[:j] + f'ipv6_routers: ["{GW_LL}"]' + text[j + len("ipv6_routers: []"):],
                        encoding="utf-8")
    leg = lab.hosts["gw-01"].leg_on("office-lan")
    conf = d / "radvd.conf"
    conf.write_text(f"interface {leg.ifname} {{ AdvSendAdvert on; AdvDefaultLifetime 600;\n"
                    "  prefix 2001:db8:20::/64 { AdvOnLink on; AdvAutonomous on; }; };\n")
    lab.exec("gw-01", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"], check=True)
    p = lab.spawn("gw-01", ["radvd", "--nodaemon", "-m", "stderr", "-C", str(conf),
                            "-p", str(d / "radvd.pid")],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        assert p.poll() is None, "radvd did not start on gw-01"
        out = {}
        for name, files in (("declared", [str(declared)]), ("undeclared", lab.files)):
            path = d / f"{name}.json"
            r = lab.exec("probe-office", [sys.executable, "-m", "scanner.cli", "scan", "-i", *files,
                                          "-o", str(path), "--lang", "en"], timeout=180)
            out[name] = (r.returncode, json.loads(path.read_text(encoding="utf-8"))
                         if path.exists() else {}, r.stdout + r.stderr)
        return out
    finally:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def test_declared_router_is_not_reported(gateway_router):
    code, bundle, log = gateway_router["declared"]
    adverts = bundle["observations"]["ra"]["adverts"]
    assert [(a["src_ip"], a["src_mac"]) for a in adverts] == [(GW_LL, GW_MAC)], log
    assert [f["status"] for f in of(bundle, "NET-IPV6-RA")] == ["pass"], log
    assert code == 0, log


def test_same_router_undeclared_is_reported(gateway_router):
    code, bundle, log = gateway_router["undeclared"]
    (f,) = of(bundle, "NET-IPV6-RA", "fail")
    assert f["subject"] == {"ip": GW_LL, "mac": GW_MAC, "device": "gw-01"}, f
    assert f["severity"] == "high"          # office-lan is not classified
    assert code == 1, log
