"""End to end: IPv6 in the device checks and the forwarding probes.

The dual-stack lab (inventories/lab/ipv6.yaml) is built twice, each scanned
from every vantage at once (separate namespaces) while tcpdump captures each
vantage's port:
* with its faults: the IPv6-only laptop (no IPv4 address: seen by neighbour
  discovery only) is DEV-UNREGISTERED with its IPv6 address and MAC; the PC
  whose second card forwards IPv6 to the office network is ISO-BRIDGE from
  the classified vantage (found by the IPv6 forwarding probes alone, it
  forwards no IPv4) and its card an unregistered station on office-lan;
  the workstation carried into the office with its static addresses is
  ISO-BRIDGE there (it answers ARP for its classified IPv4 address and
  neighbour solicitation for its classified IPv6 one) and DEV-MISPLACED, and
  DEV-MISSING (both addresses) on the classified segment;
* clean: every vantage is compliant (exit 0, nothing fails or errs) although
  the gateway forwards IPv6 and the IPv6 probes ran;
and no frame of any scan goes to an address the inventory does not name.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import scanlib  # tests/e2e is on sys.path (rootdir-relative, no package)

pytestmark = pytest.mark.lab

LAB = scanlib.REPO / "inventories" / "lab" / "ipv6.yaml"
VANTAGES = ("probe-secret", "probe-office", "probe-internet")


def _expects():
    from scanner import lab as L
    _inv, spec, _files = L.load(LAB)
    out = []
    for f in spec.faults:
        exp = f.expect if isinstance(f.expect, (list, tuple)) else [f.expect]
        for e in exp:
            out.append(pytest.param(f.id, dict(e), id=f"{f.id}-{e['check']}-{e['vantage']}"))
    return out


def _scan_all(lab):
    from scanner.inventory.load import load_inventory
    inv = load_inventory(lab.files).inventory

    def one(v):
        cap = scanlib.Capture(lab.netns(v))
        try:
            rc, bundle, text = scanlib.scan(lab, v, timeout=180)
        finally:
            cap.stop()
        pk = cap.packets()
        mac = lab.hosts[v].legs[0].mac
        return {"rc": rc, "bundle": bundle, "out": text, "packets": len(pk),
                "outside": scanlib.out_of_scope(pk, inv, {mac, "02:69:73:6f:73:63"})}

    with ThreadPoolExecutor(len(VANTAGES)) as ex:
        return dict(zip(VANTAGES, ex.map(one, VANTAGES)))


@pytest.fixture(scope="module")
def faulty(lab_factory):
    return _scan_all(lab_factory(LAB))


@pytest.fixture(scope="module")
def clean(lab_factory):
    return _scan_all(lab_factory(LAB, faults=[]))


def test_lab_declares_both_faults():
    ids = {p.values[0] for p in _expects()}
    assert ids == {"v6-laptop", "v6-bridge", "v6-carried"}


@pytest.mark.parametrize("fault,expect", _expects())
def test_fault_found(faulty, fault, expect):
    s = faulty[expect["vantage"]]
    assert s["bundle"] is not None, s["out"]
    fails = scanlib.failing(s["bundle"])
    hits = [f for f in fails if f["check_id"] == expect["check"]
            and f["subject"]["ip"] == expect["ip"] and f["subject"]["mac"] == expect["mac"]]
    assert len(hits) == 1, (fault, expect, [(f["check_id"], f["subject"]) for f in fails])
    if expect.get("device"):
        assert hits[0]["subject"]["device"] == expect["device"]
    # one finding per station: no second finding of that check about the same MAC
    assert len([f for f in fails if f["check_id"] == expect["check"]
                and f["subject"]["mac"] == expect["mac"]]) == 1


def test_ipv6_only_laptop_is_seen_by_nd_alone(faulty):
    obs = faulty["probe-secret"]["bundle"]["observations"]
    disc = obs["discovery"]
    assert "02:aa:00:00:00:77" not in {h["mac"] for h in disc["hosts"]}      # no ARP answer
    n6 = {(n["ip"], n["mac"]) for n in disc["neighbours6"]}
    assert ("fd00:60::77", "02:aa:00:00:00:77") in n6
    assert ("fe80::aa:ff:fe00:77", "02:aa:00:00:00:77") in n6
    f = [f for f in scanlib.failing(faulty["probe-secret"]["bundle"])
         if f["check_id"] == "DEV-UNREGISTERED"][0]
    ev = " ".join(f["evidence"])
    assert "fe80::aa:ff:fe00:77" in ev and "fd00:60::77" in ev, ev
    # and it says who it is over IPv6: its sshd's host key, read by the identity step's -6 run
    ident = obs["identity"]
    keys = [r for r in ident["identities"] if r["kind"] == "ssh-host-key"
            and r["ip"] == "fd00:60::77" and r["mac"] == "02:aa:00:00:00:77"]
    assert keys and all(r["value"].startswith("SHA256:") for r in keys), ident


def test_ipv6_bridge_found_by_ipv6_probes_only(faulty):
    """ws-602 forwards IPv6 only: every probe through it that proves
    forwarding is an IPv6 one, sent from the vantage's declared address, with
    hop limit 1 answered by ws-602 itself."""
    obs = faulty["probe-secret"]["bundle"]["observations"]
    fwd = obs["forwarding"]
    assert fwd["status"] == "ok" and fwd["ipv6"]["status"] == "ok", fwd.get("ipv6")
    assert fwd["ipv6"]["src"] == "fd00:60::5"
    through = [p for p in fwd["probes"] if p["via_mac"] == "02:00:00:00:60:0c"]
    proving = [p for p in through if p["result"] in ("time-exceeded", "answer")]
    assert proving and all(":" in p["dst"] for p in proving), proving
    assert any(p["ttl"] == 1 and p["result"] == "time-exceeded" and p["responder_ip"] == "fd00:60::12"
               for p in proving)
    assert all(p["token"] for p in fwd["probes"])
    # the other hosts do not forward
    assert not [p for p in fwd["probes"] if p["via_mac"] != "02:00:00:00:60:0c"
                and p["result"] in ("time-exceeded", "answer")]


def test_carried_workstation_is_asked_for_by_nd(faulty):
    """ws-601 carried into the office keeps fd00:60::11: the office vantage's
    neighbour solicitation for that registered classified address is answered
    by ws-601's card, and the ISO-BRIDGE finding says so."""
    fwd = faulty["probe-office"]["bundle"]["observations"]["forwarding"]
    claims = {c["ip"]: c["macs"] for c in fwd["claims"]}
    assert claims.get("fd00:60::11") == ["02:00:00:00:60:0b"], fwd["claims"]
    assert claims.get("10.60.0.11") == ["02:00:00:00:60:0b"], fwd["claims"]
    assert not set(claims) - {"fd00:60::11", "10.60.0.11", "10.60.0.12"}, claims
    f = [f for f in scanlib.failing(faulty["probe-office"]["bundle"])
         if f["check_id"] == "ISO-BRIDGE" and f["subject"]["mac"] == "02:00:00:00:60:0b"][0]
    ev = " ".join(f["evidence"])
    assert "fd00:60::11" in ev and ("neighbour solicitation" in ev or "邻居请求" in ev), ev


