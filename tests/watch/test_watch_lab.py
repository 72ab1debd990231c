"""`isoscan watch` in a real lab (namespaces, as root), one lab for every case.

The watch runs in the probe's namespace with a SQLite store, an alerts.yaml
whose syslog channel goes to a real syslog receiver on that namespace's
loopback, and `--events -`. The tests run in order against it:

* an unregistered host appears (a new MAC and address) and speaks (a
  gratuitous ARP): station-new within 1 s of the frame;
* the stray host claims ws-w's registered address: address-conflict;
* radvd started on the stray host: rogue-ra within one advertisement interval;
* dnsmasq started on the stray host: rogue-dhcp within the solicitation interval;
* srv-w's card goes down: station-gone after the configured silence;
* the watch is restarted on the same store: none of the above is raised again
  (on stdout or syslog), while the rogues, the conflict and the silence persist;
* the events are in the store and on the console's page.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

LAB = Path(__file__).resolve().parent / "watch-lab.yaml"
REPO = Path(__file__).resolve().parents[2]
SILENCE = 8          # --silence (s)
SWEEP = 3            # --sweep-every (s)
SOLICIT = 4          # --solicit-every (s)
RA_INTERVAL = 4      # radvd's MaxRtrAdvInterval (s)
NEW_MAC, NEW_IP = "02:aa:00:00:4b:88", "10.40.0.88"
APPEAR_MAC, APPEAR_IP = "02:aa:00:00:4b:99", "10.40.0.99"
STRAY_MAC = "02:aa:00:00:4b:77"

SYSLOG = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65535).replace(b"\n", b" ") + b"\n")
"""

GARP = r"""
import socket, struct, sys, time
iface, mac, ip = sys.argv[1:4]
m = bytes.fromhex(mac.replace(":", "")); a = socket.inet_aton(ip)
fr = b"\xff" * 6 + m + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + m + a + b"\0" * 6 + a
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((iface, 0))
t = time.time(); s.send(fr); print(repr(t), flush=True)
"""


