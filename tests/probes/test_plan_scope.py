"""Plan, vantage and scope guard: pure, no network."""
import json
import textwrap

import pytest

from scanner.inventory.load import load_inventory
from scanner.scan.plan import ScopeError, build_plan
from scanner.scan.vantage import LocalInterface, VantageError, choose_vantage, parse_ip_addr

INV = textwrap.dedent("""\
    version: 1
    organization: {name: 测试单位}
    canaries:
      - {name: canary, address: 203.0.113.10}
    segments:
      - {name: secret-lan, classification: classified, level: secret, networks: [10.10.0.0/24]}
      - name: office-lan
        classification: non-classified
        networks: [10.20.0.0/24, "fd00:20::/64"]
        ingress: gw-01
        exposed:
          - {address: 10.20.0.30, tcp: [443, 18443]}
      - {name: internet, classification: internet, networks: [203.0.113.0/24]}
    devices:
      - {name: probe-s, kind: probe, asset_tag: A1, custodian: X, segment: secret-lan, ip: 10.10.0.5, mac: "02:00:00:00:0a:05"}
      - {name: ws-1, kind: workstation, asset_tag: A2, custodian: Y, segment: secret-lan, ip: 10.10.0.11, mac: "02:00:00:00:0a:0b"}
      - {name: web, kind: server, segment: office-lan, ip: 10.20.0.30, mac: "02:00:00:00:0b:1e"}
      - name: gw-01
        kind: gateway
        interfaces:
          - {segment: office-lan, ip: 10.20.0.1, mac: "02:00:00:00:0b:01"}
          - {segment: internet, ip: 203.0.113.1, mac: "02:00:00:00:0c:01"}
      - {name: probe-i, kind: probe, segment: internet, ip: 203.0.113.50, mac: "02:00:00:00:0c:32"}
""")


@pytest.fixture(scope="module")
def inv(tmp_path_factory):
    p = tmp_path_factory.mktemp("inv") / "unit.yaml"
    p.write_text(INV, encoding="utf-8")
    res = load_inventory([str(p)])
    assert res.inventory is not None, [f.evidence for f in res.findings]
    return res.inventory


def iface(name, v4=(), v6=(), mac="02:00:00:00:0a:05", up=True):
    return LocalInterface(name=name, mac=mac, up=up, ipv4=tuple(v4), ipv6=tuple(v6))


