"""The shipped nightly command, two nights on a lab unit with two probes.

The demo lab with breaches on both segments (a swapped card on the classified
one, a rogue DHCP router on the office one) and a rogue laptop on the
classified segment whose link is down on night one. Each probe runs
`isoscan scan --db --alert --output-dir` against one shared store, with its
own alerts.yaml whose channels are a real UDP syslog receiver and a real SMTP
server (aiosmtpd) on that probe's own loopback (inside its namespace).

night one: an alert for every failing finding (no previous scan);
night two, the laptop plugged in: an alert for it and nothing else;
never a vantage-silent alert; one bundle file per vantage per night.
"""
from __future__ import annotations

import contextlib
import ctypes
import email
import email.policy
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab_support import DEMO_LAB
from tests.alerts.conftest import SyslogReceiver, Smtp, wait_for

pytestmark = pytest.mark.lab

PROBES = ("probe-secret", "probe-office")
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def inside(ns: str):
    """This thread in network namespace `ns` (sockets made here stay bound there;
    threads started here live there), then back in its own."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:      # never stay in the lab
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(there)
        os.close(own)


def _sd(msg: str, key: str) -> str | None:
    head = msg.split("\ufeff", 1)[0]
    mark = f' {key}="'
    if mark not in head:
        return None
    return head.split(mark, 1)[1].split('"', 1)[0]


def _nightly(lab, probe, db, cfg, out):
    argv = [sys.executable, "-m", "scanner.cli", "scan", "-q", "--lang", "en",
            *sum((["-i", str(f)] for f in lab.files), []),
            "--db", db, "--alert", cfg, "--output-dir", out]
    return lab.exec(probe, argv, timeout=240)


def test_two_nights_two_probes(lab_factory, tmp_path):
    lab = lab_factory(DEMO_LAB, faults=["swapped-nic", "soho-router", "rogue-laptop"])
    rogue = lab.hosts["rogue-laptop"]
    link = [*("ip", "link", "set", rogue.legs[0].ifname)]
    assert lab.exec("rogue-laptop", [*link, "down"]).returncode == 0     # not there yet
    db, out = str(tmp_path / "store.db"), str(tmp_path / "bundles")
    made, chans, cfgs = [], {}, {}
    try:
        for p in PROBES:
            lab.exec(p, ["ip", "link", "set", "lo", "up"], check=True)
            with inside(lab.netns(p)):
                syslog = SyslogReceiver("udp")
                made.append(syslog)
                smtp = Smtp(tmp_path)
                made.append(smtp)
            chans[p] = (syslog, smtp)
            cfgs[p] = tmp_path / f"{p}.yaml"
            cfgs[p].write_text(f"""version: 1
lang: en
min_severity: info          # every failing finding, notices too
outbox: {p}-outbox.jsonl
vantages:                   # a probe never judges these (only the store's host does)
  - {{segment: secret-lan, every: 1h}}
  - {{segment: office-lan, every: 1h}}
channels:
  - {{name: siem, type: syslog, transport: udp, host: 127.0.0.1, port: {syslog.port}}}
  - {{name: mail, type: email, host: 127.0.0.1, port: {smtp.port}, starttls: false,
     from: isoscan@lab.invalid, to: [secadmin@lab.invalid]}}
""" + ("""  - {name: hook, type: webhook, url: "http://127.0.0.1:9/down", secret: s, retries: 0}
""" if p == "probe-secret" else ""))     # a channel that is down: said, kept, verdict's exit

        def night():
            with ThreadPoolExecutor(len(PROBES)) as ex:
                runs = dict(zip(PROBES, ex.map(
                    lambda p: _nightly(lab, p, db, str(cfgs[p]), out), PROBES)))
            for p, r in runs.items():
                assert r.returncode == 1, (p, r.stdout, r.stderr)     # non-compliant, not 2
                failed = [l for l in r.stderr.splitlines() if "FAILED" in l]
                if p == "probe-secret":
                    assert len(failed) == 1 and "hook: FAILED" in failed[0], r.stderr
                    assert "kept for the next run" in failed[0]
                else:
                    assert failed == [], r.stderr
            return runs

        def bundles():
            return sorted(os.listdir(out))

        def alerts(p, since):
            syslog, smtp = chans[p]
            msgs = [m.decode("utf-8") for m in syslog.messages[since:]]
            return msgs

        # night one
        night()
        names = bundles()
        assert len(names) == 2, names
        assert {n.split("_")[0] for n in names} == {"secret-lan", "office-lan"}
        assert oct(os.stat(os.path.join(out, names[0])).st_mode & 0o777) == "0o600"
        assert oct(os.stat(db).st_mode & 0o777) == "0o600"
        first = {}
        for p in PROBES:
            b = next(json.load(open(os.path.join(out, n))) for n in names
                     if n.startswith(("secret-lan" if p == "probe-secret" else "office-lan") + "_"))
            failing = {f["check_id"] for f in b["findings"] if f["status"] == "fail"}
            assert failing, p
            syslog, smtp = chans[p]
            assert wait_for(lambda: len(syslog.messages) >= 1)
            msgs = alerts(p, 0)
            kinds = {_sd(m, "kind") for m in msgs}
            assert kinds == {"new-finding"}, msgs                 # no silence, no verdict
            assert {_sd(m, "check") for m in msgs} == failing, (p, msgs)
            assert len(msgs) == sum(1 for f in b["findings"] if f["status"] == "fail")
            assert wait_for(lambda: len(smtp.messages) == 1), smtp.messages
            mail = email.message_from_bytes(smtp.messages[0]["data"], policy=email.policy.default)
            assert mail["X-Isoscan-Alerts"] == str(len(msgs))
            first[p] = len(msgs)
        assert any("DEV-MISMATCH" in m and "ws-002" in m for m in alerts("probe-secret", 0))

        # night two: the rogue laptop is plugged in on the classified segment
        assert lab.exec("rogue-laptop", [*link, "up"]).returncode == 0
        night()
        assert len(bundles()) == 4
        assert {n.split("_")[0] for n in bundles()} == {"secret-lan", "office-lan"}
        new = alerts("probe-secret", first["probe-secret"])
        assert len(new) == 1, new
        assert _sd(new[0], "kind") == "new-finding" and _sd(new[0], "check") == "DEV-UNREGISTERED"
        assert "10.10.0.77" in new[0] and "02:aa:00:00:00:77" in new[0]
        assert alerts("probe-office", first["probe-office"]) == []
        assert wait_for(lambda: len(chans["probe-secret"][1].messages) == 2)
        assert len(chans["probe-office"][1].messages) == 1
        # the down channel's alerts of both nights wait in the outbox, the others went out
        box = [json.loads(l) for l in (tmp_path / "probe-secret-outbox.jsonl").read_text().splitlines()]
        assert {r["state"] for r in box if r["channel"] == "hook"} == {"pending"}
        assert len([r for r in box if r["channel"] == "hook"]) == first["probe-secret"] + 1
        assert {r["state"] for r in box if r["channel"] != "hook"} == {"delivered"}
        assert oct((tmp_path / "probe-secret-outbox.jsonl").stat().st_mode & 0o777) == "0o600"
    finally:
        for r in made:
            with contextlib.suppress(Exception):
                r.close()
