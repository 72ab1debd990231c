"""The forwarding replies are matched from the frames' bytes (no scapy on the
hot path): every kind of reply scapy builds settles the probe it answers,
and look-alikes that answer nothing of ours settle nothing."""
from __future__ import annotations

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, IPOption_NOP, UDPerror
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from scanner.scan.plan import Target
from scanner.probes import forwarding as fw
from scanner.probes.wire import Frame

US, VIA, HOP = "02:00:00:00:0a:05", "02:00:00:00:0a:0b", "02:00:00:00:0a:01"
CANARY = Target("203.0.113.10", "canary", None, "canary", tcp=(443,), udp=(53,))


def batch():
    b = [fw.Probe("10.10.0.11", VIA, CANARY, "icmp", None, 1),
         fw.Probe("10.10.0.11", VIA, CANARY, "icmp", None, 64),
         fw.Probe("10.10.0.11", VIA, CANARY, "tcp", 443, 64, tcp_seq=0x15050002),
         fw.Probe("10.10.0.11", VIA, CANARY, "udp", 53, 64)]
    return b


def frame(pkt) -> Frame:
    return Frame(bytes(Ether(src=HOP, dst=US) / pkt))


def quoted(key: int, proto=ICMP, ttl=1, **kw):
    inner = IPerror(src="10.10.0.5", dst=CANARY.ip, id=key, ttl=ttl)
    return inner / (proto(**kw) if kw or proto is not ICMP else ICMP(type=8))


def results(packets):
    b = batch()
    fw._match(b, packets)
    return [(p.result, p.responder_ip, p.responder_mac) for p in b]


def test_time_exceeded_settles_the_ttl1_probe_by_its_ip_id():
    got = results([frame(IP(src="10.10.0.1", dst="10.10.0.5") / ICMP(type=11, code=0) / quoted(0))])
    assert got[0] == ("time-exceeded", "10.10.0.1", HOP)
    assert [g[0] for g in got[1:]] == ["none"] * 3


def test_unreachable_from_a_router_and_from_the_destination():
    router = frame(IP(src="10.10.0.1", dst="10.10.0.5") / ICMP(type=3, code=1) / quoted(1))
    assert results([router])[1][0] == "unreachable"
    dest = frame(IP(src=CANARY.ip, dst="10.10.0.5") / ICMP(type=3, code=3) /
                 quoted(3, UDPerror, sport=fw.SPORT_BASE + 3, dport=53))
    assert results([dest])[3][0] == "answer"


def test_echo_reply_tcp_answer_and_udp_answer():
    echo = frame(IP(src=CANARY.ip, dst="10.10.0.5") / ICMP(type=0, id=fw.ICMP_ID, seq=1) / Raw(b"x"))
    syn_ack = frame(IP(src=CANARY.ip, dst="10.10.0.5") /
                    TCP(sport=443, dport=40000, flags="SA", ack=0x15050003))
    udp = frame(IP(src=CANARY.ip, dst="10.10.0.5") / UDP(sport=53, dport=fw.SPORT_BASE + 3) / Raw(b"d"))
    got = results([echo, syn_ack, udp])
    assert [g[0] for g in got] == ["none", "answer", "answer", "answer"]
    assert got[1] == ("answer", CANARY.ip, HOP)


def test_look_alikes_settle_nothing():
    others = [
        # an echo reply of someone else's id, from another address
        frame(IP(src=CANARY.ip, dst="10.10.0.5") / ICMP(type=0, id=1, seq=1)),
        frame(IP(src="10.10.0.9", dst="10.10.0.5") / ICMP(type=0, id=fw.ICMP_ID, seq=1)),
        # an error quoting another destination, a key past the batch
        frame(IP(src="10.10.0.1", dst="10.10.0.5") / ICMP(type=11) /
              IPerror(src="10.10.0.5", dst="198.51.100.1", id=0) / ICMP()),
        frame(IP(src="10.10.0.1", dst="10.10.0.5") / ICMP(type=11) / quoted(99)),
        # a truncated quote, a later fragment, TCP from the wrong port, UDP to another port
        frame(IP(src="10.10.0.1", dst="10.10.0.5") / ICMP(type=11) / Raw(b"\x45\x00\x00")),
        frame(IP(src=CANARY.ip, dst="10.10.0.5", frag=10, proto=1) / Raw(bytes(ICMP(type=0, id=fw.ICMP_ID, seq=1)))),
        frame(IP(src=CANARY.ip, dst="10.10.0.5") / TCP(sport=80, flags="SA", ack=0x15050003)),
        frame(IP(src=CANARY.ip, dst="10.10.0.5") / UDP(sport=53, dport=fw.SPORT_BASE + 2)),
        Frame(bytes(Ether(src=HOP, dst=US, type=0x0806) / Raw(b"\x00" * 28))),
        Frame(b"\x00" * 10),
    ]
    assert [g[0] for g in results(others)] == ["none"] * 4


def test_ip_options_and_padding_are_read_past():
    pkt = (IP(src="10.10.0.1", dst="10.10.0.5", options=[IPOption_NOP()] * 4) /
           ICMP(type=11) / quoted(0))
    raw = bytes(Ether(src=HOP, dst=US) / pkt) + b"\x00" * 12      # Ethernet padding
    assert results([Frame(raw)])[0][0] == "time-exceeded"


def test_scapy_packets_are_matched_too():
    """_match takes frames or scapy packets (tests and the IPv6 round pass packets)."""
    pkt = Ether(src=HOP, dst=US) / IP(src="10.10.0.1", dst="10.10.0.5") / ICMP(type=11) / quoted(0)
    assert results([pkt])[0][0] == "time-exceeded"
