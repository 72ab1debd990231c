"""Lab self-tests on the wire, independent of the scanner.

The clean demo lab behaves as declared; each seeded fault really does what it
says. Plain sockets, raw ICMP and scapy run inside the lab's namespaces.
"""
from __future__ import annotations

import pytest

from labwire import Route, arp, dhcp_offers, ping, router_adverts, tcp, udp

pytestmark = pytest.mark.lab

CANARY = "203.0.113.10"


@pytest.fixture(scope="module")
def clean(lab_factory):
    return lab_factory(faults=[])


@pytest.fixture(scope="module")
def faulty(demo_lab):
    return demo_lab


# --- the clean unit --------------------------------------------------------------

def test_office_probe_reaches_the_canary_through_the_gateway(clean):
    banner = tcp(clean, "probe-office", CANARY, 80)
    assert banner and banner.startswith("isoscan-lab internet-canary tcp/80")
    assert banner.strip().endswith("from 203.0.113.1")        # NAT at the declared ingress
    assert ping(clean, "probe-office", CANARY, timeout=3) == CANARY
    assert udp(clean, "probe-office", CANARY, 53, timeout=3) is not None  # DNS answers


def test_from_the_classified_probe_nothing_outside_answers(clean):
    assert ping(clean, "probe-secret", "10.10.0.11", timeout=3) == "10.10.0.11"   # positive control
    for dst in (CANARY, "10.20.0.1", "10.20.0.5", "203.0.113.1"):
        assert ping(clean, "probe-secret", dst) is None, dst
    assert tcp(clean, "probe-secret", CANARY, 80, timeout=0.5) is None
    # and nothing of the unit answers on the classified segment's off-segment side
    assert ping(clean, "probe-office", "10.10.0.11") is None
    assert ping(clean, "probe-internet", "10.10.0.11") is None


def test_internet_reaches_only_the_exposed_service(clean):
    # as the internet sees the unit: the gateway's public address forwards 443
    # to the web server (DNAT), and no route leads to the private addresses
    assert "dmz-web tcp/443" in tcp(clean, "probe-internet", "203.0.113.1", 443)
    assert tcp(clean, "probe-internet", "203.0.113.1", 3389, timeout=0.5) is None
    assert tcp(clean, "probe-internet", "10.20.0.30", 443, timeout=0.5) is None
    assert tcp(clean, "probe-internet", "10.20.0.22", 22, timeout=0.5) is None
    assert "ws-102 tcp/22" in tcp(clean, "probe-office", "10.20.0.22", 22)   # a plain service
    assert ping(clean, "probe-internet", "10.20.0.5") is None


def test_clean_lab_has_only_the_declared_dhcp_server_and_no_router(clean):
    offers = dhcp_offers(clean, "probe-office", "eth0")
    assert {o["server_id"] for o in offers} == {"10.20.0.1"}
    assert router_adverts(clean, "probe-secret", "eth0", wait=1.5) == []


def test_clean_lab_hosts_do_not_forward(clean):
    with Route(clean, "probe-secret", CANARY, "10.10.0.14"):
        assert udp(clean, "probe-secret", CANARY, 53, timeout=0.5) is None
    assert all(h["peer"] != "10.10.0.5" for h in clean.hits("internet-canary"))


# --- the seeded faults ---------------------------------------------------------

def test_unregistered_and_mac_mismatch_answer_arp(faulty):
    seen = arp(faulty, "probe-secret", "eth0", ["10.10.0.77", "10.10.0.12", "10.10.0.13"])
    assert seen.get("10.10.0.77") == "02:aa:00:00:00:77"      # rogue-laptop
    assert seen.get("10.10.0.12") == "02:aa:00:00:00:0c"      # swapped-nic
    assert "10.10.0.13" not in seen                           # moved away


def test_misplaced_device_answers_on_the_other_segment(faulty):
    seen = arp(faulty, "probe-office", "eth0", ["10.20.0.63"])
    assert seen == {"10.20.0.63": "02:00:00:00:0a:0d"}


def test_dual_homed_host_forwards_with_nat(faulty):
    with Route(faulty, "probe-secret", CANARY, "10.10.0.14"):
        banner = tcp(faulty, "probe-secret", CANARY, 80)
    assert banner and banner.strip().endswith("from 203.0.113.1")


