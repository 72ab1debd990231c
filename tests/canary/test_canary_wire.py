"""The canary listener on a real wire.

A throwaway chain of three network namespaces (prefix isoscan-p8-), linked to
nothing else: `snd` (10.88.1.2) -> `rtr` (forwards, masquerades, runs a
dnsmasq resolver that forwards the canary zone) -> `can` (203.0.113.10, the
listener). The sender sends tagged ICMP, UDP, TCP SYN and DNS (direct and
through the resolver) plus garbage; the listener's log must hold every token
with the source address as seen after NAT, and SIGTERM must write it.
Everything is torn down, also when the test fails.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from scanner.canary import tokens as T
ROOT = Path(__file__).resolve().parents[2]

if os.geteuid() != 0 and not os.environ.get("CI"):
    pytest.skip("needs root for network namespaces (runs under CI)", allow_module_level=True)

pytestmark = pytest.mark.lab

KEY = bytes(range(32))
ZONE = "canary.test"


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


class Chain:
    def __init__(self, tmp: Path):
        tag = uuid.uuid4().hex[:6]
        self.snd, self.rtr, self.can = (f"isoscan-p8-{tag}-{n}" for n in ("s", "r", "c"))
        self.tmp = tmp
        self.made: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def up(self):
        for ns in (self.snd, self.rtr, self.can):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.snd, "link", "add", "eth0", "type", "veth", "peer", "name", "in0",
           "netns", self.rtr)
        sh("ip", "-n", self.rtr, "link", "add", "out0", "type", "veth", "peer", "name", "eth0",
           "netns", self.can)
        for ns, dev, addr in ((self.snd, "eth0", "10.88.1.2/24"), (self.rtr, "in0", "10.88.1.1/24"),
                              (self.rtr, "out0", "203.0.113.1/24"), (self.can, "eth0", "203.0.113.10/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", self.snd, "route", "add", "default", "via", "10.88.1.1")
        sh("ip", "netns", "exec", self.rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", self.rtr, "iptables", "-t", "nat", "-A", "POSTROUTING",
           "-o", "out0", "-j", "MASQUERADE")
        return self

    def spawn(self, ns, *argv, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for ns in self.made:
            sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    try:
        c.up()
        yield c
    finally:
        c.down()
        left = sh("ip", "netns", "list").stdout
        assert not any(ns in left for ns in c.made)


SENDER = r'''
import json, random, socket, sys
from scapy.all import IP, ICMP, UDP, TCP, Raw, send, conf
from scanner.canary import tokens as T
key, zone = bytes.fromhex(sys.argv[1]), sys.argv[2]
m = T.TokenMinter("scan-wire", "office-lan", key)
out = {}
dst = "203.0.113.10"
t = m.mint("02:88:00:00:00:01", "icmp"); out["icmp"] = t.hex
send(IP(dst=dst) / ICMP(id=7) / T.payload_for(t), verbose=0)
t = m.mint("direct", "udp", 5353); out["udp"] = t.hex
send(IP(dst=dst) / UDP(sport=40000, dport=5353) / T.payload_for(t), verbose=0)
t = m.mint("direct", "tcp", 443); out["tcp"] = t.hex
seq, sport = T.tcp_ids_for(t)
send(IP(dst=dst) / TCP(sport=sport, dport=443, flags="S", seq=seq), verbose=0)
rng = random.Random(1)
for i in range(80):    # garbage, some of it token-shaped
    junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
    if i % 3 == 0:
        junk = T.MAGIC + junk
    send(IP(dst=dst) / UDP(sport=1000 + i, dport=rng.choice([53, 9, 5353])) / junk, verbose=0)
    send(IP(dst=dst, proto=rng.choice([1, 6, 17, 58])) / junk, verbose=0)
answers = {}
for label, server in (("dns", dst), ("dns-resolver", "10.88.1.1")):
    t = m.mint("direct", "dns", 53); out[label] = t.hex
    name = T.dns_name_for(t, zone)
    q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
         + b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    try:
        s.sendto(q, (server, 53)); data, _ = s.recvfrom(4096)
        answers[label] = data[-4:] == socket.inet_aton(dst)
    except OSError as exc:
        answers[label] = repr(exc)
out["answers"] = answers
print(json.dumps(out))
'''


def start_listener(chain, log):
    p = chain.spawn(chain.can, sys.executable, "-m", "scanner.cli", "canary", "listen",
                    "-o", str(log), "--interface", "eth0", "--zone", ZONE, "--lang", "en",
                    cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        if log.exists() or p.poll() is not None:
            break
        time.sleep(0.1)
    assert p.poll() is None, p.communicate()
    assert json.loads(log.read_text())["running"] is True
    return p


def test_listener_records_every_carrier_with_source_as_seen(chain):
    log = chain.tmp / "hits.json"
    dns = chain.spawn(chain.rtr, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                      "--listen-address=10.88.1.1", "--bind-interfaces", "--no-resolv",
                      f"--server=/{ZONE}/203.0.113.10", stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
    listener = start_listener(chain, log)
    time.sleep(0.3)
    assert dns.poll() is None
    r = sh("ip", "netns", "exec", chain.snd, sys.executable, "-c", SENDER, KEY.hex(), ZONE,
           cwd=str(ROOT), timeout=120)
    sent = json.loads(r.stdout.strip().splitlines()[-1])
    time.sleep(0.5)
    listener.send_signal(signal.SIGTERM)
    _out, err = listener.communicate(timeout=10)
    assert listener.returncode == 0, err

    data = json.loads(log.read_text())
    assert data["schema"] == "isoscan.canary/1" and data["running"] is False
    assert data["complete"] is True
    by_token = {a["token"]: a for a in data["arrivals"] if a["token"]}
    for carrier in ("icmp", "udp", "dns", "dns-resolver"):
        a = by_token.get(sent[carrier])
        assert a is not None, (carrier, data["arrivals"])
        assert a["src"] == "203.0.113.1", a          # as seen: after the router's NAT
        assert a["dst"] == "203.0.113.10"
        info = T.verify(a["token"], KEY)
        assert info is not None and info.names("scan-wire", "office-lan")
    assert by_token[sent["icmp"]]["proto"] == "icmp"
    assert by_token[sent["icmp"]]["ttl"] == 63               # one router on the way
    assert T.verify(by_token[sent["icmp"]]["token"], KEY).via_mac == "02:88:00:00:00:01"
    assert by_token[sent["udp"]]["proto"] == "udp" and by_token[sent["udp"]]["dport"] == 5353
    assert by_token[sent["dns"]]["proto"] == "dns"
    assert by_token[sent["dns-resolver"]]["proto"] == "dns"
    seq, _sport = T.tcp_ids_for(sent["tcp"])
    syns = [a for a in data["arrivals"] if a["proto"] == "tcp" and a["tcp_seq"] == seq]
    assert len(syns) == 1 and syns[0]["src"] == "203.0.113.1" and syns[0]["dport"] == 443
    # the zone was answered, directly and through the resolver
    assert sent["answers"] == {"dns": True, "dns-resolver": True}, sent["answers"]
    # garbage: no crash, and nothing token-shaped that is not a real token passes verify
    forged = [a for a in data["arrivals"] if a["token"] and T.verify(a["token"], KEY) is None]
    assert len([a for a in data["arrivals"] if a["token"]]) - len(forged) == 4


def test_duration_stops_and_writes(chain):
    log = chain.tmp / "hits.json"
    p = chain.spawn(chain.can, sys.executable, "-m", "scanner.cli", "canary", "listen",
                    "-o", str(log), "--interface", "eth0", "--duration", "1", "--quiet",
                    cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _o, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    data = json.loads(log.read_text())
    assert data["running"] is False and data["arrivals"] == []


def test_bad_interface_exits_2(chain, tmp_path):
    p = chain.spawn(chain.can, sys.executable, "-m", "scanner.cli", "canary", "listen",
                    "-o", str(tmp_path / "x.json"), "--interface", "nope0", "--duration", "1",
                    cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.communicate(timeout=20)
    assert p.returncode == 2


def test_sigint_writes_the_log(chain):
    log = chain.tmp / "hits.json"
    p = start_listener(chain, log)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _o, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    data = json.loads(log.read_text())
    assert data["running"] is False and data["schema"] == "isoscan.canary/1"
