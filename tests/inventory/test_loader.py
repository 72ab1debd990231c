"""The loader: happy path, both device forms, netaddr types, MAC spellings,
folders, merges across files, the lab section, positions, and every kind of
schema problem at its exact line and column."""
import os
import time
from pathlib import Path

import pytest
from netaddr import IPAddress, IPNetwork

from scanner.inventory.load import KEY, InputError, load_inventory, locate
from scanner.model import Status
from scanner.inventory.schema import normalise_mac

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories"
EXAMPLE_FILES = sorted(str(p) for p in EXAMPLE.glob("*.yaml"))

GOOD = """
version: 1
organization:
  name: 示例审计局
  id: EX-0001
canaries:
  - name: internet-canary
    address: 203.0.113.10
segments:
  - name: secret-lan
    title: 涉密内网
    classification: classified
    level: secret
    networks: [10.10.0.0/24]
  - name: office-lan
    classification: non-classified
    networks: [10.20.0.0/24, "2001:db8:20::/64"]
    ingress: gw-01
    exposed:
      - {address: 10.20.0.30, tcp: [443]}
    dhcp_servers: [10.20.0.1]
    ipv6_routers: []
  - name: internet
    classification: internet
    networks: [203.0.113.0/24]
devices:
  - name: ws-001
    kind: workstation
    asset_tag: BM-2026-0001
    custodian: 张三
    segment: secret-lan
    ip: 10.10.0.11
    mac: 02:00:00:00:0C:0B
  - name: gw-01
    kind: gateway
    interfaces:
      - {segment: office-lan, ip: 10.20.0.1, mac: 0200.0000.0d01}
      - {segment: internet, ip: 203.0.113.1}
transfers:
  - device: gw-01
    from: office-lan
    to: secret-lan
"""


def test_happy_path_both_device_forms(write):
    r = load_inventory([write(GOOD)])
    assert r.findings == []
    inv = r.inventory
    assert inv.organization.name == "示例审计局" and inv.organization.id == "EX-0001"
    assert [s.name for s in inv.segments] == ["secret-lan", "office-lan", "internet"]
    office = inv.segment("office-lan")
    assert office.networks == (IPNetwork("10.20.0.0/24"), IPNetwork("2001:db8:20::/64"))
    assert isinstance(office.networks[0], IPNetwork)
    assert office.ingress == "gw-01" and office.dhcp_servers == (IPAddress("10.20.0.1"),)
    assert office.ipv6_routers == () and inv.segment("secret-lan").dhcp_servers is None
    assert office.exposed[0].address == IPAddress("10.20.0.30") and office.exposed[0].tcp == (443,)
    ws = inv.device("ws-001")
    assert ws.asset_tag == "BM-2026-0001" and ws.custodian == "张三"
    assert ws.interfaces[0].segment == "secret-lan"
    assert isinstance(ws.interfaces[0].ip, IPAddress) and ws.interfaces[0].ip == IPAddress("10.10.0.11")
    assert ws.interfaces[0].mac == "02:00:00:00:0c:0b"
    gw = inv.device("gw-01")
    assert gw.segments == ("office-lan", "internet")
    assert gw.interfaces[0].mac == "02:00:00:00:0d:01" and gw.interfaces[1].mac is None
    assert inv.device_by_mac("02:00:00:00:0d:01")[0] is gw
    assert inv.canaries[0].tcp == (80, 443) and inv.canaries[0].udp == (53,) and inv.canaries[0].icmp
    assert inv.transfers[0].from_segment == "office-lan"
    assert inv.in_scope("10.20.0.77") and not inv.in_scope("192.0.2.1")
    assert len(inv.sha256) == 64 and inv.files[0].sha256


def test_locations_point_at_declarations(write):
    inv = load_inventory([write(GOOD)]).inventory
    loc = inv.device("ws-001").loc
    assert (loc.line, loc.column) == (26, 5)
    assert (inv.device("gw-01").interfaces[1].loc.line) == (37)
    assert inv.segment("internet").loc.to_json()["line"] == 22


