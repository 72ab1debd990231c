"""End to end (issue 13): one host on two segments, found by its host key.

inventories/lab/identity.yaml seeds a classified workstation with a second
card on the office network that neither forwards nor answers ARP for its
classified address there (arp_ignore=1), running a real sshd with one host
key on both cards (and the same card again, known only by the NetBIOS name
a responder gives on both: "probable"); and a cloned disk image (one host key) on four machines,
one of them classified. Each lab is scanned from probe-secret and
probe-office at once, and the two bundles are merged as `isoscan report`
merges them. The dual-homed workstation is exactly one critical ISO-BRIDGE
naming ws-002; the clones are a notice at most; the clean unit has nothing
failing. A capture of the office segment shows the identity step asked only
the stations discovery found, on the declared ports (SNMP only where the
segment declares read access).
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

import scanlib  # tests/e2e is on sys.path (rootdir-relative, no package)
from lab_support import REPO, require_root, unique_lab_name

pytestmark = pytest.mark.lab

LABFILE = REPO / "inventories" / "lab" / "identity.yaml"
VANTAGES = ("probe-secret", "probe-office")
_CACHE: dict = {}


def require_tool(path: str, package: str) -> None:
    """A real daemon of Debian's the lab runs (./scripts/setup --tests installs it)."""
    import os
    if os.path.exists(path):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{path} is missing: ./scripts/setup --tests installs {package}")
    pytest.skip(f"{path} is missing (apt-get install {package})")


def require_sshd() -> None:
    from scanner.lab.faults import SSHD
    require_tool(SSHD, "openssh-server")


def require_snmpd() -> None:
    from scanner.lab.faults import SNMPD
    require_tool(SNMPD, "snmpd")


def _inventory():
    from scanner.inventory.load import load_inventory
    return load_inventory([str(LABFILE)]).inventory


def _faults():
    from scanner import lab as L
    _inv, spec, _files = L.load(LABFILE)
    return {f.id: f for f in spec.faults}


def run(faults: tuple[str, ...]) -> dict:
    """{"bundles": {vantage: (rc, bundle, out)}, "merged": report bundle,
    "packets": the office segment's capture} of a lab with `faults` (cached)."""
    if faults in _CACHE:
        return _CACHE[faults]
    require_root()
    require_sshd()
    from scanner import lab as L
    from scanner.report.merge import merge
    name = unique_lab_name("id")
    try:
        lab = L.up(LABFILE, faults=list(faults), name=name)
        cap = scanlib.Capture(lab.netns("probe-office"))
        try:
            with ThreadPoolExecutor(len(VANTAGES)) as ex:
                got = dict(zip(VANTAGES, ex.map(lambda v: scanlib.scan(lab, v), VANTAGES)))
        finally:
            cap.stop()
        import scapy.layers.inet  # noqa: F401 -- rdpcap decodes only the layers loaded
        import scapy.layers.inet6  # noqa: F401
        import scapy.layers.l2  # noqa: F401
        packets = cap.packets()
    finally:
        L.down(name)
    for v, (_rc, b, out) in got.items():
        assert b is not None, (v, out[-3000:])
    merged = merge([got[v][1] for v in VANTAGES], inventory=_inventory(), lang="en")
    _CACHE[faults] = {"bundles": got, "merged": merged, "packets": packets}
    return _CACHE[faults]


def _failing(findings, notices=False):
    return [f for f in findings if f["status"] == "fail" and (notices or f["severity"] != "info")]


def _matches(e: dict, f: dict) -> bool:
    s = f["subject"]
    return (f["check_id"] == e["check"] and s["ip"] == e.get("ip", s["ip"])
            and s["mac"] == e.get("mac", s["mac"]) and s["device"] == e.get("device", s["device"]))


def test_clean_unit_has_nothing_failing_even_merged():
    got = run(())
    for v, (rc, bundle, out) in got["bundles"].items():
        bad = [(f["check_id"], f["subject"]) for f in bundle["findings"]
               if f["status"] in ("fail", "error")]
        assert bad == [] and rc == 0, (v, bad, out[-2000:])
        assert bundle["observations"]["identity"]["status"] == "ok", v
    bad = [(f["check_id"], f["subject"], f["evidence"]) for f in got["merged"]["findings"]
           if f["status"] in ("fail", "error")]
    assert bad == []


