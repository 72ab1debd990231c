"""The watch's event: one record, written as a JSON line, a store row and an alert.

    {"at": "2026-12-08T02:30:00+08:00", "event": "station-new", "check_id": "DEV-UNREGISTERED",
     "severity": "high", "segment": "office-lan", "ip": "10.20.0.77", "mac": "02:..",
     "device": null, "detail": "neither the IP nor the MAC of ... is in the inventory"}

`at` is the unit's local time (scanner/localtime.py) where a person reads it
(the JSON line, the console); the store keeps UTC. `detail` is in the
chosen language; the store keeps both (zh-CN and en).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from scanner.localtime import local_iso
from scanner.model import Text, pick, text

# event -> (check whose rule judges it, or None)
EVENTS = {
    "station-new": "DEV-UNREGISTERED",
    "station-misplaced": "DEV-MISPLACED",
    "address-conflict": "DEV-CONFLICT",
    "flip-flop": None,
    "rogue-dhcp": "NET-DHCP",
    "rogue-ra": "NET-IPV6-RA",
    "station-gone": "DEV-MISSING",
    "station-back": None,
    "watch-error": None,          # a segment it cannot listen on, a sweep that failed
    "watch-flood": None,          # more events than the bound: the rest are counted
}

TITLES = {
    "station-new": text("新站点：未登记设备接入", "new station: an unregistered device"),
    "station-misplaced": text("已登记设备出现在非登记网段", "registered device on another segment"),
    "address-conflict": text("地址冲突：多个 MAC 使用同一地址", "address conflict: several MACs for one address"),
    "flip-flop": text("地址换用 MAC（flip-flop）", "address moved to another MAC (flip-flop)"),
    "rogue-dhcp": text("未声明的 DHCP 服务器", "undeclared DHCP server"),
    "rogue-ra": text("未声明的 IPv6 路由器（路由通告）", "undeclared IPv6 router (router advertisement)"),
    "station-gone": text("已登记设备沉默（离线）", "registered device gone silent"),
    "station-back": text("已登记设备恢复", "registered device back"),
    "watch-error": text("监听故障", "watch failure"),
    "watch-flood": text("事件过多（已限流）", "too many events (bounded)"),
}


def utc(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


@dataclass(frozen=True)
class Event:
    at: _dt.datetime
    event: str
    severity: str
    segment: str | None
    detail: Text
    key: str                          # what makes it one event (dedupe across restarts)
    ip: str | None = None
    mac: str | None = None
    device: str | None = None
    check_id: str | None = None
    evidence: tuple = field(default=())

    def to_json(self, lang: str = "zh-CN", zone=None) -> dict:
        return {"at": local_iso(self.at, zone), "event": self.event, "check_id": self.check_id,
                "severity": self.severity, "segment": self.segment, "ip": self.ip,
                "mac": self.mac, "device": self.device, "detail": pick(self.detail, lang)}

    def row(self) -> dict:
        import json
        return {"at": utc(self.at), "event": self.event, "check_id": self.check_id,
                "severity": self.severity, "segment": self.segment, "ip": self.ip,
                "mac": self.mac, "device": self.device, "key": self.key[:300],
                "detail": json.dumps({"detail": self.detail,
                                      "evidence": [e for e in self.evidence]},
                                     ensure_ascii=False)}