@pytest.mark.parametrize("spelling", [
    "02:00:00:00:0c:0b", "02-00-00-00-0C-0B", "0200.0000.0c0b", "0200.0000.0C0B",
    "02:00:00:00:0C:0B", "2:0:0:0:c:b", "0200000c0c0b"[:0] + "020000000c0b"])
def test_mac_spellings_normalise(spelling):
    assert normalise_mac(spelling) == "02:00:00:00:0c:0b"


@pytest.mark.parametrize("bad", ["02:00:00:00:0c", "zz:00:00:00:00:00", "02:00:00:00:0c:0b:07",
                                 "0200.0000", "", "02:00-00:00:0c:0b"])
def test_bad_macs(bad):
    assert normalise_mac(bad) is None


def test_folder_means_every_yaml_below_sorted(tmp_path, write):
    write("version: 1\norganization: {name: 甲}\n", "b/2.yml")
    write("version: 1\nsegments: [{name: x, classification: internet, networks: [203.0.113.0/24]}]\n",
          "a/1.yaml")
    write("not: yaml: here: [", "a/notes.txt")
    r = load_inventory([tmp_path])
    assert [os.path.relpath(f.path, tmp_path) for f in r.inventory.files] == ["a/1.yaml", "b/2.yml"]
    assert r.findings == []


def test_missing_path_is_input_error(tmp_path):
    with pytest.raises(InputError) as e:
        load_inventory([tmp_path / "nope.yaml"])
    assert "nope.yaml" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError):
        load_inventory([tmp_path])               # a folder without YAML


def test_unreadable_file_is_input_error(write, monkeypatch):
    p = write(GOOD)

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("scanner.inventory.yamlsource.open", denied, raising=False)
    with pytest.raises(InputError) as e:
        load_inventory([p])
    assert "permission denied" in str(e.value)


def test_merge_across_files_and_cross_file_references(write):
    a = write("""
        version: 1
        organization: {name: 示例审计局}
        segments:
          - {name: lan, classification: classified, level: secret, networks: [10.0.0.0/24]}
        """, "a.yaml")
    b = write("""
        version: 1
        devices:
          - {name: pc, kind: workstation, asset_tag: T, custodian: 甲, segment: lan, ip: 10.0.0.5}
          - {name: pc2, kind: workstation, segment: lna, ip: 10.0.0.6}
        """, "b.yaml")
    r = load_inventory([a, b])
    assert r.inventory.device("pc").interfaces[0].segment == "lan"
    assert [(os.path.basename(f.location.file), f.location.line, f.location.column)
            for f in r.findings] == [("b.yaml", 4, 45)]
    assert "'lna'" in r.findings[0].evidence[0]["en"] and "did you mean 'lan'" in r.findings[0].evidence[0]["en"]
    # pc2 is kept, without its interface on an undeclared segment
    assert r.inventory.device("pc2").interfaces == ()


def test_duplicate_across_two_files_is_found(write):
    import checks.inv_duplicate as dup
    a = write("""
        version: 1
        organization: {name: 甲}
        segments: [{name: lan, classification: internet, networks: [203.0.113.0/24]}]
        devices: [{name: pc, kind: other, segment: lan, ip: 203.0.113.5}]
        """, "a.yaml")
    b = write("""
        version: 1
        devices:
          - {name: pc, kind: other, segment: lan, ip: 203.0.113.6}
        """, "b.yaml")
    r = load_inventory([a, b])
    fails = [f for f in dup.evaluate(r.inventory, {}) if f.status == Status.FAIL]
    assert len(fails) == 1
    assert (os.path.basename(fails[0].location.file), fails[0].location.line) == ("b.yaml", 3)
    assert "a.yaml:4:" in fails[0].evidence[0]["en"]


