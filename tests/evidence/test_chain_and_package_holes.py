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


def _night(tmp_path, name, scan_id, at, key=None, state=None):
    doc = fixture_bundle()
    doc["scan_id"] = scan_id
    doc["started_at"] = doc["finished_at"] = at
    if key is not None:
        doc = sign_once(doc, key, str(state))
    return write_json(tmp_path / name, doc)


def test_require_signed_refuses_an_unsigned_previous_file(tmp_path, keypair):
    # --previous decides what the report calls new, persisting (with an age) and
    # resolved: under --require-signed it is an input like the others
    key = load_private_key(str(keypair[0]))
    old = _night(tmp_path, "old.json", "n1", "2026-11-30T02:00:00Z")           # unsigned
    cur = _night(tmp_path, "cur.json", "n2", "2026-12-01T02:00:00Z", key, tmp_path / "st")
    base = ("report", str(cur), "-o", str(tmp_path / "r.html"), "--trust", str(keypair[1]),
            "--require-signed")
    assert run(*base).exit_code == 0
    r = run(*base, "--previous", str(old))
    assert r.exit_code == 2, r.output
    assert "old.json" in r.output and "unsigned" in r.output


def test_require_signed_verifies_the_stored_previous_scan_again(tmp_path, keypair):
    # SPEC/issue 15: stored bundles keep their signatures and are verified again on
    # every report; an unsigned (or altered) scan in the store must not feed the
    # "changes since the last scan" of a report that requires signatures
    key = load_private_key(str(keypair[0]))
    db = f"sqlite:///{tmp_path}/isoscan.db"
    old = _night(tmp_path, "old.json", "n1", "2026-11-30T02:00:00Z")           # unsigned
    assert run("ingest", "--db", db, str(old)).exit_code == 0
    cur = _night(tmp_path, "cur.json", "n2", "2026-12-01T02:00:00Z", key, tmp_path / "st")
    r = run("report", str(cur), "-o", str(tmp_path / "r.html"), "--trust", str(keypair[1]),
            "--require-signed", "--db", db)
    assert r.exit_code == 2, r.output
    assert "n1" in r.output and "unsigned" in r.output
    # a signed stored scan passes
    db2 = f"sqlite:///{tmp_path}/isoscan2.db"
    old2 = _night(tmp_path, "old2.json", "n1", "2026-11-30T02:00:00Z", key, tmp_path / "st2")
    cur2 = _night(tmp_path, "cur2.json", "n2", "2026-12-01T02:00:00Z", key, tmp_path / "st2")
    assert run("ingest", "--db", db2, str(old2)).exit_code == 0
    r = run("report", str(cur2), "-o", str(tmp_path / "r2.html"), "--trust", str(keypair[1]),
            "--require-signed", "--db", db2)
    assert r.exit_code == 0, r.output


def test_a_record_config_whose_record_is_not_a_mapping_is_one_line(tmp_path, keypair):
    [doc] = _signed_chain(tmp_path, keypair, n=1)
    for body in ("record: 5\n", "record: [a, b]\n", "record: inspector\n"):
        cfg = tmp_path / "record.yaml"
        cfg.write_text(body, "utf-8")
        r = run("report", str(doc), "-o", str(tmp_path / "r.html"), "--record-config", str(cfg))
        assert r.exit_code == 2, (body, r.output)
        assert "record.yaml" in r.output and "mapping" in r.output
