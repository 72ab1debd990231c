"""`isoscan watch` under 10,000 frames/s of ordinary traffic, side by side with
arpwatch and addrwatch on the same replay (as root; builds a lab).

    python3 bench/watch_bench.py [--seconds 60] [--pps 10000] [--addrwatch /tmp/addrwatch]

Needs tcpreplay and arpwatch (Debian packages: apt-get install tcpreplay arpwatch; not
needed by the tests, so not in scripts/setup).

The lab is tests/watch/watch-lab.yaml (one switch). A pcap of ordinary office
traffic is generated (--stations hosts talking TCP and UDP to each other,
with the ARP, neighbour discovery and DHCP such a network carries: about 6 %
of the frames) and replayed with tcpreplay from the lab's stray host at
--pps; the switch floods it to every port, so the probe's interface sees
every frame, as a mirror port would. In the probe's namespace, at the same
time, on the same interface:

* isoscan watch (--events to a file, a SQLite store in tmp);
* arpwatch -d (Debian's package: reports on stderr instead of mail);
* addrwatch (not in Debian 12: built from its source in /tmp for this bench
  only, given with --addrwatch; skipped when absent), -r -1 -H 65536: each
  (MAC, address) pairing reported once, its arpwatch-like mode.

Each second the CPU time (utime + stime, /proc/PID/stat) and the resident
memory (VmRSS) of each is sampled. Printed: CPU as a share of one core over
the replay, RSS at the start of the replay, at its end and its peak, and the
events each reported. The machine may be shared: the three run in the same
replay, so their figures compare with each other.

With --flood N a second replay follows: N distinct stations (random MACs,
ARP only), for the memory bounds of a MAC flood.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LAB = REPO / "tests" / "watch" / "watch-lab.yaml"
HZ = os.sysconf("SC_CLK_TCK")


# -- the replay --------------------------------------------------------------------

def _mac(i: int) -> bytes:
    return bytes([2, 0xbb, 0, 0, i >> 8, i & 0xFF])


def _ip(i: int) -> bytes:
    return bytes([10, 40, 0, 100 + i % 150])          # 10.40.0.100-249: nobody registered


def _eth(dst: bytes, src: bytes, et: bytes, payload: bytes) -> bytes:
    return dst + src + et + payload


def _ipv4(src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                       src, dst) + payload


def _arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ordinary(n_frames: int, stations: int, rnd: random.Random) -> list[bytes]:
    """Office traffic: mostly TCP/UDP between stations, some ARP, ND, DHCP."""
    out = []
    for _ in range(n_frames):
        a, b = rnd.randrange(stations), rnd.randrange(stations)
        r = rnd.random()
        if r < 0.04:           # ARP request (broadcast) and its reply
            out.append(_eth(b"\xff" * 6, _mac(a), b"\x08\x06",
                            _arp(1, _mac(a), _ip(a), b"\0" * 6, _ip(b))))
            out.append(_eth(_mac(a), _mac(b), b"\x08\x06",
                            _arp(2, _mac(b), _ip(b), _mac(a), _ip(a))))
        elif r < 0.055:        # IPv6 neighbour solicitation to the solicited-node group
            src = b"\xfe\x80" + b"\0" * 8 + _mac(a)[:3] + b"\xff\xfe" + _mac(a)[3:]
            tgt = b"\xfe\x80" + b"\0" * 8 + _mac(b)[:3] + b"\xff\xfe" + _mac(b)[3:]
            body = struct.pack("!BBHI", 135, 0, 0, 0) + tgt + b"\x01\x01" + _mac(a)
            ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + \
                b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + tgt[13:]
            out.append(_eth(b"\x33\x33\xff" + tgt[13:], _mac(a), b"\x86\xdd", ip6 + body))
        elif r < 0.057:        # a DHCP request (a lease renewal, broadcast)
            bootp = (struct.pack("!BBBBIHH4s4s4s4s", 1, 1, 6, 0, rnd.getrandbits(32), 0, 0,
                                 _ip(a), b"\0" * 4, b"\0" * 4, b"\0" * 4)
                     + _mac(a) + b"\0" * 10 + b"\0" * 192 + b"\x63\x82\x53\x63\x35\x01\x03\xff")
            udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
            out.append(_eth(b"\xff" * 6, _mac(a), b"\x08\x00",
                            _ipv4(_ip(a), b"\xff" * 4, 17, udp)))
        else:                  # TCP or UDP data, 60..1400 bytes
            size = rnd.choice((40, 40, 80, 200, 576, 1400))
            if rnd.random() < 0.7:
                seg = struct.pack("!HHIIBBHHH", 40000 + a, 443, 1, 1, 0x50, 0x18, 65535, 0, 0)
                pkt = _ipv4(_ip(a), _ip(b), 6, seg + b"\0" * size)
            else:
                seg = struct.pack("!HHHH", 50000 + a, 53 if size < 100 else 5004, 8 + size, 0)
                pkt = _ipv4(_ip(a), _ip(b), 17, seg + b"\0" * size)
            out.append(_eth(_mac(b), _mac(a), b"\x08\x00", pkt))
    return out


def flood(n: int, rnd: random.Random) -> list[bytes]:
    out = []
    for i in range(n):
        mac = bytes([2, 0xcc]) + rnd.getrandbits(32).to_bytes(4, "big")
        ip = bytes([10, 40, 0, 2 + i % 250])
        out.append(_eth(b"\xff" * 6, mac, b"\x08\x06", _arp(1, mac, ip, b"\0" * 6, ip)))
    return out


def write_pcap(path: str, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t = 1_700_000_000.0
        for k, fr in enumerate(frames):
            ts = t + k * 1e-4
            f.write(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(fr), len(fr)))
            f.write(fr)


# -- measuring ----------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main_pid(p: subprocess.Popen) -> int:
    """The measured process (ip netns exec execs in place: the same pid)."""
    return p.pid


def sample(procs: dict, seconds: float) -> dict:
    """{name: {"cpu0", "cpu1", "rss": [...]}} over `seconds`."""
    out = {n: {"cpu0": cpu_s(p), "rss": [rss_kb(p)]} for n, p in procs.items()}
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(1.0)
        for n, p in procs.items():
            out[n]["rss"].append(rss_kb(p))
    for n, p in procs.items():
        out[n]["cpu1"] = cpu_s(p)
        out[n]["alive"] = alive(p)
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def report(title: str, got: dict, seconds: float, events: dict) -> None:
    print(f"\n{title}")
    print(f"{'':12} {'CPU % core':>10} {'RSS start':>10} {'RSS end':>10} {'RSS peak':>10}  events")
    for n, g in got.items():
        cpu = 100 * (g["cpu1"] - g["cpu0"]) / seconds
        r = g["rss"]
        dead = "" if g.get("alive", True) else "  (EXITED during the run: figures void)"
        print(f"{n:12} {cpu:10.2f} {r[0] / 1024:9.1f}M {r[-1] / 1024:9.1f}M "
              f"{max(r) / 1024:9.1f}M  {events.get(n, '-')}{dead}")


def count_events(tmp: Path) -> dict:
    out = {}
    ev = tmp / "watch-events.jsonl"
    kinds: dict[str, int] = {}
    if ev.exists():
        for line in ev.read_text().splitlines():
            k = json.loads(line)["event"]
            kinds[k] = kinds.get(k, 0) + 1
    out["isoscan"] = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
    kinds = {}
    aw = tmp / "arpwatch.out"           # -d: each report is a mail on stdout, "Subject: KIND (IP) IF"
    for line in (aw.read_text(errors="replace").splitlines() if aw.exists() else ()):
        if line.startswith("Subject: "):
            k = line[len("Subject: "):].split(" (")[0]
            kinds[k] = kinds.get(k, 0) + 1
    out["arpwatch"] = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
    if (tmp / "addrwatch.out").exists():
        n = sum(1 for _ in open(tmp / "addrwatch.out", errors="replace"))
        out["addrwatch"] = f"pairings {n}"
    return out


# -- the run ----------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--pps", type=int, default=10_000)
    ap.add_argument("--stations", type=int, default=150)
    ap.add_argument("--flood", type=int, default=0)
    ap.add_argument("--addrwatch", default="/tmp/addrwatch")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("watch_bench: needs root (it builds a lab)", file=sys.stderr)
        return 2
    import shutil
    if not shutil.which("tcpreplay"):
        print("watch_bench: tcpreplay is not installed (apt-get install tcpreplay)", file=sys.stderr)
        return 2
    from scanner import lab as L
    name = f"wb{os.getpid() % 100000}"
    tmp = Path(tempfile.mkdtemp(prefix="isoscan-watch-bench-"))
    os.chmod(tmp, 0o755)
    rnd = random.Random(27)
    frames = ordinary(20_000, a.stations, rnd)
    pcap = str(tmp / "ordinary.pcap")
    write_pcap(pcap, frames)
    print(f"replay: {len(frames)} frames of ordinary traffic ({a.stations} stations), "
          f"looped at {a.pps} frames/s for {a.seconds:g} s; the machine is shared (2 cores)")
    procs: dict = {}
    popen = []
    try:
        lab = L.up(str(LAB), name=name)
        ifc = "eth0"
        replay_if = next(l.split(":")[1].strip().split("@")[0] for l in lab.exec(
            "stray", ["ip", "-o", "link"], check=True).stdout.splitlines() if ": lo:" not in l)
        w = lab.spawn("probe-w", [sys.executable, "-m", "scanner.cli", "watch", "-i", str(LAB),
                                  "--db", f"sqlite:///{tmp}/w.db", "--events",
                                  str(tmp / "watch-events.jsonl"), "--lang", "en"],
                      stdout=subprocess.DEVNULL, stderr=open(tmp / "watch.err", "w"), cwd=str(REPO))
        popen.append(w)
        procs["isoscan"] = w.pid
        (tmp / "arp.dat").touch()                 # arpwatch exits when its data file is missing
        if not os.path.exists("/usr/sbin/arpwatch"):
            raise SystemExit("watch_bench: arpwatch is not installed (apt-get install arpwatch)")
        aw = lab.spawn("probe-w", ["/usr/sbin/arpwatch", "-d", "-N", "-i", ifc, "-f",
                                   str(tmp / "arp.dat")],
                       stdout=open(tmp / "arpwatch.out", "w"), stderr=open(tmp / "arpwatch.err", "w"))
        popen.append(aw)
        procs["arpwatch"] = aw.pid
        if os.path.exists(a.addrwatch):
            ad = lab.spawn("probe-w", [a.addrwatch, "-r", "-1", "-H", "65536", ifc],
                           stdout=open(tmp / "addrwatch.out", "w"), stderr=subprocess.DEVNULL)
            popen.append(ad)
            procs["addrwatch"] = ad.pid
        else:
            print(f"addrwatch: not found at {a.addrwatch} (not in Debian 12: build it in /tmp); "
                  "left out", file=sys.stderr)
        deadline = time.time() + 30
        while "ready" not in (tmp / "watch.err").read_text():
            if time.time() > deadline or w.poll() is not None:
                print((tmp / "watch.err").read_text(), file=sys.stderr)
                return 1
            time.sleep(0.1)
        time.sleep(3)                     # the start sweep's answers, then quiet
        idle = sample(procs, 5)
        report("idle (no replay), 5 s", idle, 5, {})
        loops = max(1, int(a.pps * a.seconds / len(frames)) + 1)
        rp = lab.spawn("stray", ["tcpreplay", "-q", "-i", replay_if, f"--pps={a.pps}",
                                 f"--loop={loops}", f"--duration={int(a.seconds)}", pcap],
                       stdout=open(tmp / "tcpreplay.out", "w"), stderr=subprocess.STDOUT)
        got = sample(procs, a.seconds)
        rp.wait(30)
        time.sleep(2)
        print("\n".join(l for l in (tmp / "tcpreplay.out").read_text().splitlines()
                        if l.startswith(("Actual", "Rated"))))
        report(f"replay at {a.pps} frames/s, {a.seconds:g} s", got, a.seconds,
               count_events(tmp))
        if a.flood:
            fl = str(tmp / "flood.pcap")
            write_pcap(fl, flood(a.flood, rnd))
            secs = a.flood / a.pps + 2
            rp = lab.spawn("stray", ["tcpreplay", "-q", "-i", replay_if, f"--pps={a.pps}", fl],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            got = sample(procs, secs)
            rp.wait(60)
            time.sleep(2)
            report(f"MAC flood: {a.flood} distinct stations at {a.pps} frames/s", got, secs,
                   count_events(tmp))
        print(f"\nfiles: {tmp}")
        return 0
    finally:
        for p in popen:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        L.down(name)


if __name__ == "__main__":
    sys.exit(main())