def test_dual_homed_workstation_is_one_critical_bridge_in_the_merged_report():
    got = run(("ws-two-cards",))
    office = got["bundles"]["probe-office"][1]
    # alone, no vantage can see it: no forwarding, no ARP answer for 10.30.0.12 on the office
    for v, (_rc, bundle, _out) in got["bundles"].items():
        assert not [f for f in _failing(bundle["findings"]) if f["check_id"] == "ISO-BRIDGE"], v
    keys = {r["value"] for r in office["observations"]["identity"]["identities"]
            if r["kind"] == "ssh-host-key" and r["ip"] == "10.40.0.66"}
    assert len(keys) == 1
    m = got["merged"]
    crit = [f for f in _failing(m["findings"]) if f["check_id"] == "ISO-BRIDGE"]
    assert len(crit) == 1, crit
    (f,) = crit
    assert f["severity"] == "critical" and f["segment"] == "secret-lan"
    assert f["subject"] == {"ip": "10.30.0.12", "mac": "02:00:00:00:1a:0c", "device": "ws-002"}
    ev = "\n".join(f["evidence"])
    assert "10.40.0.66" in ev and "02:bb:00:00:00:66" in ev and keys.pop() in ev
    # and the lab file's expectations, merged and per vantage; nothing else fails
    fault = _faults()["ws-two-cards"]
    for e in fault.expect:
        where = m["findings"] if e.get("merged") else got["bundles"][e["vantage"]][1]["findings"]
        assert any(_matches(e, x) for x in _failing(where, notices=True)), e
    others = [(x["check_id"], x["subject"]) for x in _failing(m["findings"], notices=True)
              if not any(_matches(e, x) for e in fault.expect)]
    assert others == []


def test_dual_homed_known_by_its_netbios_name_is_a_probable_critical_bridge():
    got = run(("ws-two-cards-netbios",))
    secret = got["bundles"]["probe-secret"][1]["observations"]["identity"]["identities"]
    assert {(r["ip"], r["kind"], r["value"]) for r in secret} == \
        {("10.30.0.12", "netbios-name", "WS-002"),            # nmbd's zero MAC is no identity
         ("10.30.0.12", "mdns-name", "ws-002.local"), ("10.30.0.12", "llmnr-name", "ws-002.local")}
    m = got["merged"]
    (f,) = [f for f in _failing(m["findings"]) if f["check_id"] == "ISO-BRIDGE"]
    assert f["severity"] == "critical" and f["subject"]["device"] == "ws-002"
    assert f["evidence"][0].startswith("probably one host")
    fault = _faults()["ws-two-cards-netbios"]
    others = [(x["check_id"], x["subject"]) for x in _failing(m["findings"], notices=True)
              if not any(_matches(e, x) for e in fault.expect)]
    assert others == []


def test_dual_homed_known_by_its_dhcp_duid_is_a_probable_critical_bridge():
    """ws-002 asks DHCP on both cards with one DUID: the DHCP window of each
    vantage hears it, the identity section keeps it (medium), and the merged
    report joins the two sightings: probable, critical."""
    got = run(("ws-two-cards-dhcp",))
    office = got["bundles"]["probe-office"][1]["observations"]
    heard = {(c["proto"], c["mac"]) for c in office["dhcp"]["clients"]}
    assert heard == {("dhcpv6", "02:bb:00:00:00:68"), ("dhcpv4", "02:bb:00:00:00:68")}, heard
    duids = {r["value"] for r in office["identity"]["identities"] if r["kind"] == "dhcpv6-duid"}
    secret = got["bundles"]["probe-secret"][1]["observations"]["identity"]["identities"]
    assert duids and duids == {r["value"] for r in secret if r["kind"] == "dhcpv6-duid"}
    assert {r["strength"] for r in secret if r["kind"] == "dhcpv6-duid"} == {"medium"}
    m = got["merged"]
    (f,) = [f for f in _failing(m["findings"]) if f["check_id"] == "ISO-BRIDGE"]
    assert f["severity"] == "critical" and f["subject"]["device"] == "ws-002"
    assert f["evidence"][0].startswith("probably one host"), f["evidence"]
    fault = _faults()["ws-two-cards-dhcp"]
    for e in fault.expect:
        where = m["findings"] if e.get("merged") else got["bundles"][e["vantage"]][1]["findings"]
        assert any(_matches(e, x) for x in _failing(where, notices=True)), e
    others = [(x["check_id"], x["subject"]) for x in _failing(m["findings"], notices=True)
              if not any(_matches(e, x) for e in fault.expect)]
    assert others == []


