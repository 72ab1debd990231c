"""POST /api/v1/bundles on a real server: stored once through the store's own
ingest, or refused with a 4xx and the reason, nothing of it stored."""
from __future__ import annotations

import copy
import json

import pytest

from servelib import fixture_bundle, synthetic_bundle



def _keys(tmp_path, name="probe-secret"):
    from scanner.evidence.keys import load_private_key, load_trust, new_key_pair
    priv, pub, fp = new_key_pair(str(tmp_path / f"{name}.key"), name)
    return load_private_key(priv), load_trust(pub), fp


def _signed(doc, key, tmp_path, state="chain.json"):
    from scanner.evidence.sign import sign_once
    return sign_once(doc, key, str(tmp_path / state))


def test_good_push_is_stored_once(console):
    b = fixture_bundle("secret-lan")
    r = console.push(b)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ok"] and body["stored"] and body["scan_id"] == "scan-secret-01"
    assert body["kind"] == "bundle" and len(body["sha256"]) == 64
    r2 = console.push(b)                       # a retried push: nothing new
    assert r2.status_code == 409 and r2.json()["already_stored"] is True
    assert console.scans() == 1
    rows = [a for a in reversed(console.audit()) if a["what"].startswith("/api/v1/bundles")]
    assert [a["status"] for a in rows] == [201, 409]
    assert rows[0]["who"] == "probe-1" and rows[0]["remote"] == "127.0.0.1"


