"""`isoscan host` live, inside classified PCs of a lab (issue 26).

The lab (tests/host/lab.yaml): pc-07 has a phone tethered over USB (a second
interface usb0 leading through a NAT'd "phone" to the internet segment),
pc-09 forwards, pc-10 has a firewalled second card on the office segment,
pc-08 is clean. Each PC's etc and var/log are a clean fixture tree
(--files-root): a lab host shares this machine's disk.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.host import roots

pytestmark = pytest.mark.lab

LAB = Path(__file__).resolve().parent / "lab.yaml"


@pytest.fixture(scope="module")
def hostlab(lab_factory):
    return lab_factory(LAB)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return roots.build("clean-pc", tmp_path_factory.mktemp("files"))


def run_host(lab, pc: str, files: Path, *extra: str):
    fd, out = tempfile.mkstemp(prefix="isoscan-host-", suffix=".json")
    os.close(fd)
    os.unlink(out)
    r = lab.exec(pc, [sys.executable, "-m", "scanner.cli", "host", "-i", str(LAB), "-q",
                      "--lang", "en", "--files-root", str(files), "-o", out, *extra], timeout=90)
    bundle = None
    if os.path.exists(out):
        bundle = json.loads(Path(out).read_text(encoding="utf-8"))
        os.unlink(out)
    return r.returncode, bundle, r.stdout + r.stderr


def by_check(bundle, cid):
    return [f for f in bundle["findings"] if f["check_id"] == cid]


def test_tethered_pc_is_caught_and_the_canary_logs_its_token(hostlab, files):
    rc, b, out = run_host(hostlab, "pc-07", files)
    assert rc == 1, out
    assert b["vantage"]["kind"] == "host" and b["vantage"]["device"] == "pc-07"
    nic = [f for f in by_check(b, "HOST-NIC") if f["status"] == "fail"]
    assert nic and all(f["severity"] == "critical" for f in nic)
    assert any("usb0" in e for f in nic for e in f["evidence"]), nic
    egress = [f for f in by_check(b, "HOST-EGRESS") if f["status"] == "fail"]
    assert any(f["severity"] == "critical" and "usb0" in " ".join(f["evidence"])
               and f["subject"]["ip"] == "172.20.10.2" for f in egress), egress
    sent = {p["token"] for p in b["observations"]["host_reach"]["probes"] if p["via"] == "usb0"}
    arrived = {h.get("token") for h in hostlab.hits("internet-canary")}
    assert sent & arrived, (sent, arrived)


def test_clean_pc_is_compliant_with_coverage(hostlab, files):
    rc, b, out = run_host(hostlab, "pc-08", files)
    assert rc == 0, out
    eg = by_check(b, "HOST-EGRESS")
    assert [f["status"] for f in eg] == ["pass"]
    assert "through eth0" in eg[0]["evidence"][0] and "10.10.0.5 reached" in eg[0]["evidence"][0]
    reach = b["observations"]["host_reach"]
    assert reach["interfaces"] == ["eth0"] and any(c["ok"] for c in reach["controls"])


def test_forwarding_pc(hostlab, files):
    rc, b, out = run_host(hostlab, "pc-09", files)
    assert rc == 1, out
    assert [f["status"] for f in by_check(b, "HOST-FORWARD")] == ["fail"]


def test_firewalled_second_card(hostlab, files):
    rc, b, out = run_host(hostlab, "pc-10", files)
    assert rc == 1, out
    nic = [f for f in by_check(b, "HOST-NIC") if f["status"] == "fail"]
    assert any(f["subject"]["ip"] == "10.20.0.110" and "eth1" in f["evidence"][0] for f in nic)


def test_no_reach_says_so(hostlab, files):
    rc, b, out = run_host(hostlab, "pc-08", files, "--no-reach")
    assert rc == 0, out
    assert "reach test skipped" in out
    assert [f["status"] for f in by_check(b, "HOST-EGRESS")] == ["skipped"]


def test_refuses_without_a_canary(hostlab, files, tmp_path):
    inv = tmp_path / "nocanary.yaml"
    text = LAB.read_text(encoding="utf-8").split("\nlab:")[0]
    inv.write_text(text.replace("canaries:\n  - {name: internet-canary, address: 203.0.113.10, "
                                "tcp: [443], udp: [53]}\n", ""), encoding="utf-8")
    r = hostlab.exec("pc-08", [sys.executable, "-m", "scanner.cli", "host", "-i", str(inv),
                               "--files-root", str(files), "--lang", "en"], timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "no canary" in r.stderr


def test_watch_alerts_a_new_tether_within_2s(hostlab, files, tmp_path):
    """A real syslog receiver (a unix datagram socket, as rsyslog's /dev/log)
    gets the alert within 2 s of the tethering interface coming up."""
    import socket
    import time
    sock_path = tmp_path / "syslog.sock"
    recv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    recv.bind(str(sock_path))
    cfg = tmp_path / "alerts.yaml"
    cfg.write_text(f"version: 1\noutbox: outbox.jsonl\nchannels:\n"
                   f"  - {{name: siem, type: syslog, transport: unix, path: {sock_path}}}\n",
                   encoding="utf-8")
    p = hostlab.spawn("pc-08", [sys.executable, "-m", "scanner.cli", "host", "--watch", "-i",
                                str(LAB), "--files-root", str(files), "--alerts", str(cfg),
                                "--lang", "en"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ns = hostlab.netns("pc-08")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = p.stderr.readline()
            if "baseline done" in line or not line:
                break
        assert "baseline done" in line, line
        for cmd in (["ip", "link", "add", "usb0", "type", "veth", "peer", "name", "usb0p"],
                    ["ip", "addr", "add", "172.20.10.2/28", "dev", "usb0"],
                    ["ip", "link", "set", "usb0p", "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        time.sleep(0.5)                  # the events so far are not the link coming up
        t0 = time.monotonic()
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "usb0", "up"], check=True)
        recv.settimeout(5)
        got = b""
        while b"HOST-NIC" not in got:
            got = recv.recv(65536)
        took = time.monotonic() - t0
        assert b"HOST-NIC" in got and b"pc-08" in got, got
        assert took < 2.0, took
        print(f"watch: link up -> syslog alert in {took:.3f} s")
        # the receiver is gone (the network is down): the alert is kept and
        # delivered once the receiver is back
        recv.close()
        sock_path.unlink()
        for cmd in (["ip", "link", "add", "usb1", "type", "veth", "peer", "name", "usb1p"],
                    ["ip", "addr", "add", "192.168.42.129/24", "dev", "usb1"],
                    ["ip", "link", "set", "usb1p", "up"], ["ip", "link", "set", "usb1", "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        time.sleep(1.5)
        pending = (tmp_path / "outbox.jsonl").read_text(encoding="utf-8")
        assert '"pending"' in pending and "192.168.42.129" in pending, pending
        recv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        recv.bind(str(sock_path))
        recv.settimeout(10)
        got = recv.recv(65536)
        assert b"192.168.42.129" in got, got
    finally:
        p.terminate()
        p.wait(10)
        recv.close()
