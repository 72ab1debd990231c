"""`isoscan host --watch`: the 违规外联 monitor's way of working.

A first full run (the baseline), then netlink (RTMGRP_LINK | IPV4_IFADDR |
IPV6_IFADDR): when an interface appears or gains an address (a phone plugged
in, a Wi-Fi link up), the host record is read again (interfaces, radios,
routes, forwarding; the logs of the baseline are kept: they do not change in
a second) and the HOST checks run at once, then the reach test through the
new interface. Every fail not alerted before becomes an alert (the same
alerts as `isoscan alert`: scanner/alerts/rules.py) delivered through the
configured channels by the outbox, which keeps what could not be delivered
(the network is gone) and sends it as soon as it can: every event and every
RETRY_S seconds.
"""
from __future__ import annotations

import datetime as _dt
import dataclasses
import hashlib
import os
import re
import select
import signal
import sys
import time

import click

from scanner.model import Status, pick, text

_TOKEN = re.compile(r"(token \.\.\.|令牌 …)[0-9a-f]+")
DEBOUNCE_S = 0.15        # events of one plug-in come together
RETRY_S = 5.0            # pending alerts are retried this often


def _say(lang, t):
    click.echo(pick(t, lang), err=True)


class Watcher:
    def __init__(self, paths, *, device=None, lang="zh-CN", channels=(), outbox=None,
                 min_severity="low", reach=True, files_root=None):
        from scanner.host.run import host_checks, load
        self.paths, self.device, self.lang = list(paths), device, lang
        self.channels, self.outbox, self.min_severity = list(channels), outbox, min_severity
        self.reach, self.files_root = reach, files_root
        self.inv, self.schema = load(self.paths)
        self.checks, _ = host_checks()
        self.alerted: set[str] = set()
        self.baseline = None
        self.dev = None

    # -- one round ---------------------------------------------------------
    def full(self):
        """The baseline: everything, the logs included."""
        from scanner.host.run import run_host
        res = run_host(self.paths, device=self.device, reach=self.reach, lang=self.lang,
                       files_root=self.files_root)
        self.baseline = res.record
        from scanner.host.run import find_device
        self.dev, _ = find_device(self.inv, res.record, self.device)
        self.device = self.dev.name
        return self.alert(res.bundle["findings"], res.bundle["scan_id"])

    def quick(self, only: list[str] | None):
        """A change: the record again without the logs, the checks now, then
        the reach test through the interfaces that changed."""
        from scanner.host import netlink
        from scanner.host.collect import collect
        from scanner.host.record import ReachRecord
        from scanner.host.root import Root
        from scanner.judge.run import run_checks
        from scanner.bundle import finding_json
        rec = collect(Root("/"), addresses=netlink.addresses, read_logs=False,
                      files=Root(self.files_root) if self.files_root else None)
        b = self.baseline
        rec = dataclasses.replace(rec, media_history=b.media_history, wifi_events=b.wifi_events,
                                  net_history=b.net_history,
                                  identity=dataclasses.replace(
                                      rec.identity, macs_in_logs=b.identity.macs_in_logs),
                                  logs_read=b.logs_read, log_lines=b.log_lines,
                                  problems=rec.problems + tuple(
                                      p for p in b.problems if p.part in ("logs", "journal")))
        obs = self._obs(rec, ReachRecord(status="not-run", error="watch: pending"))
        first = [c for c in self.checks if c.meta.id != "HOST-EGRESS"]
        found = run_checks([(c.meta, c.evaluate) for c in first], self.inv, obs)
        sent = self.alert([finding_json(f, self.lang) for f in found], "watch")
        if self.reach and self.inv.canaries:
            from scanner.canary import tokens
            from scanner.host import reach as reach_test
            names = [n for n in (only or []) if rec.nic(n) is not None]
            if names:
                seg = self.dev.interfaces[0].segment if self.dev.interfaces else ""
                rr = reach_test.run(self.inv, self.dev, rec,
                                    tokens.TokenMinter("watch", seg, tokens.new_key()),
                                    wait=0.6, only=names + ["default"])
                egress = [c for c in self.checks if c.meta.id == "HOST-EGRESS"]
                found = run_checks([(c.meta, c.evaluate) for c in egress], self.inv,
                                   self._obs(rec, rr))
                sent += self.alert([finding_json(f, self.lang) for f in found], "watch")
        return sent

    def _obs(self, rec, rr) -> dict:
        return {"vantage": {"kind": "host", "device": self.device, "segment": None},
                "host": rec.to_json(), "host_reach": rr.to_json()}

    def alert(self, findings, result_id: str) -> int:
        """Alerts for fails not alerted before; delivered (or kept) by the outbox."""
        from scanner.alerts.rules import Change, compute
        changes = []
        for f in findings:
            if f["status"] != Status.FAIL.value or not f["check_id"].startswith("HOST-"):
                continue
            first = _TOKEN.sub("", (f.get("evidence") or [""])[0])    # a new token each round
            fp = hashlib.sha256(f"{f['check_id']}|{f.get('subject')}|{first}".encode()
                                ).hexdigest()[:32]
            if fp in self.alerted:
                continue
            self.alerted.add(fp)
            changes.append(Change(kind="new", fingerprint=fp, check=f["check_id"],
                                  segment=f.get("segment") or self.device,
                                  severity=f["severity"], subject=f.get("subject"),
                                  title=(f.get("i18n") or {}).get("title") or f.get("title")))
        now = _dt.datetime.now(_dt.timezone.utc)
        alerts = compute(changes, None, None, now=now, result_id=f"{self.device}:{result_id}",
                         min_severity=self.min_severity)
        self.deliver(alerts)
        return len(alerts)

    def deliver(self, alerts) -> None:
        if not self.channels or self.outbox is None:
            for a in alerts:
                _say(self.lang, a.text)
            return
        from scanner.alerts import outbox
        res = outbox.deliver(self.outbox, list(alerts), self.channels,
                             now=_dt.datetime.now(_dt.timezone.utc))
        for ch, why in res.failed.items():
            _say(self.lang, text(f"告警暂未送达 {ch}（已保存，稍后重试）：{why}",
                                 f"alert not delivered to {ch} yet (kept, retried): {why}"))

    # -- the loop -------------------------------------------------------------
    def loop(self, stop=lambda: False) -> None:
        from scanner.host import netlink
        sock = netlink.subscribe()
        try:
            self.full()
            _say(self.lang, text("基线检查完成，正在监视", "baseline done, watching"))
            last_retry = time.monotonic()
            while not stop():
                r, _, _ = select.select([sock], [], [], 1.0)
                if r:
                    idx = set()
                    end = time.monotonic() + DEBOUNCE_S
                    while True:
                        for what, i in netlink.changes(sock.recv(65536)):
                            if what in ("link", "addr"):
                                idx.add(i)
                        left = end - time.monotonic()
                        if left <= 0 or not select.select([sock], [], [], left)[0]:
                            break
                    if idx:
                        names = [n for i, n in _names() if i in idx]
                        self.quick(names)
                        last_retry = time.monotonic()
                if time.monotonic() - last_retry > RETRY_S:
                    self.deliver([])             # what the outbox still holds
                    last_retry = time.monotonic()
        finally:
            sock.close()


