"""Where `isoscan watch`'s events go once raised: the store, then the alert
channels (syslog, webhook, mail) through the alerts' outbox, which sends each
alert once per channel and keeps what failed for the next try. One thread of
its own: a webhook that hangs or a store that is slow delays only this
thread, never the listener (scanner/watch/runner.py hands events over with
put() and never waits).

The queue is bounded (MAX_QUEUE batches); when the store or a channel is so
slow that it fills, further batches are counted as lost and said on stderr
and in the next heartbeat's status (never silently).

A batch the thread cannot handle is counted as lost and said; the thread
goes on. Should it die all the same, `dead` says so and the runner's next
heartbeat reads "stopped" (what `isoscan watch --health` raises vantage-silent
for): events going nowhere are never covered by a "listening" beat.

The runner knows this object only by its methods (put, beat, load_state,
start, close, lost, dead): the watch itself imports neither the store nor the alerts.
"""
from __future__ import annotations

import datetime as _dt
import queue
import sys
import threading
import time

from scanner.alerts.rules import SEVERITY_RANK, Alert, iso
from scanner.model import text

MAX_QUEUE = 10_000
PRUNE_EVERY = 3600.0         # keys raised long ago are forgotten (watchlog.KEEP_DAYS) this often
RETRY_EVERY = 60.0           # pending alerts (a channel that was down) are retried this often


def alert_of(e) -> Alert:
    """The alert of a watch event (kind "watch", key "watch:<event key>")."""
    from scanner.watch.events import TITLES
    title = TITLES.get(e.event, text(e.event, e.event))
    who = " ".join(x for x in (e.device, e.ip, e.mac) if x) or "—"
    seg = e.segment or "—"
    return Alert(
        kind="watch", key=f"watch:{e.key}", severity=e.severity, segment=e.segment,
        title=text(f"{title['zh-CN']}：{who}", f"{title['en']}: {who}"),
        text=text(f"[{e.event}] 网段 {seg}，{who}：{e.detail['zh-CN']}",
                  f"[{e.event}] segment {seg}, {who}: {e.detail['en']}"),
        time=iso(e.at), check=e.check_id,
        subject={"ip": e.ip, "mac": e.mac, "device": e.device},
        details={"event": e.event})


class Sink:
    def __init__(self, store, alert_cfg=None, outbox: str | None = None):
        # what the thread runs, imported now, before the watch drops its privileges: a
        # --user may not be able to read the installation (or the interpreter's own
        # library) afterwards, and an import failing in the thread loses every event
        import scanner.alerts.outbox  # noqa: F401
        import scanner.store.watchlog  # noqa: F401
        self.store = store
        self.cfg = alert_cfg
        self.outbox = outbox
        self.q: queue.Queue = queue.Queue(MAX_QUEUE)
        self.lost = 0
        self.failed: dict[str, str] = {}
        self.next_prune = 0.0
        self.thread = threading.Thread(target=self._run, name="isoscan-watch-sink", daemon=True)

    # -- what the runner calls -----------------------------------------------------
    def start(self) -> None:
        """After the runner dropped its privileges (capabilities are per thread)."""
        self.thread.start()

    def load_state(self, segment: str) -> list[tuple[str, str]]:
        if self.store is None:
            return []
        from scanner.store.watchlog import load_state
        return load_state(self.store, segment)

    def beat(self, **kw) -> None:
        if self.store is None:
            return
        from scanner.store.watchlog import beat
        beat(self.store, **kw)

    def put(self, events: list, forgotten: list) -> None:
        if not events and not forgotten:
            return
        try:
            self.q.put_nowait((events, forgotten))
        except queue.Full:
            self.lost += len(events)
            print(f"isoscan watch: {len(events)} event(s) lost: the store/alert queue is full",
                  file=sys.stderr, flush=True)

    def close(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive():
            self.q.put((None, None))
            self.thread.join(timeout)
        if self.store is not None:
            self.store.close()

    # -- the thread -----------------------------------------------------------------
    @property
    def dead(self) -> bool:
        """Started, and its thread is gone: nothing reaches the store or the channels."""
        return self.thread.ident is not None and not self.thread.is_alive()

    def _run(self) -> None:
        while True:
            try:
                events, forgotten = self.q.get(timeout=RETRY_EVERY)
            except queue.Empty:
                events, forgotten = [], []
            if events is None:
                return
            try:
                self._one(events, forgotten)
            except Exception as exc:          # noqa: BLE001 - counted and said; the thread goes on
                self.lost += len(events)
                print(f"isoscan watch: {len(events)} event(s) neither stored nor alerted: "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def _one(self, events: list, forgotten: list) -> None:
        self._prune()
        if self.store is not None and (events or forgotten):
            try:
                from scanner.store.watchlog import record
                record(self.store, events, forgotten)
            except Exception as exc:      # noqa: BLE001 - said, and the alerts still go
                print(f"isoscan watch: the store refused {len(events)} event(s): "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        self._alert(events)

    def _prune(self) -> None:
        if self.store is None or time.monotonic() < self.next_prune:
            return
        self.next_prune = time.monotonic() + PRUNE_EVERY
        try:
            from scanner.store.watchlog import prune
            prune(self.store)
        except Exception as exc:              # noqa: BLE001 - said; tried again next time
            print(f"isoscan watch: old keys not pruned: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)

    def _alert(self, events: list) -> None:
        if self.cfg is None or not self.cfg.channels or not self.outbox:
            return
        from scanner.alerts.outbox import deliver
        cut = SEVERITY_RANK.get(self.cfg.min_severity, SEVERITY_RANK["low"])
        alerts = [alert_of(e) for e in events if SEVERITY_RANK.get(e.severity, 0) <= cut]
        try:
            res = deliver(self.outbox, alerts, self.cfg.channels,
                          now=_dt.datetime.now(_dt.timezone.utc), keep_days=self.cfg.keep_days)
        except Exception as exc:              # noqa: BLE001 - the outbox keeps them; said
            print(f"isoscan watch: alerts not delivered: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
            return
        self.failed = dict(res.failed)
        for ch, why in res.failed.items():
            print(f"isoscan watch: alert channel {ch} failed (kept for retry): {why}",
                  file=sys.stderr, flush=True)
