"""Signatures and chains: each way of tampering is caught and named precisely."""
from __future__ import annotations

import base64
import json
import os

import pytest

from scanner.bundle import parse_bundle, read_bundle
from scanner.documents.canonical import canonical
from scanner.documents.read import parse_document
from scanner.evidence.keys import load_private_key, new_key_pair
from scanner.evidence.sign import SignError, sign_once, signed_payload
from tests.evidence.conftest import fixture_bundle, run, write_json


def _verify(*paths, trust, fmt="json"):
    r = run("verify", *map(str, paths), "--trust", str(trust), "--format", fmt, "--lang", "en")
    return r.exit_code, (json.loads(r.output) if fmt == "json" and r.output.startswith("{")
                         else r.output)


def test_roundtrip_chain_of_five_is_whole(chain, keypair):
    rc, out = _verify(*chain, trust=keypair[1])
    assert rc == 0, out
    assert [f["status"] for f in out["files"]] == ["valid"] * 5
    assert {f["key_name"] for f in out["files"]} == {"probe A 涉密"}
    [c] = out["chains"]
    assert c["status"] == "whole" and [l["sequence"] for l in c["links"]] == [1, 2, 3, 4, 5]
    for p in chain:                       # the bundle reader takes signed bundles as they are
        assert read_bundle(p)["signature"]["alg"] == "ed25519"


def test_text_output_names_signer(chain, keypair):
    rc, out = _verify(chain[0], trust=keypair[1], fmt="text")
    assert rc == 0
    assert "valid" in out and "probe A 涉密" in out and "ed25519:SHA256:" in out


def test_unsigned_bundles_still_read():
    """A bundle without a signature block reads as it did before signatures
    existed: the same data, by both readers (signing is optional, SPEC §8)."""
    b = fixture_bundle()
    assert "signature" not in b
    assert parse_bundle(json.dumps(b)) == b
    doc = parse_document(json.dumps(b).encode("utf-8"), "unsigned.json", strict=True)
    assert (doc.kind, doc.data) == ("bundle", b)


def test_flipped_byte_in_observations_is_invalid(chain, keypair):
    doc = json.loads(chain[2].read_text("utf-8"))
    text = json.dumps(doc["observations"], ensure_ascii=False)
    assert "10.10.0." in text
    doc["observations"] = json.loads(text.replace("10.10.0.", "10.10.1.", 1))
    write_json(chain[2], doc)
    rc, out = _verify(*chain, trust=keypair[1])
    assert rc == 1
    st = {f["file"].rsplit("/", 1)[1]: f for f in out["files"]}
    assert st["night-3.json"]["status"] == "invalid"
    assert "does not match the content" in st["night-3.json"]["detail"]
    assert all(st[f"night-{i}.json"]["status"] == "valid" for i in (1, 2, 4, 5))
    # the chain of the valid ones now misses #3: named
    [c] = out["chains"]
    assert c["status"] == "broken"
    assert any("gap: #3 missing between" in p and "night-2.json" in p and "night-4.json" in p
               for p in c["problems"])


def test_reordered_keys_and_whitespace_still_verify(chain, keypair):
    doc = json.loads(chain[1].read_text("utf-8"))

    def reverse(o):
        if isinstance(o, dict):
            return {k: reverse(o[k]) for k in reversed(list(o))}
        if isinstance(o, list):
            return [reverse(x) for x in o]
        return o
    chain[1].write_text(json.dumps(reverse(doc), ensure_ascii=True, indent=7), "utf-8")
    assert chain[1].read_text()[:40] != json.dumps(doc)[:40]
    rc, out = _verify(*chain, trust=keypair[1])
    assert rc == 0, out


def test_untrusted_key(tmp_path, chain, keypair):
    other = tmp_path / "other"
    other.mkdir()
    _, pub, _ = new_key_pair(str(other / "o.key"), name="someone else")
    rc, out = _verify(chain[0], trust=pub)
    assert rc == 1
    [f] = out["files"]
    assert f["status"] == "untrusted"
    assert f["key_fingerprint"] in f["detail"]


