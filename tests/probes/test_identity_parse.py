"""The identity step's reading of nmap's XML and the pure identity rules
(no network): fingerprints, strengths, clones, EUI-64, hostile input bounded."""
import base64
import shutil
import subprocess
import time
import tracemalloc
from xml.sax.saxutils import quoteattr, escape

import pytest

from scanner import identity as I
from scanner.probes import identity as P

KEY = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(range(36))).decode()
PEM = "-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"fake der " * 20).decode() + \
    "\n-----END CERTIFICATE-----\n"


def host(ip, ports="", hostscript=""):
    return (f'<host><status state="up"/><address addr="{ip}" addrtype="ipv4"/>'
            f'<ports>{ports}</ports>{hostscript}</host>')


def ssh_port(port=22, key=KEY, n=1):
    tables = "".join(f'<table><elem key="key">{key}</elem><elem key="bits">256</elem>'
                     f'<elem key="type">ssh-ed25519</elem>'
                     f'<elem key="fingerprint">00</elem></table>' for _ in range(n))
    return (f'<port protocol="tcp" portid="{port}"><state state="open"/>'
            f'<script id="ssh-hostkey" output="x">{tables}</script></port>')


def tls_port(port=443, cn="ws-002.lab", pem=PEM):
    return (f'<port protocol="tcp" portid="{port}"><state state="open"/>'
            f'<script id="ssl-cert" output="x"><table key="subject">'
            f'<elem key="commonName">{escape(cn)}</elem></table>'
            f'<elem key="pem">{escape(pem)}</elem></script></port>')


def nbstat_reply(tid=7, names=((b"WS-002", 0x00, 0), (b"WORKGROUP", 0x00, 0x8000)),
                 mac=bytes.fromhex("02000000 1a0c".replace(" ", "")), compressed=False):
    """An NBSTAT answer as Windows or Samba sends it."""
    import struct
    head = struct.pack("!HHHHHH", tid, 0x8400, 0, 1, 0, 0)
    rrname = b"\xc0\x0c" if compressed else b"\x20" + b"CK" + b"A" * 30 + b"\x00"
    body = bytes([len(names)]) + b"".join(n.ljust(15, b" ")[:15] + bytes([sfx]) +
                                          struct.pack("!H", fl) for n, sfx, fl in names)
    body += mac + bytes(40)
    return head + rrname + struct.pack("!HHIH", 0x21, 1, 0, len(body)) + body


def xml(*hosts):
    return ("<?xml version=\"1.0\"?><nmaprun>" + "".join(hosts) + "</nmaprun>").encode()


MACS = {"10.30.0.12": "02:00:00:00:1a:0c"}


def test_each_kind_is_read_with_its_strength():
    from scanner.probes import netbios
    got = P.parse_xml(xml(host("10.30.0.12", ssh_port() + tls_port())), MACS,
                      {22}, {443}, time="T")
    got += P.netbios_records({"10.30.0.12": netbios.parse(nbstat_reply())}, MACS, time="T")
    kinds = {r["kind"]: r for r in got}
    assert set(kinds) == {I.SSH_KEY, I.TLS_CERT, I.NETBIOS_NAME, I.NETBIOS_MAC}
    assert kinds[I.SSH_KEY]["strength"] == "strong"
    assert kinds[I.SSH_KEY]["value"] == I.ssh_fingerprint(KEY)
    assert kinds[I.SSH_KEY]["detail"] == "ssh-ed25519 256" and kinds[I.SSH_KEY]["port"] == 22
    assert kinds[I.NETBIOS_MAC]["strength"] == "strong"
    assert kinds[I.NETBIOS_MAC]["value"] == "02:00:00:00:1a:0c"
    assert kinds[I.NETBIOS_NAME]["strength"] == "medium"
    assert kinds[I.TLS_CERT]["strength"] == "weak"
    assert kinds[I.TLS_CERT]["detail"] == "commonName=ws-002.lab"
    assert all(r["ip"] == "10.30.0.12" and r["mac"] == "02:00:00:00:1a:0c" and r["time"] == "T"
               for r in got)


def test_only_the_stations_and_ports_asked_are_read():
    doc = xml(host("10.30.0.12", ssh_port(2222) + tls_port(8443)), host("10.99.0.1", ssh_port()))
    assert P.parse_xml(doc, MACS, {22}, {443}) == []
    got = P.parse_xml(doc, MACS, {22, 2222}, {443, 8443})
    assert {(r["kind"], r["port"]) for r in got} == {(I.SSH_KEY, 2222), (I.TLS_CERT, 8443)}


