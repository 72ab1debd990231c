"""The IPv6 router advertisement probe: who offers itself as a router here?

Two ways to see routers on the vantage's link:

* active, `probe(iface)`: one ICMPv6 Router Solicitation to ff02::2 (all
  routers) from the vantage's link-local address and MAC (from "::" without
  a source link-layer option when the interface has no usable link-local
  address yet, as RFC 4861 §4.1 allows), a second one half-way through the
  window, and every Router Advertisement that arrives in the window;
* passive, `start_passive(iface) -> handle`, `handle.stop() -> adverts`:
  a listener the engine starts before the first probe and stops after the
  last, catching the unsolicited advertisements a router sends every few
  minutes (and rogue ones sent at any time).

`merge(section, passive_adverts)` folds the passive adverts into the active
section, so the observations have one "ra" section.

The probe only listens and sends solicitations: it never changes a sysctl
or an address of the vantage. Whether the vantage's kernel acts on the
advertisements (accept_ra) is the operator's (or the lab's) business.

The capture filter is "ip6 and not tcp and not udp", not "icmp6": libpcap's
icmp6 does not follow extension headers, and an advertisement behind a
hop-by-hop or destination options header (an RA-guard evasion) must be seen.

Strings from the wire (DNSSL domain names) are data: see dhcp.safe_text.

Output (scanner/observations.py, section "ra"):

    {"status": "ok" | "error", "error": null | "why", "interface": "eth0",
     "src_ip": "fe80::..", "wait": 3.0, "solicitations_sent": 2,
     "passive": {"status": "ok" | "error" | "not-run", "error": .., "seconds": ..},
     "truncated": false,
     "adverts": [{"src_ip": "fe80::..", "src_mac": "02:..", "eth_src": "02:..",
                  "router_lifetime": 1800, "hop_limit": 255,
                  "managed": false, "other": false, "preference": "medium",
                  "mtu": null | 1500,
                  "prefixes": [{"prefix": "2001:db8::/64", "valid": 86400,
                                "preferred": 14400, "on_link": true,
                                "autonomous": true}],
                  "rdnss": ["2001:db8::53"], "rdnss_lifetime": 600,
                  "dnssl": ["example.org"],
                  "routes": [{"prefix": "::/0", "lifetime": 1800}],
                  "seen": ["solicited", "passive"], "count": 3}]}

One entry per distinct (src_ip, src_mac); the latest advert's content is
kept, `count` says how many arrived.
"""
from __future__ import annotations

import struct
import threading
import time
from typing import Any, Iterable

from scanner.probes import rawsock, wire
from scanner.probes.dhcp import if_mac, safe_text

DEFAULT_WAIT = 3.0
MAX_ADVERTS = 64
MAX_LIST = 32            # prefixes, RDNSS, routes kept per advert
BPF = "ip6 and not tcp and not udp"
ALL_ROUTERS = "ff02::2"
ALL_ROUTERS_MAC = "33:33:00:00:00:02"
_PRF = {0: "medium", 1: "high", 2: "reserved", 3: "low"}


def link_local(iface: str, path: str = "/proc/net/if_inet6") -> str | None:
    """The interface's usable link-local address (not tentative, not failed)."""
    import ipaddress
    try:
        with open(path) as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[5] != iface:
            continue
        addr, scope, flags = parts[0], int(parts[3], 16), int(parts[4], 16)
        if scope != 0x20 or flags & (0x40 | 0x08):   # link scope; not TENTATIVE / DADFAILED
            continue
        return str(ipaddress.IPv6Address(bytes.fromhex(addr)))
    return None


def _solicitation(src_ip: str | None, src_mac: str) -> bytes:
    """The router solicitation frame, built with struct (no scapy: the window
    opens at once); byte for byte what scapy builds
    (tests/probes/test_rogue_parse.py). From "::" it carries no
    source link-layer option (RFC 4861 6.3.7)."""
    import ipaddress
    mac = bytes.fromhex(src_mac.replace(":", ""))
    src = ipaddress.IPv6Address(src_ip or "::").packed
    dst = ipaddress.IPv6Address(ALL_ROUTERS).packed
    body = b"\x85\x00\x00\x00" + b"\0" * 4 + (b"\x01\x01" + mac if src_ip else b"")
    c = wire.checksum(src + dst + struct.pack("!IxxxB", len(body), 58) + body)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst
    return bytes.fromhex(ALL_ROUTERS_MAC.replace(":", "")) + mac + b"\x86\xdd" + ip6 + body


