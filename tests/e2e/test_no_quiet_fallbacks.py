"""No quiet fallbacks (issue 24): a bundle that cannot be built, and frames
the wire cannot send, end in an error, never in a pass.

One small lab (inventories/lab/routed.yaml), scanned from probe-office:
- with `build_bundle` made to raise TypeError (a bug in bundle building):
  exit 2 and the reason, no bundle written -- never a thinner bundle;
- with the probe's own card behind a queue discipline that drops every
  frame (`tc qdisc ... pfifo limit 0`: the kernel answers ENOBUFS, as a
  saturated card does), a real full send queue: the probes that could not
  send are errors of their sections, and no isolation check passes.
"""
from __future__ import annotations

import os
import sys
import tempfile

import pytest

import scanlib  # tests/e2e is on sys.path (rootdir-relative, no package)
from lab_support import REPO

pytestmark = pytest.mark.lab

LABFILE = REPO / "inventories" / "lab" / "routed.yaml"
VANTAGE = "probe-office"
ISOLATION = {"ISO-PHYSICAL", "ISO-BRIDGE", "ISO-LOGICAL", "ING-SINGLE"}


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(LABFILE)


def test_a_bundle_that_cannot_be_built_is_exit_2_never_a_thinner_bundle(lab):
    fd, out = tempfile.mkstemp(prefix="isoscan-e2e-", suffix=".json")
    os.close(fd)
    os.unlink(out)
    boom = ("import sys, scanner.bundle as b\n"
            "def build_bundle(**kw):\n"
            "    raise TypeError('injected: build_bundle() got an unexpected keyword argument')\n"
            "b.build_bundle = build_bundle\n"
            "from scanner.cli import main\n"
            "sys.argv = ['isoscan'] + sys.argv[1:]\n"
            "main()\n")
    argv = [sys.executable, "-c", boom, "scan", "-q", "--lang", "en",
            *sum((["-i", str(f)] for f in lab.files), []), "-o", out]
    r = lab.exec(VANTAGE, argv, timeout=120)
    try:
        assert r.returncode == 2, r.stdout + r.stderr
        assert "the result bundle could not be built (TypeError: injected" in r.stderr, r.stderr
        assert not os.path.exists(out)
    finally:
        if os.path.exists(out):
            os.unlink(out)


def test_a_full_send_queue_is_an_error_of_the_probes_never_a_pass(lab):
    leg = lab.hosts[VANTAGE].legs[0]
    lab.exec(VANTAGE, ["tc", "qdisc", "replace", "dev", leg.ifname, "root", "pfifo", "limit", "0"],
             check=True)
    try:
        rc, bundle, text = scanlib.scan(lab, VANTAGE)
    finally:
        lab.exec(VANTAGE, ["tc", "qdisc", "del", "dev", leg.ifname, "root"], check=True)
    assert bundle is not None, text[-3000:]
    obs = bundle["observations"]
    disc = obs["discovery"]
    assert disc["status"] == "error", disc
    assert "could not be" in disc["error"] and "ENOBUFS" in disc["error"], disc["error"]
    assert obs["forwarding"]["status"] == "error", obs["forwarding"]
    # egress goes through the kernel's own stack, which queues a packet while it
    # resolves the gateway: its sends "succeed" and nothing leaves. The canary's
    # silence is what the positive control is for: it fails, nothing passes.
    eg = obs["egress"]
    assert eg["status"] == "error" or not any(
        p["result"] in ("answer", "refused") for p in eg["probes"]), eg
    assert not obs["controls"]["ok"] and "canary" in obs["controls"]["error"], obs["controls"]
    passed = [f["check_id"] for f in bundle["findings"]
              if f["check_id"] in ISOLATION and f["status"] == "pass"]
    assert passed == [], passed
    assert rc == 3 and bundle["summary"]["verdict"] == "incomplete", (rc, bundle["summary"])


def test_send_frame_raises_on_a_queue_that_stays_full(lab):
    """The wire itself, on the same real socket path: ENOBUFS that does not
    clear is SendError (an OSError), not a frame quietly given up."""
    leg = lab.hosts[VANTAGE].legs[0]
    prog = (
        "import socket, sys\n"
        "from scanner.probes.wire import SendError, send_frame\n"
        f"s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind(({leg.ifname!r}, 0))\n"
        "try:\n"
        "    send_frame(s, b'\\xff' * 6 + b'\\x02' * 6 + b'\\x08\\x06' + bytes(28), attempts=5)\n"
        "except SendError as e:\n"
        "    print('SendError', e.errno); sys.exit(0)\n"
        "print('sent'); sys.exit(1)\n")
    lab.exec(VANTAGE, ["tc", "qdisc", "replace", "dev", leg.ifname, "root", "pfifo", "limit", "0"],
             check=True)
    try:
        r = lab.exec(VANTAGE, [sys.executable, "-c", prog])
    finally:
        lab.exec(VANTAGE, ["tc", "qdisc", "del", "dev", leg.ifname, "root"], check=True)
    assert r.returncode == 0 and "SendError 105" in r.stdout, r.stdout + r.stderr