def test_samba_zero_mac_and_broken_key_are_no_identity():
    from scanner.probes import netbios
    assert P.parse_xml(xml(host("10.30.0.12", ssh_port(key="!!not base64!!"))), MACS,
                       {22}, {443}) == []
    got = P.netbios_records({"10.30.0.12": netbios.parse(nbstat_reply(mac=bytes(6)))}, MACS)
    assert [r["kind"] for r in got] == [I.NETBIOS_NAME]


def test_nbstat_query_and_replies():
    from scanner.probes import netbios
    q = netbios.query(0x1234)
    assert q[:2] == b"\x12\x34" and len(q) == 50 and q.endswith(b"\x00\x21\x00\x01")
    for compressed in (False, True):
        a = netbios.parse(nbstat_reply(tid=9, compressed=compressed))
        assert a["tid"] == 9 and a["name"] == "WS-002" and a["mac"] == "02:00:00:00:1a:0c"
        assert ("WORKGROUP", 0, True) in a["names"]
    # a query (not a response), short, truncated names, junk: no answer, no crash
    assert netbios.parse(q) is None
    assert netbios.parse(b"") is None and netbios.parse(b"\xff" * 11) is None
    assert netbios.parse(nbstat_reply()[:60]) is None
    import os
    for _ in range(2000):
        netbios.parse(os.urandom(60) + nbstat_reply()[60:])
        netbios.parse(nbstat_reply()[:12] + os.urandom(200))


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="ssh-keygen not installed")
def test_fingerprint_is_openssh_s(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")],
                   check=True)
    blob = (tmp_path / "k.pub").read_text().split()[1]
    want = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], check=True,
                          capture_output=True, text=True).stdout.split()[1]
    assert I.ssh_fingerprint(blob) == want
    assert I.valid_ssh_fingerprint(want)


def test_eui64_mac_from_slaac():
    assert I.eui64_mac("fe80::ff:fe00:1a0c") == "02:00:00:00:1a:0c"
    assert I.eui64_mac("2001:db8::a8bb:ccff:fedd:eeff") == "aa:bb:cc:dd:ee:ff"
    assert I.eui64_mac("2001:db8::1") is None            # no ff:fe: not EUI-64
    assert I.eui64_mac("10.0.0.1") is None and I.eui64_mac("junk") is None
    six = [{"ip": "fe80::ff:fe00:1a0c", "mac": "02:00:00:00:1a:0c"},     # its own: nothing new
           {"ip": "fe80::ff:fe00:1a0c", "mac": "02:bb:00:00:00:66"}]     # another card's
    got = I.eui64_records(six)
    assert [(r["mac"], r["value"], r["strength"]) for r in got] == \
        [("02:bb:00:00:00:66", "02:00:00:00:1a:0c", "medium")]


def test_one_key_on_many_stations_is_lowered_to_weak():
    recs = [I.record(f"10.0.0.{i}", f"02:00:00:00:00:{i:02x}", I.SSH_KEY, "SHA256:k")
            for i in range(1, 4)]
    recs.append(I.record("10.0.0.9", "02:00:00:00:00:09", I.SSH_KEY, "SHA256:other"))
    clones = I.lower_clones(recs)
    assert clones == [{"kind": I.SSH_KEY, "value": "SHA256:k", "stations": 3}]
    assert [r["strength"] for r in recs] == ["weak", "weak", "weak", "strong"]
    assert "cloned" in recs[0]["note"] and "克隆" in recs[0]["note"]


def test_two_stations_with_one_key_stay_strong():
    """Two addresses of one host (or two cards of it on one segment): not clones."""
    recs = [I.record(f"10.0.0.{i}", f"02:00:00:00:00:{i:02x}", I.SSH_KEY, "SHA256:k")
            for i in (1, 2)]
    assert I.lower_clones(recs) == [] and {r["strength"] for r in recs} == {"strong"}


# -- hostile stations -------------------------------------------------------------

# nmap's XML writer turns C0 controls into "\\xHH" text (XML 1.0 cannot carry
# them); bidi overrides and other format characters arrive as they were sent
BIDI = "\u202e\u2066evil\\x07\u200f"


def test_huge_subject_with_bidi_and_controls_is_bounded_and_shown_escaped():
    cn = ("A" + BIDI) * 1000          # about 10,000 characters
    got = P.parse_xml(xml(host("10.30.0.12", tls_port(cn=cn))), MACS, {22}, {443})
    (r,) = got
    assert len(r["detail"]) <= I.DETAIL_MAX
    s = I.shown(r["detail"])
    assert len(s) <= I.DETAIL_MAX
    assert not any(c in s for c in "\u202e\u2066\u200f")
    assert "\\u202e" in s
    raw = I.shown("a\x00b\x1b[31m\u202ec\n" * 2000)
    assert len(raw) <= I.DETAIL_MAX and not any(c in raw for c in "\x00\x1b\u202e\n")


