"""`isoscan alert` end to end, against real receivers on loopback: the three
channels at once, each alert once, nothing for a persisting finding, a
receiver down at first served on the next run, the outbox kept across runs."""
from __future__ import annotations

import copy
import email
import email.policy
import hashlib
import hmac
import json
import subprocess
import sys

from scanner.bundle import summary
from tests.alerts.conftest import bundle, free_port, wait_for, write_json

SECRET = "hook-secret-9f3a"


def isoscan(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "scanner.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def results(tmp_path):
    """previous: the office scan without its ING-SINGLE failure; current: with it;
    later: the next night's scan, ING-SINGLE still failing (persisting)."""
    cur = bundle("office-lan")
    prev = copy.deepcopy(cur)
    prev["scan_id"] = "scan-office-00"
    prev["findings"] = [f for f in prev["findings"] if f["check_id"] != "ING-SINGLE"]
    prev["summary"] = summary(prev["findings"])
    later = copy.deepcopy(cur)
    later["scan_id"] = "scan-office-02"
    later["started_at"], later["finished_at"] = "2026-12-01T02:03:00Z", "2026-12-01T02:04:00Z"
    return (write_json(tmp_path / "prev.json", prev), write_json(tmp_path / "cur.json", cur),
            write_json(tmp_path / "later.json", later))


def config(tmp_path, syslog_port, hook_url, smtp_port, extra=""):
    (tmp_path / "hook.secret").write_text(SECRET + "\n")
    p = tmp_path / "alerts.yaml"
    p.write_text(f"""version: 1
lang: en
outbox: state/outbox.jsonl
channels:
  - name: siem
    type: syslog
    transport: tcp
    host: 127.0.0.1
    port: {syslog_port}
    hostname: probe-01
  - name: hook
    type: webhook
    url: {hook_url}
    secret_file: hook.secret
    retries: 1
    backoff: 0
    timeout: 3
  - name: mail
    type: email
    host: 127.0.0.1
    port: {smtp_port}
    starttls: false          # loopback test relay only: production requires STARTTLS
    from: isoscan@unit.example
    to: [soc@unit.example]
    timeout: 5
{extra}""", "utf-8")
    (tmp_path / "state").mkdir(exist_ok=True)
    return str(p)


def outbox(tmp_path):
    return [json.loads(x) for x in (tmp_path / "state" / "outbox.jsonl").read_text().splitlines()]


def test_all_channels_once_and_nothing_for_persisting(tmp_path, receivers):
    prev, cur, later = results(tmp_path)
    syslog, hook, smtp = receivers("tcp"), receivers("webhook"), receivers("smtp")
    cfg = config(tmp_path, syslog.port, hook.url, smtp.port)
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur)
    assert r.returncode == 0, r.stderr
    assert "siem: 1 sent" in r.stderr and "hook: 1 sent" in r.stderr and "mail: 1 sent" in r.stderr
    assert SECRET not in r.stderr + r.stdout
    # syslog: one RFC 5424 message naming the new ING-SINGLE finding
    assert wait_for(lambda: len(syslog.messages) == 1)
    m = syslog.messages[0].decode("utf-8")
    assert m.startswith("<131>1 ") and " probe-01 isoscan " in m and " new-finding [isoscan@32473 " in m
    assert 'check="ING-SINGLE"' in m and 'segment="office-lan"' in m
    assert m.endswith("\ufeffnew ING-SINGLE More than one exit to the internet (high): "
                      "10.20.0.254 02:bb:00:00:00:fe (segment office-lan)")
    # webhook: signed with the secret from the file (its trailing newline stripped)
    [req] = hook.requests
    assert req["headers"]["X-Isoscan-Signature"] == \
        "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
    doc = json.loads(req["body"])
    [a] = doc["alerts"]
    assert a["kind"] == "new-finding" and a["check"] == "ING-SINGLE"
    assert a["key"].endswith(":scan-office-01") and a["title"]["en"].startswith("new finding: ING-SINGLE")
    assert a["subject"] == {"ip": "10.20.0.254", "mac": "02:bb:00:00:00:fe", "device": None}
    # e-mail
    [mail] = smtp.messages
    msg = email.message_from_bytes(mail["data"], policy=email.policy.default)
    assert msg["Subject"].strip().startswith("[isoscan] 1 alert: new finding: ING-SINGLE")
    assert mail["to"] == ["soc@unit.example"]

    # the same pair again: already delivered, nothing sent
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur)
    assert r.returncode == 0 and "sent" not in r.stderr
    # the next night: ING-SINGLE persists, nothing is sent
    r = isoscan("alert", "--config", cfg, "--previous", cur, "--current", later)
    assert r.returncode == 0, r.stderr
    assert "sent" not in r.stderr
    assert len(hook.requests) == 1 and len(smtp.messages) == 1
    assert not wait_for(lambda: len(syslog.messages) > 1, timeout=0.5)
    assert {x["state"] for x in outbox(tmp_path)} == {"delivered"}


