"""End to end: situations real networks have (issue 12), one fault per lab.

inventories/lab/realnet.yaml seeds proxy ARP on the office gateway, a rogue
taking a classified workstation's address (plugged in after it and before
it), a classified workstation with a second card on the office network and
forwarding off, and its mirror, and the declared one-way transfer device in
three modes (open, filtered, filtered with its ICMP errors dropped). Each
fault gets a lab of its own, scanned from every probe; its `expect:` findings
must be there (an expectation with `status: pass` is a check that must pass
from there), and nothing else may fail (a false alarm is as serious as a
miss). The clean unit is clean from every vantage.

The office scan starts a moment after the others, so the classified side's
listener is up when the office's probes go through the transfer device (its
working direction is proven that way, as when a unit scans all probes at once).
"""
from __future__ import annotations

import json

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import scanlib  # tests/e2e is on sys.path (rootdir-relative, no package)
from lab_support import REPO, require_root, unique_lab_name

pytestmark = pytest.mark.lab

REALNET = REPO / "inventories" / "lab" / "realnet.yaml"
VANTAGES = ("probe-secret", "probe-office", "probe-internet")
OFFICE_DELAY = 1.5       # s: the classified side's transfer listener is up by then
MULTI = [("probe-multi", "office-lan"), ("probe-multi", "office-b")]


def _faults():
    from scanner import lab as L
    _inv, spec, _files = L.load(REALNET)
    return {f.id: f for f in spec.faults}


FAULTS = _faults()
_RESULTS: dict = {}


def _extra(faults: tuple[str, ...]) -> list[tuple[str, str]]:
    """(vantage, segment) scans a fault's expectations name with `segment:`
    (a probe with several interfaces scans one segment at a time)."""
    if not faults:
        return MULTI
    return sorted({(e["vantage"], e["segment"]) for f in faults for e in FAULTS[f].expect
                   if e.get("segment")})


def scans_with(faults: tuple[str, ...]) -> dict:
    """{vantage (or "vantage@segment"): (rc, bundle, output)} of a realnet lab
    with exactly `faults`, built, scanned from every probe at once and torn
    down (cached)."""
    if faults in _RESULTS:
        return _RESULTS[faults]
    require_root()
    from scanner import lab as L
    name = unique_lab_name()
    try:
        lab = L.up(REALNET, faults=list(faults), name=name)

        def one(v):
            if v == "probe-office":
                time.sleep(OFFICE_DELAY)
            return scanlib.scan(lab, v)

        def multi():     # one namespace: its segments one after the other
            return {f"{v}@{seg}": scanlib.scan(lab, v, "--segment", seg)
                    for v, seg in _extra(faults)}
        with ThreadPoolExecutor(len(VANTAGES) + 1) as ex:
            more = ex.submit(multi)
            got = dict(zip(VANTAGES, ex.map(one, VANTAGES)))
            got.update(more.result())
    finally:
        L.down(name)
    _RESULTS[faults] = got
    return got


def _key(e: dict) -> str:
    return f"{e['vantage']}@{e['segment']}" if e.get("segment") else e["vantage"]


def _fails(bundle, notices: bool = False) -> list[dict]:
    return [f for f in scanlib.failing(bundle) if notices or f["severity"] != "info"]


def _matches(e: dict, f: dict) -> bool:
    s = f["subject"]
    return (f["check_id"] == e["check"] and s["ip"] == e.get("ip", s["ip"])
            and s["mac"] == e.get("mac", s["mac"]) and s["device"] == e.get("device", s["device"]))


