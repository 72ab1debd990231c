"""End to end: the demo lab with every seeded fault, scanned from every probe.

One lab for the module; each vantage is scanned once (while tcpdump captures
its port) and the tests read the bundles. The expectations come from the
faults' own `expect:` data.
"""
from __future__ import annotations

import re

import pytest

import scanlib  # tests/e2e is on sys.path (rootdir-relative, no package)

pytestmark = pytest.mark.lab

VANTAGES = ("probe-secret", "probe-office", "probe-internet")


def _expects():
    """(fault id, expect) pairs of the demo lab file, read without building anything."""
    from scanner import lab as L
    _inv, spec, _files = L.load(scanlib.DEMO)
    out = []
    for f in spec.faults:
        exp = getattr(f, "expect", None)
        exp = exp if isinstance(exp, (list, tuple)) else [exp]
        for e in exp:
            # what only the outside canary can see (issue 8) is proven, with the scan
            # alone seeing nothing, by tests/canary/test_canary_lab.py
            # what is seen from inside a computer (isoscan host, issue 26) is proven by
            # tests/test_demo.py and tests/host/test_host_lab.py
            if e and "canary" not in str(e.get("note", "")) and \
                    not str(e.get("check", "")).startswith("HOST-"):
                out.append(pytest.param(f.id, dict(e), id=f"{f.id}-{e['check']}"))
    return out


@pytest.fixture(scope="module")
def scans(demo_lab):
    from scanner.inventory.load import load_inventory
    inv = load_inventory(demo_lab.files).inventory

    def one(v):
        cap = scanlib.Capture(demo_lab.netns(v))
        try:
            # the internet vantage sweeps every port: the high-port forward and
            # the gateway's management port lie beyond nmap's top 200
            extra = ("--inbound", "full") if v == "probe-internet" else ()
            rc, bundle, text = scanlib.scan(demo_lab, v, *extra)
        finally:
            cap.stop()
        pk = cap.packets()
        mac = demo_lab.hosts[v].legs[0].mac
        return {"rc": rc, "bundle": bundle, "out": text, "packets": len(pk),
                "outside": scanlib.out_of_scope(pk, inv, {mac, "02:69:73:6f:73:63"})}

    # the vantages are separate namespaces: scan them at once (the suite stays fast)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(len(VANTAGES)) as ex:
        return dict(zip(VANTAGES, ex.map(one, VANTAGES)))


@pytest.mark.parametrize("fault,expect", _expects())
def test_fault_found(scans, fault, expect):
    s = scans[expect["vantage"]]
    assert s["bundle"] is not None, s["out"]
    hits = [f for f in scanlib.failing(s["bundle"])
            if f["check_id"] == expect["check"] and f["subject"]["ip"] == expect["ip"]]
    assert hits, (f"{fault}: no failing {expect['check']} for {expect['ip']} from {expect['vantage']}; "
                  f"fails: {[(f['check_id'], f['subject']) for f in scanlib.failing(s['bundle'])]}")
    if expect.get("mac"):
        assert any(f["subject"]["mac"] == expect["mac"] for f in hits), hits
    if expect.get("device"):
        assert any(f["subject"]["device"] == expect["device"] for f in hits), hits
    if expect.get("port"):      # the finding names the service ('22/tcp' is not in '2222/tcp')
        named = re.compile(rf"(?<![0-9]){expect['port']}/tcp\b")
        assert any(named.search(ev) for f in hits for ev in f["evidence"]), hits


@pytest.mark.parametrize("vantage", VANTAGES)
def test_faulty_lab_is_non_compliant(scans, vantage):
    s = scans[vantage]
    assert s["rc"] == 1, s["out"]
    b = s["bundle"]
    assert b["schema"] == "isoscan.bundle/1"
    assert b["vantage"]["segment"] == {"probe-secret": "secret-lan", "probe-office": "office-lan",
                                       "probe-internet": "internet"}[vantage]
    assert b["summary"]["verdict"] == "non-compliant"
    obs = b["observations"]
    assert obs["privileges"]["ok"] and obs["controls"]["ok"], obs["controls"]
    for sec in ("discovery", "forwarding", "egress"):
        assert obs[sec]["status"] == "ok", (sec, obs[sec].get("error"))
    # the scanner never reports itself
    assert b["vantage"]["ip"] not in {h["ip"] for h in obs["discovery"]["hosts"]}


