"""SNMPv2c as the identity step speaks it (scanner/probes/snmp.py): the
request is what scapy reads as a GetBulk, responses built by scapy are read
back, hostile ones are nothing; the records a station's answer gives."""
from __future__ import annotations

import pytest
from scapy.asn1.asn1 import ASN1_OID, ASN1_STRING
from scapy.layers.snmp import SNMP, SNMPbulk, SNMPresponse, SNMPvarbind

from scanner.probes import snmp as S
from scanner.probes.identity import snmp_records


def _response(rid=77, community=b"ro", varbinds=None, error=0):
    vbs = varbinds if varbinds is not None else [
        ("1.3.6.1.2.1.1.5.0", b"ws-002"),
        ("1.3.6.1.2.1.2.2.1.6.1", b""),                          # lo: no address
        ("1.3.6.1.2.1.2.2.1.6.2", bytes.fromhex("02000000 1a0c".replace(" ", ""))),
        ("1.3.6.1.2.1.2.2.1.6.3", bytes.fromhex("02bb00000069")),
        ("1.3.6.1.2.1.2.2.1.7.1", b"\x01")]                      # past the column: ignored
    return bytes(SNMP(version=1, community=community, PDU=SNMPresponse(
        id=rid, error=error, varbindlist=[SNMPvarbind(oid=ASN1_OID(o), value=ASN1_STRING(v))
                                          for o, v in vbs])))


def test_the_request_is_a_getbulk_for_sysname_and_ifphysaddress():
    p = SNMP(S.get_bulk(b"ro", 12345))
    assert p.version.val == 1 and p.community.val == b"ro" and isinstance(p.PDU, SNMPbulk)
    assert p.PDU.id.val == 12345 and p.PDU.non_repeaters.val == 1
    assert [v.oid.val for v in p.PDU.varbindlist] == ["1.3.6.1.2.1.1.5", "1.3.6.1.2.1.2.2.1.6"]


def test_a_response_says_the_name_and_every_cards_mac():
    rid, vbs = S.parse_response(_response(), b"ro")
    assert rid == 77
    assert S.what_it_says(vbs) == {"sysname": "ws-002", "more": False,
                                   "macs": ["02:00:00:00:1a:0c", "02:bb:00:00:00:69"]}


@pytest.mark.parametrize("data", [
    b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x02\x01\x01",
    _response(community=b"another"),                 # not the community we asked with
    bytes(SNMP(version=1, community=b"ro", PDU=SNMPbulk(id=1))),   # a request, not a response
    b"\x30" + b"\x82\xff\xff" + b"\x00" * 100,       # a length past the end
])
def test_hostile_or_foreign_answers_are_refused(data):
    with pytest.raises((S.BerError, IndexError, ValueError)):
        S.parse_response(data, b"ro")


def test_an_error_status_says_nothing():
    assert S.parse_response(_response(error=2), b"ro") == (77, [])


def test_records_name_the_other_cards_not_the_one_it_answered_from():
    says = S.what_it_says(S.parse_response(_response(), b"ro")[1])
    recs = snmp_records({"10.40.0.69": says}, {"10.40.0.69": "02:bb:00:00:00:69"})
    assert {(r["kind"], r["value"], r["strength"]) for r in recs} == {
        ("snmp-sysname", "ws-002", "medium"), ("snmp-ifmac", "02:00:00:00:1a:0c", "strong")}
    assert snmp_records({"10.9.9.9": says}, {"10.40.0.69": None}) == []   # not a station asked


def test_a_huge_name_is_bounded():
    says = S.what_it_says(S.parse_response(_response(varbinds=[("1.3.6.1.2.1.1.5.0", b"x" * 5000)]),
                                           b"ro")[1])
    (r,) = snmp_records({"10.40.0.69": says}, {"10.40.0.69": None})
    assert len(r["value"]) <= 128
