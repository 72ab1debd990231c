"""The event rules (scanner/watch/tracker.py) on what a segment says, with the
installed checks judging (no network: the frames' decoded form is fed in;
the wire is tests/watch/test_watch_lab.py's)."""
from __future__ import annotations

from pathlib import Path

import pytest

from scanner.watch.decode import Heard
from scanner.watch.state import Bounded
from scanner.watch.tracker import Timing, Tracker

LAB = Path(__file__).resolve().parent / "watch-lab.yaml"
V = {"segment": "office-lan", "interface": "eth0", "ip": "10.40.0.5", "mac": "02:00:00:00:4b:05",
     "ipv6": [], "up": True, "routes4": []}
WS = ("10.40.0.21", "02:00:00:00:4b:15")
SRV = ("10.40.0.10", "02:00:00:00:4b:0a")
T = 1_800_000_000.0


@pytest.fixture(scope="module")
def judge():
    from scanner.judge.registry import load_checks
    from scanner.watch.rules import CHECKS, Judge
    from scanner.watch.runner import _load_inventory
    return Judge(_load_inventory([str(LAB)]), V, load_checks(list(CHECKS)))


def tracker(judge, reported=None, **timing):
    sent = []
    t = Tracker(judge, "office-lan", own_macs=frozenset({V["mac"]}), started=T,
                timing=Timing(**{"silence": 60, **timing}), reported=reported,
                send_confirm=sent.append)
    return t, sent


def names(events):
    return [e.event for e in events]


def test_two_live_macs_are_a_conflict_one_that_left_a_flip_flop(judge):
    t, sent = tracker(judge, silence=1e6)
    t.heard(Heard(WS[1], WS[0], "arp", False), T)
    ev = t.heard(Heard("02:aa:00:00:00:01", WS[0], "garp", True), T + 5)
    assert "address-conflict" in names(ev)
    assert not sent                                   # both alive: nothing to ask
    # another address, whose owner left long ago: asked first, then a flip-flop
    t.heard(Heard(SRV[1], SRV[0], "arp", False), T)
    t.heard(Heard("02:aa:00:00:00:02", SRV[0], "arp", False), T + 300)     # (station-new)
    assert sent == [SRV[0]]
    assert names(t.tick(T + 301)) == []               # still waiting for the answer
    ev = t.tick(T + 303)
    assert names(ev) == ["flip-flop"] and ev[0].ip == SRV[0]
    assert names(t.tick(T + 304)) == []               # said once


def test_the_old_mac_answering_the_question_is_a_conflict_not_a_flip_flop(judge):
    t, sent = tracker(judge, silence=1e6)
    t.heard(Heard(SRV[1], SRV[0], "arp", False), T)
    t.heard(Heard("02:aa:00:00:00:03", SRV[0], "arp", False), T + 300)
    ev = t.heard(Heard(SRV[1], SRV[0], "arp", False), T + 300.5)      # its answer
    assert names(ev) == ["address-conflict"]
    assert names(t.tick(T + 303)) == []


def test_gone_after_the_silence_back_when_heard_and_nothing_repeats_after_a_restart(judge):
    t, _ = tracker(judge)
    t.heard(Heard(WS[1], WS[0], "arp", False), T)       # the positive control
    t.heard(Heard(SRV[1], SRV[0], "arp", False), T)
    assert names(t.tick(T + 30)) == []                  # not before the silence
    t.heard(Heard(WS[1], WS[0], "arp", False), T + 61)
    gone = t.tick(T + 65)
    assert {(e.event, e.device) for e in gone} == {("station-gone", "srv-w"),
                                                    ("station-gone", "gw-w")}
    assert {e.check_id for e in gone} == {"DEV-MISSING"}
    # a restart: the keys come back from the store
    again, _ = tracker(judge, reported=_copy(t.reported))
    again.started = T + 66 - 60
    again.heard(Heard(WS[1], WS[0], "arp", False), T + 66)
    assert names(again.tick(T + 71)) == []
    back = again.heard(Heard(SRV[1], SRV[0], "arp", False), T + 72) + again.tick(T + 72.5)
    assert names(back) == ["station-back"] and back[0].device == "srv-w"
    assert again.forgotten == [e.key for e in gone if e.device == "srv-w"]


