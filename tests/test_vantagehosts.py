"""The probes' own hosts are known from their bundles' vantage (issue 22)."""
from scanner.vantagehosts import is_vantage, vantage_hosts
from tests.alerts.conftest import bundle


def test_each_probe_is_known_on_its_own_segment():
    sources = [bundle("secret-lan"), bundle("office-lan"), {"vantage": None}]
    own = vantage_hosts(sources)
    v = bundle("secret-lan")["vantage"]
    assert is_vantage(own, "secret-lan", v["ip"], None)
    assert is_vantage(own, "secret-lan", None, v["mac"].upper())
    assert not is_vantage(own, "office-lan", v["ip"], v["mac"])
    assert not is_vantage(own, "secret-lan", "10.10.0.250", "02:00:00:00:99:99")