@pytest.mark.parametrize("body,status,words", [
    (b'{"schema": "isoscan.bundle/1", "scan_id": "x", "find', 400, "not JSON"),
    (b"\xff\xfe not utf-8", 400, "not UTF-8"),
    (b'{"schema": "isoscan.bundle/1"}', 400, "nothing stored"),
    (b"[1, 2, 3]", 400, "nothing stored"),
])
def test_truncated_or_malformed_is_refused(console, body, status, words):
    r = console.push(body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"] and r.json()["ok"] is False
    assert console.scans() == 0


def test_wrong_missing_and_revoked_token(console):
    from scanner.serve.accounts import list_tokens, revoke_token
    b = fixture_bundle("office-lan")
    assert console.push(b, token="isk_wrong").status_code == 401
    assert console.push(b, token=None).status_code == 401        # unsigned, no token
    r = console.push(b, headers={"Authorization": "Basic abc"}, token=None)
    assert r.status_code == 401
    revoke_token(console.store, list_tokens(console.store)[0]["id"])
    r = console.push(b)
    assert r.status_code == 401 and "revoked" in r.json()["error"]
    assert console.scans() == 0


def test_over_the_size_limit(console_factory):
    from scanner.serve.config import Config
    c = console_factory(cfg=Config(max_push_bytes=4096))
    b = fixture_bundle("secret-lan")
    b["observations"]["padding"] = "x" * 10000
    r = c.push(b)
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    assert c.scans() == 0


def test_reused_scan_id_with_other_content(console):
    b = fixture_bundle("secret-lan")
    assert console.push(b).status_code == 201
    b2 = copy.deepcopy(b)
    b2["finished_at"] = "2026-11-30T03:00:00Z"
    r = console.push(b2)
    assert r.status_code == 409 and "reused scan_id" in r.json()["error"]
    assert console.scans() == 1


def test_signed_by_a_trusted_key_needs_no_token(console_factory, tmp_path):
    from scanner.serve.config import Config
    key, trust, fp = _keys(tmp_path)
    c = console_factory(cfg=Config(trust=("x",), require_signed=True), trust=trust)
    signed = _signed(fixture_bundle("secret-lan"), key, tmp_path)
    r = c.push(signed, token=None)
    assert r.status_code == 201, r.text
    assert r.json()["signature"] == "valid" and r.json()["key_fingerprint"] == fp
    assert any(a["who"] == "key:" + fp for a in c.audit())
    # unsigned, with a good token, when signatures are required: 403
    r = c.push(fixture_bundle("office-lan"))
    assert r.status_code == 403 and "requires every bundle validly signed" in r.json()["error"]
    # signed by a key the console does not trust
    other, _, _ = _keys(tmp_path, "stranger")
    r = c.push(_signed(fixture_bundle("internet"), other, tmp_path, "other.json"), token=None)
    assert r.status_code in (401, 403)
    # a tampered signed bundle
    bad = copy.deepcopy(signed)
    bad["scan_id"] = "scan-secret-02"
    r = c.push(bad)
    assert r.status_code == 403 and "invalid" in r.json()["error"]
    assert c.scans() == 1


def test_replayed_signed_bundle(console_factory, tmp_path):
    from scanner.serve.config import Config
    key, trust, _ = _keys(tmp_path)
    c = console_factory(cfg=Config(trust=("x",)), trust=trust)
    first = _signed(fixture_bundle("secret-lan"), key, tmp_path, "a.json")
    assert c.push(first).status_code == 201
    # the same document again: refused as already stored
    r = c.push(first)
    assert r.status_code == 409 and r.json()["already_stored"]
    # another document signed with the same chain position (a second chain state: a forked signer)
    doc = fixture_bundle("secret-lan")
    doc["scan_id"] = "scan-secret-forged"
    forged = _signed(doc, key, tmp_path, "b.json")
    assert forged["signature"]["sequence"] == first["signature"]["sequence"]
    r = c.push(forged)
    assert r.status_code == 409 and "replayed or forged" in r.json()["error"]
    assert c.scans() == 1


def test_hostile_strings_are_stored_and_escaped(console):
    evil = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
    b = synthetic_bundle(evil, "2026-12-01T02:00:00Z", scan_id="hostile-1",
                         hosts=[("10.0.0.9", "02:00:00:00:00:09")])
    for f in b["findings"]:
        f["title"] = evil
        f["evidence"] = [evil]
        f["status"] = "fail"
        f["subject"] = {"ip": evil, "mac": None, "device": evil}
    from scanner.bundle import summary
    b["summary"] = summary(b["findings"])
    r = console.push(b)
    assert r.status_code == 201, r.text
    c = console.client("admin")
    for page in ("/", "/findings", "/changes?since=3650d", "/devices", "/reports", "/audit",
                 "/reports/latest", "/reports/1"):
        html = c.get(page).text
        assert "<script>alert(1)" not in html and "<img src=x" not in html, page
    assert "&lt;script&gt;alert(1)" in c.get("/").text


def test_push_command(console, tmp_path):
    from click.testing import CliRunner
    from scanner.cli import main
    tok = tmp_path / "token"
    tok.write_text(console.token + "\n")
    files = []
    for n in ("secret-lan", "office-lan"):
        p = tmp_path / f"{n}.json"
        p.write_text(json.dumps(fixture_bundle(n)))
        files.append(str(p))
    r = CliRunner().invoke(main, ["push", *files, "--url", console.base, "--token-file", str(tok)])
    assert r.exit_code == 0, r.output
    assert console.scans() == 2
    r = CliRunner().invoke(main, ["push", *files, "--url", console.base, "--token-file", str(tok)])
    assert r.exit_code == 0 and "already stored" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = CliRunner().invoke(main, ["push", str(bad), "--url", console.base, "--token-file", str(tok)])
    assert r.exit_code == 1 and "not JSON" in r.output


def test_a_token_bound_to_segments(console):
    from scanner.serve.accounts import new_token
    tok = new_token(console.store, "probe-office", segments=["office-lan"])
    r = console.push(fixture_bundle("secret-lan"), token=tok)
    assert r.status_code == 403 and "only bundles of a vantage on office-lan" in r.json()["error"]
    assert console.push(fixture_bundle("office-lan"), token=tok).status_code == 201
    assert console.scans() == 1
