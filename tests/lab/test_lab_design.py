"""The lab's design, checked without root: lab-file parsing and the planned topology."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scanner import lab as L
from scanner.lab.errors import LabError
from scanner.lab.labfile import parse_lab
from scanner.lab.plan import plan, render_iptables
from scanner.lab.topology import prefix_for, safe_part

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "inventories" / "lab" / "demo.yaml"
ROUTED = REPO / "inventories" / "lab" / "routed.yaml"
KINDS = {"unregistered", "mac-mismatch", "misplaced", "dual-homed", "second-exit",
         "firewall-hole", "rogue-dhcp", "rogue-ra", "silent-forwarder", "port-forward",
         "gateway-service"}
# a firewall hole to a private address is seen only where the internet routes
# into the unit: the routed lab seeds it, the demo's uplink is a real one (NAT)
ROUTED_ONLY = {"firewall-hole"}


@pytest.fixture(scope="module")
def demo():
    return L.load(DEMO)


def write_lab(tmp_path, mutate) -> Path:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    mutate(data)
    p = tmp_path / "lab.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def test_demo_inventory_validates_clean():
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "validate", str(DEMO)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_demo_seeds_every_fault_kind_with_expectations(demo):
    inv, spec, files = demo
    assert {f.kind for f in spec.faults} == KINDS - ROUTED_ONLY
    _, routed, _ = L.load(ROUTED)
    assert {f.kind for f in routed.faults} >= ROUTED_ONLY and routed.internet_routes
    probes = {d.name for d in inv.devices if d.kind == "probe"}
    for f in spec.faults:
        assert f.expect, f.id
        for e in f.expect:
            if e["check"].startswith("HOST-"):     # issue 26: seen from inside the device
                assert e["vantage"] == f.get("device") and e.get("device") == f.get("device")
                continue
            assert e["vantage"] in probes and e["check"]
            assert e.get("ip") or e.get("mac")
    assert files == [str(DEMO)]


def test_demo_is_about_fifteen_hosts(demo):
    inv, spec, _ = demo
    topo = plan(inv, spec, run_root="/nonexistent")
    assert 12 <= len(topo.hosts) <= 18
    assert len(topo.namespaces()) == len(topo.hosts) + len(topo.switches)
    assert all(n.startswith(prefix_for("demo")) for n in topo.namespaces())


def test_clean_plan_has_no_fault_hosts_or_forwarders(demo):
    inv, spec, _ = demo
    topo = plan(inv, spec, faults=[], run_root="/x")
    assert topo.faults == []
    assert {h.role for h in topo.hosts.values()} == {"device", "canary"}
    assert [h.name for h in topo.hosts.values() if h.forward4] == ["gw-01"]


def test_routes_follow_the_rules(demo):
    inv, spec, _ = demo
    topo = plan(inv, spec, faults=[], run_root="/x")
    hosts = topo.hosts
    assert hosts["probe-secret"].routes == []                     # classified: no way out
    assert hosts["ws-001"].routes == []
    assert hosts["probe-office"].routes == [["default", "via", "10.20.0.1", "dev", "eth0"]]
    assert hosts["probe-internet"].routes == []       # no real uplink routes private space in
    assert hosts["gw-01"].routes == []


def test_gateway_policy_derives_from_inventory(demo):
    inv, spec, _ = demo
    gw = plan(inv, spec, faults=[], run_root="/x").hosts["gw-01"]
    rules = render_iptables(gw, v6=False)
    assert ":FORWARD DROP" in rules
    assert "-A FORWARD -i eth0 -o eth1 -j ACCEPT" in rules          # office out
    # the exposed web server is published on the public address (DNAT), and
    # only the connections so translated are forwarded
    assert ("-A PREROUTING -d 203.0.113.1/32 -p tcp --dport 443 -j DNAT "
            "--to-destination 10.20.0.30") in rules
    assert "-d 10.20.0.30/32 -p tcp --dport 443 -m conntrack --ctstate DNAT -j ACCEPT" in rules
    assert "3389" not in rules and "50022" not in rules
    assert "-A POSTROUTING -o eth1 -j MASQUERADE" in rules
    assert " fwd " not in rules
    holed = render_iptables(plan(inv, spec, faults=["forgotten-forward", "high-port-forward"],
                                 run_root="/x").hosts["gw-01"], False)
    assert "--dport 3389 -j DNAT --to-destination 10.20.0.22" in holed
    assert "--dport 50022 -j DNAT --to-destination 10.20.0.30:22" in holed
    rinv, rspec, _ = L.load(ROUTED)
    rtopo = plan(rinv, rspec, run_root="/x")
    assert rtopo.hosts["probe-internet"].routes == [["10.30.0.0/24", "via", "203.0.113.1", "dev", "eth0"]]
    rules = render_iptables(rtopo.hosts["gw-r"], False)
    assert "-d 10.30.0.30/32 -p tcp --dport 443 -j ACCEPT" in rules    # routed exposed in
    assert "--dport 8080 -j ACCEPT" in rules                           # the hole


def test_faults_bend_the_topology(demo):
    inv, spec, _ = demo
    h = plan(inv, spec, run_root="/x").hosts
    assert h["ws-002"].legs[0].mac == "02:aa:00:00:00:0c"                       # mac-mismatch
    assert (h["ws-003"].legs[0].segment, h["ws-003"].legs[0].ips()) == ("office-lan", ["10.20.0.63"])
    assert h["ws-003"].legs[0].mac == "02:00:00:00:0a:0d"                       # misplaced keeps its MAC
    assert [l.segment for l in h["ws-004"].legs] == ["secret-lan", "office-lan"]
    assert h["ws-004"].forward4 and h["ws-004"].masquerade == ["eth1"]          # dual-homed, NAT
    assert h["ws-101"].legs[1].ips() == ["203.0.113.99"] and h["ws-101"].masquerade == ["eth1"]
    assert h["ws-005"].forward4 and h["ws-005"].drop_icmp_errors and not h["ws-005"].masquerade
    assert "time-exceeded -j DROP" in render_iptables(h["ws-005"], False)
    assert "time-exceeded -j DROP" in render_iptables(h["ws-005"], True)
    assert {22, 443} <= h["dmz-web"].tcp                # a forward's target listens
    assert 3389 in h["ws-102"].tcp and 8291 in h["gw-01"].tcp
    assert h["rogue-laptop"].role == "fault"
    assert any("dnsmasq" in p.what for p in h["soho-router"].procs)
    assert any("radvd" in p.what for p in h["ws-001"].procs) and h["ws-001"].forward6
    assert any("dnsmasq" in p.what for p in h["gw-01"].procs)    # the declared DHCP server runs


def test_every_leg_has_a_unique_port_and_short_names(demo):
    inv, spec, _ = demo
    topo = plan(inv, spec, run_root="/x")
    for seg, sw in topo.switches.items():
        ports = [l.port for h in topo.hosts.values() for l in h.legs if l.segment == seg]
        assert len(ports) == len(set(ports)) and sorted(ports) == sorted(sw.ports)
    for h in topo.hosts.values():
        assert all(len(l.ifname) <= 15 and len(l.port) <= 15 for l in h.legs)


def test_sysctls_are_explicit(demo):
    inv, spec, _ = demo
    s = plan(inv, spec, run_root="/x").hosts["probe-secret"].sysctls()
    for key in ("net.ipv4.ip_forward=0", "net.ipv4.conf.all.rp_filter=0",
                "net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.default.accept_dad=0",
                "net.ipv4.conf.all.arp_ignore=0"):
        assert key in s


def test_fault_selection(demo):
    inv, spec, _ = demo
    topo = plan(inv, spec, faults=["rogue-laptop"], run_root="/x")
    assert [f["id"] for f in topo.faults] == ["rogue-laptop"]
    with pytest.raises(LabError, match="unknown fault"):
        plan(inv, spec, faults=["nope"], run_root="/x")


def test_hostile_names_stay_data():
    assert safe_part("ws-001") == "ws-001"
    odd = safe_part("a; rm -rf / $(x)")
    assert "/" not in odd and ";" not in odd and " " not in odd
    assert safe_part("A") != safe_part("a") or safe_part("A") != "a"


def test_lab_section_problems_are_reported_with_positions(tmp_path):
    def bad(d):
        d["lab"]["faults"][0]["kind"] = "teleport"
        d["lab"]["faults"][1]["mac"] = "not-a-mac"
        del d["lab"]["faults"][2]["expect"]
    p = write_lab(tmp_path, bad)
    with pytest.raises(LabError) as exc:
        L.load(p)
    msg = str(exc.value)
    assert "teleport" in msg and "not a MAC" in msg and "expect" in msg
    assert f"{p}:" in msg and "lab.faults.0.kind" in msg


def test_expect_vantage_must_be_a_probe(tmp_path):
    p = write_lab(tmp_path, lambda d: d["lab"]["faults"][0]["expect"].update(vantage="ws-001"))
    inv, spec, _ = L.load(p)
    with pytest.raises(LabError, match="probe"):
        plan(inv, spec, run_root="/x")


def test_no_lab_section(tmp_path):
    p = write_lab(tmp_path, lambda d: d.pop("lab"))
    with pytest.raises(LabError, match="lab"):
        L.load(p)


def test_schema_error_refused_with_position(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text(DEMO.read_text(encoding="utf-8").replace("networks: [10.20.0.0/24]",
                                                          "networks: [10.20.0.0/99]"),
                 encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "up", str(p), "--name", "tbad"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{p}:" in r.stderr and "INV-SCHEMA" in r.stderr


def test_cli_usage_errors_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "up", str(DEMO), "--clean",
                        "--faults", "x"], capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "up", str(tmp_path / "no.yaml")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_parse_lab_plain():
    spec = parse_lab({"name": "x1", "services": [{"device": "a", "tcp": [22]}], "faults": []})
    assert spec.name == "x1" and spec.services[0].tcp == (22,)
    with pytest.raises(LabError):
        parse_lab({"name": "Bad Name"})


def test_declared_router_runs_where_its_link_local_address_is(tmp_path):
    def declare(d):
        for s in d["segments"]:
            if s["name"] == "office-lan":
                s["ipv6_routers"] = ["fe80::ff:fe00:b01"]      # gw-01's MAC, EUI-64
    inv, spec, _ = L.load(write_lab(tmp_path, declare))
    h = plan(inv, spec, faults=[], run_root="/x").hosts
    assert any("radvd declared-router-office-lan" in p.what for p in h["gw-01"].procs)
    assert h["gw-01"].forward6
