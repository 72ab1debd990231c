"""SNMPv3 USM as the identity step speaks it (scanner/probes/snmpv3.py): the
RFC 3414 key test vectors, an answer whose HMAC does not verify is nothing,
an unauthenticated one is nothing; the real agent is in tests/e2e."""
from __future__ import annotations

import hashlib
import hmac

from scanner.probes import snmp as S
from scanner.probes import snmpv3 as V
from scanner.probes.snmp import integer, tlv

ENGINE = bytes.fromhex("000000000000000000000002")


def test_rfc3414_key_localisation_vectors():
    ku = V.password_to_key(b"maplesyrup", hashlib.sha1)
    assert ku.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert V.localize(ku, ENGINE, hashlib.sha1).hex() == "6695febc9288e36282235fc7151f128497b38f3f"
    ku5 = V.password_to_key(b"maplesyrup", hashlib.md5)
    assert ku5.hex() == "9faf3283884e92834ebc9847d8edd963"


def _agent_response(user: V.User, msg_id: int, *, tamper=False, auth=True, vbs=None) -> bytes:
    """What an agent sends back: a Response in a scoped PDU, encrypted and
    authenticated with the user's keys localised to ENGINE."""
    ka, kp = user.keys(ENGINE)
    vbs = vbs or [(S.SYSNAME + (0,), tlv(0x04, b"ws-002")),
                  (S.IFPHYS + (2,), tlv(0x04, bytes.fromhex("02000000" "1a0c")))]
    body = b"".join(tlv(0x30, S.oid(o) + v) for o, v in vbs)
    pdu = tlv(0xA2, integer(msg_id) + integer(0) + integer(0) + tlv(0x30, body))
    scoped = V._scoped(ENGINE, pdu)
    salt = b"\x01" * 8
    iv = (5).to_bytes(4, "big") + (100).to_bytes(4, "big") + salt
    data = tlv(0x04, V._aes(kp, iv, scoped, True))
    flags = 0x03 if auth else 0x02
    mark = b"\xaa" * user.mac_len
    msg = V._message(msg_id, flags, V._usm(ENGINE, 5, 100, user.name, mark if auth else b"", salt),
                     data)
    if auth:
        mac = hmac.new(ka, msg.replace(mark, bytes(user.mac_len)), user.hash).digest()[:user.mac_len]
        msg = msg.replace(mark, mac)
    if tamper:
        msg = msg[:-1] + bytes([msg[-1] ^ 1])
    return msg


def test_an_authenticated_encrypted_answer_is_read():
    u = V.User("isoscan", "SHA", "lab-auth-key-1", "AES", "lab-priv-key-1")
    assert V.read_response(_agent_response(u, 42), u) == (
        42, {"sysname": "ws-002", "macs": ["02:00:00:00:1a:0c"], "more": False})


def test_sha256_auth_works_too():
    u = V.User("isoscan", "SHA-256", "lab-auth-key-1", "AES", "lab-priv-key-1")
    assert V.read_response(_agent_response(u, 7), u)[1]["sysname"] == "ws-002"


def test_answers_that_do_not_prove_the_key_are_nothing():
    u = V.User("isoscan", "SHA", "lab-auth-key-1", "AES", "lab-priv-key-1")
    other = V.User("isoscan", "SHA", "another-key-9", "AES", "lab-priv-key-1")
    assert V.read_response(_agent_response(u, 1, tamper=True), u) is None
    assert V.read_response(_agent_response(other, 1), u) is None
    assert V.read_response(_agent_response(u, 1, auth=False), u) is None
    for junk in (b"", b"\x30\x00", S.get_bulk(b"public", 1), b"\x30\x82\xff\xff" + bytes(10)):
        assert V.read_response(junk, u) is None
        assert V.engine_of_report(junk) is None


def test_the_request_is_authenticated_and_its_pdu_encrypted():
    u = V.User("isoscan", "SHA", "lab-auth-key-1", "AES", "lab-priv-key-1")
    msg = u.request(9, ENGINE, 5, 100)
    msg_id, flags, sec, body = V._parse(msg)
    assert (msg_id, flags, sec[0], sec[3]) == (9, 0x07, ENGINE, b"isoscan")
    ka, _kp = u.keys(ENGINE)
    mac = sec[4]
    assert hmac.new(ka, msg.replace(mac, bytes(12)), hashlib.sha1).digest()[:12] == mac
    assert body[0] == 0x04 and b"\x2b\x06\x01\x02\x01\x01\x05" not in body[1]   # sysName OID hidden
