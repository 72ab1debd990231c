"""The DHCP and RA probes on a real wire.

Each test builds its own throwaway pair of network namespaces (prefix
isoscan-p7-), joined by one veth and linked to nothing else, runs a server
(dnsmasq, radvd, or a scapy sender) in one and the probe in the other, and
tears everything down, also when the test fails. Nothing is sent in the
machine's own namespace.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if os.geteuid() != 0 and not os.environ.get("CI"):
    pytest.skip("needs root for network namespaces (runs under CI)", allow_module_level=True)

pytestmark = pytest.mark.lab

SERVER_MAC = "02:00:00:70:00:01"
PROBE_MAC = "02:00:00:70:00:02"


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


def sweep_stale() -> None:
    """Remove pairs left by a test run that was killed (its pid is in the name)."""
    for line in sh("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name.split("-")
        if not name.startswith("isoscan-p7-") or len(parts) != 5 or not parts[2].isdigit():
            continue
        if Path(f"/proc/{parts[2]}").exists():
            continue                       # its test run is alive: not ours to touch
        for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
            sh("kill", pid, check=False)
        sh("ip", "netns", "del", name, check=False)


class Pair:
    """Two namespaces: `srv` (10.77.0.1/24, SERVER_MAC) and `probe` (no IPv4),
    named isoscan-p7-<pid of this test run>-<random>-s/-p."""

    def __init__(self, tmp: Path):
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.srv = f"isoscan-p7-{tag}-s"
        self.probe = f"isoscan-p7-{tag}-p"
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.made: list[str] = []

    def up(self):
        for ns in (self.srv, self.probe):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.srv, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
           "netns", self.probe)
        # no DAD wait: the test namespaces' link-local addresses are usable at once
        for ns in (self.srv, self.probe):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        sh("ip", "-n", self.srv, "link", "set", "eth0", "address", SERVER_MAC, "up")
        sh("ip", "-n", self.probe, "link", "set", "eth0", "address", PROBE_MAC, "up")
        sh("ip", "-n", self.srv, "addr", "add", "10.77.0.1/24", "dev", "eth0")
        sh("ip", "netns", "exec", self.srv, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        self._wait_link_local(self.probe)
        self._wait_link_local(self.srv)
        return self

    def _wait_link_local(self, ns):
        for _ in range(50):
            out = sh("ip", "-n", ns, "-6", "addr", "show", "dev", "eth0", "scope", "link").stdout
            if "fe80" in out and "tentative" not in out:
                return
            time.sleep(0.1)
        raise AssertionError(f"no link-local address in {ns}")

    def spawn(self, ns, *argv):
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.procs.append(p)
        return p

    def python(self, ns, code, timeout=30):
        r = sh("ip", "netns", "exec", ns, sys.executable, "-c", textwrap.dedent(code),
               cwd=str(ROOT), timeout=timeout)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        for ns in self.made:
            sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def pair(tmp_path):
    sweep_stale()
    p = Pair(tmp_path)
    try:
        p.up()
        yield p
    finally:
        p.down()
        left = sh("ip", "netns", "list").stdout
        assert p.srv not in left and p.probe not in left


def start_dnsmasq(pair: Pair, *extra):
    p = pair.spawn(pair.srv, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                   "--interface=eth0", "--bind-interfaces", "--no-ping",
                   "--dhcp-range=10.77.0.100,10.77.0.150,1h",
                   f"--dhcp-leasefile={pair.tmp / 'leases'}", *extra)
    time.sleep(0.5)
    assert p.poll() is None, p.stdout.read()
    return p


def start_radvd(pair: Pair, lifetime=1800):
    conf = pair.tmp / "radvd.conf"
    conf.write_text(textwrap.dedent(f"""\
        interface eth0 {{
          AdvSendAdvert on;
          MinRtrAdvInterval 30; MaxRtrAdvInterval 60;
          AdvDefaultLifetime {lifetime};
          prefix 2001:db8:77::/64 {{ AdvOnLink on; AdvAutonomous on; }};
          RDNSS 2001:db8:77::53 {{ }};
        }};
        """))
    p = pair.spawn(pair.srv, "radvd", "-n", "-m", "stderr", "-C", str(conf),
                   "-p", str(pair.tmp / "radvd.pid"))
    time.sleep(1.0)
    assert p.poll() is None, p.stdout.read()
    return p


DHCP = """
import json; from scanner.probes import dhcp
print(json.dumps(dhcp.probe({iface!r}, {wait})))
"""

RA = """
import json; from scanner.probes import ra
print(json.dumps(ra.probe({iface!r}, {wait})))
"""


def test_dhcp_offer_found_with_server_mac(pair):
    start_dnsmasq(pair, "--dhcp-option=3,203.0.113.1", "--dhcp-option=6,198.51.100.53")
    s = pair.python(pair.probe, DHCP.format(iface="eth0", wait=2.0))
    assert s["status"] == "ok", s
    assert len(s["offers"]) == 1, s
    o = s["offers"][0]
    assert o["server_id"] == "10.77.0.1" and o["src_ip"] == "10.77.0.1"
    assert o["src_mac"] == SERVER_MAC
    assert o["router"] == ["203.0.113.1"] and o["dns"] == ["198.51.100.53"]
    assert o["yiaddr"].startswith("10.77.0.1") and o["lease"] == 3600
    # the probe never requested: no lease was committed
    leases = pair.tmp / "leases"
    assert not leases.exists() or leases.read_text().strip() == ""


def test_dhcp_nothing_found_without_server(pair):
    s = pair.python(pair.probe, DHCP.format(iface="eth0", wait=1.5))
    assert s["status"] == "ok" and s["offers"] == [] and s["discovers_sent"] == 2, s


def test_dhcp_probe_error_on_missing_interface(pair):
    s = pair.python(pair.probe, DHCP.format(iface="nope0", wait=0.5))
    assert s["status"] == "error" and "nope0" in s["error"], s


def test_ra_found_with_router_mac(pair):
    start_radvd(pair)
    s = pair.python(pair.probe, RA.format(iface="eth0", wait=2.0))
    assert s["status"] == "ok", s
    assert len(s["adverts"]) == 1, s
    a = s["adverts"][0]
    assert a["src_ip"].startswith("fe80::") and a["src_mac"] == SERVER_MAC
    assert a["router_lifetime"] == 1800
    assert [p["prefix"] for p in a["prefixes"]] == ["2001:db8:77::/64"]
    assert a["rdnss"] == ["2001:db8:77::53"]
    assert "solicited" in a["seen"]


def test_ra_nothing_found_without_router(pair):
    s = pair.python(pair.probe, RA.format(iface="eth0", wait=1.0))
    assert s["status"] == "ok" and s["adverts"] == [] and s["solicitations_sent"] == 2, s
    assert s["src_ip"].startswith("fe80::")


def test_ra_probe_error_on_missing_interface(pair):
    s = pair.python(pair.probe, RA.format(iface="nope0", wait=0.5))
    assert s["status"] == "error" and "nope0" in s["error"], s


SENDER = """
import time
from scapy.all import Ether, IPv6, IPv6ExtHdrHopByHop, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, sendp
mac = {mac!r}
ra = (Ether(src=mac, dst="33:33:00:00:00:01") / IPv6(src="fe80::bad", dst="ff02::1", hlim=255)
      / IPv6ExtHdrHopByHop() / ICMPv6ND_RA(routerlifetime=0)
      / ICMPv6NDOptSrcLLAddr(lladdr=mac)
      / ICMPv6NDOptPrefixInfo(prefix="2001:db8:bad::", prefixlen=64, validlifetime=600, preferredlifetime=300))