def _names():
    import socket
    try:
        return socket.if_nameindex()
    except OSError:
        return []


def watch_forever(paths, *, device=None, lang="zh-CN", alerts_file=None, outbox=None,
                  quiet=False, no_reach=False, files_root=None) -> int:
    from scanner.host.run import HostInputError
    channels, box, min_sev = [], outbox, "low"
    if alerts_file:
        from scanner.alerts.config import ConfigError, load_config
        try:
            cfg = load_config(alerts_file)
        except ConfigError as exc:
            click.echo(f"isoscan host: {exc}", err=True)
            return 2
        channels, min_sev = cfg.channels, cfg.min_severity
        box = outbox or cfg.outbox
        if box is None:
            _say(lang, text("--watch 需要告警暂存目录（--outbox 或告警配置的 outbox）",
                            "--watch needs an outbox (--outbox, or outbox: in the alerts file)"))
            return 2
        if os.path.isdir(box):
            box = os.path.join(box, "host-watch.jsonl")
    try:
        w = Watcher(paths, device=device, lang=lang, channels=channels, outbox=box,
                    min_severity=min_sev, reach=not no_reach, files_root=files_root)
    except HostInputError as exc:
        _say(lang, exc.message)
        return 2
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    if not quiet:
        _say(lang, text("正在监视网络接口与地址的变化（Ctrl-C 结束）",
                        "watching interfaces and addresses (Ctrl-C ends)"))
    try:
        w.loop(stop=lambda: bool(stopping))
    except KeyboardInterrupt:
        pass
    except HostInputError as exc:
        _say(lang, exc.message)
        return 2
    sys.stderr.flush()
    return 0
