"""Review of the alerts (issue 14): keys, channels, the outbox."""
from __future__ import annotations

import copy
import json

from click.testing import CliRunner

from scanner.bundle import summary
from tests.alerts.conftest import bundle, receivers, write_json  # noqa: F401


def run(*args):
    from scanner.cli import main
    return CliRunner().invoke(main, list(args))


def _config(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_text("version: 1\nlang: en\nchannels:\n  - name: siem\n    type: syslog\n"
                 "    transport: udp\n    host: 127.0.0.1\n    port: 9\n", "utf-8")
    return str(p)


def test_a_bundle_with_a_null_scan_id_names_its_alerts_by_its_content(tmp_path):
    # SPEC §5 allows "scan_id": null. Every such bundle got the result id "None", so
    # the key of a finding that fails, is fixed and fails again weeks later was the
    # same as the first time: the outbox took it as sent, and it was never sent
    cur = bundle("office-lan")
    prev = copy.deepcopy(cur)
    prev["findings"] = [f for f in prev["findings"] if f["check_id"] != "ING-SINGLE"]
    prev["summary"] = summary(prev["findings"])
    keys = []
    for night in (1, 2):
        c = copy.deepcopy(cur)
        c["scan_id"] = None
        c["started_at"] = c["finished_at"] = f"2026-12-0{night}T02:00:00Z"
        p = write_json(tmp_path / f"prev{night}.json", {**prev, "scan_id": None})
        n = write_json(tmp_path / f"cur{night}.json", c)
        r = run("alert", "--config", _config(tmp_path), "--previous", p, "--current", n,
                "--dry-run")
        assert r.exit_code == 0, r.output
        keys += [a["key"] for a in json.loads(r.output) if a["kind"] == "new-finding"]
    assert len(keys) == 2
    assert not any(k.endswith(":None") for k in keys), keys
    assert keys[0] != keys[1]


def _alert(i, device):
    from scanner.alerts.rules import Alert
    return Alert(kind="new-finding", key=f"new-finding:fp{i}:scan", severity="high",
                 segment="office-lan", title={"zh-CN": "t", "en": "t"},
                 text={"zh-CN": f"ING-SINGLE newly fails: {device}", "en": f"ING-SINGLE newly fails: {device}"},
                 time="2026-12-02T02:00:00Z", fingerprint=f"fp{i}", check="ING-SINGLE",
                 subject={"ip": None, "mac": None, "device": device})


def test_a_hostile_long_subject_does_not_block_the_syslog_channel(tmp_path, receivers):
    # a bundle's device name of 70,000 characters made a datagram larger than UDP
    # carries: EMSGSIZE, the alert stayed pending, and since a failing channel stops
    # at its first failure every later alert queued behind it was never sent again
    import datetime as dt

    from scanner.alerts.outbox import deliver
    from scanner.alerts.syslog import SyslogChannel
    rx = receivers("udp")
    ch = SyslogChannel(name="siem", transport="udp", host="127.0.0.1", port=rx.port,
                       hostname="probe-01", lang="en")
    alerts = [_alert(1, "x" * 70_000), _alert(2, "ws-002")]
    res = deliver(str(tmp_path / "outbox.jsonl"), alerts, [ch],
                  now=dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc))
    assert res.failed == {}, res.failed
    assert res.sent == {"siem": 2}
    from tests.alerts.conftest import wait_for
    wait_for(lambda: len(rx.messages) == 2)
    assert all(len(m) <= 8192 for m in rx.messages)
    assert any(b"ws-002" in m for m in rx.messages)


def test_starttls_false_is_refused_for_a_relay_that_is_not_on_loopback(tmp_path):
    # SPEC §6: "starttls: false is for a relay on loopback only" -- the config took it
    # for any host, and the channel then logged in (username, password) in clear text
    import pytest

    from scanner.alerts.config import ConfigError, load_config
    base = ("version: 1\nchannels:\n  - name: mail\n    type: email\n    host: {host}\n"
            "    from: isoscan@unit.example\n    to: soc@unit.example\n    starttls: false\n"
            "    username: isoscan\n    password: hunter2-smtp\n")
    for host in ("mail.unit.example", "10.20.0.25"):
        p = tmp_path / "alerts.yaml"
        p.write_text(base.format(host=host), "utf-8")
        with pytest.raises(ConfigError) as e:
            load_config(str(p))
        assert ":8:15:" in str(e.value) and "loopback" in str(e.value)
        assert "hunter2" not in str(e.value)
    for host in ("127.0.0.1", "localhost", "::1"):
        p.write_text(base.format(host=f"'{host}'"), "utf-8")
        [ch] = load_config(str(p)).channels
        assert ch.starttls is False


def test_webhook_errors_do_not_print_a_token_in_the_url_path():
    # Feishu, Slack, Discord and Mattermost put the webhook's secret in the path
    # (…/open-apis/bot/v2/hook/<token>); describe() dropped the query and user info
    # but kept the path, so every failed delivery wrote the token to the journal
    import pytest

    from scanner.alerts.errors import ChannelError
    from scanner.alerts.webhook import WebhookChannel
    from tests.alerts.conftest import free_port
    ch = WebhookChannel("hook", f"http://127.0.0.1:{free_port()}/open-apis/bot/v2/hook/"
                                "3f9c2a7e-tok-0d4e", secret=b"k", retries=0, timeout=2)
    with pytest.raises(ChannelError) as e:
        ch.send([_alert(1, "ws-002")])
    assert "3f9c2a7e-tok-0d4e" not in str(e.value)
    assert str(e.value).startswith("webhook http://127.0.0.1:")


def test_a_waiver_that_lapsed_between_two_scans_alerts(tmp_path):
    # `alert --waivers` judged the previous result's waivers as of today too, so a
    # waiver that expired between the two scans had the finding failing "before" as
    # well: persisting, no alert -- neither for the finding nor for WAIVER-EXPIRED
    # (the command's own docstring: "one whose waiver lapsed comes back as new")
    prev = bundle("office-lan")                       # 2026-11-30, ING-SINGLE failing
    cur = copy.deepcopy(prev)
    cur["scan_id"] = "scan-office-02"
    cur["started_at"], cur["finished_at"] = "2026-12-02T02:03:00Z", "2026-12-02T02:04:00Z"
    p, c = write_json(tmp_path / "prev.json", prev), write_json(tmp_path / "cur.json", cur)
    w = tmp_path / "waivers.yaml"
    w.write_text("version: 1\nwaivers:\n  - match: {check: ING-SINGLE, segment: office-lan}\n"
                 "    reason: r\n    approver: a\n    expires: 2026-12-01\n", "utf-8")
    r = run("alert", "--config", _config(tmp_path), "--previous", p, "--current", c,
            "--waivers", str(w), "--now", "2026-12-02T03:00:00Z", "--dry-run")
    assert r.exit_code == 0, r.output
    checks = sorted(a["check"] for a in json.loads(r.output) if a["kind"] == "new-finding")
    assert checks == ["ING-SINGLE", "WAIVER-EXPIRED"], r.output
