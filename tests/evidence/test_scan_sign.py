"""scan --sign: the key is checked before anything is sent; the bundle is signed
and the chain moves on only when the bundle was written."""
from __future__ import annotations

import json
import os
from types import SimpleNamespace

from tests.evidence.conftest import fixture_bundle, run


def _fake_engine(monkeypatch, calls):
    from scanner.scan import engine

    def fake(files, **kw):
        calls.append(files)
        return SimpleNamespace(bundle=fixture_bundle(), exit_code=1)
    monkeypatch.setattr(engine, "scan", fake)


def test_scan_sign_writes_signed_chained_bundles(tmp_path, keypair, monkeypatch):
    calls = []
    _fake_engine(monkeypatch, calls)
    state = tmp_path / "st.json"
    outs = []
    for i in range(2):
        out = tmp_path / f"b{i}.json"
        r = run("scan", "-i", "x.yaml", "-q", "-o", str(out), "--sign", str(keypair[0]),
                "--chain-state", str(state))
        assert r.exit_code == 1, r.output          # the fake's verdict, unchanged
        outs.append(out)
    b = json.loads(outs[1].read_text())
    assert b["signature"]["sequence"] == 2
    st = json.loads(state.read_text())
    assert st["sequence"] == 2 and os.stat(state).st_mode & 0o077 == 0
    r = run("verify", *map(str, outs), "--trust", str(keypair[1]))
    assert r.exit_code == 0, r.output


def test_scan_with_world_readable_key_sends_nothing(tmp_path, keypair, monkeypatch):
    calls = []
    _fake_engine(monkeypatch, calls)
    os.chmod(keypair[0], 0o644)
    r = run("scan", "-i", "x.yaml", "-q", "-o", str(tmp_path / "b.json"),
            "--sign", str(keypair[0]), "--lang", "en")
    assert r.exit_code == 2 and calls == []
    assert "readable or writable by group or others" in r.output


def test_scan_sign_without_output_keeps_the_chain(tmp_path, keypair, monkeypatch):
    calls = []
    _fake_engine(monkeypatch, calls)
    state = tmp_path / "st.json"
    r = run("scan", "-i", "x.yaml", "-q", "--sign", str(keypair[0]), "--chain-state", str(state))
    assert r.exit_code == 1
    assert not state.exists()
