"""Addresses as isoscan writes them: one norm_mac, one norm_ip.

    norm_mac("02-00-00-00-0C-0B")          -> "02:00:00:00:0c:0b"
    norm_mac("not a mac")                  -> "not a mac"   (kept: evidence names what was seen)
    norm_mac("not a mac", strict=True)     -> None
    norm_ip("fe80::1%eth0")                -> "fe80::1"
    norm_ip("10.0.0.300", strict=True)     -> None

Every reader of bundles, inventories and the wire goes through these, so one
address is one string everywhere (findings, fingerprints, the store, reports).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from netaddr import EUI, IPAddress, mac_unix_expanded
from netaddr.core import AddrFormatError

_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


def norm_mac(mac: Any, *, strict: bool = False) -> str | None:
    """The lower-case colon form of a MAC in any common spelling (colons, dashes,
    Cisco dots, bare hex); None for no value. Text that is no MAC: None when
    `strict`, else kept (stripped, lower-cased)."""
    if not mac:
        return None
    if isinstance(mac, str) and _MAC.fullmatch(mac):
        return mac                       # already normal (what the probes record)
    if not isinstance(mac, str):
        if strict:
            return None
        mac = str(mac)
    return _parsed_mac(mac, strict)


@lru_cache(maxsize=65536)
def _parsed_mac(mac: str, strict: bool) -> str | None:
    """The slow path (netaddr), once per spelling: a report of 100,000 stations
    written in upper case or with dashes parses each spelling once."""
    try:
        return str(EUI(mac, dialect=mac_unix_expanded))
    except (AddrFormatError, TypeError, ValueError):
        return None if strict else mac.strip().lower()


def norm_ip(ip: Any, *, strict: bool = False) -> str | None:
    """An IPv4/IPv6 address in netaddr's normal form (a %zone dropped); None for
    no value. Text that is no address: None when `strict`, else kept as given."""
    if not ip:
        return None
    if isinstance(ip, str) and _IPV4.fullmatch(ip):
        return ip                        # already normal dotted quad
    if strict and not isinstance(ip, str):
        return None
    try:
        return str(IPAddress(str(ip).split("%")[0]))
    except (AddrFormatError, TypeError, ValueError):
        return None if strict else str(ip)


def unmapped(ip: str | None) -> str | None:
    """'::ffff:198.51.100.7' -> '198.51.100.7' (a v4 peer seen on a v6 socket); other addresses unchanged."""
    if ip and ip.startswith("::ffff:") and _IPV4.fullmatch(ip[7:]):
        return ip[7:]
    return ip