time.sleep(1.0)
sendp(ra, iface="eth0", verbose=False)
"""

PASSIVE = """
import json, time; from scanner.probes import ra
h = ra.start_passive("eth0")
time.sleep(2.5)
print(json.dumps(ra.merge(ra.probe("eth0", 0.5), h)))
"""


def test_passive_listener_hears_unsolicited_advert_behind_extension_header(pair):
    pair.spawn(pair.srv, sys.executable, "-c", SENDER.format(mac=SERVER_MAC))
    s = pair.python(pair.probe, PASSIVE)
    assert s["status"] == "ok" and s["passive"]["status"] == "ok", s
    (a,) = s["adverts"]
    assert a["src_ip"] == "fe80::bad" and a["src_mac"] == SERVER_MAC
    assert a["router_lifetime"] == 0 and a["seen"] == ["passive"]
    assert a["prefixes"][0]["prefix"] == "2001:db8:bad::/64"


def test_dhcp_client_mac_can_be_the_vantage_own(pair):
    start_dnsmasq(pair)
    s = pair.python(pair.probe, """
        import json, os; from scanner.probes import dhcp
        os.environ["ISOSCAN_DHCP_CLIENT_MAC"] = "vantage"
        print(json.dumps(dhcp.probe("eth0", 2.0)))
        """)
    assert s["status"] == "ok" and s["client_mac"] == PROBE_MAC, s
    assert [o["src_mac"] for o in s["offers"]] == [SERVER_MAC]


def test_dhcp_bad_client_mac_is_a_probe_error_before_anything_is_sent(pair):
    s = pair.python(pair.probe, """
        import json; from scanner.probes import dhcp
        print(json.dumps(dhcp.probe("eth0", 0.5, client_mac="01:00:5e:00:00:01")))
        """)
    assert s["status"] == "error" and "multicast" in s["error"] and s["discovers_sent"] == 0, s


def test_dhcpv6_advertise_found_with_server_mac(pair):
    sh("ip", "-n", pair.srv, "addr", "add", "2001:db8:77::1/64", "dev", "eth0", "nodad")
    start_dnsmasq(pair, "--dhcp-range=2001:db8:77::100,2001:db8:77::1ff,64,1h",
                  "--dhcp-option=option6:dns-server,[2001:db8:77::53]")
    s = pair.python(pair.probe, DHCP.format(iface="eth0", wait=2.0))
    assert s["status"] == "ok" and s["v6"]["status"] == "ok", s
    assert s["v6"]["src_ip"].startswith("fe80::") and s["v6"]["solicits_sent"] == 2
    by = {o["version"]: o for o in s["offers"]}
    assert set(by) == {4, 6}, s
    o = by[6]
    assert o["src_ip"].startswith("fe80::") and o["src_mac"] == SERVER_MAC
    assert o["yiaddr"].startswith("2001:db8:77::1") and o["dns"] == ["2001:db8:77::53"]
    assert o["server_id"] and o["router"] == []
    assert by[4]["src_mac"] == SERVER_MAC
