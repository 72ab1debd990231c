"""End to end (issue 24): one probe host on two VLANs, one command.

inventories/lab/trunk.yaml: probe-trunk has a leg in vlan-10 and vlan-20 (one
veth each, as eth0.10 and eth0.20 look to a host on an 802.1Q trunk), each
VLAN its own gateway; the host's default route leaves by vlan-10. One
`isoscan scan --all-segments` writes one bundle a segment: both compliant,
egress of each left by its own interface to its own gateway (chosen at layer
2); a second way out on either VLAN is found from that VLAN's bundle; a
gateway that does not answer is an error that names it.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

import pytest

from lab_support import REPO

pytestmark = pytest.mark.lab

LABFILE = REPO / "inventories" / "lab" / "trunk.yaml"
HOST = "probe-trunk"
SEGMENTS = ("vlan-10", "vlan-20")
GATEWAYS = {"vlan-10": "10.50.10.1", "vlan-20": "10.50.20.1"}


def scan_all(lab, *extra):
    """(exit code, {segment: bundle}, output) of one --all-segments run."""
    out = tempfile.mkdtemp(prefix="isoscan-e2e-trunk-")
    os.chmod(out, 0o777)
    try:
        argv = [sys.executable, "-m", "scanner.cli", "scan", "-q", "--lang", "en",
                "-i", str(LABFILE), "--all-segments", "-o", out, *extra]
        r = lab.exec(HOST, argv, timeout=240)
        bundles = {}
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), encoding="utf-8") as f:
                bundles[name.removesuffix(".json")] = json.load(f)
        return r.returncode, bundles, r.stdout + r.stderr
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _bad(bundle):
    return [(f["check_id"], f["status"], f["subject"], f["evidence"][:2])
            for f in bundle["findings"] if f["status"] in ("fail", "error")]


def test_both_vlans_are_compliant_from_one_command(lab_factory):
    lab = lab_factory(LABFILE, faults=[])
    rc, bundles, out = scan_all(lab)
    assert sorted(bundles) == list(SEGMENTS), out[-3000:]
    for seg, b in bundles.items():
        assert b["vantage"]["segment"] == seg
        eg = b["observations"]["egress"]
        assert eg["status"] == "ok" and eg["layer2"] is True, eg
        assert eg["gateway"]["ip"] == GATEWAYS[seg], eg["gateway"]
        assert {p["first_hop"] for p in eg["probes"]} == {GATEWAYS[seg]}
        canary = [p for p in eg["probes"] if p["dst"] == "203.0.113.10"]
        assert canary and all(p["result"] in ("answer", "refused") for p in canary), canary
        assert b["observations"]["controls"]["ok"], b["observations"]["controls"]
        assert _bad(b) == [], (seg, _bad(b))
        assert b["summary"]["verdict"] == "compliant"
    assert rc == 0, out[-3000:]


@pytest.mark.parametrize("fault,seg", [("modem-10", "vlan-10"), ("modem-20", "vlan-20")])
def test_a_second_exit_is_found_on_either_vlan(lab_factory, fault, seg):
    lab = lab_factory(LABFILE, faults=[fault])
    rc, bundles, out = scan_all(lab)
    from scanner import lab as L
    _inv, spec, _files = L.load(LABFILE)
    (f,) = [x for x in spec.faults if x.id == fault]
    (e,) = f.expect
    hits = [x for x in bundles[e["segment"]]["findings"]
            if x["check_id"] == e["check"] and x["status"] == "fail"
            and x["subject"]["ip"] == e["ip"] and x["subject"]["device"] == e["device"]]
    assert hits, (fault, _bad(bundles[e["segment"]]))
    other = next(s for s in SEGMENTS if s != seg)
    assert _bad(bundles[other]) == [], (other, _bad(bundles[other]))
    assert rc == 1, out[-3000:]


def test_a_silent_gateway_is_an_error_that_names_it(lab_factory):
    lab = lab_factory(LABFILE, faults=[])
    (leg,) = [g for g in lab.hosts["gw-01"].legs if g.segment == "vlan-20"]
    lab.exec("gw-01", ["ip", "link", "set", leg.ifname, "arp", "off"], check=True)
    rc, bundles, out = scan_all(lab)
    eg = bundles["vlan-20"]["observations"]["egress"]
    assert eg["status"] == "error", eg
    assert "gateway gw-01 (10.50.20.1) did not answer ARP" in eg["error"], eg["error"]
    assert bundles["vlan-20"]["summary"]["verdict"] == "incomplete"
    assert bundles["vlan-10"]["summary"]["verdict"] == "compliant", _bad(bundles["vlan-10"])
    assert rc == 3, out[-3000:]