def test_a_receiver_down_at_first_gets_the_alert_next_run(tmp_path, receivers):
    prev, cur, later = results(tmp_path)
    hook = receivers("webhook")
    syslog_port, smtp_port = free_port(), free_port()          # nobody listens yet
    cfg = config(tmp_path, syslog_port, hook.url, smtp_port)
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur)
    assert r.returncode == 1
    assert "siem: FAILED, 1 alert(s) kept for the next run" in r.stderr
    assert "mail: FAILED, 1 alert(s) kept for the next run" in r.stderr
    assert "hook: 1 sent" in r.stderr
    states = {(x["channel"], x["state"]) for x in outbox(tmp_path)}
    assert states == {("siem", "pending"), ("mail", "pending"), ("hook", "delivered")}
    assert all("last_error" in x for x in outbox(tmp_path) if x["state"] == "pending")

    # the receivers come up; the next night's result raises nothing new (persisting),
    # yet the pending alert is delivered, once, and the webhook is not sent again
    syslog, smtp = receivers("tcp", port=syslog_port), receivers("smtp", port=smtp_port)
    r = isoscan("alert", "--config", cfg, "--previous", cur, "--current", later)
    assert r.returncode == 0, r.stderr
    assert "siem: 1 sent" in r.stderr and "mail: 1 sent" in r.stderr and "hook" not in r.stderr
    assert wait_for(lambda: len(syslog.messages) == 1)
    assert b'check="ING-SINGLE"' in syslog.messages[0]
    assert len(smtp.messages) == 1 and len(hook.requests) == 1
    assert {x["state"] for x in outbox(tmp_path)} == {"delivered"}
    r = isoscan("alert", "--config", cfg, "--previous", cur, "--current", later)
    assert r.returncode == 0 and "sent" not in r.stderr


def test_silent_vantage_and_worse_verdict(tmp_path, receivers):
    prev, cur, _ = results(tmp_path)
    hook = receivers("webhook")
    extra = "vantages:\n  - {segment: office-lan, every: 26h}\n  - {segment: secret-lan, every: 26h}\n"
    cfg = config(tmp_path, free_port(), hook.url, free_port(), extra)
    # only the webhook: a config of its own
    text = open(cfg).read()
    text = text[:text.index("  - name: siem")] + text[text.index("  - name: hook"):text.index("  - name: mail")] + extra
    open(cfg, "w").write(text)
    p = json.load(open(prev))
    p["findings"] = [f for f in p["findings"] if f["status"] != "fail"]
    p["summary"] = summary(p["findings"])
    write_json(tmp_path / "prev.json", p)                        # previous: compliant
    # one probe's bundles: the other probe (secret-lan) is not called silent
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur,
                "--now", "2026-11-30T12:00:00Z", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert sorted(a["kind"] for a in json.loads(r.stdout)) == \
        ["new-finding", "new-finding", "verdict-worse"]
    assert "vantage silence is not judged from one probe's bundle" in r.stderr
    # over the store every probe reports to, a vantage that never reported is silent
    db = str(tmp_path / "store.db")
    assert isoscan("ingest", "--db", db, prev, cur).returncode == 0
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur, "--db", db,
                "--now", "2026-11-30T12:00:00Z")
    assert r.returncode == 0, r.stderr
    kinds = sorted(a["kind"] for a in json.loads(hook.requests[0]["body"])["alerts"])
    assert kinds == ["new-finding", "new-finding", "vantage-silent", "verdict-worse"]
    silent = [a for a in json.loads(hook.requests[0]["body"])["alerts"] if a["kind"] == "vantage-silent"]
    assert silent[0]["key"] == "vantage-silent:secret-lan:never"
    # the collecting host's hourly check: silence only, from the store alone
    r = isoscan("alert", "--config", cfg, "--db", db, "--now", "2026-12-03T12:00:00Z", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert sorted((a["kind"], a["segment"]) for a in json.loads(r.stdout)) == \
        [("vantage-silent", "office-lan"), ("vantage-silent", "secret-lan")]


def test_dry_run_sends_and_records_nothing(tmp_path, receivers):
    prev, cur, _ = results(tmp_path)
    hook = receivers("webhook")
    cfg = config(tmp_path, free_port(), hook.url, free_port())
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert [a["check"] for a in json.loads(r.stdout)] == ["ING-SINGLE"]
    assert hook.requests == [] and not (tmp_path / "state" / "outbox.jsonl").exists()


def test_a_corrupt_outbox_is_refused_not_overwritten(tmp_path, receivers):
    prev, cur, _ = results(tmp_path)
    hook = receivers("webhook")
    cfg = config(tmp_path, free_port(), hook.url, free_port())
    ob = tmp_path / "state" / "outbox.jsonl"
    ob.write_text('{"key": "x"\n')
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur)
    assert r.returncode == 2 and "outbox.jsonl:1:" in r.stderr
    assert ob.read_text() == '{"key": "x"\n' and hook.requests == []


