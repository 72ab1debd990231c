"""The outside canary: a passive listener that records tagged probes.

Runs on a host outside the unit (a canary's address). It opens no listening
socket for capture: it reads frames from packet sockets (scapy's L2 socket,
outgoing frames excluded) and parses the headers itself, bounded, so that
nothing an attacker sends can crash it or grow its memory without limit:

- ICMP / ICMPv6 and UDP: recorded when the payload holds a token
  (scanner/canary/tokens.py: found by its magic, unverified here);
- DNS (UDP to port 53): recorded when a label of the query name is a token,
  or the name lies under ``--zone``; with ``--zone`` it also answers those
  queries (A: the canary's own address, anything else: no data), so that a
  leak through a unit's own resolver shows as a query arriving from the
  resolver; queries for other names get no answer;
- TCP SYN (no ACK): every one is recorded with its sequence number and ports
  (a SYN has no room for a token; ``report`` maps the sequence number back to
  the token through the bundles), and the token when the SYN carries it as
  payload.

Retransmissions of the same probe from the same source count on one record.
At most ``max_arrivals`` records are kept; later ones are counted in
``stats.dropped`` and the log says ``"complete": false``.

It needs no key: ``isoscan report`` verifies the tokens against the bundles.

The log (JSON, written atomically on SIGINT/SIGTERM, at the end of
``--duration``, and every ``flush_every`` seconds while it runs)::

    {
      "schema": "isoscan.canary/1",
      "tool": {"name": "isoscan", "version": "0.1.0"},
      "started_at": "2026-11-30T02:00:00Z", "finished_at": "...Z",
      "running": false,               # true in a periodic flush
      "zone": "canary.example" | null,
      "interfaces": [{"name": "eth0", "addresses": ["203.0.113.10"]}],
      "complete": true,               # false when arrivals were dropped at the cap
                                      # or the kernel dropped frames (a flood)
      "stats": {"frames": 120, "recorded": 7, "dropped": 0, "malformed": 0,
                "dns_answered": 1, "kernel_drops": 0},
      "arrivals": [
        {"time": "2026-11-30T02:00:03.120Z", "last_time": "...Z", "count": 1,
         "interface": "eth0",
         "proto": "icmp" | "udp" | "tcp" | "dns",
         "src": "198.51.100.7",       # source address as seen (after any NAT)
         "dst": "203.0.113.10", "sport": 40000 | null, "dport": 53 | null,
         "port": 53 | null,           # the same as dport (the probe's port)
         "ttl": 61,                   # TTL / hop limit left on arrival
         "token": "33-byte hex" | null,
         "tcp_seq": 123456789 | null, # TCP SYN only
         "qname": "...canary.example" | null}   # DNS only, at most 255 chars
      ]
    }
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import time
from typing import Any, Callable, Iterable

from scanner import __version__
from scanner.canary import tokens as T
from scanner.canary.dns import parse_dns_query
from scanner.atomicio import write_text_atomic

SCHEMA = "isoscan.canary/1"
DEFAULT_MAX_ARRIVALS = 10_000
SNAPLEN = 65_535

# BPF: IPv4 ICMP, UDP and pure SYNs; IPv6 ICMPv6, UDP and TCP (SYN tested in Python).
BPF = ("(ip and (icmp or udp or (tcp and tcp[13] & 0x12 == 0x02))) "
       "or (ip6 and (icmp6 or udp or tcp))")


def iso_time(ts: float) -> str:
    t = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# -- parsing (pure, hostile input) -------------------------------------------------

_IPV6_EXT = {0, 43, 60}   # hop-by-hop, routing, destination options (44 handled apart)


def parse_ip(data: bytes) -> dict | None:
    """Headers of one IPv4/IPv6 packet: src, dst, ttl, proto, l4 bytes; or None."""
    if len(data) < 1:
        return None
    version = data[0] >> 4
    if version == 4:
        if len(data) < 20:
            return None
        ihl = (data[0] & 0x0F) * 4
        total = struct.unpack_from("!H", data, 2)[0]
        frag = struct.unpack_from("!H", data, 6)[0] & 0x1FFF
        if ihl < 20 or len(data) < ihl or frag != 0:
            return None
        end = min(len(data), total) if total >= ihl else len(data)
        return {"src": str(ipaddress.IPv4Address(data[12:16])),
                "dst": str(ipaddress.IPv4Address(data[16:20])),
                "ttl": data[8], "proto": data[9], "l4": data[ihl:end]}
    if version == 6:
        if len(data) < 40:
            return None
        nxt, hlim = data[6], data[7]
        plen = struct.unpack_from("!H", data, 4)[0]
        off, end = 40, min(len(data), 40 + plen) if plen else len(data)
        for _ in range(8):                       # bounded extension-header walk
            if nxt in _IPV6_EXT:
                if end - off < 8:
                    return None
                nxt, off = data[off], off + (data[off + 1] + 1) * 8
            elif nxt == 44:                      # fragment: first fragment only
                if end - off < 8:
                    return None
                if struct.unpack_from("!H", data, off + 2)[0] & 0xFFF8:
                    return None
                nxt, off = data[off], off + 8
            else:
                break
        if off > end:
            return None
        return {"src": str(ipaddress.IPv6Address(data[8:24])),
                "dst": str(ipaddress.IPv6Address(data[24:40])),
                "ttl": hlim, "proto": nxt, "l4": data[off:end]}
    return None


def parse_ether(frame: bytes) -> bytes | None:
    """The IP packet inside an Ethernet frame (up to two VLAN tags), or None."""
    if len(frame) < 14:
        return None
    etype, off = struct.unpack_from("!H", frame, 12)[0], 14
    for _ in range(2):
        if etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            etype, off = struct.unpack_from("!H", frame, off + 2)[0], off + 4
    if etype not in (0x0800, 0x86DD):
        return None
    return frame[off:]


def in_zone(qname: str, zone: str | None) -> bool:
    if not zone:
        return False
    q, z = qname.lower().strip("."), zone.lower().strip(".")
    return q == z or q.endswith("." + z)


def classify(pkt: dict, zone: str | None) -> dict | None:
    """The arrival record of one parsed IP packet, or None when it is not ours."""
    proto, l4 = pkt["proto"], pkt["l4"]
    rec: dict[str, Any] = {"proto": None, "src": pkt["src"], "dst": pkt["dst"],
                           "sport": None, "dport": None, "port": None, "ttl": pkt["ttl"],
                           "token": None, "tcp_seq": None, "qname": None}
    if proto in (1, 58):                                  # ICMP / ICMPv6
        if len(l4) < 8:
            return None
        tok = T.find_in_payload(l4[8:])
        if tok is None:
            return None
        rec.update(proto="icmp", token=tok.hex())
        return rec
    if proto == 17:                                       # UDP (and DNS)
        if len(l4) < 8:
            return None
        sport, dport = struct.unpack_from("!HH", l4, 0)
        payload = l4[8:]
        rec.update(sport=sport, dport=dport, port=dport)
        if dport == 53:
            q = parse_dns_query(payload)
            if q is not None:
                tok = T.from_dns_name(q[1])
                if tok is not None or in_zone(q[1], zone):
                    rec.update(proto="dns", qname=q[1],
                               token=tok.hex() if tok else None)
                    return rec
        tok = T.find_in_payload(payload)
        if tok is None:
            return None
        rec.update(proto="udp", token=tok.hex())
        return rec
    if proto == 6:                                        # TCP SYN
        if len(l4) < 20:
            return None
        sport, dport, seq = struct.unpack_from("!HHI", l4, 0)
        flags = l4[13]
        if not (flags & 0x02) or flags & 0x10:
            return None
        doff = (l4[12] >> 4) * 4
        tok = T.find_in_payload(l4[doff:]) if 20 <= doff <= len(l4) else None
        rec.update(proto="tcp", sport=sport, dport=dport, port=dport, tcp_seq=seq,
                   token=tok.hex() if tok else None)
        return rec
    return None


# -- DNS answers -----------------------------------------------------------------

def dns_answer(query: bytes, zone: str, a_address: str | None) -> bytes | None:
    """The authoritative answer to a query under zone, or None (no answer)."""
    q = parse_dns_query(query)
    if q is None or not in_zone(q[1], zone):
        return None
    qid, _qname, qtype, end = q
    rd = struct.unpack_from("!H", query, 2)[0] & 0x0100
    answers = b""
    an = 0
    if qtype == 1 and a_address:
        try:
            addr = ipaddress.IPv4Address(a_address).packed
        except ValueError:
            addr = None
        if addr:
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + addr
            an = 1
    flags = 0x8000 | 0x0400 | rd            # response, authoritative, RD echoed
    head = struct.pack("!HHHHHH", qid, flags, 1, an, 0, 0)
    return head + query[12:end] + answers


# -- the recorder ------------------------------------------------------------------

class Recorder:
    """Arrival records, capped; retransmissions counted on one record."""

    def __init__(self, max_arrivals: int = DEFAULT_MAX_ARRIVALS):
        self.max = max(0, int(max_arrivals))
        self.arrivals: list[dict] = []
        self._index: dict[tuple, int] = {}
        self.stats = {"frames": 0, "recorded": 0, "dropped": 0, "malformed": 0,
                      "dns_answered": 0, "kernel_drops": 0}

    def feed(self, data: bytes, ts: float, iface: str, ether: bool,
             zone: str | None) -> dict | None:
        self.stats["frames"] += 1
        try:
            ipb = parse_ether(data) if ether else data
            pkt = parse_ip(ipb) if ipb is not None else None
            rec = classify(pkt, zone) if pkt is not None else None
        except Exception:        # hostile bytes: count, never crash
            self.stats["malformed"] += 1
            return None
        if rec is None:
            return None
        key = (rec["proto"], rec["src"], rec["dst"], rec["sport"], rec["dport"],
               rec["token"], rec["tcp_seq"], rec["qname"])
        i = self._index.get(key)
        if i is not None:
            old = self.arrivals[i]
            old["count"] += 1
            old["last_time"] = iso_time(ts)
            return old
        if len(self.arrivals) >= self.max:
            self.stats["dropped"] += 1
            return None
        rec = {"time": iso_time(ts), "last_time": iso_time(ts), "count": 1,
               "interface": iface, **rec}
        self._index[key] = len(self.arrivals)
        self.arrivals.append(rec)
        self.stats["recorded"] += 1
        return rec


def make_log(rec: Recorder, started: float, finished: float, zone: str | None,
             interfaces: list[dict], running: bool = False) -> dict:
    return {
        "schema": SCHEMA,
        "tool": {"name": "isoscan", "version": __version__},
        "started_at": iso_time(started)[:19] + "Z",
        "finished_at": iso_time(finished)[:19] + "Z",
        "running": running,
        "zone": zone,
        "interfaces": interfaces,
        "complete": rec.stats["dropped"] == 0 and rec.stats.get("kernel_drops", 0) == 0,
        "stats": dict(rec.stats),
        "arrivals": list(rec.arrivals),
    }


def write_atomic(path: str, data: dict) -> None:
    """Write JSON so a reader never sees half a file (scanner.atomicio: fsync'd,
    private to the owner as mkstemp made it); '-' prints it."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    if path == "-":
        print(text)
        return
    write_text_atomic(path, text, mode=0o600, prefix=".canary-")


