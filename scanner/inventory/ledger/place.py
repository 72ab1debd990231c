"""Placing a device in a declared segment: by a cell naming the segment
(its name or title, or a map's alias), else by the network holding its IP
(the most specific), else by the sheet's name (a sheet per network)."""
from __future__ import annotations

from typing import Iterable

from netaddr import IPAddress

from scanner.model import Segment
from scanner.inventory.ledger.clean import key


class Placer:
    def __init__(self, segments: Iterable[Segment], aliases: dict[str, str] | None = None):
        self.segments = {s.name: s for s in segments}
        self.by_text: dict[str, Segment] = {}
        for s in self.segments.values():
            self.by_text.setdefault(key(s.name), s)
            if s.title:
                self.by_text.setdefault(key(s.title), s)
        for alias, name in (aliases or {}).items():
            if name in self.segments:
                self.by_text[alias] = self.segments[name]
        self.ranges = sorted(((n.version, n.first, n.last, n.prefixlen, s)
                              for s in self.segments.values() for n in s.networks),
                             key=lambda r: -r[3])

    def named(self, value: str) -> Segment | None:
        return self.by_text.get(key(value))

    def holding(self, ip: IPAddress) -> Segment | None:
        v, x = ip.version, ip.value
        for version, first, last, _, seg in self.ranges:
            if version == v and first <= x <= last:
                return seg
        return None

    def why_not_in(self, seg: Segment, ip: IPAddress) -> str | None:
        """None when ip is a host address of seg; else outside | network | broadcast."""
        v, x = ip.version, ip.value
        for n in seg.networks:
            if n.version == v and n.first <= x <= n.last:
                if v == 4 and n.prefixlen <= 30 and x in (n.first, n.last):
                    return "network" if x == n.first else "broadcast"
                return None
        return "outside"

    def choices(self) -> str:
        return "、".join(f"{s.name}（{s.title}）" if s.title else s.name
                        for s in self.segments.values())

    def choices_en(self) -> str:
        return ", ".join(f"{s.name} ({s.title})" if s.title else s.name
                         for s in self.segments.values())