def test_dual_homed_reporting_its_cards_over_snmp_is_a_critical_bridge():
    """ws-002's snmpd answers the office vantage (office-lan declares SNMP read
    access) with the MACs of both its cards: its classified card's MAC, which
    the classified vantage's discovery saw, joins the two: strong, critical."""
    require_snmpd()
    got = run(("ws-two-cards-snmp",))
    office = got["bundles"]["probe-office"][1]["observations"]["identity"]
    mine = {(r["kind"], r["value"]) for r in office["identities"] if r["ip"] == "10.40.0.69"}
    assert ("snmp-ifmac", "02:00:00:00:1a:0c") in mine and ("snmp-sysname", "ws-002") in mine, mine
    assert 161 in office["ports"]["udp"]
    secret = got["bundles"]["probe-secret"][1]["observations"]["identity"]
    assert 161 not in secret["ports"]["udp"]          # secret-lan declares no SNMP access
    m = got["merged"]
    (f,) = [f for f in _failing(m["findings"]) if f["check_id"] == "ISO-BRIDGE"]
    assert f["severity"] == "critical"
    assert f["subject"] == {"ip": "10.30.0.12", "mac": "02:00:00:00:1a:0c", "device": "ws-002"}
    assert not f["evidence"][0].startswith("probably"), f["evidence"]
    fault = _faults()["ws-two-cards-snmp"]
    others = [(x["check_id"], x["subject"]) for x in _failing(m["findings"], notices=True)
              if not any(_matches(e, x) for e in fault.expect)]
    assert others == []


def test_snmpv3_with_auth_and_privacy_reads_the_same(tmp_path):
    """The same lab with office-lan declaring SNMPv3 (SHA + AES) and the agent
    knowing only that user: the cards' MACs come back authenticated and
    encrypted, and the merged report finds the bridge as over v2c."""
    require_root()
    require_sshd()
    require_snmpd()
    from scanner import lab as L
    from scanner.inventory.load import load_inventory
    from scanner.report.merge import merge
    body = LABFILE.read_text(encoding="utf-8")
    v3 = ("snmp: {version: 3, user: isoscan, auth: SHA, auth_key: lab-auth-key-1, priv: AES, "
          "priv_key: lab-priv-key-1}")
    assert "snmp: {community: isoscan-lab-ro}" in body and "      community: isoscan-lab-ro\n" in body
    body = body.replace("snmp: {community: isoscan-lab-ro}", v3).replace(
        "      community: isoscan-lab-ro\n",
        "      user: isoscan\n      auth_key: lab-auth-key-1\n      priv_key: lab-priv-key-1\n")
    labfile = tmp_path / "identity-v3.yaml"
    labfile.write_text(body, encoding="utf-8")
    name = unique_lab_name("id3")
    try:
        lab = L.up(labfile, faults=["ws-two-cards-snmp"], name=name)
        with ThreadPoolExecutor(len(VANTAGES)) as ex:
            got = dict(zip(VANTAGES, ex.map(lambda v: scanlib.scan(lab, v),
                                            VANTAGES)))
    finally:
        L.down(name)
    for v, (_rc, b, out) in got.items():
        assert b is not None, (v, out[-3000:])
    office = got["probe-office"][1]["observations"]["identity"]
    assert "SNMPv3" in office["method"] and "lab-auth-key-1" not in json.dumps(got["probe-office"][1])
    mine = {(r["kind"], r["value"]) for r in office["identities"] if r["ip"] == "10.40.0.69"}
    assert ("snmp-ifmac", "02:00:00:00:1a:0c") in mine, (mine, office.get("udp_error"))
    m = merge([got[v][1] for v in VANTAGES], inventory=load_inventory([str(labfile)]).inventory,
              lang="en")
    (f,) = [f for f in _failing(m["findings"]) if f["check_id"] == "ISO-BRIDGE"]
    assert f["severity"] == "critical" and f["subject"]["device"] == "ws-002"


