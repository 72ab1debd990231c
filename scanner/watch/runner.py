"""The watch's loop: listen, judge, raise; sweep and solicit on schedule;
reload on SIGHUP; beat; stop on SIGTERM.

Order at start (privileges are dropped before any thread starts: capabilities
are per thread):
 1. the inventory (exit 2 when it is unusable; the command opened the store and the
    alert config and hands over `sink`, scanner/alerts/watchsink.py);
 2. per interface: its vantage and plan (the scan's scope guard), its capture
    socket (kernel filter) and its send socket; an interface that cannot be
    listened on is a `watch-error` event, never silence;
 3. the checks loaded (once: a SIGHUP judges with them again), then privileges
    dropped (privs.py): after the drop a --user may not read the installation;
 4. the state the store keeps (event keys raised before a restart);
 5. the sink's thread (store, alerts) and the sweep thread; then the loop.
"""
from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TextIO

from scanner.model import text
from scanner.watch.decode import Heard, decode
from scanner.watch.events import Event, utc
from scanner.watch.state import MAX_REPORTED, Bounded
from scanner.watch.tracker import Timing, Tracker

BEAT_EVERY = 30.0            # heartbeat into the store
REOPEN_EVERY = 10.0          # a lost interface is tried again this often
BATCH = 512                  # frames read from one socket before looking at the others
TICK = 0.25                  # the clock of silence, confirmations, settling
# a send failing so means the interface went down or away: the listener raises that
# itself (its socket fails, or its up-check within REOPEN_EVERY), the sweep does not
LINK_GONE = (errno.ENETDOWN, errno.ENODEV, errno.ENXIO)


class WatchInputError(Exception):
    """Exit 2: the inventory or every interface is unusable."""


@dataclass
class Options:
    inventory: list[str]
    interfaces: list[str] = field(default_factory=list)
    events: str | None = None
    sweep_every: float = 600.0
    solicit_every: float = 1800.0
    timing: Timing = field(default_factory=Timing)
    user: str | None = None
    keep_raw: bool = True
    lang: str = "zh-CN"
    checks: Callable[[], object] | None = None   # -> the Registry of rules.CHECKS (the command's)


def _now_dt() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _load_inventory(paths):
    from scanner.inventory.load import InputError, load_inventory
    from scanner.model import Status
    try:
        loaded = load_inventory(paths)
    except InputError as exc:
        raise WatchInputError(f"inventory cannot be read: {exc}")
    bad = [f for f in loaded.findings if f.status == Status.FAIL]
    if loaded.inventory is None or bad:
        lines = []
        for f in bad[:10]:
            ev = f.evidence[0] if f.evidence else ""
            lines.append(ev.get("en") if isinstance(ev, dict) else str(ev))
        raise WatchInputError("the inventory does not follow the schema (INV-SCHEMA): "
                              + "; ".join(lines))
    return loaded.inventory


class Leg:
    """One vantage interface: its plan, sockets, judge and tracker."""

    def __init__(self, iface: str):
        self.iface = iface
        self.plan = None
        self.capture = None
        self.sender = None
        self.tracker: Tracker | None = None
        self.segment: str | None = None
        self.error: str | None = None
        self.retry_at = 0.0
        self.frames = 0


