"""`isoscan watch` in the store (scanner/store/watchlog.py), on SQLite and
PostgreSQL: events and their keys survive a restart (a station-back forgets
its station-gone), old keys are pruned, and `isoscan stations` shows what the
watch heard in the history's words."""
from __future__ import annotations

import datetime as _dt

from scanner.model import text
from scanner.watch.events import Event

T0 = _dt.datetime(2026, 12, 7, 18, 30, tzinfo=_dt.timezone.utc)


def ev(event, key, mac="02:aa:00:00:00:01", ip="10.0.0.7", at=T0, device=None):
    return Event(at=at, event=event, severity="high", segment="office-lan", key=key, ip=ip,
                 mac=mac, device=device, check_id=None, detail=text("中文", "english"))


def test_events_keys_and_station_history(db_url):
    from scanner.store.db import open_store
    from scanner.store.history import station_history
    from scanner.store.watchlog import load_state, prune, recent_events, record
    store = open_store(db_url)
    try:
        record(store, [ev("station-new", "station-new|office-lan|02:aa:00:00:00:01"),
                       ev("station-gone", "station-gone|office-lan|srv|02:00:00:00:00:0a|10.0.0.10",
                          mac="02:00:00:00:00:0a", ip="10.0.0.10", device="srv",
                          at=T0 + _dt.timedelta(minutes=5))])
        state = dict(load_state(store, "office-lan"))
        assert state == {"station-new|office-lan|02:aa:00:00:00:01": "reported",
                         "station-gone|office-lan|srv|02:00:00:00:00:0a|10.0.0.10": "gone"}
        # back: the gone key is forgotten, so a later silence is raised again
        record(store, [ev("station-back", "station-back|office-lan|srv|x|y|1", mac="02:00:00:00:00:0a",
                          ip="10.0.0.10", at=T0 + _dt.timedelta(minutes=9))],
               forgotten=["station-gone|office-lan|srv|02:00:00:00:00:0a|10.0.0.10"])
        assert "station-gone|office-lan|srv|02:00:00:00:00:0a|10.0.0.10" not in dict(
            load_state(store, "office-lan"))
        assert [e["event"] for e in recent_events(store)] == ["station-back", "station-gone",
                                                              "station-new"]
        sts = {s.mac: s for s in station_history(store)}
        assert [e[1] for e in sts["02:00:00:00:00:0a"].events] == ["vanished", "returned"]
        assert sts["02:00:00:00:00:0a"].state == "present"
        assert sts["02:aa:00:00:00:01"].addresses == ["10.0.0.7"]
        # keys raised long ago leave the state (a card still gone would stay)
        record(store, [ev("station-gone", "station-gone|office-lan|ws|m|i", mac="m", ip="i",
                          device="ws")])
        assert prune(store, keep_days=0) == 2           # station-new, station-back
        assert load_state(store, "office-lan") == [("station-gone|office-lan|ws|m|i", "gone")]
    finally:
        store.close()


def test_a_segments_state_is_its_own_keys_only(db_url):
    from scanner.store.db import open_store
    from scanner.store.watchlog import load_state, record
    store = open_store(db_url)
    try:
        record(store, [ev("station-gone", "station-gone|office-lan|lan|m|i", device="lan"),
                       ev("station-new", "station-new|a%b|02:aa:00:00:00:02"),
                       ev("station-new", "station-new|lan|02:aa:00:00:00:03")])
        assert load_state(store, "lan") == [("station-new|lan|02:aa:00:00:00:03", "reported")]
        assert load_state(store, "a_b") == []           # "_" and "%" are no wildcards here
        assert load_state(store, "a%b") == [("station-new|a%b|02:aa:00:00:00:02", "reported")]
    finally:
        store.close()