def read_log(path: str) -> dict:
    """A canary log, checked for its schema (ValueError otherwise)."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not an isoscan canary log ({SCHEMA})")
    if not isinstance(data.get("arrivals"), list):
        raise ValueError(f"{path}: canary log without arrivals")
    return data


# -- the listener (touches the wire) ----------------------------------------------

class ListenError(Exception):
    """The listener could not start (interface, privileges, output)."""


def _iface_addresses(iface: str) -> list[str]:
    out = []
    try:
        from scapy.all import get_if_addr
        a = get_if_addr(iface)
        if a and a != "0.0.0.0":
            out.append(a)
    except Exception:
        pass
    try:
        from scapy.arch import in6_getifaddr
        out += [a for a, _scope, ifn in in6_getifaddr() if ifn == iface]
    except Exception:
        pass
    return out


def listen(output: str, interfaces: Iterable[str] | None = None,
           duration: float | None = None, zone: str | None = None,
           max_arrivals: int = DEFAULT_MAX_ARRIVALS, flush_every: float = 10.0,
           on_arrival: Callable[[dict], None] | None = None,
           ready: Callable[[], None] | None = None,
           finish: Callable[[dict], dict] | None = None) -> dict:
    """Capture until SIGINT/SIGTERM or duration; write and return the log.
    `finish` turns the final log into what is written (the signature of
    `--sign`, scanner/evidence); the periodic flushes are written as they are."""
    from scapy.config import conf
    from scapy.layers.l2 import Ether

    zone = zone.strip(".").lower() if zone else None
    names = list(interfaces or []) or [str(conf.iface)]
    socks, dns_socks = [], []
    stop = {"now": False}

    def _stop(signum, frame):
        stop["now"] = True

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for name in names:
            try:
                s = conf.L2socket(iface=name, filter=BPF, promisc=False)
            except Exception as exc:
                raise ListenError(f"cannot capture on {name}: {exc}") from exc
            socks.append((s, name, issubclass(s.LL, Ether)))
        ifaces = [{"name": n, "addresses": _iface_addresses(n)} for n in names]
        a_addr = next((a for i in ifaces for a in i["addresses"] if ":" not in a), None)
        if zone:
            for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                try:
                    u = socket.socket(fam, socket.SOCK_DGRAM)
                    if fam == socket.AF_INET6:
                        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    u.bind((host, 53))
                    u.setblocking(False)
                    dns_socks.append(u)
                except OSError:
                    pass        # a real DNS server there answers instead
        rec = Recorder(max_arrivals)
        started = time.time()
        if output != "-":   # fail before capturing when the output is not writable
            write_atomic(output, make_log(rec, started, started, zone, ifaces, True))
        if ready:
            ready()
        last_flush = started
        fds = {s.ins.fileno(): (s, n, e) for s, n, e in socks}
        while not stop["now"]:
            now = time.time()
            if duration is not None and now - started >= duration:
                break
            r, _, _ = select.select(list(fds) + dns_socks, [], [], 0.2)
            for fd in r:
                if fd in dns_socks:
                    _serve_dns(fd, zone, a_addr, rec)
                    continue
                s, name, ether = fds[fd]
                for _ in range(256):     # drain what is queued, bounded
                    try:
                        _cls, data, ts = s.recv_raw(SNAPLEN)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if data is not None:
                        got = rec.feed(data, ts or time.time(), name, ether, zone)
                        if got is not None and got["count"] == 1 and on_arrival:
                            on_arrival(got)
                    if not select.select([fd], [], [], 0)[0]:
                        break
            if output != "-" and flush_every and time.time() - last_flush >= flush_every:
                _kernel_drops(socks, rec)
                write_atomic(output, make_log(rec, started, time.time(), zone, ifaces, True))
                last_flush = time.time()
        _kernel_drops(socks, rec)
        log = make_log(rec, started, time.time(), zone, ifaces, False)
        if finish is not None:
            log = finish(log)
        write_atomic(output, log)
        return log
    finally:
        for s, _n, _e in socks:
            try:
                s.close()
            except Exception:
                pass
        for u in dns_socks:
            u.close()
        for s, h in old.items():
            signal.signal(s, h)


PACKET_STATISTICS = 6


def _kernel_drops(socks, rec: Recorder) -> None:
    """Add the frames the kernel dropped since the last call (reset on read)."""
    for s, _n, _e in socks:
        try:
            raw = s.ins.getsockopt(263, PACKET_STATISTICS, 8)   # SOL_PACKET
            rec.stats["kernel_drops"] += struct.unpack("II", raw)[1]
        except (OSError, struct.error, AttributeError):
            pass


def _serve_dns(sock: socket.socket, zone: str | None, a_addr: str | None,
               rec: Recorder) -> None:
    for _ in range(64):
        try:
            data, peer = sock.recvfrom(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        try:
            ans = dns_answer(data, zone, a_addr) if zone else None
        except Exception:
            ans = None
        if ans is not None:
            try:
                sock.sendto(ans, peer)
                rec.stats["dns_answered"] += 1
            except OSError:
                pass


def attribute(arrival, sources):
    """The vantage label an arrival belongs to (report_merge's hook); see
    scanner.judge.crossbundle.canary.attribute."""
    from scanner.judge.crossbundle.canary import attribute as _attribute
    return _attribute(arrival, sources)


class LabWitness:
    """The listener run on a lab host for the length of a `with` block.

        with LabWitness(lab, "internet-canary", "hits.json") as w:
            ... scan from the vantages ...
        log = w.log          # the canary log dict, written on SIGTERM

    For `isoscan demo` and tests: it spawns `isoscan canary listen` inside the
    host's namespace (never in the machine's own), waits until it captures,
    and stops it with SIGTERM so it writes its log.
    """

    def __init__(self, lab, host: str, output: str, zone: str | None = None,
                 timeout: float = 20.0):
        self.lab, self.host, self.output, self.zone = lab, host, output, zone
        self.timeout = timeout
        self.proc = None
        self.log: dict | None = None

    def __enter__(self) -> "LabWitness":
        import subprocess
        import sys
        h = self.lab.hosts[self.host]
        argv = [sys.executable, "-m", "scanner.cli", "canary", "listen", "-o", self.output,
                "--quiet", *sum((["--interface", leg.ifname] for leg in h.legs), [])]
        if self.zone:
            argv += ["--zone", self.zone]
        if os.path.exists(self.output):
            os.unlink(self.output)
        self.proc = self.lab.spawn(self.host, argv, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.timeout
        while not os.path.exists(self.output):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.poll() is not None else "timeout"
                self._kill()
                raise ListenError(f"canary listener on {self.host} did not start: {err}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        import subprocess
        if self.proc is None:
            return
        time.sleep(0.5)              # the last probes' frames are still on their way
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        try:
            self.log = read_log(self.output)
        except (OSError, ValueError):
            self.log = None

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
