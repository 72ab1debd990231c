"""Fingerprints are a contract (SPEC §9.1): these golden values must never
change. A failing test here means stored histories would break: add a new
field or version instead of changing the rule."""
from __future__ import annotations

import pytest

from scanner.store.fingerprint import Fingerprinter, fingerprint

GOLDEN = [
    # (finding, fields, fingerprint)
    ({"check_id": "DEV-UNREGISTERED", "segment": "office-lan",
      "subject": {"ip": "10.20.0.99", "mac": "02:AA:00:00:00:77", "device": None}},
     ("identity",), "fp1:42f157cba79e3d897a5d3047dfe5c842"),
    ({"check_id": "ISO-LOGICAL", "segment": "internet",
      "subject": {"ip": "198.51.100.7", "mac": None, "device": None}},
     ("subject.ip",), "fp1:20068f7a35ae3e0ab14afb32142ad1b9"),
    ({"check_id": "ISO-BRIDGE", "segment": "secret-lan", "peer_segment": "office-lan",
      "subject": {"ip": "10.10.0.77", "mac": "02:aa:00:00:00:77", "device": None}},
     ("identity", "peer_segment"), "fp1:b5f6c57895bc1056e621828190b619b8"),
    ({"check_id": "INV-OVERLAP", "segment": None, "subject": {},
      "location": {"file": "inv/a.yaml", "line": 3, "column": 5}},
     ("identity",), "fp1:511d8c70d2583c26b6ff425e8ad9d1a0"),
    ({"check_id": "DEV-MISSING", "segment": "secret-lan",
      "subject": {"ip": "10.10.0.13", "mac": None, "device": "ws-003"}},
     ("identity",), "fp1:d486efaf0fbabd2c9c5a199970a9663a"),
]


@pytest.mark.parametrize("finding,fields,golden", GOLDEN)
def test_golden(finding, fields, golden):
    assert fingerprint(finding, fields) == golden


def test_mac_wins_over_the_address_dhcp_moves():
    a = {"check_id": "DEV-UNREGISTERED", "segment": "s", "subject": {"ip": "10.0.0.5", "mac": "02-aa-00-00-00-77"}}
    b = {"check_id": "DEV-UNREGISTERED", "segment": "s", "subject": {"ip": "10.0.0.9", "mac": "02:aa:00:00:00:77"}}
    assert fingerprint(a) == fingerprint(b)
    # text that is not the fingerprint's (title, evidence, severity, status) changes nothing
    c = dict(b, title="x", evidence=["y"], severity="low")
    assert fingerprint(c) == fingerprint(b)


def test_declared_fields_of_the_installed_checks():
    fp = Fingerprinter()
    assert fp.fields("ISO-LOGICAL") == ("subject.ip",)
    assert fp.fields("ISO-BRIDGE") == ("identity", "peer_segment")
    assert fp.fields("DEV-UNREGISTERED") == ("identity",)
    assert fp.fields("NO-SUCH-PLUGIN") == ("identity",)
    # ISO-LOGICAL: a MAC the report joins in later leaves the fingerprint as it was
    f = {"check_id": "ISO-LOGICAL", "segment": "internet", "subject": {"ip": "198.51.100.7"}}
    g = {**f, "subject": {"ip": "198.51.100.7", "mac": "02:00:00:00:00:01"}}
    assert fp(f) == fp(g)


def test_unknown_field_is_an_error():
    with pytest.raises(ValueError):
        fingerprint({"check_id": "X"}, ("port",))


def test_the_rule_as_spec_writes_it():
    """SPEC §9.1, computed by hand: sha256 of the compact JSON array, 32 hex digits."""
    import hashlib
    import json
    parts = ["isoscan.fingerprint/1", "DEV-UNREGISTERED", "office-lan",
             [["identity", "mac:02:aa:00:00:00:77"]]]
    raw = json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode()
    assert "fp1:" + hashlib.sha256(raw).hexdigest()[:32] == GOLDEN[0][2]


def test_a_bad_declaration_is_refused_before_anything_is_stored(tmp_path):
    from scanner.store.db import open_store
    from scanner.store.ingest import IngestError, document, ingest
    from storelib import finding, synthetic_bundle
    b = synthetic_bundle("lan", "2026-11-01T00:00:00Z", [finding("X-PLUGIN", "lan", "fail", mac="02:00:00:00:00:01")])
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    try:
        with pytest.raises(IngestError, match="X-PLUGIN declares fingerprint field.*'port'.*nothing stored"):
            ingest(store, [document("b", "bundle", b)], Fingerprinter({"X-PLUGIN": ("port",)}))
        from sqlalchemy import func, select
        from scanner.store import tables as T
        with store.read() as c:
            assert c.execute(select(func.count()).select_from(T.scans)).scalar() == 0
    finally:
        store.close()