def test_nothing_unexpected_fails(faulty):
    """No false alarm: every failing finding of every vantage is one a fault
    expects (check, vantage, subject)."""
    want = {(e["check"], e["vantage"], e["ip"], e["mac"]) for p in _expects()
            for e in [p.values[1]]}
    for v, s in faulty.items():
        got = {(f["check_id"], v, f["subject"]["ip"], f["subject"]["mac"])
               for f in scanlib.failing(s["bundle"])}
        assert got <= want, (v, sorted(got - want))


def test_every_ipv6_target_is_declared(faulty):
    from scanner.inventory.load import load_inventory
    inv = load_inventory([LAB]).inventory
    for v in VANTAGES:
        for p in faulty[v]["bundle"]["observations"]["forwarding"]["probes"]:
            assert inv.in_scope(p["dst"]), (v, p["dst"])


@pytest.mark.parametrize("vantage", VANTAGES)
def test_faulty_scope_guard_on_the_wire(faulty, vantage):
    s = faulty[vantage]
    assert s["packets"] > 10
    assert s["outside"] == [], s["outside"][:20]


@pytest.mark.parametrize("vantage", VANTAGES)
def test_clean_lab_is_compliant(clean, vantage):
    s = clean[vantage]
    assert s["bundle"] is not None, s["out"]
    b = s["bundle"]
    bad = [(f["check_id"], f["status"], f["subject"], f["evidence"][:2]) for f in b["findings"]
           if f["status"] in ("fail", "error") and f["severity"] != "info"]
    assert s["rc"] == 0 and b["summary"]["verdict"] == "compliant", (s["rc"], bad, s["out"][-2000:])
    obs = b["observations"]
    assert obs["discovery"]["neighbours6"], "neighbour discovery saw nobody"
    assert obs["forwarding"]["ipv6"]["status"] == "ok", obs["forwarding"]["ipv6"]
    assert s["outside"] == [], s["outside"][:20]


def test_clean_office_gateway_carries_ipv6(clean):
    """The gateway forwards IPv6 under its policy: the IPv6 canary answers
    through it from the office vantage."""
    fwd = clean["probe-office"]["bundle"]["observations"]["forwarding"]["probes"]
    assert any(p["via_ip"] == "fd00:61::1" and p["dst"] == "2001:db8:ff::10" and p["result"] == "answer"
               for p in fwd)
    egress = clean["probe-office"]["bundle"]["observations"]["egress"]["probes"]
    assert any(p["dst"] == "2001:db8:ff::10" and p["result"] == "answer" and p["first_hop"] == "fd00:61::1"
               for p in egress), [(p["dst"], p["proto"], p["port"], p["result"], p["first_hop"], p["detail"])
                                  for p in egress if ":" in p["dst"]]


def test_classified_own_stack_reaches_nothing_over_ipv6(faulty):
    egress = faulty["probe-secret"]["bundle"]["observations"]["egress"]
    six = [p for p in egress["probes"] if ":" in p["dst"]]
    assert egress["ipv6"]["src"] == "fd00:60::5" and six
    assert not [p for p in six if p["result"] in ("answer", "refused")], six