def test_removed_signature_is_unsigned(chain, keypair):
    doc = json.loads(chain[0].read_text("utf-8"))
    del doc["signature"]
    write_json(chain[0], doc)
    rc, out = _verify(chain[0], trust=keypair[1])
    assert rc == 1 and out["files"][0]["status"] == "unsigned"


def test_deleted_middle_bundle_is_a_gap_named(chain, keypair):
    os.unlink(chain[2])
    rc, out = _verify(*(chain[:2] + chain[3:]), trust=keypair[1])
    assert rc == 1
    [c] = out["chains"]
    assert c["status"] == "broken"
    assert c["problems"] == [f"gap: #3 missing between {chain[1]} (#2) and {chain[3]} (#4)"]


def test_replayed_old_bundle(chain, keypair, tmp_path):
    # tonight's bundle is replaced by a copy of an old, valid one
    replay = tmp_path / "night-5-replayed.json"
    replay.write_bytes(chain[1].read_bytes())
    rc, out = _verify(*chain[:4], replay, trust=keypair[1])
    assert rc == 1
    [c] = out["chains"]
    assert any(p.startswith("replayed:") and "night-5-replayed.json" in p and "#2" in p
               for p in c["problems"])


def test_replaced_bundle_resigned_by_the_same_key(chain, keypair, tmp_path):
    # an insider re-signs an edited #3 with the probe's key but a fresh chain state
    key = load_private_key(str(keypair[0]))
    doc = json.loads(chain[2].read_text("utf-8"))
    doc.pop("signature")
    doc["findings"] = doc["findings"][:1]
    from scanner.bundle import summary
    from scanner.bundle import findings_from_bundle
    doc["summary"] = summary(findings_from_bundle(doc))
    state = tmp_path / "forged-state.json"
    state.write_text(json.dumps({"schema": "isoscan.chain-state/1", "chain": "secret-lan@eth0",
                                 "sequence": 2, "last_sha256": "0" * 64}))
    write_json(chain[2], sign_once(doc, key, str(state)))
    rc, out = _verify(*chain, trust=keypair[1])
    assert rc == 1
    [c] = out["chains"]
    assert any("does not follow" in p and "#3" in p for p in c["problems"])


def test_partial_selection_starting_mid_chain_is_whole(chain, keypair):
    rc, out = _verify(*chain[2:], trust=keypair[1])
    assert rc == 0
    [c] = out["chains"]
    assert c["status"] == "whole" and any("begins at #3" in n for n in c["notes"])


def test_signature_covers_the_chain_fields(chain, keypair):
    doc = json.loads(chain[3].read_text("utf-8"))
    doc["signature"]["sequence"] = 3          # claim to be the deleted #3
    write_json(chain[3], doc)
    rc, out = _verify(chain[3], trust=keypair[1])
    assert out["files"][0]["status"] == "invalid"


@pytest.mark.parametrize("mutate, status", [
    (lambda s: s.update(value="not base64 !!"), "invalid"),
    (lambda s: s.update(value=base64.b64encode(b"x" * 64).decode()), "invalid"),
    (lambda s: s.update(value=base64.b64encode(b"x" * 10).decode()), "invalid"),
    (lambda s: s.update(value=None), "invalid"),
    (lambda s: s.update(alg="rsa"), "invalid"),
    (lambda s: s.update(sequence="1"), "invalid"),
    (lambda s: s.update(previous_sha256="zz"), "invalid"),
    (lambda s: s.update(key_fingerprint="ed25519:SHA256:" + "A" * 43), "untrusted"),
    (lambda s: s.update(key_fingerprint=["x"]), "invalid"),
])
def test_garbage_signature_blocks(chain, keypair, mutate, status):
    doc = json.loads(chain[0].read_text("utf-8"))
    mutate(doc["signature"])
    write_json(chain[0], doc)
    rc, out = _verify(chain[0], trust=keypair[1])
    assert rc == 1 and out["files"][0]["status"] == status