def _dissect(raw: bytes):
    """A received frame as a scapy packet (scapy is imported only when
    something arrived)."""
    import scapy.layers.inet6  # noqa: F401
    from scapy.layers.l2 import Ether
    return Ether(raw)


def parse_advert(pkt) -> dict | None:
    """A Router Advertisement as observation data, or None."""
    from scapy.layers.inet6 import (IPv6, ICMPv6ND_RA, ICMPv6NDOptDNSSL, ICMPv6NDOptMTU,
                                    ICMPv6NDOptPrefixInfo, ICMPv6NDOptRDNSS,
                                    ICMPv6NDOptRouteInfo, ICMPv6NDOptSrcLLAddr)
    from scapy.layers.l2 import Ether

    if ICMPv6ND_RA not in pkt or IPv6 not in pkt:
        return None
    ra = pkt[ICMPv6ND_RA]
    eth_src = pkt[Ether].src.lower() if Ether in pkt else None
    lladdr = None
    prefixes: list[dict] = []
    rdnss: list[str] = []
    rdnss_lifetime = None
    dnssl: list[str] = []
    routes: list[dict] = []
    mtu = None
    for opt in ra.payload.iterpayloads():
        if isinstance(opt, ICMPv6NDOptSrcLLAddr) and lladdr is None:
            lladdr = str(opt.lladdr).lower()
        elif isinstance(opt, ICMPv6NDOptPrefixInfo) and len(prefixes) < MAX_LIST:
            prefixes.append({"prefix": f"{opt.prefix}/{opt.prefixlen}",
                             "valid": int(opt.validlifetime),
                             "preferred": int(opt.preferredlifetime),
                             "on_link": bool(opt.L), "autonomous": bool(opt.A)})
        elif isinstance(opt, ICMPv6NDOptRDNSS):
            rdnss_lifetime = int(opt.lifetime)
            for d in opt.dns or []:
                if len(rdnss) < MAX_LIST:
                    rdnss.append(str(d))
        elif isinstance(opt, ICMPv6NDOptDNSSL):
            for d in opt.searchlist or []:
                if len(dnssl) < MAX_LIST:
                    dnssl.append(safe_text(d) or "")
        elif isinstance(opt, ICMPv6NDOptRouteInfo) and len(routes) < MAX_LIST:
            routes.append({"prefix": f"{opt.prefix}/{opt.plen}", "lifetime": int(opt.rtlifetime)})
        elif isinstance(opt, ICMPv6NDOptMTU):
            mtu = int(opt.mtu)
    return {
        "src_ip": str(pkt[IPv6].src),
        "src_mac": lladdr or eth_src,
        "eth_src": eth_src,
        "router_lifetime": int(ra.routerlifetime),
        "hop_limit": int(pkt[IPv6].hlim),
        "managed": bool(ra.M),
        "other": bool(ra.O),
        "preference": _PRF.get(int(ra.prf), "medium"),
        "mtu": mtu,
        "prefixes": prefixes,
        "rdnss": rdnss,
        "rdnss_lifetime": rdnss_lifetime,
        "dnssl": dnssl,
        "routes": routes,
    }


class _Collector:
    """Distinct adverts by (src_ip, src_mac), thread-safe, bounded."""

    def __init__(self, label: str, own_macs: Iterable[str] = ()):
        self.label = label
        self.own = {m.lower() for m in own_macs if m}
        self.adverts: dict[tuple, dict] = {}
        self.truncated = False
        self.lock = threading.Lock()

    def feed(self, pkt) -> None:
        try:
            adv = parse_advert(_dissect(pkt) if isinstance(pkt, (bytes, bytearray)) else pkt)
        except Exception:       # a frame scapy cannot dissect is not an advert
            return
        if adv is None or adv["eth_src"] in self.own:
            return
        key = (adv["src_ip"], adv["src_mac"])
        with self.lock:
            old = self.adverts.get(key)
            if old is not None:
                adv["count"] = old["count"] + 1
                adv["seen"] = old["seen"]
                self.adverts[key] = adv
            elif len(self.adverts) >= MAX_ADVERTS:
                self.truncated = True
            else:
                adv["count"] = 1
                adv["seen"] = [self.label]
                self.adverts[key] = adv

    def result(self) -> list[dict]:
        with self.lock:
            return [dict(a) for a in self.adverts.values()]


def _own_mac(iface: str) -> str:
    return if_mac(iface)


