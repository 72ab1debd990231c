"""The watch's heartbeats (SQLite in tmp): a watch that stopped beating is
vantage-silent (`isoscan watch --health`, to a real syslog receiver); the
command's refusals; the JSON line. Events and keys in the store, on both back
ends: tests/store/test_watchlog.py."""
from __future__ import annotations

import datetime as _dt
import json
import socket

from click.testing import CliRunner

from scanner.model import text
from scanner.watch.events import Event

T0 = _dt.datetime(2026, 12, 7, 18, 30, tzinfo=_dt.timezone.utc)


def ev(event, key, mac="02:aa:00:00:00:01", ip="10.0.0.7", at=T0, device=None):
    return Event(at=at, event=event, severity="high", segment="office-lan", key=key, ip=ip,
                 mac=mac, device=device, check_id=None, detail=text("中文", "english"))


def test_a_watch_that_stopped_beating_is_vantage_silent(tmp_path):
    from scanner.cli import main
    from scanner.store.db import open_store
    from scanner.alerts.watch_health import silent_watches
    from scanner.store.watchlog import beat, health_rows
    url = f"sqlite:///{tmp_path}/s.db"
    store = open_store(url)
    try:
        beat(store, interface="eth0", segment="office-lan", pid=1, started_at="2026-12-07T00:00:00Z")
        rows = health_rows(store)
    finally:
        store.close()
    now = _dt.datetime.now(_dt.timezone.utc)
    assert silent_watches(rows, now, 120) == []
    (late,) = silent_watches(rows, now + _dt.timedelta(minutes=5), 120)
    assert late.name.startswith("office-lan watch@")
    stopped = [{**rows[0], "status": "stopped"}]
    assert len(silent_watches(stopped, now, 120)) == 1
    r = CliRunner().invoke(main, ["watch", "--health", "--db", url, "--silent-after", "2m"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("ok\t")
    outbox = tmp_path / "outbox.jsonl"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:      # a real syslog receiver
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(10)
        (tmp_path / "alerts.yaml").write_text(
            "version: 1\nchannels:\n  - {name: siem, type: syslog, transport: udp, "
            f"host: 127.0.0.1, port: {rx.getsockname()[1]}}}\n")
        args = ["watch", "--health", "--db", url, "--silent-after", "1ms",
                "--alert", str(tmp_path / "alerts.yaml"), "--outbox", str(outbox)]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1, r.output
        assert r.output.startswith("SILENT\t")
        msg = rx.recv(65535).decode("utf-8")
    assert 'kind="vantage-silent"' in msg and "watch@" in msg
    r = CliRunner().invoke(main, args)               # once per silence: not sent again
    assert r.exit_code == 1
    assert sum(1 for l in outbox.read_text().splitlines() if "vantage-silent" in l) == 1


def test_silence_must_be_longer_than_the_sweep(tmp_path):
    from scanner.cli import main
    r = CliRunner().invoke(main, ["watch", "-i", "x.yaml", "--sweep-every", "10m", "--silence", "5m"])
    assert r.exit_code == 2 and "--silence" in r.output
    r = CliRunner().invoke(main, ["watch", "-i", "x.yaml", "--sweep-every", "ten"])
    assert r.exit_code == 2 and "duration" in r.output


def test_events_json_line_fields():
    line = ev("station-new", "k").to_json("en")
    assert list(line) == ["at", "event", "check_id", "severity", "segment", "ip", "mac",
                          "device", "detail"]
    assert line["detail"] == "english"
    json.dumps(line)


def test_health_whose_outbox_fails_says_so_and_still_exits_silent(tmp_path):
    from scanner.cli import main
    from scanner.store.db import open_store
    from scanner.store.watchlog import beat
    url = f"sqlite:///{tmp_path}/h.db"
    store = open_store(url)
    try:
        beat(store, interface="eth0", segment="office-lan", pid=1, started_at="2026-12-07T00:00:00Z")
    finally:
        store.close()
    (tmp_path / "alerts.yaml").write_text(
        "version: 1\nchannels:\n  - {name: siem, type: syslog, transport: udp, "
        "host: 127.0.0.1, port: 9}\n")
    (tmp_path / "no").write_text("a file, not a folder")
    r = CliRunner().invoke(main, ["watch", "--health", "--db", url, "--silent-after", "1ms",
                                  "--alert", str(tmp_path / "alerts.yaml"),
                                  "--outbox", str(tmp_path / "no" / "outbox.jsonl")])
    assert r.exit_code == 1, r.output
    assert "NOT delivered" in r.stderr and r.stdout.startswith("SILENT\t")


def test_the_default_outbox_sits_next_to_the_store_as_the_store_reads_its_url(tmp_path):
    from scanner.alerts.outbox import default_outbox
    assert default_outbox(str(tmp_path / "x.db")) == str(tmp_path / "alerts-outbox.jsonl")
    assert default_outbox(f"sqlite:///{tmp_path}/y.db?timeout=5") == str(tmp_path / "alerts-outbox.jsonl")
    assert default_outbox("postgresql://u@h/db") == "/var/lib/isoscan/alerts-outbox.jsonl"