def test_nothing_is_gone_when_no_registered_device_is_heard(judge):
    t, _ = tracker(judge)
    t.heard(Heard("02:aa:00:00:00:09", "10.40.0.99", "arp", False), T)
    assert [e.event for e in t.tick(T + 120)] == []     # no control: absence proves nothing


def test_a_flood_is_bounded_and_said(judge):
    t, _ = tracker(judge, events_per_minute=5)
    ev = []
    for i in range(300):
        ev += t.heard(Heard(f"02:cc:00:00:{i >> 8:02x}:{i & 255:02x}", f"10.40.0.{100 + i % 100}",
                            "arp", False), T + i * 0.01)
    assert names(ev).count("station-new") == 5
    assert len(t.backlog) > 0
    ev = t.tick(T + 61)
    assert "watch-flood" in names(ev)
    assert names(ev).count("station-new") == 5          # the backlog, within the next minute's bound
    left = len(t.backlog)
    assert names(t.tick(T + 62)) == [] and len(t.backlog) == left     # the bound is reached
    assert names(t.tick(T + 121)).count("station-new") == 5           # the minute after


def _copy(b: Bounded) -> Bounded:
    c: Bounded = Bounded(b.limit)
    for k, v in b.items():
        c.put(k, v)
    return c


def test_a_reload_rejudges_stations_but_keeps_when_each_was_heard(judge):
    t, _ = tracker(judge)
    stray = ("10.40.0.77", "02:aa:00:00:4b:77")
    assert names(t.heard(Heard(stray[1], stray[0], "arp", False), T + 40)) == ["station-new"]
    t.heard(Heard(WS[1], WS[0], "arp", False), T + 50)
    t.heard(Heard(SRV[1], SRV[0], "arp", False), T + 50)
    t.rejudge(judge, t.own_macs)                          # SIGHUP at T + 55
    t.heard(Heard(WS[1], WS[0], "arp", False), T + 56)
    gone = t.tick(T + 65)
    # srv-w spoke 15 s ago: not gone because the inventory was reloaded; gw-w never spoke
    assert {e.device for e in gone if e.event == "station-gone"} == {"gw-w"}
    # judged again under the new inventory when heard (its key stops a repeat here)
    calls = []
    t.judge = type("J", (), {"station": lambda self, *a: calls.append(a) or [],
                             "inv": judge.inv})()
    t.rejudge(t.judge, t.own_macs)
    t.heard(Heard(stray[1], stray[0], "arp", False), T + 70)
    assert calls == [(stray[0], stray[1], "arp")]


def test_a_station_the_full_backlog_dropped_is_judged_when_heard_again(judge):
    from scanner.watch.state import MAX_PENDING
    t, _ = tracker(judge, events_per_minute=5, silence=1e6)
    macs = [f"02:cc:00:00:{i >> 8:02x}:{i & 255:02x}" for i in range(MAX_PENDING + 50)]
    for i, mac in enumerate(macs):                      # a flood: more than the backlog holds
        t.heard(Heard(mac, None, "arp-probe", True), T + i * 0.001)     # (no address claimed)
    dropped = macs[5]                                   # (the first 5 were judged at once)
    assert dropped in t.stations and dropped not in t.backlog
    ev = t.heard(Heard(dropped, None, "arp-probe", True), T + 61)       # the flood is over
    assert "watch-flood" in names(ev)                    # the last minute's, said now
    assert [(e.event, e.mac) for e in ev if e.event != "watch-flood"] == [("station-new", dropped)]


def test_a_move_whose_question_could_not_be_sent_says_so(judge):
    t = Tracker(judge, "office-lan", own_macs=frozenset({V["mac"]}), started=T,
                timing=Timing(silence=1e6), send_confirm=lambda ip: False)
    t.heard(Heard(SRV[1], SRV[0], "arp", False), T)
    t.heard(Heard("02:aa:00:00:00:02", SRV[0], "arp", False), T + 300)
    (ev,) = [e for e in t.tick(T + 303) if e.event == "flip-flop"]
    assert "could not be asked" in ev.detail["en"] and "silent for 300 s" in ev.detail["en"]
    assert "no longer answers" not in ev.detail["en"]
