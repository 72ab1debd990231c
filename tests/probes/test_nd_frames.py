"""The neighbour solicitation of the IPv6 claims round is built with struct:
byte for byte what scapy builds, and the advertisement reader takes what a
Linux host sends and nothing else."""
from __future__ import annotations

from scapy.layers.inet6 import (ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptSrcLLAddr, IPv6, in6_getnsma, in6_getnsmac)
from scapy.layers.l2 import Ether
from scapy.pton_ntop import inet_pton
import socket

from scanner.probes.wire import Frame, na_fields, ns_frame

MAC, SRC, TGT = "02:00:00:00:61:05", "fd00:61::5", "fd00:60::11"


def test_ns_frame_is_what_scapy_builds():
    group = socket.inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, TGT)))
    ref = (Ether(src=MAC, dst=in6_getnsmac(inet_pton(socket.AF_INET6, group)))
           / IPv6(src=SRC, dst=group, hlim=255) / ICMPv6ND_NS(tgt=TGT) / ICMPv6NDOptSrcLLAddr(lladdr=MAC))
    assert ns_frame(MAC, SRC, TGT) == bytes(ref)


def _na(hlim=255, tgt=TGT, src_mac="02:00:00:00:60:0b"):
    return bytes(Ether(src=src_mac, dst=MAC) / IPv6(src=tgt, dst=SRC, hlim=hlim)
                 / ICMPv6ND_NA(tgt=tgt, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr="02:99:99:99:99:99"))


def test_na_fields_reads_target_and_the_frame_source():
    # the frame's source MAC is what answered; a target link-layer option may claim another
    assert na_fields(Frame(_na())) == ("fd00:60::11", "02:00:00:00:60:0b")


def test_na_fields_refuses_what_is_not_an_advertisement_from_this_link():
    assert na_fields(Frame(_na(hlim=64))) is None          # routed: not from this link (RFC 4861)
    assert na_fields(Frame(ns_frame(MAC, SRC, TGT))) is None
    assert na_fields(Frame(b"\x00" * 20)) is None
    assert na_fields(Frame(_na()[:70])) is None
