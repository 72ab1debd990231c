"""What the watch heard on one segment, turned into events (the event rules).

    station-new        a MAC first heard, which DEV-UNREGISTERED fails
    station-misplaced  a MAC first heard, which DEV-MISPLACED fails
    address-conflict   an address heard from a second MAC while the first still
                       speaks (within `conflict_window`), which DEV-CONFLICT fails
    flip-flop          an address moved to another MAC and the old one no longer
                       answers: an ARP who-has for the address goes out first (as
                       the scan's confirmation round does) and only when the old
                       MAC stays silent for `confirm_wait` is it a flip-flop
    rogue-dhcp         an offer that NET-DHCP fails
    rogue-ra           an advert that NET-IPV6-RA fails
    station-gone       a registered card not heard for `silence` (DEV-MISSING)
    station-back       a gone card heard again

Each event has a key; a key already raised (here or before a restart: the
keys are in the store) is not raised again. A flip-flop's key holds the hour,
so one that keeps flipping is said once an hour, not once a frame.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Callable

from scanner.model import Finding, pick, text
from scanner.watch.decode import Heard
from scanner.watch.events import Event
from scanner.watch.state import (MAX_JUDGED, MAX_PENDING, MAX_REPORTED, MAX_STATIONS, Bounded,
                                 Owner, Station)

MISSING_EVERY = 5.0                  # seconds between two DEV-MISSING judgments
JUDGE_PER_TICK = 50                  # stations of a flood's backlog judged per tick
UNJUDGED = -1                        # a station's generation while it waits in the backlog
# how a station was heard, in the discovery's words (the checks' evidence reads "ARP reply from")
VIA = {"arp": "arp", "garp": "arp", "arp-probe": "arp", "ndp": "ndp", "dad": "ndp",
       "dhcp": "dhcp", "dhcp6": "dhcpv6"}


@dataclass
class Timing:
    silence: float = 1800.0          # station-gone after this long unheard
    conflict_window: float = 60.0    # two MACs within this: both are alive
    confirm_wait: float = 2.0        # how long an ARP confirmation is waited for
    events_per_minute: int = 600     # more in one minute: counted in one watch-flood


def _dt_of(t: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc)


def _detail(f: Finding):
    """The finding's evidence as one Text (its lines joined), for an event's detail."""
    zh = "；".join(pick(e, "zh-CN") for e in f.evidence)
    en = "; ".join(pick(e, "en") for e in f.evidence)
    return text(zh, en)


class Tracker:
    def __init__(self, judge, segment: str, *, own_macs: frozenset[str], timing: Timing,
                 started: float, reported: Bounded | None = None,
                 send_confirm: Callable[[str], bool | None] | None = None):
        self.judge = judge
        self.segment = segment
        self.own_macs = own_macs
        self.t = timing
        self.started = started
        self.stations: Bounded[str, Station] = Bounded(MAX_STATIONS)
        self.owners: Bounded[str, Owner] = Bounded(MAX_STATIONS)
        self.judged: Bounded[tuple, bool] = Bounded(MAX_JUDGED)
        self.reported: Bounded[str, str] = reported if reported is not None else Bounded(MAX_REPORTED)
        # the cards now gone (keys of `reported` valued "gone"): looked at every tick
        self.gone: set[str] = {k for k, v in self.reported.items() if v == "gone"}
        self.pending: Bounded[str, tuple] = Bounded(MAX_PENDING)
        self.backlog: Bounded[str, tuple] = Bounded(MAX_PENDING)   # stations heard in a flood
        self.send_confirm = send_confirm
        self.minute = (0, 0, 0)          # (minute, events raised, suppressed)
        self.forgotten: list[str] = []   # keys dropped (a gone card back): the store forgets them
        self.next_missing = 0.0
        self.generation = 0              # of the inventory: bumped by rejudge()
        self.registered_ips = _registered_ips(judge, segment)

    def rejudge(self, judge, own_macs: frozenset[str]) -> None:
        """A new inventory (SIGHUP): every station is judged again the next time
        it is heard, servers and routers too. When each station was last heard
        stays: that is the network's, not the inventory's (forgetting it would
        call every registered device not yet heard again gone)."""
        self.judge, self.own_macs = judge, own_macs
        self.generation += 1
        self.judged.clear()
        self.registered_ips = _registered_ips(judge, self.segment)

    # -- raising ---------------------------------------------------------------
    def _raise(self, out: list, now: float, event: str, key: str, f: Finding | None = None, *,
               ip=None, mac=None, device=None, severity=None, detail=None, check_id=None,
               value: str = "reported") -> None:
        key = f"{event}|{self.segment}|{key}"
        if key in self.reported:
            return
        self._roll(out, now)
        minute, n, dropped = self.minute
        if n >= self.t.events_per_minute:
            # over the bound: counted in the minute's watch-flood, not marked as raised
            # (heard again once the flood is over, it is raised then)
            self.minute = (minute, n, dropped + 1)
            return
        self.minute = (minute, n + 1, dropped)
        self.reported.put(key, value)
        if value == "gone":
            self.gone.add(key)
        if f is not None:
            ip = ip or f.subject.ip
            mac = mac or f.subject.mac
            device = device or f.subject.device
            severity = severity or str(f.severity.value if hasattr(f.severity, "value") else f.severity)
            detail = detail or _detail(f)
            check_id = f.check_id
        out.append(Event(at=_dt_of(now), event=event, severity=severity or "info",
                         segment=self.segment, detail=detail or text("", ""), key=key, ip=ip,
                         mac=mac, device=device, check_id=check_id,
                         evidence=tuple(f.evidence) if f is not None else ()))

    def _roll(self, out: list, now: float) -> None:
        """A new minute: the events the bound held back in the last one, as one watch-flood."""
        minute, n, dropped = self.minute
        m = int(now // 60)
        if m == minute:
            return
        if dropped:
            out.append(Event(at=_dt_of(now), event="watch-flood", severity="high",
                             segment=self.segment, key=f"watch-flood|{self.segment}|{minute}",
                             detail=text(f"一分钟内事件超过上限 {self.t.events_per_minute} 个（可能是 MAC 泛洪）："
                                         f"另有 {dropped} 个事件或新站点未逐一报告；新站点留待稍后判定"
                                         f"（积压至多 {self.backlog.limit} 个，已丢弃 {self.backlog.dropped} 个）",
                                         f"more than {self.t.events_per_minute} events in one "
                                         f"minute (a MAC flood?): {dropped} more events or new "
                                         f"stations were not reported one by one; new stations are "
                                         f"judged later (a backlog of at most {self.backlog.limit}, "
                                         f"{self.backlog.dropped} dropped so far)")))
        self.minute = (m, 0, 0)

    def _over(self, now: float) -> bool:
        """The minute's bound is reached (counted as held back when it is)."""
        minute, n, dropped = self.minute
        if int(now // 60) == minute and n >= self.t.events_per_minute:
            self.minute = (minute, n, dropped + 1)
            return True
        return False

    # -- stations --------------------------------------------------------------
    def heard(self, h: Heard, now: float) -> list[Event]:
        mac, ip = h.mac, h.ip
        if mac in self.own_macs:
            return []
        out: list[Event] = []
        st = self.stations.get(mac)
        fresh = st is None
        if fresh:
            st = Station(mac, now, self.generation)
            self.stations.put(mac, st)
        else:
            st.last = now
            self.stations.touch(mac)
        claim = ip if h.via not in ("dad", "arp-probe") else None
        new_ip = st.add_ip(claim, now) if claim is not None else False
        stale = st.generation != self.generation        # judged under an older inventory, or not yet
        st.generation = self.generation
        if fresh or new_ip or stale:
            self._roll(out, now)
            if self.minute[1] >= self.t.events_per_minute:
                # a flood: judged later, at most JUDGE_PER_TICK a tick (CPU stays bounded);
                # unjudged till then, so one the full backlog drops is judged when heard again
                st.generation = UNJUDGED
                self.backlog.put(mac, (ip, h.via))
                minute, n, dropped = self.minute
                self.minute = (minute, n, dropped + 1)
            else:
                self._station(out, now, ip, mac, h.via)
        if claim is not None and h.via in ("arp", "garp", "ndp") and not _link_local(claim):
            self._owner(out, claim, mac, now)
        return out

    def _station(self, out: list, now: float, ip, mac: str, via: str) -> None:
        for f in self.judge.station(ip, mac, VIA.get(via, "arp")):
            event = "station-new" if f.check_id == "DEV-UNREGISTERED" else "station-misplaced"
            self._raise(out, now, event, mac, f, ip=ip, mac=mac)

    def _owner(self, out: list, ip: str, mac: str, now: float) -> None:
        o = self.owners.get(ip)
        if o is None:
            self.owners.put(ip, Owner(mac, now))
            return
        self.owners.touch(ip)
        if o.mac == mac:
            o.heard(mac, now)
            return
        prev, prev_last = o.mac, o.last
        o.heard(mac, now)
        alive = [m for m, t in o.macs.items() if now - t <= self.t.conflict_window]
        if prev_last >= now - self.t.conflict_window and len(alive) > 1:
            self.pending.pop(ip)
            if self._over(now):
                return                   # a flood: counted, not judged (CPU stays bounded)
            macs = sorted(alive)
            for f in self.judge.conflict(ip, macs):
                self._raise(out, now, "address-conflict", f"{ip}|{','.join(macs)}", f)
            return
        # the old MAC has been quiet: ask for the address before calling it a move
        if ip not in self.pending:
            # asked: an ARP who-has went out (False from send_confirm: it could not be
            # sent; IPv6 is not asked). Unasked, the verdict rests on silence alone: said so.
            asked = (self.send_confirm is not None and ":" not in ip
                     and self.send_confirm(ip) is not False)
            self.pending.put(ip, (prev, mac, now, asked, prev_last))

    def _settle(self, out: list, now: float) -> None:
        for ip, (prev, new, since, asked, prev_last) in self.pending.items():
            if now - since < self.t.confirm_wait:
                continue
            self.pending.pop(ip)
            o = self.owners.get(ip)
            if o is not None and o.macs.get(prev, 0) > since:
                continue                      # the old one answered: a conflict was judged
            hour = int(now // 3600)
            quiet = int(since - prev_last)
            why = (text(f"{prev} 已不再应答", f"{prev} no longer answers") if asked else
                   text(f"{prev} 已静默 {quiet} 秒；未能向其询问（ARP 询问未发出或为 IPv6），"
                        "不能排除地址冲突",
                        f"{prev} silent for {quiet} s; it could not be asked (no ARP question "
                        "sent, or IPv6), so a conflict is not ruled out"))
            self._raise(out, now, "flip-flop", f"{ip}|{prev}->{new}|{hour}", ip=ip, mac=new,
                        severity="medium",
                        detail=text(f"地址 {ip} 由 {prev} 换为 {new}（{why['zh-CN']}）",
                                    f"address {ip} moved from {prev} to {new} ({why['en']})"))

    # -- servers ---------------------------------------------------------------
    def offer(self, offer: dict, now: float) -> list[Event]:
        if offer.get("src_mac") in self.own_macs:
            return []
        key = ("dhcp", offer.get("version"), offer.get("server_id"), offer.get("src_ip"),
               offer.get("src_mac"))
        if key in self.judged:
            self.judged.touch(key)
            return []
        self.judged.put(key, True)
        out: list[Event] = []
        for f in self.judge.dhcp(offer):
            self._raise(out, now, "rogue-dhcp", f"{f.subject.ip}|{f.subject.mac}", f)
        return out

    def advert(self, adv: dict, now: float) -> list[Event]:
        if adv.get("eth_src") in self.own_macs:
            return []
        key = ("ra", adv.get("src_ip"), adv.get("src_mac"), adv.get("eth_src"),
               adv.get("router_lifetime", 0) > 0)
        if key in self.judged:
            self.judged.touch(key)
            return []
        self.judged.put(key, True)
        out: list[Event] = []
        for f in self.judge.ra(adv):
            self._raise(out, now, "rogue-ra", f"{f.subject.ip}|{f.subject.mac}", f)
        return out

    # -- the clock ---------------------------------------------------------------
    def tick(self, now: float) -> list[Event]:
        out: list[Event] = []
        self._roll(out, now)
        room = self.t.events_per_minute - self.minute[1]
        for _ in range(min(JUDGE_PER_TICK, len(self.backlog), max(0, room))):
            mac, (ip, via) = self.backlog.d.popitem(last=False)
            st = self.stations.get(mac)
            if st is not None:
                st.generation = self.generation
            self._station(out, now, ip, mac, via)
        self._settle(out, now)
        missing_due = now - self.started >= self.t.silence and now >= self.next_missing
        if not self.gone and not missing_due:
            return out                      # (walking 16,384 stations 4 times a second costs)
        cut = now - self.t.silence
        heard = [(ip, mac) for mac, st in self.stations.items() if st.last >= cut
                 for ip, t in st.ips.items() if t >= cut]
        heard += [(None, mac) for mac, st in self.stations.items()
                  if st.last >= cut and not st.ips]
        macs = {m for _, m in heard}
        ips = {ip for ip, _ in heard if ip}
        # back: a card that was gone is heard again
        prefix = f"station-gone|{self.segment}|"
        for key in list(self.gone):
            if key not in self.reported:         # dropped by the bound
                self.gone.discard(key)
                continue
            if not key.startswith(prefix):
                continue
            _, _, dev, mac, ip = key.split("|", 4)
            if (mac and mac in macs) or (ip and ip in ips):
                self.reported.pop(key)
                self.gone.discard(key)
                self.forgotten.append(key)
                self._raise(out, now, "station-back", f"{dev}|{mac}|{ip}|{int(now)}",
                            ip=ip or None, mac=mac or None, device=dev, severity="info",
                            detail=text(f"登记设备 {dev} 在网段 {self.segment} 上恢复应答",
                                        f"registered device {dev} is heard again on {self.segment}"))
        if not missing_due:
            return out                      # nothing can have been silent that long yet
        self.next_missing = now + MISSING_EVERY
        control = sorted(ips & self.registered_ips)
        for f in self.judge.missing(heard, control):
            s = f.subject
            self._raise(out, now, "station-gone", f"{s.device}|{s.mac or ''}|{s.ip or ''}", f,
                        value="gone",
                        detail=text(f"登记设备 {s.device} 已 {self.t.silence:g} 秒未被听到；"
                                    + pick(_detail(f), "zh-CN"),
                                    f"registered device {s.device} not heard for "
                                    f"{self.t.silence:g} s; " + pick(_detail(f), "en")))
        return out



def _registered_ips(judge, segment: str) -> set[str]:
    return {str(i.ip) for _, i in judge.inv.devices_on(segment) if i.ip is not None}


def _link_local(ip: str) -> bool:
    return ip.startswith("169.254.") or ip[:3].lower() in ("fe8", "fe9", "fea", "feb")
