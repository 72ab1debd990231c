"""Review of the evidence code (issue 15): signatures, chains, verify, the package."""
from __future__ import annotations

import json

from scanner.evidence.keys import load_private_key
from scanner.evidence.sign import sign_once
from tests.evidence.conftest import fixture_bundle, keypair, run, write_json  # noqa: F401


def _signed_chain(tmp_path, keypair, n=3):
    key = load_private_key(str(keypair[0]))
    out = []
    for i in range(1, n + 1):
        doc = fixture_bundle()
        doc["scan_id"] = f"night-{i}"
        out.append(write_json(tmp_path / f"secret-{i}.json",
                              sign_once(doc, key, str(tmp_path / "state.json"))))
    return out


def test_verify_package_with_chain_state_showing_a_deleted_newest_bundle_fails(tmp_path, keypair):
    # the probe signed #1-#3, the package holds only #1-#2: --chain-state must show it
    # for a package exactly as for loose files (a BROKEN chain printed with exit 0
    # reads as "verified" to every script that runs verify)
    docs = _signed_chain(tmp_path, keypair)
    z = tmp_path / "evidence.zip"
    r = run("report", *map(str, docs[:2]), "-o", str(tmp_path / "r.html"),
            "--trust", str(keypair[1]), "--evidence", str(z))
    assert r.exit_code == 0, r.output
    r = run("verify", *map(str, docs[:2]), "--trust", str(keypair[1]),
            "--chain-state", str(tmp_path / "state.json"), "--lang", "en")
    assert r.exit_code == 1, r.output                   # loose files: caught
    r = run("verify", str(z), "--trust", str(keypair[1]),
            "--chain-state", str(tmp_path / "state.json"), "--lang", "en", "--format", "json")
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    assert out["ok"] is False


def test_report_require_signed_refuses_duplicate_keys_as_verify_does(tmp_path, keypair):
    # a validly signed bundle with a forged "findings" put in front: Python keeps the
    # last (signed) one, a first-wins reader (or an inspector's tool) sees the forgery.
    # verify refuses the file (SPEC §8.2); report --trust --require-signed let it through
    # as "valid", and its evidence package then held a file `verify` refuses
    [doc] = _signed_chain(tmp_path, keypair, n=1)
    raw = doc.read_text("utf-8")
    assert raw.startswith("{")
    forged = '{"findings": [], ' + raw[1:]
    doc.write_text(forged, "utf-8")
    r = run("verify", str(doc), "--trust", str(keypair[1]), "--lang", "en")
    assert r.exit_code == 2 and "twice" in r.output
    out = tmp_path / "r.html"
    r = run("report", str(doc), "-o", str(out), "--trust", str(keypair[1]), "--require-signed")
    assert r.exit_code == 2, r.output
    assert "twice" in r.output
    assert not out.exists()