class Running:
    """One watch process: its JSON lines, each with the wall time it arrived."""

    def __init__(self, lab, tmp: Path, n: int, *extra: str):
        self.err = open(tmp / f"watch-{n}.err", "w+")
        self.p = lab.spawn("probe-w", [
            sys.executable, "-m", "scanner.cli", "watch", "-i", str(tmp / "inv.yaml"),
            "--db", f"sqlite:///{tmp}/w.db",
            "--alert", str(tmp / "alerts.yaml"), "--events", "-", "--lang", "en",
            "--sweep-every", f"{SWEEP}s", "--silence", f"{SILENCE}s", "--solicit-every", f"{SOLICIT}s",
            *extra],
            stdout=subprocess.PIPE, stderr=self.err, text=True, cwd=str(REPO))
        self.events: list[tuple[float, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_log("isoscan watch: ready", 30)

    def _read(self):
        for line in self.p.stdout:
            self.events.append((time.time(), json.loads(line)))

    def log(self) -> str:
        self.err.seek(0)
        return self.err.read()

    def wait_log(self, what: str, timeout: float):
        end = time.time() + timeout
        while what not in self.log():
            assert self.p.poll() is None, self.log()
            assert time.time() < end, self.log()
            time.sleep(0.05)

    def wait(self, pred, timeout: float):
        end = time.time() + timeout
        while time.time() < end:
            hit = [(t, e) for t, e in self.events if pred(e)]
            if hit:
                return hit[0]
            time.sleep(0.02)
        raise AssertionError(f"no such event in {timeout} s: {[e for _, e in self.events]}\n{self.log()}")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


def iface_of(lab, host: str) -> str:
    out = lab.exec(host, ["ip", "-o", "link"], check=True).stdout
    return next(l.split(":")[1].strip().split("@")[0] for l in out.splitlines()
                if ": lo:" not in l)


@pytest.fixture(scope="module")
def world(lab_factory, tmp_path_factory):
    lab = lab_factory(LAB)
    tmp = tmp_path_factory.mktemp("watch")
    os.chmod(tmp, 0o755)
    (tmp / "inv.yaml").write_text(LAB.read_text(encoding="utf-8"), encoding="utf-8")
    syslog = lab.spawn("probe-w", [sys.executable, "-c", SYSLOG, str(tmp / "syslog.txt")],
                       stdout=subprocess.PIPE, text=True)
    port = int(syslog.stdout.readline())
    (tmp / "alerts.yaml").write_text(
        "version: 1\nmin_severity: info\noutbox: outbox.jsonl\nchannels:\n"
        f"  - {{name: siem, type: syslog, transport: udp, host: 127.0.0.1, port: {port}}}\n")
    w = Running(lab, tmp, 1)
    try:
        yield {"lab": lab, "tmp": tmp, "watch": w, "stray": iface_of(lab, "stray")}
    finally:
        w.stop()
        syslog.kill()
        syslog.wait(5)


def kind(name, **kw):
    return lambda e: e["event"] == name and all(e.get(k) == v for k, v in kw.items())


def syslog_lines(world) -> list[str]:
    p = world["tmp"] / "syslog.txt"
    return p.read_text(encoding="utf-8", errors="replace").splitlines() if p.exists() else []


def test_privileges_dropped_after_the_sockets_are_open(world):
    w = world["watch"]
    status = Path(f"/proc/{w.p.pid}/status").read_text()
    cap = next(l.split()[1] for l in status.splitlines() if l.startswith("CapEff:"))
    assert int(cap, 16) == 1 << 13, status         # CAP_NET_RAW only
    assert "CAP_NET_RAW only" in w.log()


def test_unregistered_host_that_appears_and_speaks_is_new_within_1s(world):
    """A station never seen before: its first frame on the wire is this gratuitous ARP."""
    lab, w, ifc = world["lab"], world["watch"], world["stray"]
    sent = float(lab.exec("stray", [sys.executable, "-c", GARP, ifc, APPEAR_MAC, APPEAR_IP],
                          check=True).stdout)
    t, e = w.wait(kind("station-new", mac=APPEAR_MAC), 5)
    assert 0 <= t - sent < 1.0, (t - sent, e)
    print(f"station-new {1000 * (t - sent):.1f} ms after the gratuitous ARP")
    assert e["check_id"] == "DEV-UNREGISTERED" and e["ip"] == APPEAR_IP and e["severity"] == "high"
    assert e["at"].endswith("+08:00")              # the unit's zone (organization.timezone)


def test_host_claiming_a_registered_address_is_a_conflict(world):
    lab, w, ifc = world["lab"], world["watch"], world["stray"]
    lab.exec("stray", ["ip", "link", "set", ifc, "address", NEW_MAC], check=True)
    lab.exec("stray", ["ip", "addr", "add", f"{NEW_IP}/24", "dev", ifc], check=True)
    lab.exec("stray", ["ip", "addr", "add", "10.40.0.21/24", "dev", ifc], check=True)
    lab.exec("stray", [sys.executable, "-c", GARP, ifc, NEW_MAC, "10.40.0.21"], check=True)
    _, e = w.wait(kind("address-conflict", ip="10.40.0.21"), 10)
    assert e["check_id"] == "DEV-CONFLICT" and e["device"] == "ws-w"
    assert e["severity"] == "critical"             # a classified segment: impersonation
    assert NEW_MAC in e["detail"] and "02:00:00:00:4b:15" in e["detail"]


def test_radvd_is_a_rogue_router_within_one_interval(world):
    lab, w, ifc, tmp = world["lab"], world["watch"], world["stray"], world["tmp"]
    conf = tmp / "radvd.conf"
    conf.write_text(f"interface {ifc} {{\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n"
                    f" MaxRtrAdvInterval {RA_INTERVAL};\n AdvDefaultLifetime 1800;\n"
                    " prefix 2001:db8:bad::/64 { AdvOnLink on; AdvAutonomous on; };\n};\n")
    lab.exec("stray", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"], check=True)
    start = time.time()
    lab.spawn("stray", ["/usr/sbin/radvd", "--nodaemon", "-C", str(conf), "-p",
                        str(tmp / "radvd.pid"), "-m", "stderr"], stderr=subprocess.DEVNULL)
    t, e = w.wait(kind("rogue-ra"), RA_INTERVAL + 3)
    assert t - start <= RA_INTERVAL + 1, t - start
    assert e["check_id"] == "NET-IPV6-RA" and e["mac"] == NEW_MAC
    assert e["severity"] == "critical"             # a default route on a classified segment


def test_dnsmasq_is_a_rogue_dhcp_server_within_the_solicitation_interval(world):
    lab, w, ifc, tmp = world["lab"], world["watch"], world["stray"], world["tmp"]
    start = time.time()
    lab.spawn("stray", ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                        "--port=0", "--user=root", "--group=root", f"--interface={ifc}",
                        "--bind-interfaces", "--dhcp-range=10.40.0.150,10.40.0.160,255.255.255.0,10m",
                        f"--dhcp-leasefile={tmp}/leases", f"--pid-file={tmp}/dnsmasq.pid",
                        "--no-ping"], stderr=subprocess.DEVNULL)
    t, e = w.wait(kind("rogue-dhcp"), SOLICIT + 5)
    assert t - start <= SOLICIT + 2, t - start
    assert e["check_id"] == "NET-DHCP" and e["mac"] == NEW_MAC and e["ip"].startswith("10.40.0.")


def test_registered_host_removed_is_gone_after_the_silence(world):
    lab, w = world["lab"], world["watch"]
    lab.exec("srv-w", ["ip", "link", "set", iface_of(lab, "srv-w"), "down"], check=True)
    down = time.time()
    t, e = w.wait(kind("station-gone", device="srv-w"), SILENCE + SWEEP + 8)
    assert t - down >= SILENCE - SWEEP - 1, t - down     # not before the silence
    assert e["check_id"] == "DEV-MISSING" and e["ip"] == "10.40.0.10"


def test_every_event_reached_syslog(world):
    w = world["watch"]
    end = time.time() + 10
    want = {"station-new", "address-conflict", "rogue-ra", "rogue-dhcp", "station-gone"}
    while time.time() < end:
        text = "\n".join(syslog_lines(world))
        if all(f"[{k}]" in text for k in want):
            break
        time.sleep(0.1)
    text = "\n".join(syslog_lines(world))
    assert all(f"[{k}]" in text for k in want), (text, w.log())
    assert 'isoscan@32473 kind="watch"' in text


def test_sighup_reloads_the_inventory(world):
    """gw-w leaves the register: after SIGHUP, the next sweep hears an unregistered station."""
    w, inv = world["watch"], world["tmp"] / "inv.yaml"
    inv.write_text(inv.read_text().replace(
        '  - {name: gw-w, kind: gateway, segment: office-lan, ip: 10.40.0.1, mac: "02:00:00:00:4b:01"}\n',
        ""))
    w.p.send_signal(signal.SIGHUP)
    w.wait_log("inventory reloaded", 10)
    _, e = w.wait(kind("station-new", mac="02:00:00:00:4b:01"), SWEEP + 3)
    assert e["ip"] == "10.40.0.1"


def test_an_interface_that_goes_away_is_an_error_event(world):
    lab, tmp = world["lab"], world["tmp"]
    lab.exec("probe-w", ["ip", "link", "add", "wt0", "type", "veth", "peer", "name", "wt1"], check=True)
    lab.exec("probe-w", ["ip", "addr", "add", "10.40.0.6/32", "dev", "wt0"], check=True)
    for i in ("wt0", "wt1"):
        lab.exec("probe-w", ["ip", "link", "set", i, "up"], check=True)
    # this one runs as nobody: its store and outbox in a folder nobody owns
    import pwd
    from scanner.store.db import open_store
    from scanner.store.watchlog import recent_events
    own = tmp / "nobody"
    own.mkdir()
    open_store(f"sqlite:///{own}/w3.db").close()          # made (and migrated) as root
    nobody = pwd.getpwnam("nobody")
    for p in (own, *own.iterdir()):
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    w3 = Running(lab, tmp, 3, "--interface", "wt0", "--user", "nobody",
                 "--db", f"sqlite:///{own}/w3.db", "--outbox", str(own / "outbox.jsonl"))
    try:
        assert "wt0 (office-lan): listening" in w3.log()
        status = Path(f"/proc/{w3.p.pid}/status").read_text()
        uid = next(l.split()[1:] for l in status.splitlines() if l.startswith("Uid:"))
        assert uid == [str(nobody.pw_uid)] * 4, status
        lab.exec("probe-w", ["ip", "link", "del", "wt0"], check=True)
        _, e = w3.wait(kind("watch-error"), 15)
        assert "wt0" in e["detail"] and e["severity"] == "high", e
    finally:
        w3.stop()
    store = open_store(f"sqlite:///{own}/w3.db")
    try:
        assert [e["event"] for e in recent_events(store)] == ["watch-error"]
    finally:
        store.close()


def test_restart_repeats_none(world):
    w = world["watch"]
    w.stop()
    before_syslog = len(syslog_lines(world))
    raised = {(e["event"], e["ip"], e["mac"]) for _, e in w.events}
    w2 = world["watch"] = Running(world["lab"], world["tmp"], 2)
    time.sleep(SILENCE + SWEEP + 2)                # sweeps, solicitations, the silence: all again
    again = [e for _, e in w2.events if (e["event"], e["ip"], e["mac"]) in raised]
    assert again == [], again
    time.sleep(1)
    assert len(syslog_lines(world)) == before_syslog, syslog_lines(world)[before_syslog:]


def test_events_in_the_store_and_on_the_console_page(world):
    sys.path.insert(0, str(REPO / "tests" / "serve"))
    import servelib
    from scanner.store.db import open_store
    from scanner.store.watchlog import recent_events
    tmp = world["tmp"]
    store = open_store(f"sqlite:///{tmp}/w.db")
    try:
        got = {e["event"] for e in recent_events(store)}
    finally:
        store.close()
    assert {"station-new", "address-conflict", "rogue-ra", "rogue-dhcp", "station-gone"} <= got
    c = servelib.start_console(tmp, db_url=f"sqlite:///{tmp}/w.db")
    try:
        page = c.client("inspector").get("/events?lang=en").text
    finally:
        c.stop()
    assert "Watch events" in page and NEW_MAC in page and "rogue-dhcp" in page
    assert "watch-ok" in page                       # the restarted watch beats
    assert "+08:00" in page or "+00:00" in page