@pytest.mark.parametrize("vantage", VANTAGES)
def test_scope_guard_on_the_wire(scans, vantage):
    """Every frame the vantage sent during its scan went to a declared address."""
    s = scans[vantage]
    assert s["packets"] > 10                      # the capture did see the scan
    assert s["outside"] == [], s["outside"][:20]


def test_forwarding_evidence_levels(scans):
    """The dual-homed NAT host: time-exceeded at TTL 1 and answers at full TTL,
    each probe keyed back to the host it went through; tokens on every probe."""
    b = scans["probe-secret"]["bundle"]
    probes = b["observations"]["forwarding"]["probes"]
    via = [p for p in probes if p["via_ip"] == "10.10.0.14"]
    assert any(p["ttl"] == 1 and p["result"] == "time-exceeded" and p["responder_ip"] == "10.10.0.14"
               for p in via)
    assert any(p["ttl"] == 64 and p["result"] == "answer" for p in via)
    clean = [p for p in probes if p["via_ip"] in ("10.10.0.11", "10.10.0.12")]
    assert clean and all(p["result"] == "none" for p in clean)
    assert all(p["token"] for p in probes)


def test_office_router_versus_second_exit(scans):
    """The declared ingress forwards (TTL-1 time-exceeded, its next hop outside);
    the modem host forwards too, but its next hop is not the ingress."""
    b = scans["probe-office"]["bundle"]
    fwd = b["observations"]["forwarding"]["probes"]
    gw = [p for p in fwd if p["via_ip"] == "10.20.0.1" and p["dst"] == "203.0.113.10"]
    assert any(p["result"] == "time-exceeded" for p in gw if p["ttl"] == 1)
    fails = {(f["check_id"], f["subject"]["ip"]) for f in scanlib.failing(b)}
    assert ("ING-SINGLE", "10.20.0.1") not in fails


def test_inbound_sees_the_unit_as_the_internet_does(scans):
    """The internet reaches the gateway's public address: the declared web
    server through its port forward, and the three holes; nothing is sent to
    the office's private addresses, which no route leads to."""
    b = scans["probe-internet"]["bundle"]
    inbound = b["observations"]["inbound"]
    assert inbound["status"] == "ok"
    opened = {(p["dst"], p["port"]) for p in inbound["probes"] if p["state"] == "open"}
    assert opened == {("203.0.113.1", 443), ("203.0.113.1", 3389), ("203.0.113.1", 50022),
                      ("203.0.113.1", 8291)}
    assert {p["dst"] for p in inbound["probes"]} == {"203.0.113.1"}
    assert inbound["coverage"]["mode"] == "full" and inbound["coverage"]["tcp_ports"] == 65535
    named = {p["port"]: p["service"] for p in inbound["probes"] if p["state"] == "open"}
    assert named[50022] == "ssh" and named[3389] == "ms-wbt-server"
    logical = [f for f in b["findings"] if f["check_id"] == "ISO-LOGICAL"]
    assert not any("443/tcp" in ev for f in logical for ev in f["evidence"])   # declared: no fail
    assert [f["status"] for f in logical] == ["fail"]     # one finding for the address


SWEEP = """
import json, sys
from scanner.inventory.load import load_inventory
from scanner.scan.plan import build_plan
from scanner.probes import discovery
from scanner.scan.vantage import find_vantage
inv = load_inventory(sys.argv[1:]).inventory
plan = build_plan(inv, find_vantage(inv))
print(json.dumps(discovery.scapy_sweep(plan)))
"""


def test_scapy_sweep_finds_what_nmap_found(demo_lab, scans):
    """The fallback where nmap cannot run sees the same stations."""
    import json
    import sys
    r = demo_lab.exec("probe-secret", [sys.executable, "-c", SWEEP, *demo_lab.files], timeout=60)
    assert r.returncode == 0, r.stderr
    swept = {(h["ip"], h["mac"]) for h in json.loads(r.stdout)}
    nmap = {(h["ip"], h["mac"]) for h in scans["probe-secret"]["bundle"]["observations"]["discovery"]["hosts"]}
    assert swept == nmap
    assert ("10.10.0.77", "02:aa:00:00:00:77") in swept
