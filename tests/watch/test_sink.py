"""The watch's sink thread (scanner/alerts/watchsink.py): a batch it cannot
handle is counted and said, and the thread goes on; a dead thread is seen."""
from __future__ import annotations

import datetime as _dt
import time
from types import SimpleNamespace

from scanner.model import text
from scanner.watch.events import Event


def _event(n):
    return Event(at=_dt.datetime(2026, 12, 7, tzinfo=_dt.timezone.utc), event="station-new",
                 severity="high", segment="office-lan", key=f"station-new|office-lan|{n}",
                 detail=text("新", "new"))


def test_a_batch_that_breaks_is_lost_loudly_and_the_thread_goes_on(capsys):
    from scanner.alerts.watchsink import Sink
    broken = SimpleNamespace(channels=["syslog"])          # no min_severity: _alert raises
    sink = Sink(None, broken, "/nonexistent/outbox.jsonl")
    sink.start()
    try:
        sink.put([_event(1)], [])
        sink.put([_event(2), _event(3)], [])
        deadline = time.monotonic() + 5
        while sink.lost < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sink.lost == 3
        assert not sink.dead
    finally:
        sink.close()
    assert "neither stored nor alerted" in capsys.readouterr().err


def test_a_sink_not_started_is_not_dead():
    from scanner.alerts.watchsink import Sink
    assert not Sink(None).dead
