"""Times as the unit reads them: ISO 8601 in the unit's time zone, with its offset.

    zone = unit_zone(inventory.organization.timezone)   # the declared zone, else the host's
    local_iso("2026-12-07T18:30:00Z", zone)             # '2026-12-08T02:30:00+08:00'
    local_iso(..., zone, seconds=False)                  # '2026-12-08T02:30+08:00'

Stored and signed times stay UTC ('...Z'): only what a person reads is local.
A time that cannot be read is returned as it was (never dropped, never guessed).
"""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def known_zone(name: str) -> bool:
    """True when `name` is an IANA time zone this system knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def unit_zone(name: str | None = None) -> tzinfo:
    """The declared zone; without one (or an unknown one), the host's local zone."""
    if name and known_zone(name):
        return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo or timezone.utc


def parse(t: datetime | str | None) -> datetime | None:
    """An aware datetime from '...Z', '+08:00' or a datetime (naive means UTC); else None."""
    if isinstance(t, datetime):
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    if not isinstance(t, str) or not t.strip():
        return None
    try:
        d = datetime.fromisoformat(t.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def local_iso(t: datetime | str | None, zone: tzinfo | None = None, seconds: bool = True) -> str:
    """ISO 8601 in `zone` (default: the host's) with its offset; unreadable input as it was."""
    d = parse(t)
    if d is None:
        return "" if t is None else str(t)
    d = d.astimezone(zone or unit_zone())
    return d.isoformat(timespec="seconds" if seconds else "minutes")


def timestamp(t: datetime | str) -> str:
    """'2026-11-30T02:00:00Z' (UTC), how bundles store a time; strings are kept as given."""
    if isinstance(t, str):
        return t
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