def test_second_exit_carries_traffic_out_with_its_own_address(faulty):
    with Route(faulty, "probe-office", CANARY, "10.20.0.21"):
        banner = tcp(faulty, "probe-office", CANARY, 443)
    assert banner and banner.strip().endswith("from 203.0.113.99")


def test_port_forwards_and_the_gateway_service_are_open(faulty):
    assert "ws-102 tcp/3389" in tcp(faulty, "probe-internet", "203.0.113.1", 3389)
    assert tcp(faulty, "probe-internet", "203.0.113.1", 50022).startswith("SSH-2.0-isoscan_lab dmz-web")
    assert "gw-01 tcp/8291" in tcp(faulty, "probe-internet", "203.0.113.1", 8291)


def test_rogue_dhcp_server_offers(faulty):
    offers = dhcp_offers(faulty, "probe-office", "eth0")
    by_server = {o["server_id"]: o for o in offers}
    assert set(by_server) == {"10.20.0.1", "10.20.0.250"}
    rogue = by_server["10.20.0.250"]
    assert rogue["src_mac"] == "02:aa:00:00:00:fa" and rogue["router"] == "10.20.0.250"


def test_rogue_router_advertises(faulty):
    ads = router_adverts(faulty, "probe-secret", "eth0")
    assert ads, "no router advertisement"
    assert {a["src_mac"] for a in ads} == {"02:00:00:00:0a:0b"}
    assert {a["src_ip"] for a in ads} == {"fe80::ff:fe00:a0b"}
    assert all(a["prefix"] == "2001:db8:bad::" and a["lifetime"] > 0 for a in ads)


def test_silent_forwarder_forwards_but_nothing_comes_back(faulty):
    before = len(faulty.hits("internet-canary"))
    with Route(faulty, "probe-secret", CANARY, "10.10.0.15"):
        assert udp(faulty, "probe-secret", CANARY, 53, b"silent-1", timeout=0.8) is None
        assert udp(faulty, "probe-secret", CANARY, 53, b"silent-2", timeout=0.8, ttl=1) is None
        # no time-exceeded either: a TTL-1 probe just vanishes
        r = faulty.exec("probe-secret", ["ip", "-s", "route", "get", CANARY])
        assert "10.10.0.15" in r.stdout
    arrived = faulty.hits("internet-canary")[before:]
    assert [h["peer"] for h in arrived] == ["10.10.0.5"]       # un-NATed, the witness saw it


def test_dual_homed_without_nat_forwards_but_no_reply_returns(lab_factory, tmp_path_factory):
    import yaml
    from lab_support import DEMO_LAB
    data = yaml.safe_load(DEMO_LAB.read_text(encoding="utf-8"))
    for f in data["lab"]["faults"]:
        if f["id"] == "dual-homed-pc":
            f["nat"] = False
    p = tmp_path_factory.mktemp("nonat") / "lab.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lab = lab_factory(p, faults=["dual-homed-pc"])
    with Route(lab, "probe-secret", CANARY, "10.10.0.14"):
        assert udp(lab, "probe-secret", CANARY, 53, b"nonat", timeout=0.8) is None
        assert tcp(lab, "probe-secret", CANARY, 80, timeout=0.8) is None
    # it did leave: the canary saw it (NATed only by the gateway it was forwarded to)
    assert any(h["proto"] == "udp" for h in lab.hits("internet-canary"))


def test_a_declared_router_advertises_from_its_host(lab_factory, tmp_path_factory):
    import yaml
    from lab_support import DEMO_LAB
    data = yaml.safe_load(DEMO_LAB.read_text(encoding="utf-8"))
    for s in data["segments"]:
        if s["name"] == "office-lan":
            s["ipv6_routers"] = ["fe80::ff:fe00:b01"]
    p = tmp_path_factory.mktemp("router") / "lab.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lab = lab_factory(p, faults=[])
    ads = router_adverts(lab, "probe-office", "eth0")
    assert ads and {a["src_ip"] for a in ads} == {"fe80::ff:fe00:b01"}
