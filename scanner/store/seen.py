"""What the network saw, for the register's export (issue 28): the stations
discovery found (history.station_history), the segments a discovery covered
without failing, and the findings failing in the latest results.

    seen = network_seen(store)
    seen.stations        # [Station]
    seen.covered         # {segment: time of the latest successful discovery}
    seen.open_findings   # failing findings of the latest results (JSON shape)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.store.history import Station, previous_results, station_history


@dataclass
class Seen:
    stations: list[Station] = field(default_factory=list)
    covered: dict[str, str] = field(default_factory=dict)
    open_findings: list[dict] = field(default_factory=list)


def network_seen(store) -> Seen:
    from sqlalchemy import func, select
    from scanner.store import tables as T
    v = T.scan_vantages
    with store.read() as conn:
        covered = {seg: at for seg, at in conn.execute(
            select(v.c.segment, func.max(v.c.started_at)).where(v.c.discovery == "ok")
            .group_by(v.c.segment)) if seg}
    latest = previous_results(store, before="9999-12-31T23:59:59Z")
    failing = [f for f in (latest.findings if latest is not None else ()) if f.get("status") == "fail"]
    return Seen(station_history(store), covered, failing)
