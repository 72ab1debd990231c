"""Tokens: round trip through every carrier, forgery and wrong keys rejected,
garbage never raises."""
import os
import random

import pytest

from scanner.canary import tokens as T
KEY = bytes(range(32))


def minter(scan="scan-1", seg="secret-lan", key=KEY):
    return T.TokenMinter(scan, seg, key)


def test_round_trip_names_everything():
    tok = minter().mint("02:11:00:00:00:30", "tcp", 443)
    assert len(tok.raw) == T.TOKEN_LEN == 33
    info = T.verify(tok.raw, KEY)
    assert info is not None
    assert info.via_mac == "02:11:00:00:00:30"
    assert (info.proto, info.port, info.serial) == ("tcp", 443, 1)
    assert info.names("scan-1", "secret-lan")
    assert not info.names("scan-2", "secret-lan")
    assert not info.names("scan-1", "office-lan")
    assert T.verify(tok.hex, KEY) == info           # the hex a probe record keeps
    assert T.verify(str(tok), KEY) == info


def test_direct_and_mac_spellings():
    m = minter()
    assert T.verify(m.mint("direct", "icmp").raw, KEY).via_mac == "direct"
    assert T.verify(m.mint(None, "udp", 53).raw, KEY).via_mac == "direct"
    assert m.mint("02-AA-00-00-00-01", "dns", 53).via_mac == "02:aa:00:00:00:01"
    with pytest.raises(ValueError):
        m.mint("02:aa", "icmp")
    with pytest.raises(ValueError):
        m.mint("direct", "sctp")
    with pytest.raises(ValueError):
        m.mint("direct", "tcp", 70000)


def test_serials_differ():
    m = minter()
    a, b = m.mint("direct", "icmp"), m.mint("direct", "icmp")
    assert a.raw != b.raw and a.serial + 1 == b.serial


def test_carriers_round_trip():
    tok = minter().mint("02:11:00:00:00:30", "udp", 53)
    assert T.find_in_payload(b"junk" + T.payload_for(tok) + b"tail") == tok.raw
    name = T.dns_name_for(tok, "canary.example.")
    label, zone = name.split(".", 1)
    assert len(label) == T.DNS_LABEL_LEN <= 63 and zone == "canary.example"
    assert T.from_dns_name(name) == tok.raw
    assert T.from_dns_name(name.upper() + ".") == tok.raw   # resolvers may change case
    seq, sport = T.tcp_ids_for(tok)
    assert 0 <= seq < 2 ** 32 and 49152 <= sport <= 65535
    assert seq == T.tcp_seq_for(tok.hex)


def test_forgery_rejected():
    tok = minter().mint("02:11:00:00:00:30", "icmp")
    for i in range(T.TOKEN_LEN):
        bad = bytearray(tok.raw)
        bad[i] ^= 0x01
        assert T.verify(bytes(bad), KEY) is None, i
    # a forger who knows the layout but not the key
    forged = minter(key=os.urandom(32)).mint("02:11:00:00:00:30", "icmp")
    assert T.verify(forged.raw, KEY) is None


def test_wrong_key_rejected():
    tok = minter().mint("direct", "tcp", 80)
    assert T.verify(tok.raw, bytes(32)) is None
    assert T.verify(tok.raw, b"") is None
    assert T.verify(tok.raw, None) is None


def test_garbage_never_raises():
    rng = random.Random(8)
    tok = minter().mint("direct", "tcp", 80)
    junk = [None, 0, 1.5, "", "zz", "0" * 66, b"", tok.raw[:-1], tok.raw + b"x",
            T.MAGIC, T.MAGIC * 20, [1, 2], {"a": 1}, object()]
    junk += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80))) for _ in range(300)]
    for j in junk:
        assert T.verify(j, KEY) is None
        T.find_in_payload(j)
    for s in [None, "", ".", "a" * 53, "a" * 5000, "\x00\xff", "iscaaaa." * 200,
              T.dns_label_for(tok)[:-1] + "!"]:
        assert T.from_dns_name(s) is None
        assert T.from_dns_label(s) is None
    assert T.find_in_payload(T.MAGIC + b"short") is None
    assert T.key_from_json("nothex") is None and T.key_from_json(None) is None
    assert T.key_from_json(KEY.hex()) == KEY


def test_minter_refuses_weak_key():
    with pytest.raises(ValueError):
        T.TokenMinter("s", "seg", b"short")