def test_conflicting_organizations(write):
    a = write("version: 1\norganization: {name: 甲}\n", "a.yaml")
    b = write("version: 1\norganization:\n  name: 乙\n", "b.yaml")
    r = load_inventory([a, b])
    assert [(os.path.basename(f.location.file), f.location.line) for f in r.findings] == [("b.yaml", 3)]


def test_lab_section_kept_raw_and_locatable(write):
    p = write(GOOD + "lab:\n  faults:\n    - {kind: dual-homed, device: ws-001}\n    - {kind: rogue-dhcp, ip: 10.20.0.66}\n")
    r = load_inventory([p])
    assert r.findings == []
    assert r.inventory.extras["lab"]["faults"][1]["ip"] == "10.20.0.66"
    loc = locate(p, ("lab", "faults", 1, "ip"))
    assert (loc.line, loc.column) == (45, 30)
    assert locate(p, ("lab", "faults", 1, "ip", KEY)).column == 26
    assert r.locate(p, ("lab", "faults", 0)).line == 44
    assert locate(p, ("lab", "nothing", 3)).line == 43         # nearest existing parent
    assert locate("/nonexistent/file.yaml", ("lab",)) is None


def test_example_unit_is_clean():
    assert EXAMPLE_FILES, "the example unit lives in inventories/*.yaml"
    r = load_inventory(EXAMPLE_FILES)
    assert r.findings == [], [(f.location, f.evidence) for f in r.findings]
    assert any(s.classified for s in r.inventory.segments)
    assert r.inventory.transfers


# --------------------------------------------------------------------------
# Schema problems: (yaml, line, column, piece of the English message)

