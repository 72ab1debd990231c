"""DHCP clients heard on the link (scanner/probes/dhcpclients.py) and their
DUIDs as identities (scanner.identity.with_duids): frames built by scapy,
read by our byte parser; hostile frames read as nothing."""
from __future__ import annotations

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import DHCP6_Solicit, DHCP6OptClientId, DHCP6OptIA_NA, DUID_LLT
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from scanner import identity as I
from scanner.probes.dhcpclients import Clients, client

MAC = "02:bb:00:00:00:68"
DUID = bytes(DUID_LLT(lladdr="02:00:00:00:1a:0c", timeval=0x2c5f0a11))


def _solicit(duid=DUID, src_mac=MAC):
    return bytes(Ether(src=src_mac, dst="33:33:00:01:00:02") / IPv6(src="fe80::bb:ff:fe00:68", dst="ff02::1:2")
                 / UDP(sport=546, dport=547) / DHCP6_Solicit(trid=7)
                 / DHCP6OptClientId(duid=DUID_LLT(duid)) / DHCP6OptIA_NA(iaid=1))


def _discover(client_id: bytes):
    return bytes(Ether(src=MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                 / UDP(sport=68, dport=67) / BOOTP(chaddr=bytes.fromhex(MAC.replace(":", "")))
                 / DHCP(options=[("message-type", "discover"), ("client_id", client_id), "end"]))


def test_a_dhcpv6_solicit_names_its_client_and_duid():
    assert client(_solicit()) == {"proto": "dhcpv6", "mac": MAC, "ip": "fe80::bb:ff:fe00:68",
                                  "duid": DUID.hex()}


def test_a_dhcpv4_request_with_an_rfc4361_client_identifier():
    got = client(_discover(b"\xff" + b"\x00\x00\x00\x01" + DUID))
    assert got == {"proto": "dhcpv4", "mac": MAC, "ip": None, "duid": DUID.hex()}
    # a plain client identifier (type 1: the MAC) says nothing discovery does not
    assert client(_discover(b"\x01" + bytes.fromhex(MAC.replace(":", "")))) is None


def test_own_frames_servers_and_hostile_frames_are_no_clients():
    assert client(_solicit(), frozenset({MAC})) is None
    raw = _solicit()
    for bad in (raw[:60], raw[:70], b"", b"\x00" * 14, raw[:62] + b"\x01\x00\x00\x07\x00\x01\xff\xff"):
        assert client(bad) is None
    advertise = bytearray(raw)
    advertise[62] = 2                       # a server's Advertise, not a client
    assert client(bytes(advertise)) is None
    huge = _solicit(duid=b"\x00\x02" + b"x" * 200)
    assert client(huge) is None             # longer than any DUID (RFC 8415: 130 octets)


def test_clients_are_kept_once_and_bounded():
    c = Clients()
    for _ in range(5):
        c.feed(_solicit())
    assert len(c.to_json()) == 1 and c.to_json()[0]["count"] == 5
    for i in range(300):
        c.feed(_solicit(src_mac=f"02:cc:00:00:{i // 256:02x}:{i % 256:02x}"))
    assert len(c.to_json()) == 256 and c.truncated


def test_duids_join_the_identity_section_named_by_the_station_address():
    sec = {"status": "ok", "identities": [], "clones": []}
    dhcp = {"clients": [{"proto": "dhcpv6", "mac": MAC, "ip": "fe80::bb:ff:fe00:68", "duid": DUID.hex()}]}
    disc = {"hosts": [{"ip": "10.40.0.68", "mac": MAC}]}
    out = I.with_duids(sec, dhcp, disc)
    assert out is not sec and sec["identities"] == []
    (r,) = out["identities"]
    assert (r["ip"], r["mac"], r["kind"], r["strength"]) == ("10.40.0.68", MAC, "dhcpv6-duid", "medium")
    assert I.with_duids({"status": "error"}, dhcp) == {"status": "error"}
    assert I.with_duids(sec, {"clients": []}) is sec


def test_one_duid_on_three_stations_is_a_clone_lowered_to_weak():
    sec = {"status": "ok", "identities": [], "clones": []}
    dhcp = {"clients": [{"proto": "dhcpv6", "mac": f"02:cc:00:00:00:0{i}", "ip": None,
                         "duid": DUID.hex()} for i in range(3)]}
    out = I.with_duids(sec, dhcp)
    assert {r["strength"] for r in out["identities"]} == {"weak"} and out["clones"][0]["stations"] == 3