def test_hostile_station_is_bounded_and_escaped():
    """1 MiB banner and no key, a TLS handshake that trickles, NBSTAT names of
    NULs and bidi characters: the step ends within its timeouts, the bundle
    stays small, the report shows the names escaped."""
    import json
    from scanner.report.render import render_report
    got = run(("hostile-station",))
    rc, office, out = got["bundles"]["probe-office"]
    sec = office["observations"]["identity"]
    assert sec["status"] == "ok", sec
    assert sec["seconds"] < 20, sec["seconds"]            # --script-timeout 8s bounds it
    mine = [r for r in sec["identities"] if r["ip"] == "10.40.0.99"]
    assert all(r["kind"] in ("netbios-name", "netbios-mac") for r in mine), mine
    assert [r["value"][:4] for r in mine if r["kind"] == "netbios-name"] == ["EVIL"], mine
    assert all(len(r["value"]) <= 128 and "\x00" not in r["value"] for r in mine)
    assert len(json.dumps(sec)) < 20_000
    html = render_report([got["bundles"][v][1] for v in VANTAGES], "en", inventory=_inventory())
    assert "\u202e" not in html and "\x1b" not in html
    fault = _faults()["hostile-station"]
    (e,) = fault.expect
    assert any(_matches(e, f) for f in _failing(office["findings"]))


def require_dropbear() -> None:
    from scanner.lab.faults import DROPBEAR
    require_tool(DROPBEAR, "dropbear-bin")


OWN_KEYS = ("own-keys-openssh", "own-keys-openssh-rsa", "own-keys-dropbear",
            "own-keys-dropbear-rsa")


def test_dropbear_dual_homed_is_a_critical_bridge_and_own_keys_are_never_linked():
    """Issue 24: ws-002 runs dropbear (forwarding off, arp_ignore=1) with one
    set of ed25519, ECDSA and RSA keys on both cards: the merged report has
    exactly one critical ISO-BRIDGE naming it. Beside it, unrelated hosts
    with keys of their own, OpenSSH and dropbear each with only an ECDSA or
    only an RSA key (one of them classified): each key is read (ssh-keyscan
    asks ed25519, then ECDSA, then RSA), none is linked."""
    require_dropbear()
    got = run(("ws-two-cards-dropbear", *OWN_KEYS))
    office = got["bundles"]["probe-office"][1]["observations"]["identity"]
    secret = got["bundles"]["probe-secret"][1]["observations"]["identity"]

    def keys(sec, ip):
        return {r["detail"]: r["value"] for r in sec["identities"]
                if r["ip"] == ip and r["kind"] == "ssh-host-key"}
    want = [(office, "10.40.0.70", "ssh-ed25519"),           # dropbear, three keys
            (secret, "10.30.0.12", "ssh-ed25519"),
            (office, "10.40.0.21", "ecdsa-sha2-nistp256"),   # OpenSSH, ECDSA only
            (secret, "10.30.0.11", "ssh-rsa"),               # OpenSSH, RSA only
            (office, "10.40.0.22", "ecdsa-sha2-nistp256"),   # dropbear, ECDSA only
            (office, "10.40.0.23", "ssh-rsa")]               # dropbear, RSA only
    for sec, ip, typ in want:
        assert set(keys(sec, ip)) == {typ}, (ip, keys(sec, ip), sec["unread"])
    assert office["unread"] == [] and secret["unread"] == []
    assert keys(office, "10.40.0.70") == keys(secret, "10.30.0.12")      # one host, both cards
    assert "ssh-keyscan" in office["method"]
    m = got["merged"]
    crit = [f for f in _failing(m["findings"]) if f["check_id"] == "ISO-BRIDGE"]
    assert len(crit) == 1, [(f["subject"], f["evidence"][:2]) for f in crit]
    (f,) = crit
    assert f["severity"] == "critical"
    assert f["subject"] == {"ip": "10.30.0.12", "mac": "02:00:00:00:1a:0c", "device": "ws-002"}
    assert "10.40.0.70" in "\n".join(f["evidence"])
    expects = [e for n in ("ws-two-cards-dropbear", *OWN_KEYS)
               for e in _faults()[n].expect if e.get("status", "fail") == "fail"]
    others = [(x["check_id"], x["subject"]) for x in _failing(m["findings"], notices=True)
              if not any(_matches(e, x) for e in expects)]
    assert others == []


