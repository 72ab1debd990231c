"""Host bundles merged with the probes' bundles and the canary's log (issue 26)."""
from __future__ import annotations

import copy
from pathlib import Path

from scanner.canary import tokens
from scanner.host.run import run_host
from scanner.report.merge import merge
from tests.host import roots

INV = Path(__file__).resolve().parents[1] / "checks" / "HOST-NIC" / "inventory.yaml"


def host_bundle(tmp_path, root):
    return run_host([INV], root=str(roots.build(root, tmp_path / root)), lang="en",
                    device="pc-07").bundle


def probe_bundle(host_b, segment, hosts):
    """A probe's bundle on `segment` whose discovery saw `hosts` (shape of SPEC §5)."""
    b = copy.deepcopy(host_b)
    b["scan_id"] = "probe-office-1"
    b["vantage"] = {"segment": segment, "interface": "eth0", "ip": "10.20.0.5",
                    "mac": "02:00:00:00:0b:05"}
    b["observations"] = {"discovery": {"status": "ok", "hosts": hosts}}
    b["findings"] = [f for f in b["findings"] if f["check_id"] == "HOST-FORWARD"]
    for f in b["findings"]:
        f["segment"] = segment
    return b


def test_second_card_links_with_the_office_probes_station(tmp_path):
    hb = host_bundle(tmp_path, "second-card")
    pb = probe_bundle(hb, "office-lan", [{"ip": "10.20.0.77", "mac": "00:e0:4c:68:0c:07",
                                         "via": "arp"}])
    m = merge([hb, pb], lang="en")
    bridges = [f for f in m["findings"] if f["check_id"] == "ISO-BRIDGE"]
    assert len(bridges) == 1, bridges
    f = bridges[0]
    assert f["status"] == "fail" and f["severity"] == "critical" and f["segment"] == "secret-lan"
    assert f["subject"] == {"ip": "10.20.0.77", "mac": "00:e0:4c:68:0c:07", "device": "pc-07"}
    ev = " ".join(f["evidence"])
    assert "enx00e04c680c07" in ev and "the probe office-lan 10.20.0.5 saw 00:e0:4c:68:0c:07" in ev
    assert "host pc-07" in [s["label"] for s in m["sources"]]


def test_clean_host_adds_no_bridge(tmp_path):
    hb = host_bundle(tmp_path, "clean-pc")
    m = merge([hb], lang="en")
    assert not [f for f in m["findings"] if f["check_id"] == "ISO-BRIDGE"]


def test_a_token_of_the_reach_test_at_the_canary_is_host_egress(tmp_path):
    hb = host_bundle(tmp_path, "iphone-tether")
    obs = hb["observations"]
    key = tokens.key_from_json(obs["canary_key"])
    tok = tokens.TokenMinter(hb["scan_id"], hb["vantage"]["segment"], key).mint(None, "udp", 53)
    obs["host_reach"] = {"status": "ok", "segment": "secret-lan", "controls": [],
                         "interfaces": ["enx3e4ac1000c07"],
                         "probes": [{"via": "enx3e4ac1000c07", "dst": "203.0.113.10",
                                     "proto": "udp", "port": 53, "result": "none",
                                     "token": tok.hex, "src": "172.20.10.2"}]}
    log = {"schema": "isoscan.canary/1", "name": "internet-canary", "complete": True,
           "arrivals": [{"time": hb["started_at"], "proto": "udp", "src": "198.51.100.23",
                         "dst": "203.0.113.10", "dport": 53, "ttl": 52, "token": tok.hex}]}
    m = merge([hb], canary_logs=[log], lang="en")
    eg = [f for f in m["findings"] if f["check_id"] == "HOST-EGRESS" and f["status"] == "fail"]
    assert len(eg) == 1, m["findings"]
    assert eg[0]["subject"]["device"] == "pc-07" and eg[0]["subject"]["ip"] == "172.20.10.2"
    assert "pc-07 enx3e4ac1000c07" in eg[0]["evidence"][0]
    assert "198.51.100.23" in eg[0]["evidence"][0]
