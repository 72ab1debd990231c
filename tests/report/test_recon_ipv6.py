"""The device reconciliation reads IPv6 neighbours too: an IPv6-only station
is a row of its own; a registered device's link-local address is no mismatch."""
from __future__ import annotations

from scanner.report.render import _T, merge_report, reconcile
from scanner.report.strings import STRINGS


def _rows(bundles, inventory):
    m = merge_report(bundles, "en", inventory=inventory)
    S = _T(STRINGS["en"])
    return {r["segment"]: r["table"]["rows"] for r in reconcile(m, S)}


def test_ipv6_only_station_is_unregistered_and_link_local_of_known_macs_is_seen(bundles, inventory):
    disc = bundles[0]["observations"]["discovery"]
    disc["neighbours6"] = [
        {"ip": "fe80::ff:fe00:c0b", "mac": "02:00:00:00:0c:0b", "via": "ndp"},   # ws-001, known
        {"ip": "fe80::aa:ff:fe00:66", "mac": "02:aa:00:00:00:66", "via": "ndp"}, # IPv6 only
    ]
    rows = _rows(bundles, inventory)["secret-lan"]
    flat = ["\n".join(map(str, r)) for r in rows]
    six_only = [r for r in flat if "02:aa:00:00:00:66" in r]
    assert len(six_only) == 1 and "recon-unregistered" in six_only[0]
    assert "fe80::aa:ff:fe00:66" in six_only[0]
    known = [r for r in flat if "02:00:00:00:0c:0b" in r]
    assert known and all("recon-mismatch" not in r for r in known)
    assert not any("fe80::ff:fe00:c0b" in r for r in flat)      # no row of its own


def test_one_mac_seen_by_nd_on_one_segment_and_arp_on_another_is_a_bridge(bundles, inventory):
    office = bundles[1]["observations"]["discovery"]["hosts"][0]
    bundles[0]["observations"]["discovery"]["neighbours6"] = [
        {"ip": "fe80::1234", "mac": office["mac"], "via": "ndp"}]
    m = merge_report(bundles, "en", inventory=inventory)
    bridges = [f for f in m["findings"] if f["check_id"] == "ISO-BRIDGE" and f["status"] == "fail"
               and f["subject"]["mac"] == office["mac"]]
    assert bridges, [f["check_id"] for f in m["findings"] if f["status"] == "fail"]
