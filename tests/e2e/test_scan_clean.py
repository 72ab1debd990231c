"""End to end: the demo unit without faults, and the ways a scan must not pass.

- a clean lab: every vantage exits 0 with no failing finding;
- without CAP_NET_RAW, or with the vantage's interface down: exit 3, never 0;
- a namespace whose addresses lie in no declared segment: exit 2, and not a
  single frame leaves it (tcpdump on the other end of its link).
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

import scanlib  # tests/e2e is on sys.path (rootdir-relative, no package)

pytestmark = pytest.mark.lab

VANTAGES = ("probe-secret", "probe-office", "probe-internet")


@pytest.fixture(scope="module")
def clean_lab(lab_factory):
    return lab_factory(scanlib.DEMO, faults=[])


@pytest.fixture(scope="module")
def clean_scans(clean_lab):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(len(VANTAGES)) as ex:
        return dict(zip(VANTAGES, ex.map(lambda v: scanlib.scan(clean_lab, v), VANTAGES)))


@pytest.mark.parametrize("vantage", VANTAGES)
def test_clean_lab_is_compliant(clean_scans, vantage):
    rc, bundle, out = clean_scans[vantage]
    assert bundle is not None, out[-3000:]
    fails = [(f["check_id"], f["subject"], f["evidence"]) for f in scanlib.failing(bundle)]
    assert fails == []
    errors = [(f["check_id"], f["evidence"]) for f in bundle["findings"] if f["status"] == "error"]
    assert errors == []
    assert rc == 0, out
    assert bundle["summary"]["verdict"] == "compliant"


def test_without_raw_socket_privilege_is_incomplete(clean_lab):
    # root without CAP_NET_RAW (bounding and inheritable sets dropped before exec)
    rc, bundle, out = scanlib.scan(clean_lab, "probe-secret",
                                   prefix=("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw"))
    assert rc == 3, out
    assert bundle["summary"]["verdict"] == "incomplete"
    assert not bundle["observations"]["privileges"]["ok"]
    assert "CAP_NET_RAW" in bundle["observations"]["privileges"]["error"]
    assert not any(f["status"] == "pass" and f["check_id"].startswith(("ISO-", "DEV-"))
                   for f in bundle["findings"])


def test_interface_down_is_incomplete(clean_lab):
    clean_lab.exec("probe-office", ["ip", "link", "set", "eth0", "down"], check=True)
    try:
        rc, bundle, out = scanlib.scan(clean_lab, "probe-office")
    finally:
        clean_lab.exec("probe-office", ["ip", "link", "set", "eth0", "up"], check=True)
    assert rc == 3, out
    assert bundle["summary"]["verdict"] == "incomplete"
    assert not bundle["observations"]["controls"]["ok"]
    assert "down" in bundle["observations"]["controls"]["error"]


def _sh(*argv, check=True):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


@pytest.fixture
def stray_pair():
    """Two namespaces of our own joined by a veth, addresses in no declared segment,
    IPv6 off (so the kernel itself says nothing), never linked to the root namespace."""
    scanlib_require_root()
    tag = secrets.token_hex(3)
    a, b = f"isoscan-p4-a{tag}", f"isoscan-p4-b{tag}"
    try:
        for ns in (a, b):
            _sh("ip", "netns", "add", ns)
            _sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1")
        _sh("ip", "link", "add", "p4a", "netns", a, "type", "veth", "peer", "name", "p4b", "netns", b)
        _sh("ip", "-n", a, "addr", "add", "192.168.77.1/24", "dev", "p4a")
        _sh("ip", "-n", b, "addr", "add", "192.168.77.2/24", "dev", "p4b")
        for ns, dev in ((a, "p4a"), (b, "p4b")):
            _sh("ip", "-n", ns, "link", "set", dev, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        for ns in (a, b):
            _sh("ip", "netns", "del", ns, check=False)


def scanlib_require_root():
    """As tests/conftest.py: skip without root, except under CI (then fail)."""
    if os.geteuid() == 0:
        return
    if os.environ.get("CI"):
        pytest.fail("lab tests need root, and CI must run them as root")
    pytest.skip("needs root for network namespaces (runs under CI)")


def test_no_declared_segment_refuses_before_sending(stray_pair):
    a, b = stray_pair
    cap = scanlib.Capture(b, "p4b")
    try:
        r = subprocess.run(["ip", "netns", "exec", a, sys.executable, "-m", "scanner.cli", "scan",
                            "-i", str(scanlib.DEMO), "--lang", "en"],
                           capture_output=True, text=True, timeout=60)
    finally:
        cap.stop()
    packets = cap.packets()
    assert r.returncode == 2, r.stdout + r.stderr
    assert "refusing to scan" in r.stderr
    assert len(packets) == 0, [p.summary() for p in packets]