def probe(iface: str, wait: float = DEFAULT_WAIT, *, repeat: bool = True) -> dict:
    """Solicit routers on iface and collect every advertisement for `wait` s.

    Never raises for a wire problem: the section then has status "error".
    """
    section: dict[str, Any] = {
        "status": "error", "error": None, "interface": iface, "src_ip": None,
        "wait": float(wait), "solicitations_sent": 0,
        "passive": {"status": "not-run", "error": None, "seconds": None},
        "truncated": False, "adverts": [],
    }
    if not iface:
        section["error"] = "no interface to send the router solicitation from"
        return section
    try:
        mac = _own_mac(iface)
        src = link_local(iface)
        section["src_ip"] = src or "::"
        pkt = _solicitation(src, mac)
        sock = rawsock.CaptureSocket(iface, BPF)
    except Exception as exc:
        section["error"] = wire.open_error(iface, exc)
        return section

    col = _Collector("solicited", own_macs=[mac])

    def solicit():
        sock.ins.send(pkt)
        section["solicitations_sent"] += 1

    try:
        wire.solicit_window(sock, solicit, col.feed, wait, repeat)
    except OSError as exc:
        section["error"] = wire.send_error(iface, exc, "router solicitation")
    else:
        section["status"] = "ok"
    finally:
        sock.close()
        section["adverts"] = col.result()    # adverts seen before a failure are still evidence
        section["truncated"] = col.truncated
    return section


class PassiveListener:
    """Listens for router advertisements until stop(); see start_passive()."""

    def __init__(self, iface: str):
        self.iface = iface
        self.error: str | None = None
        self.started = time.monotonic()
        self._col = _Collector("passive")
        self._stopped: list[dict] | None = None
        self._stop = threading.Event()
        self._sock = None
        self._thread = None
        try:
            self._col.own = {_own_mac(iface)}
            # no scapy until an advert arrives: the listener opens at once
            self._sock = rawsock.CaptureSocket(iface, BPF)
            self._thread = threading.Thread(target=self._run, name="isoscan-ra-listen",
                                            daemon=True)
            self._thread.start()
        except PermissionError as exc:
            self.error = f"cannot open a raw socket on {iface}: {exc} (needs root or CAP_NET_RAW)"
        except Exception as exc:
            self.error = f"cannot listen on {iface}: {type(exc).__name__}: {exc}"

    def _run(self) -> None:
        import select
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self._sock], [], [], 0.05)
                while ready and not self._stop.is_set():
                    raw = self._sock.recv()
                    if raw is None:
                        break
                    self._col.feed(raw)
        except Exception as exc:
            self.error = self.error or f"passive listener on {self.iface} failed: {exc}"

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 1)

    @property
    def truncated(self) -> bool:
        return self._col.truncated

    def stop(self) -> list[dict]:
        """Stop listening (idempotent); the distinct adverts heard."""
        if self._stopped is not None:
            return self._stopped
        self.duration = self.seconds
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            if self._sock is not None:   # what arrived before the stop is still heard
                while True:
                    raw = self._sock.recv()
                    if raw is None:
                        break
                    self._col.feed(raw)
        if self._sock is not None:
            self._sock.close()
        self._stopped = self._col.result()
        return self._stopped

    def status(self) -> dict:
        return {"status": "error" if self.error else "ok", "error": self.error,
                "seconds": getattr(self, "duration", self.seconds)}


def start_passive(iface: str) -> PassiveListener:
    """Start listening for unsolicited adverts on iface; `.stop()` returns them.

    Never raises: a listener that could not start has `.error` set and
    `.stop()` returns [].
    """
    return PassiveListener(iface)


def merge(section: dict, passive: "PassiveListener | Iterable[dict] | None") -> dict:
    """The active section with the passive listener's adverts folded in.

    A listener handle is stopped first. The section's status stays the
    active probe's: a passive listener that failed is recorded under
    "passive" but does not hide what the solicitation found.
    """
    out = dict(section)
    if passive is None:
        return out
    if isinstance(passive, PassiveListener):
        heard = passive.stop()
        out["passive"] = passive.status()
        out["truncated"] = bool(out.get("truncated")) or passive.truncated
    else:
        heard = list(passive)
        out["passive"] = {"status": "ok", "error": None, "seconds": None}
    by_key = {(a.get("src_ip"), a.get("src_mac")): dict(a) for a in out.get("adverts", [])}
    for a in heard:
        key = (a.get("src_ip"), a.get("src_mac"))
        if key in by_key:
            cur = by_key[key]
            cur["seen"] = list(dict.fromkeys(list(cur.get("seen", [])) + list(a.get("seen", []))))
            cur["count"] = int(cur.get("count", 1)) + int(a.get("count", 1))
        elif len(by_key) < MAX_ADVERTS:
            by_key[key] = dict(a)
        else:
            out["truncated"] = True
    out["adverts"] = list(by_key.values())
    return out
