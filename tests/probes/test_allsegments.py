"""--all-segments and the layer-2 egress's choice of next hop: pure parts."""
import pytest

from scanner.inventory.load import load_inventory
from scanner.scan.allsegments import SegmentRun, exit_code, segments_of
from scanner.scan.plan import build_plan
from scanner.scan.vantage import LocalInterface, choose_vantage
from lab_support import REPO

TRUNK = REPO / "inventories" / "lab" / "trunk.yaml"


@pytest.fixture(scope="module")
def inv():
    return load_inventory([str(TRUNK)]).inventory


def ifaces():
    return [LocalInterface("eth0", "02:00:00:00:50:05", True, ("10.50.10.5",)),
            LocalInterface("eth1", "02:00:00:00:51:05", True, ("10.50.20.5",)),
            LocalInterface("eth2", "02:00:00:00:99:05", True, ("192.0.2.5",))]   # undeclared


def test_segments_of_the_host_in_inventory_order(inv):
    assert segments_of(inv, ifaces()) == ["vlan-10", "vlan-20"]


def test_each_segment_has_its_own_gateway_and_wants_layer2(inv):
    from scanner.probes import egress_l2
    for seg, iface, gw in (("vlan-10", "eth0", "10.50.10.1"), ("vlan-20", "eth1", "10.50.20.1")):
        v = choose_vantage(inv, ifaces(), segment=seg)
        assert v.interface == iface
        plan = build_plan(inv, v)
        assert egress_l2.wanted(plan)
        assert egress_l2.gateway(plan) == ("gw-01", gw, gw and
                                           {"vlan-10": "02:00:00:00:50:01",
                                            "vlan-20": "02:00:00:00:51:01"}[seg])
    one = choose_vantage(inv, ifaces()[1:2])
    assert not egress_l2.wanted(build_plan(inv, one))     # single-homed: own stack


class _R:
    def __init__(self, verdict):
        self.bundle = {"summary": {"verdict": verdict}}


def test_exit_code_is_the_worst_verdict_and_a_violation_is_never_hidden():
    ok, bad, inc = (SegmentRun("a", _R("compliant")), SegmentRun("b", _R("non-compliant")),
                    SegmentRun("c", _R("incomplete")))
    err = SegmentRun("d", error=object())
    assert exit_code([ok, ok]) == 0
    assert exit_code([ok, inc]) == 3
    assert exit_code([ok, err, inc]) == 2
    assert exit_code([err, bad, inc]) == 1
    assert exit_code([]) == 2