def test_an_ssh_port_that_gives_no_key_is_said_and_counted():
    """The hostile station's SSH port answers with junk and no key: recorded in
    `unread` with the reason, counted among the stations not identified, and
    the merged ISO-BRIDGE pass says so (a silent failure is never "no shared
    identity")."""
    got = run(("hostile-station",))
    office = got["bundles"]["probe-office"][1]["observations"]["identity"]
    (u,) = [u for u in office["unread"] if u["ip"] == "10.40.0.99" and u["proto"] == "ssh"]
    assert u["port"] == 22 and u["reason"], u
    m = got["merged"]
    passes = [f for f in m["findings"] if f["check_id"] == "ISO-BRIDGE" and f["status"] == "pass"]
    assert passes
    text = "\n".join(e for f in passes for e in f["evidence"])
    assert "could not be identified" in text and "10.40.0.99:22/ssh" in text, text


def test_cloned_image_is_no_bridge():
    got = run(("office-clones",))
    m = got["merged"]
    assert not [f for f in _failing(m["findings"]) if f["check_id"] == "ISO-BRIDGE"]
    notes = [f for f in _failing(m["findings"], notices=True) if f["check_id"] == "ISO-BRIDGE"]
    assert notes and all(f["severity"] == "info" for f in notes)
    for e in _faults()["office-clones"].expect:
        assert any(_matches(e, x) for x in notes), e
    office = got["bundles"]["probe-office"][1]["observations"]["identity"]
    assert office["clones"] and office["clones"][0]["stations"] == 3
    assert {r["strength"] for r in office["identities"] if r["kind"] == "ssh-host-key"} == {"weak"}
    assert m["summary"]["verdict"] == "compliant", [(f["check_id"], f["severity"])
                                                    for f in _failing(m["findings"])]


def test_identity_step_asks_only_found_stations_on_declared_ports():
    """Scope: on the office segment, every TCP/UDP packet the probe sent to
    an address of its own segment went to a station discovery found, on 22,
    443 or UDP 137, 5353, 5355 (and everything it sent anywhere was in scope)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    got = run(("ws-two-cards",))
    inv = _inventory()
    office = got["bundles"]["probe-office"][1]
    me = office["vantage"]["mac"]
    found = {h["ip"] for h in office["observations"]["discovery"]["hosts"]}
    assert scanlib.out_of_scope(got["packets"], inv, {me}) == []
    seg = inv.segment("office-lan")
    asked = set()
    for p in got["packets"]:
        if Ether not in p or p[Ether].src.lower() != me or IP not in p:
            continue
        dst = p[IP].dst
        if not seg.contains(dst):
            continue
        if TCP in p:
            assert dst in found and p[TCP].dport in (22, 443), p.summary()
            asked.add((dst, "tcp", p[TCP].dport))
        elif UDP in p:
            # 161: office-lan declares SNMP read access (`snmp:` in the lab file)
            assert dst in found and p[UDP].dport in (137, 161, 5353, 5355), p.summary()
            asked.add((dst, "udp", p[UDP].dport))
    assert ("10.40.0.66", "tcp", 22) in asked