def test_netbios_name_with_nuls_is_bounded():
    from scanner.probes import netbios
    a = netbios.parse(nbstat_reply(names=((b"WS\x00\x00\x1b\xe2\x80\xae" + b"X" * 5000, 0, 0),)))
    (name, _mac) = P.netbios_records({"10.30.0.12": a}, MACS)
    assert len(name["value"]) <= 15 and "\x00" not in name["value"]
    assert "\x1b" not in I.shown(name["value"])
    assert I.record("1.2.3.4", None, I.NETBIOS_NAME, "WS-002\x00\x00\x00\x00")["value"] == "WS-002"
    assert I.record("1.2.3.4", None, I.NETBIOS_NAME, "\x00" * 15) is None


def test_a_megabyte_of_script_output_stays_bounded():
    """A station that answers with a 1 MB banner: nmap keeps it in the script's
    output; what the bundle keeps is bounded (and parsing is quick)."""
    banner = "X" * 2**20
    port = (f'<port protocol="tcp" portid="22"><state state="open"/>'
            f'<script id="ssh-hostkey" output={quoteattr(banner)}>'
            f'<table><elem key="key">{KEY}</elem><elem key="type">{banner}</elem>'
            f'<elem key="bits">{banner}</elem></table></script></port>')
    many = "".join(ssh_port(key=KEY) for _ in range(1))
    doc = xml(host("10.30.0.12", port + many))
    tracemalloc.start()
    t0 = time.monotonic()
    got = P.parse_xml(doc, MACS, {22}, {443})
    took = time.monotonic() - t0
    tracemalloc.stop()
    assert took < 2
    assert all(len(r["detail"] or "") <= I.DETAIL_MAX and len(r["value"]) <= I.VALUE_MAX
               for r in got)
    assert sum(len(str(r)) for r in got) < 10_000


def test_records_per_station_are_capped():
    doc = xml(host("10.30.0.12", "".join(ssh_port(p, key=base64.b64encode(bytes([p % 256]) * 40).decode(),
                                                  n=20) for p in range(1, 40))))
    got = P.parse_xml(doc, MACS, set(range(1, 40)), {443})
    assert len(got) == I.PER_STATION_MAX


def test_output_too_large_or_broken_is_an_error():
    from scanner.probes.wire import ProbeError
    with pytest.raises(ProbeError):
        P.parse_xml(b"<nmaprun><host>", MACS, {22}, {443})
    assert P.parse_xml(b"", MACS, {22}, {443}) == []


def test_an_open_port_that_said_nothing_is_asked_again():
    silent = ('<port protocol="tcp" portid="22"><state state="open"/></port>'
              '<port protocol="tcp" portid="443"><state state="closed"/></port>')
    doc = xml(host("10.30.0.12", silent), host("10.30.0.13", ssh_port()),
              host("10.30.0.14", '<port protocol="tcp" portid="22"><state state="closed"/></port>'))
    macs = {"10.30.0.12": None, "10.30.0.13": None, "10.30.0.14": None}
    got = P.parse_xml(doc, macs, {22}, {443})
    assert [r["ip"] for r in got] == ["10.30.0.13"]
    assert P.unanswered(doc, set(macs), {22, 443}, got) == ["10.30.0.12"]
    assert P.unanswered(b"<broken", set(macs), {22}, []) == []


def test_mdns_and_llmnr_reverse_names():
    import struct
    from scanner.probes import mdns
    q = mdns.query(0x0102, "10.30.0.12")
    assert b"\x0212\x010\x0230\x0210\x07in-addr\x04arpa\x00" in q
    rdata = b"\x06ws-002\x05local\x00"
    reply = q[:2] + struct.pack("!HHHHH", 0x8400, 1, 1, 0, 0) + q[12:] + b"\xc0\x0c" + \
        struct.pack("!HHIH", 12, 1, 120, len(rdata)) + rdata
    assert mdns.parse(reply) == {"tid": 0x0102, "names": ["ws-002.local"]}
    got = P.mdns_records({"10.30.0.12": {5353: ["WS-002.local."], 5355: ["ws-002.local"]}}, MACS)
    assert [(r["kind"], r["value"], r["strength"]) for r in got] == \
        [("mdns-name", "ws-002.local", "medium"), ("llmnr-name", "ws-002.local", "medium")]
    # a name that points at itself, a query, junk: no answer, no hang
    loop = struct.pack("!HHHHHH", 1, 0x8400, 0, 1, 0, 0) + b"\xc0\x0c" + bytes(10)
    assert mdns.parse(loop) is None
    assert mdns.parse(q) is None and mdns.parse(b"\xff" * 5) is None
    import os
    for _ in range(2000):
        mdns.parse(reply[:12] + os.urandom(80))
