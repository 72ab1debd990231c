"""Parsing DHCP offers and router advertisements: no network, hostile input."""
from __future__ import annotations

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import (IPv6, ICMPv6ND_RA, ICMPv6NDOptDNSSL, ICMPv6NDOptPrefixInfo,
                                ICMPv6NDOptRDNSS, ICMPv6NDOptSrcLLAddr)
from scapy.layers.l2 import Ether

from scanner.probes import dhcp, ra


def offer(xid=7, mtype="offer", **opts):
    options = [("message-type", mtype), ("server_id", "10.0.0.9")]
    options += list(opts.items()) + ["end"]
    raw = bytes(Ether(src="02:AA:00:00:00:09", dst="ff:ff:ff:ff:ff:ff")
                / IP(src="10.0.0.9", dst="255.255.255.255") / UDP(sport=67, dport=68)
                / BOOTP(op=2, xid=xid, yiaddr="10.0.0.150") / DHCP(options=options))
    return Ether(raw)


def test_offer_fields_and_hostile_strings_are_plain_data():
    p = offer(router="10.0.0.9", name_server="10.0.0.53", lease_time=600,
              hostname=b"<script>alert(1)</script>\x1b[31m\x00",
              domain=b"\xff\xfeevil\nexample")
    o = dhcp.parse_offer(p, 7)
    assert o["server_id"] == "10.0.0.9" and o["src_mac"] == "02:aa:00:00:00:09"
    assert o["router"] == ["10.0.0.9"] and o["dns"] == ["10.0.0.53"] and o["lease"] == 600
    # kept as text, control characters escaped, never interpreted
    assert o["hostname"] == "<script>alert(1)</script>\\x1b[31m"
    assert "\n" not in o["domain"] and "\\n" in o["domain"]


def test_other_transactions_and_message_types_are_ignored():
    assert dhcp.parse_offer(offer(xid=8), 7) is None
    assert dhcp.parse_offer(offer(mtype="ack"), 7) is None


def test_long_strings_are_capped():
    assert len(dhcp.safe_text("x" * 10000)) == dhcp.MAX_TEXT


def test_advert_fields():
    raw = bytes(Ether(src="02:bb:00:00:00:01", dst="33:33:00:00:00:01")
                / IPv6(src="fe80::1", dst="ff02::1", hlim=255)
                / ICMPv6ND_RA(routerlifetime=900, M=1)
                / ICMPv6NDOptSrcLLAddr(lladdr="02:cc:00:00:00:01")
                / ICMPv6NDOptPrefixInfo(prefix="2001:db8::", prefixlen=64,
                                        validlifetime=100, preferredlifetime=50)
                / ICMPv6NDOptRDNSS(dns=["2001:db8::53"], lifetime=30)
                / ICMPv6NDOptDNSSL(searchlist=["bad\x07.example"]))
    a = ra.parse_advert(Ether(raw))
    assert a["src_ip"] == "fe80::1"
    assert a["src_mac"] == "02:cc:00:00:00:01" and a["eth_src"] == "02:bb:00:00:00:01"
    assert a["router_lifetime"] == 900 and a["managed"] is True
    assert a["prefixes"] == [{"prefix": "2001:db8::/64", "valid": 100, "preferred": 50,
                              "on_link": True, "autonomous": True}]
    assert a["rdnss"] == ["2001:db8::53"] and a["rdnss_lifetime"] == 30
    assert all(ch.isprintable() for ch in "".join(a["dnssl"]))


def test_merge_unions_active_and_passive():
    active = {"status": "ok", "error": None, "adverts": [
        {"src_ip": "fe80::1", "src_mac": "02:00:00:00:00:01", "seen": ["solicited"], "count": 1}]}
    passive = [{"src_ip": "fe80::1", "src_mac": "02:00:00:00:00:01", "seen": ["passive"], "count": 2},
               {"src_ip": "fe80::2", "src_mac": "02:00:00:00:00:02", "seen": ["passive"], "count": 1}]
    m = ra.merge(active, passive)
    assert m["status"] == "ok"
    by = {a["src_ip"]: a for a in m["adverts"]}
    assert by["fe80::1"]["seen"] == ["solicited", "passive"] and by["fe80::1"]["count"] == 3
    assert by["fe80::2"]["seen"] == ["passive"]


def test_link_local_skips_tentative(tmp_path):
    f = tmp_path / "if_inet6"
    f.write_text("fe800000000000000000000000000001 02 40 20 c0 eth0\n"   # tentative
                 "fe800000000000000000000000000002 02 40 20 80 eth0\n"
                 "20010db8000000000000000000000001 02 40 00 80 eth0\n")
    assert ra.link_local("eth0", str(f)) == "fe80::2"
    assert ra.link_local("eth1", str(f)) is None


