"""The watch's memory, bounded: a week of traffic must not grow it.

Bounds (each table drops its least recently heard entry when full):

    stations      MAX_STATIONS  (16,384) MACs per segment, each with at most
                                MAX_ADDRESSES (8) addresses
    owners        MAX_STATIONS  addresses per segment -> the MAC that last spoke for it
    judged        MAX_JUDGED    (4,096) servers/routers already judged
    reported      MAX_REPORTED  (65,536) event keys already raised (also in the store)
    pending       MAX_PENDING   (1,024) address moves waiting for their ARP confirmation
    backlog       MAX_PENDING   (1,024) stations first heard while the minute's event bound
                                was reached (a flood): judged later, at most JUDGE_PER_TICK a
                                tick and only within a later minute's bound; one the full
                                backlog drops stays unjudged and is judged when heard again

A segment with more stations than the bound (a MAC flood) keeps the newest;
a station forgotten that way and heard again is judged again (its event was
already raised: `reported` stops a repeat).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Iterator, TypeVar

MAX_STATIONS = 16_384
MAX_ADDRESSES = 8
MAX_JUDGED = 4_096
MAX_REPORTED = 65_536
MAX_PENDING = 1_024

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """A dict that keeps at most `limit` entries, dropping the least recently touched."""

    __slots__ = ("limit", "d", "dropped")

    def __init__(self, limit: int):
        self.limit = limit
        self.d: OrderedDict = OrderedDict()
        self.dropped = 0

    def get(self, k: K, default=None):
        return self.d.get(k, default)

    def touch(self, k: K) -> None:
        self.d.move_to_end(k)

    def put(self, k: K, v: V) -> None:
        d = self.d
        if k in d:
            d.move_to_end(k)
        d[k] = v
        if len(d) > self.limit:
            d.popitem(last=False)
            self.dropped += 1

    def pop(self, k: K, default=None):
        return self.d.pop(k, default)

    def __contains__(self, k) -> bool:
        return k in self.d

    def __len__(self) -> int:
        return len(self.d)

    def items(self) -> Iterator:
        return iter(list(self.d.items()))

    def clear(self) -> None:
        self.d.clear()


class Station:
    """A MAC heard on the segment: when, from which addresses."""

    __slots__ = ("mac", "first", "last", "ips", "generation")

    def __init__(self, mac: str, now: float, generation: int = 0):
        self.mac = mac
        self.first = now
        self.last = now
        self.ips: dict[str | None, float] = {}
        self.generation = generation        # of the inventory it was last judged under

    def add_ip(self, ip: str | None, now: float) -> bool:
        """True when this address is new for the station."""
        ips = self.ips
        if ip in ips:
            ips[ip] = now
            return False
        if len(ips) >= MAX_ADDRESSES:
            del ips[min(ips, key=ips.get)]
        ips[ip] = now
        return True


class Owner:
    """Who spoke last for an address, and who before."""

    __slots__ = ("mac", "last", "macs")

    def __init__(self, mac: str, now: float):
        self.mac = mac
        self.last = now
        self.macs: dict[str, float] = {mac: now}      # every MAC heard for it (bounded)

    def heard(self, mac: str, now: float) -> None:
        m = self.macs
        m[mac] = now
        if len(m) > MAX_ADDRESSES:
            del m[min(m, key=m.get)]
        self.mac, self.last = mac, now