class Watch:
    def __init__(self, opts: Options, out: TextIO | None, sink=None):
        self.o = opts
        self.out = out
        self.sink = sink                 # scanner/alerts/watchsink.Sink, or None (JSON lines only)
        self.legs: list[Leg] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.said: set[str] = set()      # error keys already emitted by this process
        self.reload = False
        self.started = time.time()
        self.started_at = utc(_now_dt())
        self.zone = None
        self.inv = None
        self.registry = None             # the checks (_checks())

    # -- start --------------------------------------------------------------
    def setup(self) -> list[Event]:
        from scanner.localtime import unit_zone
        self.inv = _load_inventory(self.o.inventory)
        self.zone = unit_zone(getattr(self.inv.organization, "timezone", None))
        errors: list[Event] = []
        names = self.o.interfaces or [None]
        for name in names:
            leg = Leg(name or "")
            try:
                self._plan(leg)
            except WatchInputError as exc:
                errors.append(self._error(leg, "vantage", str(exc)))
                continue
            self.legs.append(leg)
            self._open(leg, errors)
        if not self.legs:
            raise WatchInputError("no interface to watch: " + "; ".join(
                e.detail["en"] for e in errors))
        return errors

    def _plan(self, leg: Leg) -> None:
        from scanner.scan.plan import ScopeError, build_plan
        from scanner.scan.vantage import VantageError, find_vantage
        try:
            v = find_vantage(self.inv, interface=leg.iface or None)
            leg.plan = build_plan(self.inv, v)
        except (VantageError, ScopeError) as exc:
            msg = exc.message["en"] if isinstance(getattr(exc, "message", None), dict) else str(exc)
            raise WatchInputError(f"interface {leg.iface or '(any)'}: {msg}")
        leg.iface = v.interface
        leg.segment = v.segment

    def _open(self, leg: Leg, errors: list) -> None:
        from scanner.watch.listen import ListenError, open_capture
        from scanner.watch.sweep import Sender
        from scanner.probes.wire import iface_up
        if not iface_up(leg.iface):
            leg.capture = None
            errors.append(self._error(leg, "down", f"interface {leg.iface} is down or gone",
                                      text(f"接口 {leg.iface} 未启用或已不存在，该网段当前无人值守",
                                           f"interface {leg.iface} is down or gone: the segment "
                                           "is unwatched")))
            leg.retry_at = time.time() + REOPEN_EVERY
            return
        try:
            leg.capture = open_capture(leg.iface)
            if leg.sender is None:
                leg.sender = Sender(leg.plan)
            leg.error = None
        except ListenError as exc:
            leg.capture = None
            errors.append(self._error(leg, "listen", exc.message["en"], exc.message))
            leg.retry_at = time.time() + REOPEN_EVERY
        except OSError as exc:
            errors.append(self._error(leg, "send", f"cannot open a send socket on {leg.iface}: {exc}"))
            leg.retry_at = time.time() + REOPEN_EVERY

    def _error(self, leg: Leg, kind: str, why_en: str, why=None) -> Event:
        leg.error = why_en
        day = _now_dt().strftime("%Y-%m-%d")
        return Event(at=_now_dt(), event="watch-error", severity="high", segment=leg.segment,
                     key=f"watch-error|{leg.segment}|{leg.iface}|{kind}|{day}",
                     detail=why or text(f"接口 {leg.iface or '?'} 无法监听，该网段当前无人值守：{why_en}",
                                        f"{leg.iface or '?'} cannot be watched, the segment is "
                                        f"unwatched: {why_en}"))

    def _checks(self):
        """The checks' registry, loaded once, before the privileges are dropped (a --user
        may not read the installation afterwards); a SIGHUP judges with it again."""
        if self.registry is None:
            if self.o.checks is None:
                raise WatchInputError("no checks to judge with (Options.checks)")
            self.registry = self.o.checks()
        return self.registry

    def _new_judge(self, inv, plan):
        from scanner.watch.rules import Judge, RulesError
        try:
            return Judge(inv, plan.vantage.to_json(), self._checks())
        except RulesError as exc:
            raise WatchInputError(str(exc))

    def _judge(self, leg: Leg, reported: Bounded | None = None, judge=None) -> None:
        """The leg's tracker judging with `judge` (made here from self.inv when not given)."""
        if judge is None:
            judge = self._new_judge(self.inv, leg.plan)
        from scanner.probes.dhcp import CLIENT_MAC
        own = frozenset(leg.plan.vantage.own_macs) | {CLIENT_MAC}
        if leg.tracker is None:
            leg.tracker = Tracker(judge, leg.segment, own_macs=own, timing=self.o.timing,
                                  started=self.started, reported=reported,
                                  send_confirm=self._confirmer(leg))
        else:
            leg.tracker.rejudge(judge, own)

    def _confirmer(self, leg: Leg):
        def confirm(ip: str) -> bool:
            """True when the ARP question went out (the tracker says when it did not)."""
            try:
                if leg.sender is None:
                    return False
                leg.sender.confirm(ip)
                return True
            except Exception as exc:     # noqa: BLE001 - out of scope or the wire: said
                print(f"isoscan watch: ARP confirmation of {ip} not sent: {exc}",
                      file=sys.stderr, flush=True)
                return False
        return confirm

    def _state(self, segment: str) -> Bounded:
        b: Bounded = Bounded(MAX_REPORTED)
        if self.sink is not None:
            for k, v in self.sink.load_state(segment):
                b.put(k, v)
                if k.startswith("watch-error|"):
                    self.said.add(k)
        return b

    # -- events ---------------------------------------------------------------
    def emit(self, events: list[Event], forgotten: list[str] = ()) -> None:
        with self.lock:
            # a failure is said once a day per interface and kind, also across restarts
            events = [e for e in events if e.event != "watch-error" or e.key not in self.said]
            self.said.update(e.key for e in events if e.event == "watch-error")
            if not events and not forgotten:
                return
            self._emit(events, forgotten)

    def _emit(self, events, forgotten) -> None:
        if self.out is not None:
            for e in events:
                self.out.write(json.dumps(e.to_json(self.o.lang, self.zone), ensure_ascii=False) + "\n")
            self.out.flush()
        if self.sink is not None:
            self.sink.put(list(events), list(forgotten))

    # -- the loop -------------------------------------------------------------------
    def run(self) -> int:
        from scanner.probes.wire import iface_up
        from scanner.watch import privs
        first = self.setup()
        self._checks()
        done = privs.drop(self.o.user, self.o.keep_raw)
        for leg in self.legs:
            self._judge(leg, self._state(leg.segment))
        if self.sink is not None:
            self.sink.start()
        for seg in {e.segment for e in first if e.segment} - {l.segment for l in self.legs}:
            self._state(seg)
        self.emit(first)
        for leg in self.legs:
            state = "listening" if leg.capture is not None else f"error: {leg.error}"
            print(f"isoscan watch: {leg.iface} ({leg.segment}): {state}; {done}",
                  file=sys.stderr, flush=True)
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "reload", True))
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        sweeper = threading.Thread(target=self._sweeps, name="isoscan-watch-sweep", daemon=True)
        sweeper.start()
        self._beat()
        next_beat = time.time() + BEAT_EVERY
        next_tick = 0.0
        print("isoscan watch: ready", file=sys.stderr, flush=True)
        while not self.stop.is_set():
            socks = [leg.capture for leg in self.legs if leg.capture is not None]
            try:
                ready, _, _ = select.select(socks, [], [], TICK) if socks else ([], [], [])
            except InterruptedError:
                ready = []
            if not socks:
                self.stop.wait(TICK)
            for leg in self.legs:
                if leg.capture is not None and leg.capture in ready:
                    self._read(leg)
            now = time.time()
            if now >= next_tick:
                next_tick = now + TICK
                for leg in self.legs:
                    if leg.tracker is not None:
                        self.emit(leg.tracker.tick(now), self._forgotten(leg))
                    if leg.capture is None and now >= leg.retry_at:
                        errs: list = []
                        self._open(leg, errs)
                        self.emit(errs)
                        if leg.capture is not None:
                            print(f"isoscan watch: {leg.iface}: listening again", file=sys.stderr,
                                  flush=True)
                    elif leg.capture is not None and now >= leg.retry_at:
                        leg.retry_at = now + REOPEN_EVERY       # a link that went down: no frames,
                        if not iface_up(leg.iface):              # and no error from the socket
                            leg.capture.close()
                            leg.capture = None
                            self.emit([self._error(leg, "down", f"interface {leg.iface} went down")])
            if self.reload:
                self.reload = False
                self._reload()
            if now >= next_beat:
                next_beat = now + BEAT_EVERY
                self._beat()
        sweeper.join(5)                  # (it stops between two batches of 100 frames)
        self._beat("stopped")
        if self.sink is not None:
            self.sink.close()
        for leg in self.legs:
            for s in (leg.capture, leg.sender):
                if s is not None:
                    s.close()
        return 0

    @staticmethod
    def _forgotten(leg: Leg) -> list[str]:
        f, leg.tracker.forgotten = leg.tracker.forgotten, []
        return f

    def _read(self, leg: Leg) -> None:
        t = leg.tracker
        events: list[Event] = []
        for _ in range(BATCH):
            try:
                raw = leg.capture.recv()
            except OSError as exc:
                leg.capture.close()
                leg.capture = None
                leg.retry_at = time.time() + REOPEN_EVERY
                events.append(self._error(leg, "lost", f"listening on {leg.iface} failed: {exc}"))
                break
            if raw is None:
                break
            leg.frames += 1
            d = decode(raw)
            if d is None:
                continue
            now = time.time()
            if isinstance(d, Heard):
                events += t.heard(d, now)
            elif d[0] == "ra":
                events += t.advert(d[1], now)
            else:
                events += t.offer(d[1], now)
        self.emit(events)

    def _reload(self) -> None:
        try:
            inv = _load_inventory(self.o.inventory)
        except WatchInputError as exc:
            self._reload_failed(text(f"SIGHUP：清单重新加载失败，继续使用原清单：{exc}",
                                     f"SIGHUP: the inventory could not be reloaded, the "
                                     f"previous one stays in force: {exc}"))
            return
        from scanner.scan.plan import ScopeError, build_plan
        try:
            # everything made first: a failure leaves every leg as it was
            plans = [build_plan(inv, leg.plan.vantage) for leg in self.legs]
            judges = [self._new_judge(inv, plan) for plan in plans]
        except (ScopeError, WatchInputError) as exc:
            self._reload_failed(text(f"SIGHUP：新清单无法使用，继续使用原清单：{exc}",
                                     f"SIGHUP: the new inventory cannot be used, the previous "
                                     f"one stays in force: {exc}"))
            return
        self.inv = inv
        for leg, plan, judge in zip(self.legs, plans, judges):
            leg.plan = plan
            if leg.sender is not None:
                leg.sender.plan = plan
            self._judge(leg, judge=judge)
        print("isoscan watch: inventory reloaded", file=sys.stderr, flush=True)

    def _reload_failed(self, why) -> None:
        self.emit([Event(at=_now_dt(), event="watch-error", severity="high", segment=None,
                         key=f"watch-error|reload|{int(time.time())}", detail=why)])

    def _beat(self, status: str | None = None) -> None:
        if self.sink is None:
            return
        if status is None and self.sink.dead:
            # events go nowhere: a beat saying "listening" would hide it; "stopped" is
            # what `isoscan watch --health` raises vantage-silent for
            status = "stopped: the store/alert thread died (events are not stored or alerted)"
            print(f"isoscan watch: {status}", file=sys.stderr, flush=True)
        for leg in self.legs:
            st = status or ("listening" if leg.capture is not None else f"error: {leg.error}")
            if self.sink.lost:
                st += f"; {self.sink.lost} event(s) lost"
            try:
                self.sink.beat(interface=leg.iface, segment=leg.segment, pid=os.getpid(),
                     started_at=self.started_at, status=st)
            except Exception as exc:       # noqa: BLE001 - said; the health check sees no beat
                print(f"isoscan watch: heartbeat not stored: {type(exc).__name__}: {exc}",
                      file=sys.stderr, flush=True)

    def _sweeps(self) -> None:
        next_sweep = next_solicit = 0.0
        while not self.stop.is_set():
            now = time.time()
            for leg in list(self.legs):
                if leg.sender is None:
                    continue
                try:
                    if now >= next_solicit:
                        leg.sender.solicit()
                    if now >= next_sweep:
                        leg.sender.sweep(self.stop)
                except Exception as exc:      # noqa: BLE001 - an error event, not silence
                    if self.stop.is_set():
                        return
                    if isinstance(exc, OSError) and exc.errno in LINK_GONE:
                        continue              # the listener says it (one cause, one alarm)
                    self.emit([self._error(leg, "sweep", f"sweep on {leg.iface} failed: "
                                                         f"{type(exc).__name__}: {exc}")])
            if now >= next_solicit:
                next_solicit = now + self.o.solicit_every
            if now >= next_sweep:
                next_sweep = now + self.o.sweep_every
            self.stop.wait(max(0.05, min(next_sweep, next_solicit) - time.time()))