def test_clean_unit_is_compliant_from_every_vantage():
    for v, (rc, bundle, out) in scans_with(()).items():
        assert bundle is not None, out[-3000:]
        bad = [(f["check_id"], f["status"], f["subject"], f["evidence"])
               for f in bundle["findings"] if f["status"] in ("fail", "error")]
        assert bad == [], (v, bad)
        assert rc == 0, (v, out)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_found_and_nothing_else_fails(fault):
    every = [dict(e) for e in FAULTS[fault].expect]
    expects = [e for e in every if e.get("status", "fail") == "fail"]
    got = scans_with((fault,))
    for e in every:
        if e.get("status") in ("pass", "error"):
            _rc, bundle, out = got[_key(e)]
            said = [f["status"] for f in bundle["findings"] if f["check_id"] == e["check"]]
            assert said and set(said) == {e["status"]}, (fault, e, said)
    for e in expects:
        _rc, bundle, out = got[_key(e)]
        assert bundle is not None, out[-3000:]
        hits = [f for f in scanlib.failing(bundle) if _matches(e, f)]
        assert hits, (fault, e, [(f["check_id"], f["subject"]) for f in scanlib.failing(bundle)])
    for v, (_rc, bundle, out) in got.items():
        mine = [e for e in expects if _key(e) == v]
        unexpected = [(f["check_id"], f["severity"], f["subject"], f["evidence"])
                      for f in _fails(bundle, notices=True) if not any(_matches(e, f) for e in mine)]
        assert unexpected == [], (fault, v, unexpected)
        if "@" in v:
            continue        # the two-interface probe's scans: test_two_interface_probe
        errors = [(f["check_id"], f["evidence"]) for f in bundle["findings"] if f["status"] == "error"]
        assert errors == [], (fault, v, errors)


def test_proxy_arp_is_one_notice_and_the_office_stays_compliant():
    rc, bundle, out = scans_with(("gw-proxy-arp",))["probe-office"]
    assert rc == 0, out
    assert bundle["summary"]["verdict"] == "compliant"
    (note,) = [f for f in scanlib.failing(bundle)]
    assert note["check_id"] == "DEV-MISMATCH" and note["severity"] == "info"
    text = " ".join(e for e in note["evidence"])
    assert "proxy ARP" in text and "10.40.0.128–10.40.0.254" in text, text
    # the 127 proxied addresses are one host to probe through, not 128
    fwd = bundle["observations"]["forwarding"]
    gw = {p["via_ip"] for p in fwd["probes"] if p["via_mac"] == "02:00:00:00:1b:01"}
    assert gw == {"10.40.0.1"}, gw
    assert fwd["vias"] == len({h["mac"] for h in bundle["observations"]["discovery"]["hosts"]})


def test_address_conflict_is_the_same_whatever_the_plug_order():
    def seen(fault):
        _rc, bundle, _out = scans_with((fault,))["probe-secret"]
        macs = sorted(h["mac"] for h in bundle["observations"]["discovery"]["hosts"]
                      if h["ip"] == "10.30.0.11")
        return macs, [(f["check_id"], f["severity"], f["subject"]) for f in _fails(bundle)]
    last, first = seen("rogue-last"), seen("rogue-first")
    assert last == first
    assert last[0] == ["02:00:00:00:1a:0b", "02:bb:00:00:00:0b"]
    assert last[1] == [("DEV-CONFLICT", "critical",
                        {"ip": "10.30.0.11", "mac": "02:bb:00:00:00:0b", "device": "ws-001"})]


def test_dual_homed_without_forwarding_is_asked_for_at_bounded_cost():
    _rc, bundle, _out = scans_with(("two-nic-pc",))["probe-office"]
    fwd = bundle["observations"]["forwarding"]
    assert fwd["claims_asked"] == 4          # the registered classified addresses, once each
    assert fwd["claims"] == [{"ip": "10.30.0.12", "segment": "secret-lan", "device": "ws-002",
                              "macs": ["02:bb:00:00:00:66"]}]
    claim_probes = [p for p in fwd["probes"] if p.get("claim")]
    assert {p["via_mac"] for p in claim_probes} == {"02:bb:00:00:00:66"}
    assert any(p["result"] == "answer" and p["via_ip"] == "10.40.0.66" for p in claim_probes)