def test_client_mac_choice(monkeypatch):
    monkeypatch.delenv("ISOSCAN_DHCP_CLIENT_MAC", raising=False)
    assert dhcp.client_mac_for("eth0") == dhcp.CLIENT_MAC == "02:69:73:6f:73:63"
    monkeypatch.setenv("ISOSCAN_DHCP_CLIENT_MAC", "02-AB-00-00-00-01")
    assert dhcp.client_mac_for("eth0") == "02:ab:00:00:00:01"
    assert dhcp.client_mac_for("eth0", "02:00:00:00:00:09") == "02:00:00:00:00:09"
    import pytest
    for bad in ("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "not-a-mac"):
        with pytest.raises(ValueError):
            dhcp.client_mac_for("eth0", bad)



def test_dhcpv6_advertise_fields():
    from scapy.layers.dhcp6 import (DUID_LL, DHCP6_Advertise, DHCP6OptDNSDomains,
                                    DHCP6OptDNSServers, DHCP6OptIA_NA, DHCP6OptIAAddress,
                                    DHCP6OptServerId)
    raw = bytes(Ether(src="02:aa:00:00:00:66", dst="02:00:00:00:99:01")
                / IPv6(src="fe80::66", dst="fe80::99:1") / UDP(sport=547, dport=546)
                / DHCP6_Advertise(trid=5)
                / DHCP6OptServerId(duid=DUID_LL(lladdr="02:aa:00:00:00:66"))
                / DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr="2001:db8::9", validlft=300)])
                / DHCP6OptDNSServers(dnsservers=["fe80::66"])
                / DHCP6OptDNSDomains(dnsdomains=["corp.example."]))
    o = dhcp.parse_advertise(Ether(raw), 5)
    assert o["version"] == 6 and o["src_ip"] == "fe80::66" and o["src_mac"] == "02:aa:00:00:00:66"
    assert o["server_id"] == "00:03:00:01:02:aa:00:00:00:66"
    assert o["yiaddr"] == "2001:db8::9" and o["lease"] == 300 and o["dns"] == ["fe80::66"]
    assert o["domain"] == "corp.example." and o["router"] == []
    assert dhcp.parse_advertise(Ether(raw), 6) is None


def test_discover_and_solicit_are_byte_for_byte_what_scapy_builds():
    """The probe builds its frames with struct (its window opens without
    waiting for scapy's import): the same bytes scapy built before."""
    from scapy.layers.dhcp6 import (DUID_LL, DHCP6_Solicit, DHCP6OptClientId,
                                    DHCP6OptElapsedTime, DHCP6OptIA_NA, DHCP6OptOptReq)
    for mac, xid in ((dhcp.CLIENT_MAC, 0x12345678), ("02:00:00:70:00:02", 1)):
        m = bytes.fromhex(mac.replace(":", ""))
        ref = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
               / UDP(sport=68, dport=67)
               / BOOTP(op=1, chaddr=m + b"\x00" * 10, xid=xid, flags=0x8000)
               / DHCP(options=[("message-type", "discover"), ("client_id", b"\x01" + m),
                               ("vendor_class_id", dhcp.VENDOR_CLASS),
                               ("param_req_list", [1, 3, 6, 12, 15, 51, 54]), "end"]))
        assert dhcp._discover(xid, mac) == bytes(ref)
        ref6 = (Ether(src="02:00:00:70:00:02", dst=dhcp.ALL_DHCP6_MAC)
                / IPv6(src="fe80::1:2", dst=dhcp.ALL_DHCP6, hlim=1) / UDP(sport=546, dport=547)
                / DHCP6_Solicit(trid=xid & 0xFFFFFF) / DHCP6OptClientId(duid=DUID_LL(lladdr=mac))
                / DHCP6OptElapsedTime() / DHCP6OptIA_NA(iaid=0x69736f)
                / DHCP6OptOptReq(reqopts=[23, 24]))
        assert dhcp._solicit(xid & 0xFFFFFF, "fe80::1:2", "02:00:00:70:00:02", mac) == bytes(ref6)


def test_received_frames_are_dissected_with_every_dhcp_layer():
    """An offer read as bytes off the capture socket parses as before."""
    offer = (Ether(src="02:00:00:70:00:01", dst="ff:ff:ff:ff:ff:ff")
             / IP(src="10.77.0.1", dst="255.255.255.255") / UDP(sport=67, dport=68)
             / BOOTP(op=2, xid=7, yiaddr="10.77.0.100")
             / DHCP(options=[("message-type", "offer"), ("server_id", "10.77.0.1"), "end"]))
    got = dhcp.parse_offer(dhcp._dissect(bytes(offer)), 7)
    assert got["server_id"] == "10.77.0.1" and got["yiaddr"] == "10.77.0.100"


def test_router_solicitation_is_byte_for_byte_what_scapy_builds():
    from scapy.layers.inet6 import ICMPv6ND_RS, ICMPv6NDOptSrcLLAddr
    mac = "02:00:00:70:00:02"
    base = Ether(src=mac, dst=ra.ALL_ROUTERS_MAC)
    with_ll = base / IPv6(src="fe80::1:2", dst=ra.ALL_ROUTERS, hlim=255) / ICMPv6ND_RS() / \
        ICMPv6NDOptSrcLLAddr(lladdr=mac)
    unspecified = base / IPv6(src="::", dst=ra.ALL_ROUTERS, hlim=255) / ICMPv6ND_RS()
    assert ra._solicitation("fe80::1:2", mac) == bytes(with_ll)
    assert ra._solicitation(None, mac) == bytes(unspecified)
