"""Rules over inventory *views* (the plain dicts a merged report carries,
report.merge.inventory_view()), for judging across bundles without a model
Inventory."""
from __future__ import annotations

from typing import Mapping


def must_isolate(a: Mapping | None, b: Mapping | None) -> bool | None:
    """Whether two segments must be isolated; None when unknown."""
    if not a or not b or not a.get("classification") or not b.get("classification"):
        return None
    ca, cb = a["classification"], b["classification"]
    if ca == "classified" or cb == "classified":
        return ca != cb or a.get("level") != b.get("level")
    return False
