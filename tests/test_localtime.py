"""Times in the unit's zone, ISO 8601 with the offset."""
from datetime import datetime, timezone

from scanner.localtime import known_zone, local_iso, unit_zone


def test_declared_zone_with_offset():
    z = unit_zone("Asia/Shanghai")
    assert local_iso("2026-12-07T18:30:00Z", z) == "2026-12-08T02:30:00+08:00"
    assert local_iso(datetime(2026, 12, 7, 18, 30, tzinfo=timezone.utc), z, seconds=False) == \
        "2026-12-08T02:30+08:00"


def test_unknown_and_unreadable():
    assert not known_zone("Mars/Olympus") and known_zone("UTC")
    assert unit_zone("Mars/Olympus") is not None           # falls back to the host's zone
    assert local_iso("yesterday", unit_zone("UTC")) == "yesterday"
    assert local_iso(None) == ""
