"""Which segment a computer's findings belong to: its most secret one (the
classified segment of a classified PC), so that the host bundle's findings,
the canary's and the probes' fall in one row of the report."""
from __future__ import annotations

CLASS_RANK = {"classified": 0, "non-classified": 1, "internet": 2}


def home_segment(inv, device) -> str | None:
    segs = [s for i in device.interfaces if (s := inv.segment(i.segment)) is not None]
    if not segs:
        return device.interfaces[0].segment if device.interfaces else None
    return min(segs, key=lambda s: CLASS_RANK.get(s.classification, 9)).name
