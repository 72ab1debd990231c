"""The console's page of watch events (scanner/serve/routes/events.py): what the
wire said is shown, never obeyed: bidi overrides and controls made visible."""
from __future__ import annotations

import datetime as _dt

from scanner.model import text
from scanner.watch.events import Event

RLO = "\u202e"


def test_bidi_and_controls_from_the_wire_are_shown_not_obeyed(tmp_path):
    from scanner.serve.routes.events import context
    from scanner.store.db import open_store
    from scanner.store.watchlog import beat, record
    store = open_store(f"sqlite:///{tmp_path}/w.db")
    try:
        record(store, [Event(
            at=_dt.datetime(2026, 12, 7, 18, 30, tzinfo=_dt.timezone.utc), event="rogue-dhcp",
            severity="high", segment="office-lan", key="rogue-dhcp|office-lan|x",
            ip="10.0.0.9", mac="02:aa:00:00:00:09", device=f"pc{RLO}exe.txt",
            detail=text(f"服务器 evil{RLO}gpj.exe\n第二行", f"server evil{RLO}gpj.exe\nline two"))])
        beat(store, interface="eth0", segment=f"office{RLO}-lan", pid=1,
             started_at="2026-12-07T18:00:00Z", status=f"listening\x1b[2J")
        ctx = context(store, None, "en")
    finally:
        store.close()
    (row,) = ctx["rows"]
    assert row["device"] == "pc\\u202eexe.txt"
    assert row["text"] == "server evil\\u202egpj.exe\nline two"     # lines kept, override shown
    (w,) = ctx["watches"]
    assert RLO not in w["segment"] and "\x1b" not in w["status"]
