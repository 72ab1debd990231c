"""The listener's parsing on hostile input: pure, no network."""
import random

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from scanner.canary import listen as C
from scanner.canary import tokens as T
KEY = bytes(32)
M = T.TokenMinter("scan-1", "secret-lan", KEY)


def feed(pkt, zone=None, rec=None):
    rec = rec or C.Recorder()
    return rec.feed(bytes(pkt), 1.0, "eth0", isinstance(pkt, Ether), zone), rec


def test_icmp_udp_tcp_dns_recorded():
    t = M.mint("02:11:00:00:00:30", "icmp")
    r, _ = feed(Ether() / IP(src="198.51.100.7", dst="203.0.113.10", ttl=61) / ICMP() / T.payload_for(t))
    assert (r["proto"], r["src"], r["dst"], r["ttl"], r["token"]) == ("icmp", "198.51.100.7", "203.0.113.10", 61, t.hex)

    t = M.mint("direct", "udp", 5353)
    r, _ = feed(Ether() / Dot1Q(vlan=5) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=5353) / (b"x" + T.payload_for(t)))
    assert (r["proto"], r["dport"], r["token"]) == ("udp", 5353, t.hex)

    t = M.mint("direct", "tcp", 443)
    seq, sport = T.tcp_ids_for(t)
    r, _ = feed(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=sport, dport=443, flags="S", seq=seq))
    assert (r["proto"], r["tcp_seq"], r["sport"], r["token"]) == ("tcp", seq, sport, None)
    # SYN-ACK and plain ACK are not probes
    assert feed(Ether() / IP() / TCP(flags="SA"))[0] is None
    assert feed(Ether() / IP() / TCP(flags="A"))[0] is None

    t = M.mint("direct", "dns", 53)
    name = T.dns_name_for(t, "canary.test")
    r, _ = feed(IP(src="10.0.0.9", dst="10.0.0.2") / UDP(sport=3333, dport=53) / DNS(rd=1, qd=DNSQR(qname=name)))
    assert (r["proto"], r["qname"], r["token"]) == ("dns", name, t.hex)
    # a zone query without token is recorded only with a zone
    assert feed(IP() / UDP(dport=53) / DNS(qd=DNSQR(qname="www.canary.test")))[0] is None
    r, _ = feed(IP() / UDP(dport=53) / DNS(qd=DNSQR(qname="www.canary.test")), zone="canary.test")
    assert r["proto"] == "dns" and r["token"] is None


def test_ipv6_with_extension_header():
    t = M.mint("direct", "icmp")
    r, _ = feed(Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=7) / IPv6ExtHdrHopByHop()
                / ICMPv6EchoRequest(data=T.payload_for(t)))
    assert (r["proto"], r["src"], r["ttl"], r["token"]) == ("icmp", "2001:db8::1", 7, t.hex)


def test_untagged_traffic_ignored():
    assert feed(Ether() / IP() / ICMP() / b"hello")[0] is None
    assert feed(Ether() / IP() / UDP(dport=123) / b"ntp")[0] is None


def test_retransmissions_counted_and_cap_respected():
    t = M.mint("direct", "icmp")
    pkt = Ether() / IP(src="10.0.0.1") / ICMP() / T.payload_for(t)
    rec = C.Recorder(max_arrivals=2)
    for _ in range(5):
        feed(pkt, rec=rec)
    assert len(rec.arrivals) == 1 and rec.arrivals[0]["count"] == 5
    for i in range(10):
        feed(Ether() / IP(src=f"10.0.1.{i}") / ICMP() / T.payload_for(t), rec=rec)
    assert len(rec.arrivals) == 2 and rec.stats["dropped"] == 9
    log = C.make_log(rec, 0, 1, None, [])
    assert log["complete"] is False and log["schema"] == C.SCHEMA


def test_garbage_never_raises():
    rng = random.Random(8)
    rec = C.Recorder(max_arrivals=50)
    t = M.mint("direct", "icmp")
    bases = [bytes(Ether() / IP() / ICMP() / T.payload_for(t)),
             bytes(Ether() / IP() / UDP(dport=53) / DNS(qd=DNSQR(qname="a.canary.test"))),
             bytes(Ether() / IPv6() / IPv6ExtHdrHopByHop() / UDP() / T.payload_for(t)),
             bytes(Ether() / IP() / TCP(flags="S") / T.payload_for(t))]
    for _ in range(3000):
        b = bytearray(rng.choice(bases))
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        b = bytes(b[:rng.randrange(0, len(b) + 1)])
        rec.feed(b, 1.0, "eth0", rng.random() < 0.7, "canary.test")
        C.dns_answer(b[42:], "canary.test", "203.0.113.10")
    assert len(rec.arrivals) <= 50


def test_dns_compression_pointer_and_long_name_rejected():
    q = bytes(DNS(qd=DNSQR(qname="a.canary.test")))
    evil = q[:12] + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    assert C.parse_dns_query(evil) is None
    long = q[:12] + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"
    assert C.parse_dns_query(long) is None


def test_dns_answer():
    q = bytes(DNS(id=77, rd=1, qd=DNSQR(qname="x.canary.test", qtype="A")))
    a = DNS(C.dns_answer(q, "canary.test", "203.0.113.10"))
    assert a.id == 77 and a.qr == 1 and a.aa == 1 and a.an[0].rdata == "203.0.113.10"
    q6 = bytes(DNS(qd=DNSQR(qname="x.canary.test", qtype="AAAA")))
    assert DNS(C.dns_answer(q6, "canary.test", "203.0.113.10")).ancount == 0
    other = bytes(DNS(qd=DNSQR(qname="example.org")))
    assert C.dns_answer(other, "canary.test", "203.0.113.10") is None