IP_J = json.dumps([
    {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "link_type": "loopback",
     "address": "00:00:00:00:00:00", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
    {"ifindex": 5, "ifname": "eth0", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
     "operstate": "UP", "link_type": "ether", "address": "02:00:00:00:0A:05",
     "addr_info": [{"family": "inet", "local": "10.10.0.5", "prefixlen": 24},
                   {"family": "inet6", "local": "fe80::1", "prefixlen": 64}]},
    {"ifindex": 6, "ifname": "eth1", "flags": ["BROADCAST", "MULTICAST"], "operstate": "DOWN",
     "link_type": "ether", "address": "02:00:00:00:ff:01", "addr_info": []},
])


def test_parse_ip_addr():
    ifs = parse_ip_addr(IP_J)
    assert [i.name for i in ifs] == ["eth0", "eth1"]
    assert ifs[0].mac == "02:00:00:00:0a:05" and ifs[0].up and ifs[0].ipv4 == ("10.10.0.5",)
    assert ifs[0].ipv6 == ("fe80::1",)
    assert not ifs[1].up


def test_vantage_from_addresses(inv):
    v = choose_vantage(inv, parse_ip_addr(IP_J))
    assert (v.segment, v.interface, v.ip, v.mac) == ("secret-lan", "eth0", "10.10.0.5", "02:00:00:00:0a:05")
    assert "10.10.0.5" in v.own and "fe80::1" in v.own


def test_no_address_in_a_segment_refuses(inv):
    with pytest.raises(VantageError) as e:
        choose_vantage(inv, [iface("eth0", ["192.168.1.7"])])
    assert "refusing" in e.value.message["en"] and "拒绝" in e.value.message["zh-CN"]
    with pytest.raises(VantageError):
        choose_vantage(inv, [])


def test_ambiguous_vantage_needs_a_choice(inv):
    ifs = [iface("eth0", ["10.10.0.5"]), iface("eth1", ["10.20.0.9"], mac="02:00:00:00:0b:09")]
    with pytest.raises(VantageError):
        choose_vantage(inv, ifs)
    assert choose_vantage(inv, ifs, segment="office-lan").interface == "eth1"
    assert choose_vantage(inv, ifs, interface="eth0").segment == "secret-lan"
    with pytest.raises(VantageError):
        choose_vantage(inv, ifs, segment="no-such")
    with pytest.raises(VantageError):
        choose_vantage(inv, ifs, interface="eth9")
    with pytest.raises(VantageError):   # the interface holds no address of that segment
        choose_vantage(inv, ifs, interface="eth0", segment="office-lan")


def test_plan_classified(inv):
    v = choose_vantage(inv, [iface("eth0", ["10.10.0.5"])])
    plan = build_plan(inv, v)
    assert plan.networks4 == ("10.10.0.0/24",)
    assert [c.ip for c in plan.controls] == ["10.10.0.11"]          # never itself
    remote = {t.ip: t for t in plan.remote}
    assert set(remote) == {"203.0.113.10", "10.20.0.1", "203.0.113.1"}  # canary + one address a segment
    assert remote["203.0.113.10"].kind == "canary" and remote["203.0.113.10"].tcp == (80, 443)
    assert remote["10.20.0.1"].segment == "office-lan"
    assert plan.inbound == ()
    for t in plan.remote:
        assert inv.in_scope(t.ip)


def test_plan_internet_inbound(inv):
    v = choose_vantage(inv, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")])
    plan = build_plan(inv, v)
    assert {c.ip for c in plan.controls} == {"203.0.113.1", "203.0.113.10"}
    assert "203.0.113.10" not in {t.ip for t in plan.remote}        # on its own link: local
    inb = {t.ip: t for t in plan.inbound}
    # the internet reaches the unit's public face, the ingress's internet-side
    # address; the private office addresses are not routed from there
    assert set(inb) == {"203.0.113.1"} and inb["203.0.113.1"].kind == "public"
    assert 22 in inb["203.0.113.1"].tcp and len(inb["203.0.113.1"].tcp) == 200
    # the declared service at a private address cannot be probed: said, not skipped silently
    assert plan.inbound_unrouted == ("10.20.0.30:443/tcp", "10.20.0.30:18443/tcp")


def test_plan_internet_inbound_routed(inv):
    """With a route into the office (a lab, a VPN), its addresses are probed
    too, on the top ports plus the declared ones."""
    v = choose_vantage(inv, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")],
                       routes4=("10.20.0.0/24", "203.0.113.0/24"))
    plan = build_plan(inv, v)
    inb = {t.ip: t for t in plan.inbound}
    assert list(inb) == ["203.0.113.1", "10.20.0.1", "10.20.0.30"]    # public first
    assert inb["10.20.0.30"].kind == "routed"
    assert 18443 in inb["10.20.0.30"].tcp and 443 in inb["10.20.0.30"].tcp
    assert 18443 not in inb["10.20.0.1"].tcp
    assert plan.inbound_unrouted == ()


PUBLISHED = textwrap.dedent("""\
    version: 1
    organization: {name: 测试单位}
    segments:
      - name: office-lan
        classification: non-classified
        networks: [10.20.0.0/24]
        ingress: gw-01
        public: [198.51.100.8/29]
        exposed:
          - {public: 198.51.100.9, tcp: [443], to: 10.20.0.30}
          - {public: 198.51.100.10, tcp: [2222], to: 10.20.0.30, to_port: 22}
          - {public: 198.51.100.9, udp: [1194]}
      - {name: internet, classification: internet, networks: [203.0.113.0/24]}
    devices:
      - {name: web, kind: server, segment: office-lan, ip: 10.20.0.30, mac: "02:00:00:00:0b:1e"}
      - name: gw-01
        kind: gateway
        interfaces:
          - {segment: office-lan, ip: 10.20.0.1, mac: "02:00:00:00:0b:01"}
          - {segment: internet, ip: 203.0.113.1, mac: "02:00:00:00:0c:01"}
      - {name: probe-i, kind: probe, segment: internet, ip: 203.0.113.50, mac: "02:00:00:00:0c:32"}
""")


def test_plan_public_range_and_published_services(tmp_path):
    p = tmp_path / "unit.yaml"
    p.write_text(PUBLISHED, encoding="utf-8")
    res = load_inventory([p])
    assert res.inventory is not None and not res.findings, res.findings
    inv = res.inventory
    assert inv.in_scope("198.51.100.14") and not inv.in_scope("198.51.100.16")
    v = choose_vantage(inv, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")])
    plan = build_plan(inv, v)
    inb = {t.ip: t for t in plan.inbound}
    # the ingress's address and the /29's six host addresses, all public
    assert list(inb) == ["198.51.100.9", "198.51.100.10", "198.51.100.11", "198.51.100.12",
                         "198.51.100.13", "198.51.100.14", "203.0.113.1"]
    assert {t.kind for t in plan.inbound} == {"public"}
    assert 443 in inb["198.51.100.9"].tcp and inb["198.51.100.9"].udp == (1194,)
    assert 2222 in inb["198.51.100.10"].tcp and 2222 not in inb["198.51.100.11"].tcp
    full = build_plan(inv, v, inbound_mode="full")
    assert all(len(t.tcp) == 65535 for t in full.inbound) and full.inbound_mode == "full"
    with pytest.raises(ValueError):
        build_plan(inv, v, inbound_mode="everything")


def test_plan_office_dedup_and_ipv6(inv):
    v = choose_vantage(inv, [iface("eth0", ["10.20.0.9"], mac="02:00:00:00:0b:09")])
    plan = build_plan(inv, v)
    assert plan.networks6 == ("fd00:20::/64",)
    ips = [t.ip for t in plan.remote]
    assert len(ips) == len(set(ips))
    assert "10.10.0.5" in ips or "10.10.0.11" in ips                 # one classified address


def test_scope_guard(inv):
    v = choose_vantage(inv, [iface("eth0", ["10.10.0.5"])])
    plan = build_plan(inv, v)
    for ok in ("10.10.0.200", "203.0.113.10", "203.0.113.99", "10.20.0.1", "ff02::1"):
        assert plan.guard(ok)
    for bad in ("8.8.8.8", "10.30.0.1", "192.168.0.1", "10.10.0.5", "not-an-ip", "2001:db8::1"):
        with pytest.raises(ScopeError):
            plan.guard(bad)


def test_probe_frames_pass_the_guard(inv, monkeypatch):
    """Building a forwarding frame to an address outside the inventory raises first."""
    from scanner.scan.plan import Target
    from scanner.probes import forwarding
    v = choose_vantage(inv, [iface("eth0", ["10.10.0.5"])])
    plan = build_plan(inv, v)
    pr = forwarding.Probe("10.10.0.11", "02:00:00:00:0a:0b", Target("8.8.8.8", "canary", None, "x"),
                          "icmp", None, 1)
    with pytest.raises(ScopeError):
        forwarding._frame(plan, pr, 0)
    good = forwarding.Probe("10.10.0.11", "02:00:00:00:0a:0b", plan.remote[0], "tcp", 443, 1)
    frame = forwarding._frame(plan, good, 7)
    assert frame[:6] == bytes.fromhex("02000000000b".replace(":", "").rjust(12, "0")) or len(frame) > 40
    from scapy.layers.l2 import Ether
    from scapy.layers.inet import IP, TCP
    p = Ether(frame)
    assert p[Ether].src == "02:00:00:00:0a:05" and p[Ether].dst == "02:00:00:00:0a:0b"
    assert p[IP].src == "10.10.0.5" and p[IP].ttl == 1 and p[IP].id == 7 and p[TCP].flags == "S"


def test_plan_probes_order(inv):
    from scanner.probes import forwarding
    v = choose_vantage(inv, [iface("eth0", ["10.10.0.5"])])
    plan = build_plan(inv, v)
    hosts = [{"ip": "10.10.0.11", "mac": "02:00:00:00:0a:0b"}, {"ip": "10.10.0.5", "mac": "02:00:00:00:0a:05"},
             {"ip": "10.10.0.12", "mac": None}]
    probes = forwarding.plan_probes(plan, hosts)
    assert {p.via_ip for p in probes} == {"10.10.0.11"}                # never itself, never MAC-less
    assert probes[0].ttl == 1 and probes[0].proto == "icmp"
    assert {p.ttl for p in probes} == {1, 64}


def test_published_services_survive_the_bundle(tmp_path):
    """A bundle re-judged later reads the same public face it was scanned with."""
    from dataclasses import replace

    from scanner.bundle import inventory_document, inventory_from_bundle
    p = tmp_path / "unit.yaml"
    p.write_text(PUBLISHED, encoding="utf-8")
    inv = load_inventory([p]).inventory
    back = inventory_from_bundle({"inventory": {"document": inventory_document(inv)}})
    seg, old = back.segment("office-lan"), inv.segment("office-lan")
    assert seg.public == old.public
    assert seg.exposed == tuple(replace(e, loc=None) for e in old.exposed)
    assert back.in_scope("198.51.100.12")


def test_ipv6_exposed_service_is_said_unprobed_and_split_routes_are_not_swept(tmp_path):
    from scanner.scan.plan import routed_network
    from netaddr import IPNetwork
    body = PUBLISHED.replace("networks: [10.20.0.0/24]", 'networks: [10.20.0.0/24, "2001:db8:20::/64"]')
    body = body.replace("      - {public: 198.51.100.9, udp: [1194]}\n",
                        "      - {public: 198.51.100.9, udp: [1194]}\n"
                        '      - {address: "2001:db8:20::30", tcp: [443]}\n')
    p = tmp_path / "unit.yaml"
    p.write_text(body, encoding="utf-8")
    inv = load_inventory([p]).inventory
    v = choose_vantage(inv, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")])
    assert build_plan(inv, v).inbound_unprobed6 == ("2001:db8:20::30:443/tcp",)
    # a route to half of a /24 does not make the whole /24 a sweep target
    half = choose_vantage(inv, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")],
                          routes4=("10.20.0.0/25",))
    assert not routed_network(half, IPNetwork("10.20.0.0/24"))
    assert build_plan(inv, half, inbound_mode="full").inbound_sweep == ()
    whole = choose_vantage(inv, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")],
                           routes4=("10.20.0.0/16",))
    assert build_plan(inv, whole, inbound_mode="full").inbound_sweep == ("10.20.0.0/24",)
    assert build_plan(inv, whole).inbound_sweep == ()          # quick: no sweep


def test_auto_sweeps_the_whole_public_face_when_it_fits_the_budget(inv, tmp_path):
    """--inbound auto (the default): one public address at 5,000/s is ~13 s,
    every port; seven are ~92 s, over the 60 s budget: top ports, and the
    plan says which it chose and why. Off the internet the mode is moot."""
    from scanner.scan.plan import INBOUND_AUTO_BUDGET_S
    v = choose_vantage(inv, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")])
    one = build_plan(inv, v, inbound_mode="auto")
    assert one.inbound_mode == "full" and all(len(t.tcp) == 65535 for t in one.inbound)
    assert one.inbound_choice == {"asked": "auto", "chose": "full", "estimate_s": 13.1,
                                  "budget_s": INBOUND_AUTO_BUDGET_S, "targets": 1, "rate": 5000}
    assert one.to_json()["inbound_choice"]["chose"] == "full"
    p = tmp_path / "unit.yaml"
    p.write_text(PUBLISHED, encoding="utf-8")
    seven = load_inventory([p]).inventory
    v7 = choose_vantage(seven, [iface("eth0", ["203.0.113.50"], mac="02:00:00:00:0c:32")])
    slow = build_plan(seven, v7, inbound_mode="auto")
    assert slow.inbound_mode == "quick" and slow.inbound_choice["estimate_s"] > INBOUND_AUTO_BUDGET_S
    assert 2222 in {p for t in slow.inbound for p in t.tcp}         # declared ports stay
    fast = build_plan(seven, v7, inbound_mode="auto", inbound_rate=20000)
    assert fast.inbound_mode == "full" and fast.inbound_choice["chose"] == "full"
    forced = build_plan(seven, v7, inbound_mode="quick")
    assert forced.inbound_choice == {"asked": "quick", "chose": "quick"}
    office = choose_vantage(inv, [iface("eth0", ["10.20.0.9"], mac="02:00:00:00:0b:09")])
    assert build_plan(inv, office, inbound_mode="auto").inbound == ()
