"""canary listen --sign: the final log is signed by the canary's key and chained."""
from __future__ import annotations

import json
import os

from tests.evidence.conftest import run


def _fake_listen(monkeypatch, logs_written):
    import scanner.canary.listen as L

    def fake(output, interfaces=None, duration=None, zone=None, max_arrivals=0,
             on_arrival=None, ready=None, finish=None):
        rec = L.Recorder(10)
        log = L.make_log(rec, 1_700_000_000.0, 1_700_000_060.0, zone,
                         [{"name": "eth0", "addresses": ["203.0.113.10"]}])
        if finish is not None:
            log = finish(log)
        L.write_atomic(output, log)
        logs_written.append(output)
        return log
    monkeypatch.setattr(L, "listen", fake)


def test_canary_log_signed_and_chained(tmp_path, keypair, monkeypatch):
    written = []
    _fake_listen(monkeypatch, written)
    state = tmp_path / "canary-state.json"
    outs = []
    for i in range(3):
        out = tmp_path / f"hits-{i}.json"
        r = run("canary", "listen", "-o", str(out), "--sign", str(keypair[0]),
                "--chain-state", str(state), "--quiet")
        assert r.exit_code == 0, r.output
        outs.append(out)
    log = json.loads(outs[2].read_text())
    assert log["schema"] == "isoscan.canary/1"
    assert log["signature"]["chain"] == "canary-203.0.113.10"
    assert log["signature"]["sequence"] == 3
    r = run("verify", *map(str, outs), "--trust", str(keypair[1]), "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert {f["kind"] for f in data["files"]} == {"canary"}
    assert data["chains"][0]["status"] == "whole"
    # an arrival added afterwards breaks the signature
    log["arrivals"].append({"src": "198.51.100.9"})
    outs[2].write_text(json.dumps(log))
    r = run("verify", str(outs[2]), "--trust", str(keypair[1]), "--format", "json")
    assert r.exit_code == 1 and json.loads(r.output)["files"][0]["status"] == "invalid"


def test_canary_with_unusable_key_does_not_start(tmp_path, keypair, monkeypatch):
    written = []
    _fake_listen(monkeypatch, written)
    os.chmod(keypair[0], 0o644)
    r = run("canary", "listen", "-o", str(tmp_path / "h.json"), "--sign", str(keypair[0]))
    assert r.exit_code == 2 and written == []