def test_transfer_device_modes():
    """Open: packets cross, critical from the high side. Filtered, with or
    without ICMP errors: clean, and the office's probe arrived through it."""
    _rc, bundle, _out = scans_with(("xfer-open",))["probe-secret"]
    fails = {f["check_id"]: f for f in _fails(bundle)}
    assert set(fails) == {"ISO-BRIDGE", "XFER-ONEWAY"}, fails
    assert all(f["severity"] == "critical" for f in fails.values())
    assert any("packets cross" in e for e in fails["ISO-BRIDGE"]["evidence"])
    for mode in ("xfer-filtered", "xfer-silent"):
        rc, bundle, out = scans_with((mode,))["probe-secret"]
        assert rc == 0, (mode, out)
        (x,) = [f for f in bundle["findings"] if f["check_id"] == "XFER-ONEWAY"]
        assert x["status"] == "pass", (mode, x)
        assert any("declared direction works" in e for e in x["evidence"]), x
        arrivals = bundle["observations"]["transfer_in"]["arrivals"]
        assert {a["src_mac"] for a in arrivals} == {"02:00:00:00:1a:32"}, arrivals


def test_report_verifies_the_transfer_arrival_with_the_low_sides_key():
    """`report` joins both sides: the arrival's token verifies with the office
    scan's key; with another office scan (not the one that sent it) in its
    place, the working direction is unproven (a notice), never a pass."""
    from scanner.report.merge import merge
    got = scans_with(("xfer-filtered",))
    high, low = got["probe-secret"][1], got["probe-office"][1]
    m = merge([high, low], lang="en")
    (x,) = [f for f in m["findings"] if f["check_id"] == "XFER-ONEWAY" and f["status"] == "pass"]
    assert any("verifies with the key of the low side's scan" in e for e in x["evidence"]), x
    forged = json.loads(json.dumps(low))
    forged["scan_id"] = "another-office-scan"
    m = merge([high, forged], lang="en")
    (x,) = [f for f in m["findings"] if f["check_id"] == "XFER-ONEWAY"
            and f["subject"]["device"] and f["segment"] == "secret-lan"]
    assert (x["status"], x["severity"]) == ("fail", "info"), x
    assert any("is unproven" in e for e in x["evidence"]), x


@pytest.mark.parametrize("faults", [(), ("office-b-no-exit",)], ids=["clean", "exit-blocked"])
def test_two_interface_probe(faults):
    """A probe on office-lan and office-b whose default route leaves by
    office-lan (issue 24): each segment's egress leaves by that segment's own
    interface to that segment's declared gateway, chosen at layer 2, never by
    the routing table. Clean, both scans are compliant; with office-b's exit
    shut at the gateway, office-b's scan never passes on office-lan's way out."""
    got = scans_with(faults)
    rc, bundle, out = got["probe-multi@office-b"]
    eg = bundle["observations"]["egress"]
    assert eg["layer2"] is True and eg["interface"] == "eth1", eg
    if faults:      # the gateway answers and carries nothing out: said of gw-01
        assert rc == 1, out
        assert not any(f["status"] == "pass" for f in bundle["findings"]
                       if f["check_id"] in ("ING-SINGLE", "ISO-PHYSICAL"))
        assert not bundle["observations"]["controls"]["ok"]
        (f,) = [f for f in bundle["findings"] if f["check_id"] == "ING-SINGLE"]
        assert f["status"] == "fail" and f["subject"]["device"] == "gw-01", f
        return
    assert eg["status"] == "ok" and eg["gateway"]["ip"] == "10.41.0.1", eg
    assert {p["first_hop"] for p in eg["probes"]} == {"10.41.0.1"}
    assert rc == 0, out
    rc, bundle, out = got["probe-multi@office-lan"]
    assert rc == 0, out
    eg = bundle["observations"]["egress"]
    assert eg["layer2"] is True and eg["gateway"]["ip"] == "10.40.0.1", eg