HEAD = "version: 1\norganization: {name: 甲}\n"
SEG = HEAD + "segments:\n  - name: o\n    classification: non-classified\n    networks: [10.0.0.0/24]\n"
SCHEMA_CASES = {
    "unknown key with suggestion": (
        HEAD + "segments:\n  - name: a\n    classification: internet\n    netwroks: [203.0.113.0/24]\n    networks: [203.0.113.0/24]\n",
        6, 5, "unknown key 'netwroks' (did you mean 'networks'?)"),
    "unknown top-level key": (HEAD + "devcies: []\n", 3, 1, "unknown key 'devcies' (did you mean 'devices'?)"),
    "wrong type: list expected": (HEAD + "segments: {name: a}\n", 3, 11, "expected a list, got a mapping"),
    "wrong type: mapping expected": (HEAD + "segments:\n  - just-a-name\n", 4, 5, "expected a mapping"),
    "wrong type: number for text": (
        HEAD + "segments: [{name: a, classification: internet, networks: [203.0.113.0/24]}]\n"
        "devices:\n  - {name: 1234, kind: other, segment: a}\n", 5, 12, "must be text, got the number 1234"),
    "bad enum": (HEAD + "segments:\n  - {name: a, classification: secret, networks: [10.0.0.0/8]}\n",
                 4, 31, "'classification' is 'secret'"),
    "bad CIDR": (HEAD + "segments:\n  - name: a\n    classification: internet\n    networks: [10.0.0.0/33]\n",
                 6, 16, "invalid prefix length"),
    "CIDR with host bits": (HEAD + "segments:\n  - name: a\n    classification: internet\n    networks:\n      - 10.0.0.5/24\n",
                            7, 9, "host bits set (did you mean 10.0.0.0/24?)"),
    "bad IP": (HEAD + "segments: [{name: a, classification: internet, networks: [10.0.0.0/8]}]\n"
               "devices:\n  - name: x\n    kind: other\n    segment: a\n    ip: 10.0.0.256\n",
               8, 9, "'10.0.0.256' is not a valid IPv4/IPv6 address"),
    "bad MAC": (HEAD + "segments: [{name: a, classification: internet, networks: [10.0.0.0/8]}]\n"
                "devices:\n  - {name: x, kind: other, segment: a, mac: '02:00:00:zz:00:01'}\n",
                5, 45, "is not a valid MAC address"),
    "MAC read as a number": (HEAD + "segments: [{name: a, classification: internet, networks: [10.0.0.0/8]}]\n"
                             "devices:\n  - {name: x, kind: other, segment: a, mac: 020000000001}\n",
                             5, 45, "was read as a number (quote it)"),
    "unknown segment reference": (HEAD + "segments: [{name: a, classification: internet, networks: [10.0.0.0/8]}]\n"
                                  "devices:\n  - name: x\n    kind: other\n    interfaces:\n      - {segment: b, ip: 10.0.0.1}\n",
                                  8, 19, "names the segment 'b', which no file declares"),
    "unknown ingress device": (HEAD + "segments:\n  - {name: a, classification: non-classified, networks: [10.0.0.0/8], ingress: gw}\n",
                               4, 80, "names the device 'gw'"),
    "missing required key": (HEAD + "devices:\n  - kind: other\n    segment: a\n", 4, 5, "required key 'name' is missing"),
    "both device forms": (HEAD + "segments: [{name: a, classification: internet, networks: [10.0.0.0/8]}]\n"
                          "devices:\n  - name: x\n    kind: other\n    segment: a\n    interfaces: [{segment: a}]\n",
                          7, 5, "both the short form"),
    "classified without level": (HEAD + "segments:\n  - {name: s, classification: classified, networks: [10.0.0.0/8]}\n",
                                 4, 5, "needs 'level'"),
    "bad segment name": (HEAD + "segments:\n  - {name: Secret_LAN, classification: internet, networks: [10.0.0.0/8]}\n",
                         4, 12, "does not match"),
    "bad port": (HEAD + "canaries:\n  - name: c\n    address: 203.0.113.1\n    tcp: [80, 70000]\n", 6, 15, "a port must be"),
    "missing version": ("organization: {name: 甲}\n", 1, 1, "'version: 1' is missing"),
    "wrong version": ("version: 2\norganization: {name: 甲}\n", 1, 10, "unsupported version 2"),
    "not a mapping": ("- a\n- b\n", 1, 1, "expected a mapping"),
    "empty file": ("", 1, 1, "the file is empty"),
    "tab indentation": (HEAD + "segments:\n\t- name: a\n", 4, 1, "tab"),
    "bad indentation": (HEAD + "segments:\n  - name: a\n   classification: internet\n", 5, 4, "invalid YAML"),
    "unclosed bracket": (HEAD + "segments: [\n", 3, 11, "invalid YAML"),
    "duplicate key": (HEAD + "segments: []\ndevices: []\nsegments: []\n", 5, 1, "duplicate mapping key"),
    "two documents": (HEAD + "---\nversion: 1\n", 3, 1, "more than one YAML document"),
    "not UTF-8": (None, 3, 12, "not UTF-8"),
    "no organization anywhere": ("version: 1\n", 1, 1, "no file declares the 'organization'"),
    # the unit's public face (issue 17)
    "exposed with address and public": (
        SEG + "    exposed:\n      - {address: 10.0.0.5, public: 203.0.113.1, tcp: [443]}\n",
        8, 29, "give either 'address'"),
    "exposed to without public": (
        SEG + "    exposed:\n      - {address: 10.0.0.5, to: 10.0.0.6, tcp: [443]}\n",
        8, 29, "'to' goes with 'public'"),
    "exposed to_port for several ports": (
        SEG + "    exposed:\n      - {public: 203.0.113.1, to: 10.0.0.6, to_port: 22, tcp: [2222, 2223]}\n",
        8, 45, "'to_port' is for a forward of exactly one port"),
    "public range too large": (SEG + "    public: [203.0.0.0/16]\n", 7, 14, "is too large"),
    # SNMP read access for the identity step (issue 13)
    "snmp without a community": (SEG + "    snmp: {version: 2c}\n", 7, 11, "give exactly one of 'community'"),
    "snmp with both forms": (SEG + "    snmp: {community: ro, community_file: /etc/x}\n", 7, 11,
                             "give exactly one of 'community'"),
    "snmp version 1": (SEG + "    snmp: {version: 1, community: ro}\n", 7, 21, "SNMP version 1 is not supported"),
    "snmpv3 with a community": (SEG + "    snmp: {version: 3, community: ro}\n", 7, 24,
                                "SNMPv3 takes a user and keys, not 'community'"),
    "snmpv3 without a user": (SEG + "    snmp: {version: 3, auth_key_file: /a, priv_key_file: /p}\n", 7, 11,
                              "required key 'user' is missing"),
    "snmpv3 short key": (SEG + "    snmp: {version: 3, user: u, auth_key: short, priv: none}\n", 7, 43,
                         "at least 8 characters"),
    "snmpv3 bad protocol": (SEG + "    snmp: {version: 3, user: u, auth: MD5, auth_key_file: /a, priv: none}\n",
                            7, 39, "'auth' is 'MD5'"),
    "snmp v2c with a v3 key": (SEG + "    snmp: {community: ro, user: u}\n", 7, 27,
                               "'user' belongs to SNMPv3"),
    "snmp unknown key": (SEG + "    snmp: {comunity: ro}\n", 7, 12, "unknown key 'comunity' (did you mean 'community'?)"),
    "public on a classified segment": (
        HEAD + "segments:\n  - {name: s, classification: classified, level: secret, "
        "networks: [10.0.0.0/8], public: [203.0.113.0/29]}\n",
        4, 82, "only a non-classified segment declares 'public'"),
}


