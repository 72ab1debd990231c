"""The dual-stack lab's design (inventories/lab/ipv6.yaml), checked without root."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scanner import lab as L
from scanner.lab.plan import plan, render_iptables

REPO = Path(__file__).resolve().parents[2]
LAB6 = REPO / "inventories" / "lab" / "ipv6.yaml"


def _topo(faults=None):
    inv, spec, _files = L.load(LAB6)
    return plan(inv, spec, name="t6design", faults=faults, run_root="/tmp/isoscan-lab-design")


def test_ipv6_lab_inventory_validates_clean():
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "validate", str(LAB6)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dual_stack_card_is_one_leg():
    """An IPv4 and an IPv6 interface entry with one MAC on one segment are one card."""
    topo = _topo([])
    gw = topo.hosts["gw-01"]
    assert [(l.segment, l.mac, sorted(l.addrs)) for l in gw.legs] == [
        ("office-lan", "02:00:00:00:61:01", ["10.61.0.1/24", "fd00:61::1/64"]),
        ("internet", "02:00:00:00:ff:01", ["198.51.100.1/24", "2001:db8:ff::1/48"])]
    assert all(len(h.legs) == 1 for n, h in topo.hosts.items() if n != "gw-01")
    assert topo.hosts["ws-611"].legs[0].onlink == []


def test_gateway_forwards_ipv6_under_the_ipv4_policy():
    topo = _topo([])
    gw = topo.hosts["gw-01"]
    assert gw.forward4 and gw.forward6
    v6 = render_iptables(gw, True)
    assert ":FORWARD DROP" in v6
    assert "-A FORWARD -i eth0 -o eth1 -j ACCEPT" in v6           # office out to the internet
    assert "-A FORWARD -i eth1 -o eth0 -j ACCEPT" not in v6       # nothing in unasked
    assert "MASQUERADE" not in v6                                  # routed, no NAT66
    # the internet side routes back to the office network through the gateway
    assert ["fd00:61::/64", "via", "2001:db8:ff::1", "dev", "eth0"] in topo.hosts["probe-internet"].routes
    assert ["::/0", "via", "fd00:61::1", "dev", "eth0"] in topo.hosts["ws-611"].routes
    # classified hosts get no route at all
    assert topo.hosts["ws-601"].routes == []


def test_faults():
    topo = _topo()
    laptop = topo.hosts["v6-laptop"]
    assert [l.ips() for l in laptop.legs] == [["fd00:60::77"]]      # no IPv4 address at all
    ws = topo.hosts["ws-602"]
    assert ws.forward6 and not ws.forward4                          # forwards IPv6 only
    assert [l.segment for l in ws.legs] == ["secret-lan", "office-lan"]
    assert ws.legs[1].ips() == ["fd00:61::66"]


def _plan_from(vantage_ipv6):
    from scanner.inventory.load import load_inventory
    from scanner.scan.plan import build_plan
    from scanner.scan.vantage import Vantage
    inv = load_inventory([LAB6]).inventory
    own = frozenset({"10.60.0.5", *vantage_ipv6})
    v = Vantage(segment="secret-lan", interface="eth0", ip="10.60.0.5", mac="02:00:00:00:60:05",
                up=True, ipv6=tuple(vantage_ipv6), own=own, own_macs=frozenset({"02:00:00:00:60:05"}))
    return inv, build_plan(inv, v)


def test_plan_ipv6_targets_and_source():
    """IPv6 targets are declared (in scope); the source is the vantage's declared
    address, else its link-local one, never an address from a rogue prefix."""
    inv, p = _plan_from(["2001:db8:bad::5", "fe80::ff:fe00:6005", "fd00:60::5"])
    assert {t.ip for t in p.remote6} == {"2001:db8:ff::10", "fd00:61::1", "2001:db8:ff::1"}
    assert all(inv.in_scope(t.ip) for t in p.remote6)
    assert p.source6 == "fd00:60::5"
    _, p = _plan_from(["2001:db8:bad::5", "fe80::ff:fe00:6005"])
    assert p.source6 == "fe80::ff:fe00:6005"
    _, p = _plan_from(["2001:db8:bad::5"])
    assert p.source6 is None
    assert p.to_json()["remote6"]