def test_bad_inputs_exit_2(tmp_path):
    prev, cur, _ = results(tmp_path)
    cfg = config(tmp_path, 1, "http://127.0.0.1:1/", 1)
    trunc = tmp_path / "t.json"
    trunc.write_text(open(cur).read()[:200])
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", str(trunc))
    assert r.returncode == 2 and "t.json: not JSON" in r.stderr
    other = json.load(open(cur))
    other["schema"] = "isoscan.bundle/9"
    r = isoscan("alert", "--config", cfg, "--current", write_json(tmp_path / "o.json", other))
    assert r.returncode == 2 and "schema" in r.stderr


def test_a_waived_new_finding_sends_nothing(tmp_path, receivers):
    prev, cur, _ = results(tmp_path)
    hook = receivers("webhook")
    cfg = config(tmp_path, free_port(), hook.url, free_port())
    text = open(cfg).read()
    open(cfg, "w").write(text[:text.index("  - name: siem")] +
                         text[text.index("  - name: hook"):text.index("  - name: mail")])
    w = tmp_path / "waivers.yaml"
    w.write_text("version: 1\nwaivers:\n  - {match: {check: ING-SINGLE, segment: office-lan}, "
                 "reason: r, approver: a, expires: 2099-01-01}\n")
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur, "--waivers", str(w))
    assert r.returncode == 0, r.stderr
    assert hook.requests == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nwaivers:\n  - {match: {check: ING-SINGLE}, reason: r, expires: 2099-01-01}\n")
    r = isoscan("alert", "--config", cfg, "--previous", prev, "--current", cur, "--waivers", str(bad))
    assert r.returncode == 2 and "bad.yaml:3:5: missing required key 'approver'" in r.stderr


def test_outbox_batches_and_a_failure_midway_keeps_the_rest(tmp_path, receivers):
    """Unit level: max_batch alerts per POST; the second batch failing keeps
    exactly its alerts pending, and the next run sends only those."""
    import datetime as dt

    from scanner.alerts import outbox as ob
    from scanner.alerts.rules import Alert
    from scanner.alerts.webhook import WebhookChannel
    hook = receivers("webhook", statuses=[200, 400])
    ch = WebhookChannel("hook", hook.url, secret=b"k", retries=0, max_batch=2)
    alerts = [Alert("new-finding", f"k{i}", "high", "s", {"en": "t", "zh-CN": "t"},
                    {"en": "x", "zh-CN": "x"}, "2026-12-02T00:00:00Z") for i in range(5)]
    now = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)
    path = str(tmp_path / "o.jsonl")
    res = ob.deliver(path, alerts, [ch], now=now)
    assert res.sent == {"hook": 2} and res.pending == {"hook": 3} and "HTTP 400" in res.failed["hook"]
    res = ob.deliver(path, [], [ch], now=now)
    assert res.sent == {"hook": 3} and not res.failed
    sizes = [len(json.loads(r["body"])["alerts"]) for r in hook.requests]
    assert sizes == [2, 2, 2, 1]                     # the failed batch of 2 resent, then 1
    keys = [a["key"] for r in hook.requests[2:] for a in json.loads(r["body"])["alerts"]]
    assert keys == ["k2", "k3", "k4"]


def test_two_runs_at_once_send_once(tmp_path, receivers):
    """Two timers firing together: the outbox lock lets one send, the other finds it delivered."""
    prev, cur, _ = results(tmp_path)
    hook = receivers("webhook")
    cfg = config(tmp_path, free_port(), hook.url, free_port())
    text = open(cfg).read()
    open(cfg, "w").write(text[:text.index("  - name: siem")] +
                         text[text.index("  - name: hook"):text.index("  - name: mail")])
    argv = [sys.executable, "-m", "scanner.cli", "alert", "--config", cfg,
            "--previous", prev, "--current", cur]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    codes = [p.wait(timeout=120) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [0, 0, 0, 0]
    assert len(hook.requests) == 1
    assert [x["state"] for x in outbox(tmp_path)] == ["delivered"]