@pytest.mark.parametrize("name", sorted(SCHEMA_CASES))
def test_schema_problem_location(name, tmp_path):
    body, line, col, piece = SCHEMA_CASES[name]
    p = tmp_path / "inv.yaml"
    if body is None:
        p.write_bytes(HEAD.encode() + b"segments: [\xff\xfe]\n")
    else:
        p.write_text(body, encoding="utf-8")
    r = load_inventory([p])
    assert r.findings, name
    hits = [f for f in r.findings if piece in f.evidence[0]["en"]]
    assert hits, [f.evidence[0]["en"] for f in r.findings]
    f = hits[0]
    assert f.check_id == "INV-SCHEMA" and f.status == Status.FAIL
    assert (f.location.file, f.location.line, f.location.column) == (str(p), line, col), \
        f.evidence[0]["en"]
    assert f.evidence[0]["zh-CN"]


BOMB = """
version: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_refused_fast(write):
    p = write(BOMB)
    t = time.monotonic()
    r = load_inventory([p])
    assert time.monotonic() - t < 1.0
    assert r.inventory is None
    assert len(r.findings) == 1 and "aliases expand too far" in r.findings[0].evidence[0]["en"]


def test_quadratic_alias_fanout_refused_fast(write):
    # wide rather than deep: one anchor replayed a million times
    body = "version: 1\nx: &x [" + ",".join(["1"] * 1000) + "]\ny: [" + ",".join(["*x"] * 1000) + "]\n"
    t = time.monotonic()
    r = load_inventory([write(body)])
    assert time.monotonic() - t < 1.0 and r.inventory is None


def test_file_over_size_cap(write):
    p = write(GOOD)
    r = load_inventory([p], max_bytes=100)
    assert r.inventory is None
    f = r.findings[0]
    assert (f.location.line, f.location.column) == (1, 1) and "too large" in f.evidence[0]["en"]


def test_size_cap_from_environment(write, monkeypatch):
    monkeypatch.setenv("ISOSCAN_MAX_INVENTORY_BYTES", "50")
    assert "too large" in load_inventory([write(GOOD)]).findings[0].evidence[0]["en"]


def test_one_bad_file_does_not_hide_the_others(write):
    good = write(GOOD, "a.yaml")
    bad = write("version: 1\nsegments: [\n", "b.yaml")
    r = load_inventory([good, bad])
    assert r.inventory is not None and r.inventory.device("gw-01")
    assert [os.path.basename(f.location.file) for f in r.findings] == ["b.yaml"]
