"""SM2 over SM3 (国密) as an option beside Ed25519 (scanner/evidence/sm2.py:
OpenSSL 3's implementation through its binary): key files, signed bundles,
chains and the evidence package verify exactly as with Ed25519; a changed
byte, another key or an algorithm that does not match the key do not."""
from __future__ import annotations

import base64
import copy
import json
import os
import stat

import pytest

from scanner.evidence.keys import (SM2_ALG, KeyFileError, Trust, load_private_key, load_trust,
                                   new_key_pair, parse_public_line)
from scanner.evidence.sign import sign_once
from scanner.evidence.verify import verify_document
from tests.evidence.conftest import fixture_bundle, run


@pytest.fixture
def sm2pair(tmp_path):
    priv, pub, fp = new_key_pair(str(tmp_path / "probe-sm2.key"), name="涉密内网探针 国密", alg=SM2_ALG)
    return priv, pub, fp


def test_an_sm2_key_pair(sm2pair):
    priv, pub, fp = sm2pair
    assert fp.startswith("sm2:SHA256:")
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    line = open(pub, encoding="utf-8").read().strip()
    assert line.startswith("isoscan-sm2 ") and line.endswith("涉密内网探针 国密")
    k = load_private_key(priv)
    assert k.alg == SM2_ALG and k.fingerprint == fp
    assert parse_public_line(line, "x").fingerprint == fp
    os.chmod(priv, 0o644)
    with pytest.raises(KeyFileError, match="readable or writable by group or others"):
        load_private_key(priv)


def test_a_bundle_signed_with_sm2_verifies_and_a_changed_byte_does_not(tmp_path, sm2pair):
    priv, pub, fp = sm2pair
    doc = sign_once(copy.deepcopy(fixture_bundle()), load_private_key(priv),
                    str(tmp_path / "chain.json"))
    assert doc["signature"]["alg"] == "sm2-sm3"
    trust = load_trust([pub])
    assert verify_document(doc, trust, "b").status == "valid"
    bad = copy.deepcopy(doc)
    bad["observations"]["x"] = 1
    assert verify_document(bad, trust, "b").status == "invalid"
    other = new_key_pair(str(tmp_path / "other.key"), alg=SM2_ALG)
    assert verify_document(doc, load_trust([other[1]]), "b").status == "untrusted"


def test_an_algorithm_that_does_not_match_the_trusted_key_is_refused(tmp_path, sm2pair):
    priv, pub, fp = sm2pair
    doc = sign_once(copy.deepcopy(fixture_bundle()), load_private_key(priv),
                    str(tmp_path / "chain.json"))
    doc["signature"]["alg"] = "ed25519"
    r = verify_document(doc, load_trust([pub]), "b")
    assert r.status != "valid"


def test_sm2_through_the_commands(tmp_path):
    key = tmp_path / "k.key"
    r = run("keys", "new", "--out", str(key), "--alg", "sm2", "--lang", "en")
    assert r.exit_code == 0 and "fingerprint: sm2:SHA256:" in r.output, r.output
    b = tmp_path / "b.json"
    b.write_text(json.dumps(sign_once(copy.deepcopy(fixture_bundle()), load_private_key(str(key)),
                                      str(tmp_path / "c.json"))), encoding="utf-8")
    r = run("verify", str(b), "--trust", str(tmp_path / "k.pub"), "--lang", "en")
    assert r.exit_code == 0, r.output
    z = tmp_path / "e.zip"
    r = run("report", str(b), "-o", str(tmp_path / "r.html"), "--trust", str(tmp_path / "k.pub"),
            "--evidence", str(z), "--sign", str(key))
    assert r.exit_code == 0, r.output
    r = run("verify", str(z), "--trust", str(tmp_path / "k.pub"), "--lang", "en")
    assert r.exit_code == 0 and "are signed by sm2:SHA256:" in r.output, r.output


def test_garbage_sm2_material_is_refused(tmp_path):
    with pytest.raises(KeyFileError, match="not an SM2 public key"):
        parse_public_line("isoscan-sm2 " + base64.b64encode(b"x" * 91).decode(), "t")
    from scanner.evidence import sm2
    assert not sm2.verify(b"x" * 91, b"y" * 70, b"data")
    p = tmp_path / "bad.key"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    os.close(fd)
    with pytest.raises(KeyFileError):
        load_private_key(str(p))
