"""The checks' own rules, run on what the watch heard.

The watch does not re-implement a rule: it is given the installed checks
(scanner/judge/registry.py, the same entry points a scan uses) and calls
their evaluate(inventory, observations) on observations shaped exactly as
the scan's probes shape them, holding only what one frame (or one window)
showed:

    station-new        DEV-UNREGISTERED on a discovery of one host
    station-misplaced  DEV-MISPLACED    on the same
    address-conflict   DEV-CONFLICT     on a discovery of one address, every MAC heard for it
    rogue-dhcp         NET-DHCP         on a dhcp section of one offer
    rogue-ra           NET-IPV6-RA      on an ra section of one advert
    station-gone       DEV-MISSING      on a discovery of every station heard within the
                                        silence, gated by the watch's positive control

Only `fail` findings become events. A fail is evidence whatever the gate
says (scanner/judge/live.py); DEV-MISSING's fail rests on absence and is made
only when the control holds: a registered device of the segment was heard
within the silence (a watch that hears nothing cannot call anything gone).
"""
from __future__ import annotations

from typing import Iterable, Mapping

from scanner.model import Finding, Inventory, Status, text

CHECKS = ("DEV-UNREGISTERED", "DEV-MISPLACED", "DEV-CONFLICT", "DEV-MISSING", "NET-DHCP",
          "NET-IPV6-RA")


class RulesError(Exception):
    """A check the watch needs is not installed or cannot be loaded."""


def _v6(ip: str | None) -> bool:
    return bool(ip) and ":" in ip


class Judge:
    """The checks, loaded once (and again on SIGHUP with the new inventory)."""

    def __init__(self, inv: Inventory, vantage_json: Mapping, registry):
        """`registry`: scanner.judge.registry.load_checks(CHECKS), loaded by the command
        (the judge's layer sits above the watch's)."""
        reg = registry
        if reg.problems:
            raise RulesError("; ".join(str(p.evidence[0].get("en") if isinstance(p.evidence[0], dict)
                                           else p.evidence[0]) for p in reg.problems))
        self.evaluate = {}
        for cid in CHECKS:
            c = reg.get(cid)
            if c is None:
                raise RulesError(f"check {cid} is not installed: the watch judges with it")
            self.evaluate[cid] = c.evaluate
        self.inv = inv
        self.vantage = dict(vantage_json)
        self.base = {"vantage": self.vantage, "privileges": {"ok": True, "error": None}}

    def _run(self, cid: str, obs: dict) -> list[Finding]:
        return [f for f in self.evaluate[cid](self.inv, obs) if f.status == Status.FAIL]

    @staticmethod
    def _discovery(heard: Iterable[tuple[str | None, str]], via: str | None = None) -> dict:
        v4 = [{"ip": ip, "mac": mac, "via": via or "arp"} for ip, mac in heard if not _v6(ip)]
        v6 = [{"ip": ip, "mac": mac, "via": via or "ndp"} for ip, mac in heard if _v6(ip)]
        return {"status": "ok", "error": None, "method": "isoscan watch (passive + sweep)",
                "hosts": v4, "neighbours6": v6, "every_mac": True}

    def station(self, ip: str | None, mac: str, via: str | None = None) -> list[Finding]:
        """DEV-UNREGISTERED and DEV-MISPLACED on one station heard (`via`: how,
        in the discovery's words: arp, ndp, dhcp)."""
        obs = {**self.base, "discovery": self._discovery([(ip, mac)], via)}
        return self._run("DEV-UNREGISTERED", obs) + self._run("DEV-MISPLACED", obs)

    def conflict(self, ip: str, macs: Iterable[str]) -> list[Finding]:
        obs = {**self.base, "discovery": self._discovery([(ip, m) for m in sorted(set(macs))])}
        return self._run("DEV-CONFLICT", obs)

    def dhcp(self, offer: dict) -> list[Finding]:
        obs = {**self.base, "dhcp": {"status": "ok", "error": None, "wait": None,
                                     "offers": [dict(offer)]}}
        return self._run("NET-DHCP", obs)

    def ra(self, advert: dict) -> list[Finding]:
        obs = {**self.base, "ra": {"status": "ok", "error": None, "wait": None,
                                   "passive": {"status": "ok"}, "adverts": [dict(advert)]}}
        return self._run("NET-IPV6-RA", obs)

    def missing(self, heard: list[tuple[str | None, str]], control: list[str]) -> list[Finding]:
        """DEV-MISSING over the stations heard within the silence; `control`:
        the registered addresses heard (the watch's positive control)."""
        items = [{"kind": "arp", "target": ip, "ok": True} for ip in control[:8]]
        ok = bool(items)
        obs = {**self.base, "discovery": self._discovery(heard),
               "controls": {"ok": ok, "items": items,
                            "error": None if ok else text(
                                "静默期内未听到本网段任何登记设备",
                                "no registered device of the segment was heard within the silence")}}
        return self._run("DEV-MISSING", obs)