def test_signature_block_not_an_object(chain, keypair):
    doc = json.loads(chain[0].read_text("utf-8"))
    doc["signature"] = "trust me"
    write_json(chain[0], doc)
    rc, out = _verify(chain[0], trust=keypair[1])
    assert rc == 1 and out["files"][0]["status"] == "invalid"


def test_duplicate_keys_are_bad_input(chain, keypair):
    raw = chain[0].read_text("utf-8")
    chain[0].write_text(raw.replace('{', '{"schema": "x", ', 1), "utf-8")
    rc, out = _verify(chain[0], trust=keypair[1], fmt="text")
    assert rc == 2 and "occurs twice" in out


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b"[1, NaN]", b"[" * 100000])
def test_not_json_is_bad_input(tmp_path, keypair, content):
    p = tmp_path / "x.json"
    p.write_bytes(content)
    rc, _ = _verify(p, trust=keypair[1], fmt="text")
    assert rc == 2


def test_huge_file_is_refused(tmp_path, keypair, monkeypatch):
    monkeypatch.setenv("ISOSCAN_MAX_BUNDLE_BYTES", "1000")
    p = tmp_path / "big.json"
    p.write_text(json.dumps({"pad": "x" * 5000}))
    rc, out = _verify(p, trust=keypair[1], fmt="text")
    assert rc == 2 and "larger than" in out


def test_missing_file_and_missing_trust_are_bad_input(chain, keypair, tmp_path):
    assert _verify(tmp_path / "nope.json", trust=keypair[1], fmt="text")[0] == 2
    assert run("verify", str(chain[0])).exit_code == 2
    assert _verify(chain[0], trust=tmp_path / "nokeys", fmt="text")[0] == 2


def test_canonical_form_is_fixed():
    assert canonical({"b": [1, 2.5, "é\n"], "a": None, "ä": True}) == \
        '{"a":null,"b":[1,2.5,"é\\n"],"ä":true}'.encode("utf-8")
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})
    with pytest.raises(ValueError):
        canonical({"x": "\ud800"})


def test_payload_is_domain_separated_and_excludes_only_the_value(chain):
    doc = json.loads(chain[0].read_text("utf-8"))
    p = signed_payload(doc)
    assert p.startswith(b"isoscan.signature/1\n")
    assert b'"sequence":1' in p and doc["signature"]["value"].encode() not in p


def test_chain_state_of_another_chain_is_refused(tmp_path, keypair):
    key = load_private_key(str(keypair[0]))
    state = str(tmp_path / "s.json")
    sign_once(fixture_bundle(), key, state)
    other = fixture_bundle("office-lan")
    with pytest.raises(SignError, match="holds the chain"):
        sign_once(other, key, state)


def test_corrupt_chain_state_is_refused(tmp_path, keypair):
    key = load_private_key(str(keypair[0]))
    state = tmp_path / "s.json"
    state.write_text("{not json")
    with pytest.raises(SignError, match="not JSON"):
        sign_once(fixture_bundle(), key, str(state))
    assert state.read_text() == "{not json"


def test_deleted_last_bundle_is_seen_with_the_chain_state(chain, keypair, tmp_path):
    state = tmp_path / "chain-state.json"
    args = ("--trust", str(keypair[1]), "--chain-state", str(state), "--lang", "en")
    r = run("verify", *map(str, chain), *args)
    assert r.exit_code == 0, r.output
    r = run("verify", *map(str, chain[:4]), *args)
    assert r.exit_code == 1 and "newest #5 missing" in r.output
    # the last one replaced by an older one's copy under its name
    chain[4].write_bytes(chain[3].read_bytes())
    r = run("verify", *map(str, chain[:3]), str(chain[4]), *args)
    assert r.exit_code == 1 and "newest #5 missing" in r.output
    assert run("verify", str(chain[0]), "--trust", str(keypair[1]), "--chain-state",
               str(tmp_path / "none.json")).exit_code == 2
