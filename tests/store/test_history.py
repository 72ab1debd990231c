"""history and stations on the store, both back ends: a sequence of scans."""
from __future__ import annotations

import json

from click.testing import CliRunner

from storelib import finding, synthetic_bundle, write


def run(*argv):
    from scanner.cli import main
    return CliRunner().invoke(main, list(argv), catch_exceptions=False)


M1, M2, M3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"


def _seq(tmp_path):
    """lan: M1 unregistered appears, persists, is resolved; M2 appears, then the
    check errors (not assessed); another vantage's scan (dmz) touches nothing."""
    U = "DEV-UNREGISTERED"
    scans = [
        synthetic_bundle("lan", "2026-11-01T02:00:00Z", [finding(U, "lan", "pass")],
                         [("10.0.0.5", M1)]),
        synthetic_bundle("lan", "2026-11-02T02:00:00Z", [finding(U, "lan", "fail", mac=M1, ip="10.0.0.5")],
                         [("10.0.0.5", M1), ("10.0.0.6", M2)]),
        synthetic_bundle("lan", "2026-11-03T02:00:00Z",
                         [finding(U, "lan", "fail", mac=M1, ip="10.0.0.7"),
                          finding(U, "lan", "fail", mac=M2, ip="10.0.0.6")],
                         [("10.0.0.7", M1), ("10.0.0.6", M2)]),
        synthetic_bundle("dmz", "2026-11-03T03:00:00Z", [finding(U, "dmz", "pass")], [("10.9.0.5", M3)]),
        synthetic_bundle("lan", "2026-11-04T02:00:00Z",
                         [finding(U, "lan", "fail", mac=M2, ip="10.0.0.6"),
                          finding("NET-DHCP", "lan", "pass")],
                         [("10.0.0.6", M2)]),
        # discovery broke: the check errored, nobody vanishes
        synthetic_bundle("lan", "2026-11-05T02:00:00Z", [finding(U, "lan", "error")], [],
                         discovery="error"),
        # back: M1 returns with M2's old address (a flip-flop), M2 is gone
        synthetic_bundle("lan", "2026-11-06T02:00:00Z", [finding(U, "lan", "pass")],
                         [("10.0.0.6", M1)]),
    ]
    return [write(tmp_path / f"s{i}.json", b) for i, b in enumerate(scans)]


def test_history_walks_the_scans(db_url, tmp_path):
    files = _seq(tmp_path)
    # up to the error scan: M1 resolved, M2 not assessed
    assert run("ingest", "-q", "--db", db_url, *files[:6]).exit_code == 0
    r = run("history", "--db", db_url, "--segment", "lan", "--format", "json")
    assert r.exit_code == 0, r.output
    got = {h["subject"]["mac"]: h for h in json.loads(r.output)["findings"]}
    assert got[M1]["state"] == "resolved"
    assert [e["event"] for e in got[M1]["events"]] == ["new", "resolved"]
    assert got[M1]["first_seen"] == "2026-11-02T02:00:00Z"
    assert got[M2]["state"] == "not-assessed"
    assert [e["event"] for e in got[M2]["events"]] == ["new", "not-assessed"]
    # the last scan ran the check cleanly: M2 is resolved now
    assert run("ingest", "-q", "--db", db_url, files[6]).exit_code == 0
    r = run("history", "--db", db_url, "--check", "DEV-UNREGISTERED", "--format", "json")
    got = {h["subject"]["mac"]: h for h in json.loads(r.output)["findings"]}
    assert got[M2]["state"] == "resolved"
    assert r.exit_code == 0
    r = run("history", "--db", db_url, "--segment", "dmz")
    assert r.exit_code == 0 and M1 not in r.output
    r = run("history", "--db", db_url, "--since", "2026-11-04", "--lang", "en")
    assert "resolved" in r.output
    r = run("history", "--db", db_url, "--since", "lots")
    assert r.exit_code == 2


def test_stations(db_url, tmp_path):
    files = _seq(tmp_path)
    assert run("ingest", "-q", "--db", db_url, *files).exit_code == 0
    r = run("stations", "--db", db_url, "--segment", "lan", "--format", "json")
    assert r.exit_code == 0, r.output
    st = {s["mac"]: s for s in json.loads(r.output)["stations"]}
    assert set(st) == {M1, M2}
    m1, m2 = st[M1], st[M2]
    assert m1["first_seen"] == "2026-11-01T02:00:00Z" and m1["last_seen"] == "2026-11-06T02:00:00Z"
    assert m1["addresses"] == ["10.0.0.5", "10.0.0.7", "10.0.0.6"]
    ev1 = [e["event"] for e in m1["events"]]
    assert ev1 == ["new", "vanished", "returned", "flip-flop"], ev1
    assert m1["state"] == "present"
    # the failed discovery of 11-05 made nobody vanish: M2 vanished on 11-06
    assert [(e["event"], e["time"]) for e in m2["events"]] == [
        ("new", "2026-11-02T02:00:00Z"), ("vanished", "2026-11-06T02:00:00Z")]
    assert m2["state"] == "vanished"
    r = run("stations", "--db", db_url, "--lang", "en")
    assert "flip-flop" in r.output and "10.9.0.5" in r.output


def test_previous_results_and_trend(db_url, tmp_path):
    from scanner.store.db import open_store
    from scanner.store.history import previous_results, trend
    files = _seq(tmp_path)
    assert run("ingest", "-q", "--db", db_url, *files).exit_code == 0
    store = open_store(db_url)
    try:
        prev = previous_results(store, before="2026-11-04T12:00:00Z")
        macs = {f["subject"]["mac"] for f in prev.findings if f["status"] == "fail"}
        assert macs == {M2}
        assert ("DEV-UNREGISTERED", "dmz", "dmz") in prev.assessed
        assert previous_results(store, before="2020-01-01T00:00:00Z") is None
        pts = trend(store, days=30)
        assert [p["day"] for p in pts][:3] == ["2026-11-01", "2026-11-02", "2026-11-03"]
        assert [p["high"] for p in pts] == [0, 1, 2, 1, 0, 0]
    finally:
        store.close()


def test_vantage_last_seen(db_url, tmp_path):
    from scanner.store.db import open_store
    from scanner.store.history import vantage_last_seen
    assert run("ingest", "-q", "--db", db_url, *_seq(tmp_path)).exit_code == 0
    store = open_store(db_url)
    try:
        got = {(d["segment"], d["ip"]): (d["last_started_at"], d["scans"]) for d in vantage_last_seen(store)}
    finally:
        store.close()
    assert got == {("lan", "10.0.0.2"): ("2026-11-06T02:00:00Z", 6),
                   ("dmz", "10.0.0.2"): ("2026-11-03T03:00:00Z", 1)}
