"""Forwarding probes: the gateway-finder technique.

For every host found on the vantage's segment (one per MAC), frames addressed
at layer 2 to that host and at layer 3 to each canary and to one address of
every other segment: with TTL 1 one probe (ICMP echo where the target takes
it: the TTL check does not look at the protocol), with a full TTL every
protocol (ICMP echo, TCP SYN to the target's ports, UDP), all in one burst on
one socket with one shared wait; replies are matched as they arrive and the
TTL-2 probe behind a host that answered time-exceeded goes out at once.

What comes back, per probe:
- "time-exceeded" from the host for TTL 1: it forwards toward the destination
  (forwarding on, with a route there; the TTL check comes before the FORWARD
  hook, so even a DROP policy answers this);
- "unreachable": it routes but has no path (not a breach by itself);
- "answer": the destination itself answered (echo reply, SYN-ACK/RST, UDP
  data, or its own port-unreachable): the whole path works both ways.
For hosts that showed time-exceeded, a TTL-2 probe names the next hop
("hop2"), so ING-SINGLE can tell a router inside the unit (its next hop is
the declared ingress) from a second exit.

Each probe is keyed by its IP id (echoed in ICMP errors), its ICMP sequence
and its TCP/UDP source port, so every reply maps back to the host it was
sent through. Linux rate-limits ICMP errors per peer (a burst of about 6,
then 1/s): TTL-1 ICMP probes go first so each host's first errors are the
most telling ones.
"""
from __future__ import annotations

import functools
import socket
import struct
import threading
import time
from dataclasses import dataclass

from scanner.canary import tokens
from netaddr import IPAddress, IPNetwork

from scanner.scan.plan import Plan, Target
from scanner.model import text
from scanner.probes.wire import (Burst, Frame, ProbeError, arp_fields, checksum, require_l2,
                                 require_privileges, require_up)

ICMP_ID = 0x150C
SPORT_BASE = 20000
BATCH = 40000          # unique source ports / IP ids per burst
FULL_TTL = 64
WAIT = 1.0
CLAIM_WAIT = 0.5       # for ARP answers to the isolated segments' addresses


@dataclass
class Probe:
    via_ip: str
    via_mac: str
    target: Target
    proto: str
    port: int | None
    ttl: int
    result: str = "none"
    responder_ip: str | None = None
    responder_mac: str | None = None
    hop2: str | None = None
    token: str | None = None
    tcp_seq: int | None = None
    claim: bool = False            # via_mac answered ARP for the destination itself

    def to_json(self) -> dict:
        out = {"via_ip": self.via_ip, "via_mac": self.via_mac, "dst": self.target.ip,
               "dst_kind": self.target.kind, "dst_segment": self.target.segment,
               "dst_name": self.target.name, "proto": self.proto, "port": self.port,
               "ttl": self.ttl, "result": self.result, "responder_ip": self.responder_ip,
               "responder_mac": self.responder_mac, "hop2": self.hop2, "token": self.token}
        if self.claim:
            out["claim"] = True
        return out


_RANK = {"none": 0, "unreachable": 1, "time-exceeded": 2, "answer": 3}


def plan_probes(plan: Plan, hosts: list[dict], known: set[str] = frozenset(),
                reg: dict[str, str] | None = None) -> list[Probe]:
    """The probe list, most telling first (TTL-1 ICMP to every target, host by
    host): one host per MAC (a router answering proxy ARP for a hundred
    addresses is one host, probed once), named by the first address it
    answered from; MACs in `known` are already probed."""
    v = plan.vantage
    reg = _registered_ip(plan) if reg is None else reg
    vias: dict[str, str] = {}
    for h in hosts:
        ip, mac = h.get("ip"), h.get("mac")
        if not ip or not mac or ":" in ip or ip in v.own or mac in v.own_macs or mac in known:
            continue
        vias.setdefault(mac, reg.get(mac, ip))
    return _probes_through(plan, [(ip, mac) for mac, ip in vias.items()], plan.remote)


def _registered_ip(plan: Plan) -> dict[str, str]:
    """MAC -> its registered address on the vantage's segment: the name of a
    host to probe through whichever address it answered from first."""
    return {c.mac: c.ip for c in plan.controls if c.mac}


def _probes_through(plan: Plan, vias: list[tuple[str, str]], targets) -> list[Probe]:
    """Every (host, target, protocol, TTL) probe, the most telling first: TTL-1
    ICMP to every target, host by host; each target passes the scope guard."""
    first, rest = [], []
    targets = list(targets)
    for t in targets if vias else ():      # each destination passes the guard once
        plan.guard(t.ip)
    for ip, mac in vias:
        for t in targets:
            kinds = ([("icmp", None)] if t.icmp else []) + \
                    [("tcp", p) for p in t.tcp] + [("udp", p) for p in t.udp]
            if not kinds:
                continue
            # TTL 1: one probe (the TTL check comes before any filter and does
            # not look at the protocol); the full TTL: every protocol
            first.append(Probe(ip, mac, t, *kinds[0], 1))
            rest += [Probe(ip, mac, t, proto, port, FULL_TTL) for proto, port in kinds]
    return first + rest


def _mac(m: str) -> bytes:
    return bytes.fromhex(m.replace(":", "").replace("-", ""))


def _ipv4(src: bytes, dst: bytes, ttl: int, ident: int, proto: int, payload: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, ttl, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


def _l4_csum(src: bytes, dst: bytes, proto: int, seg: bytes) -> int:
    return checksum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def _dns_query(qid: int, name: str) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.strip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


def _frame(plan: Plan, pr: Probe, key: int, minter=None, zone: str = "",
           guarded: dict | None = None) -> bytes:
    """One probe frame, built with struct (scapy is too slow for thousands).

    Keyed by the IP id (= key), the ICMP sequence (= key), the UDP source port
    (SPORT_BASE + key) and the TCP sequence number (the token's, else a
    derived one). `guarded`: the scope guard's answers for this plan so far
    (a /22 sends ~11,000 frames to a handful of destinations)."""
    v = plan.vantage
    if guarded is None:
        dst = plan.guard(pr.target.ip)
    else:
        dst = guarded.get(pr.target.ip)
        if dst is None:
            dst = guarded[pr.target.ip] = plan.guard(pr.target.ip)
    src_ip, dst_ip = socket.inet_aton(v.ip), socket.inet_aton(dst)
    tok = None
    if minter is not None:
        tok = minter.mint(pr.via_mac, "dns" if pr.proto == "udp" and pr.port == 53 else pr.proto, pr.port)
        pr.token = tok.hex
    if pr.proto == "icmp":
        data = tokens.payload_for(tok) if tok else b"isoscan-fwd"
        body = struct.pack("!BBHHH", 8, 0, 0, ICMP_ID, key & 0xFFFF) + data
        seg = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
        proto = 1
    elif pr.proto == "tcp":
        seq = tokens.tcp_seq_for(tok) if tok else (0x15050000 + key) & 0xFFFFFFFF
        sport = tokens.tcp_sport_for(tok) if tok else SPORT_BASE + key
        pr.tcp_seq = seq
        hdr = struct.pack("!HHIIBBHHH", sport, pr.port, seq, 0, 6 << 4, 0x02, 1024, 0, 0) + \
            struct.pack("!BBH", 2, 4, 1460)
        seg = hdr[:16] + struct.pack("!H", _l4_csum(src_ip, dst_ip, 6, hdr)) + hdr[18:]
        proto = 6
    else:
        if pr.port == 53:
            name = tokens.dns_name_for(tok, zone) if tok else f"f{key}.{zone or 'isoscan.invalid'}"
            data = _dns_query(key & 0xFFFF, name)
        else:
            data = tokens.payload_for(tok) if tok else b"isoscan-fwd"
        hdr = struct.pack("!HHHH", SPORT_BASE + key, pr.port, 8 + len(data), 0) + data
        c = _l4_csum(src_ip, dst_ip, 17, hdr) or 0xFFFF
        seg = hdr[:6] + struct.pack("!H", c) + hdr[8:]
        proto = 17
    return (_mac(pr.via_mac) + _mac(v.mac) + b"\x08\x00" +
            _ipv4(src_ip, dst_ip, pr.ttl, key & 0xFFFF, proto, seg))


def _settle(batch: list[Probe], touched, key: int, result: str, rip, rmac) -> None:
    """Keep the strongest result a probe got (answer > time-exceeded > unreachable)."""
    if not 0 <= key < len(batch):
        return
    pr = batch[key]
    if _RANK[result] > _RANK[pr.result]:
        pr.result, pr.responder_ip, pr.responder_mac = result, rip, rmac
        if touched is not None:
            touched.append(pr)


def _ipv4_l4(frame) -> tuple[str, str, int, bytes] | None:
    """(source IP, source MAC, protocol, layer-4 bytes) of an Ethernet IPv4
    frame, read from its bytes as scapy would dissect it (a fragment past the
    first has no layer 4: None); None for anything else."""
    raw = frame.raw if isinstance(frame, Frame) else bytes(frame)
    if len(raw) < 34 or raw[12:14] != b"\x08\x00" or raw[14] >> 4 != 4:
        return None
    ihl = (raw[14] & 0x0F) * 4
    if ihl < 20 or len(raw) < 14 + ihl:
        return None
    if int.from_bytes(raw[20:22], "big") & 0x1FFF:
        return None
    end = min(len(raw), 14 + max(ihl, int.from_bytes(raw[16:18], "big")))
    return (socket.inet_ntoa(raw[26:30]), raw[6:12].hex(":"), raw[23], raw[14 + ihl:end])


def _match(batch: list[Probe], packets, by_seq: dict | None = None,
           touched: list | None = None) -> None:
    """Settle the probes that `packets` answer. Read from the frames' bytes:
    scapy's dissection costs about 1 ms a frame and its import 1.2 s."""
    if by_seq is None:
        by_seq = {pr.tcp_seq: k for k, pr in enumerate(batch) if pr.tcp_seq is not None}

    settle = functools.partial(_settle, batch, touched)

    for p in packets:
        got = _ipv4_l4(p)
        if got is None:
            continue
        rip, rmac, proto, l4 = got
        if proto == 1:
            if len(l4) < 8:
                continue
            itype = l4[0]
            if itype == 0 and int.from_bytes(l4[4:6], "big") == ICMP_ID:
                key = int.from_bytes(l4[6:8], "big")
                if key < len(batch) and batch[key].target.ip == rip and batch[key].proto == "icmp":
                    settle(key, "answer", rip, rmac)
            elif itype in (3, 11) and len(l4) >= 28:
                inner = l4[8:]                  # the quoted IP header
                key = int.from_bytes(inner[4:6], "big")
                if key >= len(batch) or batch[key].target.ip != socket.inet_ntoa(inner[16:20]):
                    continue
                if itype == 11:
                    settle(key, "time-exceeded", rip, rmac)
                elif rip == batch[key].target.ip:   # the destination itself: it was reached
                    settle(key, "answer", rip, rmac)
                else:
                    settle(key, "unreachable", rip, rmac)
        elif proto == 6:
            if len(l4) < 20:
                continue
            ack = int.from_bytes(l4[8:12], "big")
            key = by_seq.get((ack - 1) & 0xFFFFFFFF, -1)
            if 0 <= key < len(batch):
                pr = batch[key]
                if pr.target.ip == rip and pr.port == int.from_bytes(l4[0:2], "big"):
                    settle(key, "answer", rip, rmac)
        elif proto == 17:
            if len(l4) < 8:
                continue
            key = int.from_bytes(l4[2:4], "big") - SPORT_BASE
            if 0 <= key < len(batch):
                pr = batch[key]
                if pr.target.ip == rip and pr.proto == "udp" and pr.port == int.from_bytes(l4[0:2], "big"):
                    settle(key, "answer", rip, rmac)


class Stream:
    """One listener, probes sent as hosts become known, one shared wait.

    Hosts come from `add()` (discovery's result) or from ARP replies seen on
    the listener while discovery runs (`poll()`): a host is probed the moment
    it answers nmap's ARP, so the wait overlaps discovery's own.
    """

    def __init__(self, plan: Plan, minter=None, zone: str = "", learn_arp: bool = True):
        v = plan.vantage
        self.plan, self.minter, self.zone, self.learn_arp = plan, minter, zone, learn_arp
        bpf = (f"not ether src {v.mac} and (arp or (ether dst {v.mac} and ip and (icmp or tcp or udp)))")
        self.burst = Burst(v.interface, bpf)
        self.batch: list[Probe] = []
        self.overflow: list[Probe] = []
        self.vias: dict[str, str] = {}           # MAC -> the address it is named by
        self.reg = _registered_ip(plan)
        self.last_send = time.monotonic()
        self._seen = 0
        self.nets = [IPNetwork(n) for n in plan.networks4]
        # every MAC that answered ARP for an address of the segment, and for
        # an address of an isolated segment (plan.claims): ip -> [MACs]
        self.answered: dict[str, list[str]] = {}
        self.claimed: dict[str, list[str]] = {}
        self._claims = {t.ip: t for t in plan.claims}
        self._claims_sent: float | None = None
        self.asked_again = 0                   # registered addresses asked twice
        self._asked_at: float | None = None
        # replies are matched as they come, and the TTL-2 probe behind a host
        # that answered time-exceeded goes out at once (within the same wait)
        self.by_seq: dict[int, int] = {}
        self._matched = 0
        self.hopped: set[tuple] = set()
        self._guarded: dict[str, str] = {}     # destination -> the scope guard's answer

    def close(self):
        self.burst.close()

    def _send(self, probes: list[Probe]) -> None:
        room = BATCH - len(self.batch)
        now, later = probes[:room], probes[room:]
        self.overflow += later
        frames = []
        for pr in now:
            frames.append(_frame(self.plan, pr, len(self.batch), self.minter, self.zone,
                                 self._guarded))
            if pr.tcp_seq is not None:
                self.by_seq[pr.tcp_seq] = len(self.batch)
            self.batch.append(pr)
        if frames:
            self.burst.send(frames)
            self.last_send = time.monotonic()

    def _hop_new(self) -> None:
        """Match what arrived since the last call; a TTL-1 time-exceeded gets
        its TTL-2 probe now (`_hop2` afterwards sends only what is left)."""
        got = self.burst.got
        touched: list[Probe] = []
        _match(self.batch, got[self._matched:], self.by_seq, touched)
        self._matched = len(got)
        hops = []
        for pr in touched:
            key = (pr.via_ip, pr.via_mac, pr.target.ip)
            if pr.ttl == 1 and pr.result == "time-exceeded" and pr.via_ip and key not in self.hopped:
                self.hopped.add(key)
                proto, port = ("icmp", None) if pr.target.icmp else (pr.proto, pr.port)
                hops.append(Probe(pr.via_ip, pr.via_mac, pr.target, proto, port, 2))
        if hops:
            self._send(hops)

    def add(self, hosts):
        new = [h for h in hosts if h.get("ip") and h.get("mac") and h["mac"] not in self.vias]
        probes = plan_probes(self.plan, new, set(self.vias), self.reg)
        for h in new:
            self.vias.setdefault(h["mac"], self.reg.get(h["mac"], h["ip"]))
        self._send(probes)

    def send_claims(self) -> None:
        """ARP who-has, once, for every registered address of the isolated
        segments: on this link nobody should answer."""
        from scanner.probes.discovery import arp_frames
        if self._claims and self._claims_sent is None:
            self.burst.send(arp_frames(self.plan, sorted(self._claims)))
            self._claims_sent = time.monotonic()

    def ask_again(self) -> None:
        """One more ARP who-has, after nmap, for every registered address of
        the segment that neither nmap nor the listener heard: a busy probe
        host or a lossy switch loses a frame now and then, and a registered
        device that is there must not read as DEV-MISSING. (One frame per
        silent address; a switched-off device stays silent.)"""
        from scanner.probes.discovery import arp_frames
        silent = [c.ip for c in self.plan.controls if c.ip not in self.answered]
        if silent:
            self.burst.send(arp_frames(self.plan, silent))
            self.asked_again = len(silent)
            self._asked_at = time.monotonic()

    def _claim(self, ip: str, mac: str, probe: bool = True) -> None:
        """A station answered for an address of an isolated segment: probe that
        address through it (ICMP echo and TCP, full TTL), once per MAC."""
        macs = self.claimed.setdefault(ip, [])
        if mac in macs:
            return
        macs.append(mac)
        if not probe:
            return
        t = self._claims[ip]
        kinds = [("icmp", None)] + [("tcp", p) for p in t.tcp]
        self._send([Probe(None, mac, t, proto, port, FULL_TTL, claim=True)
                    for proto, port in kinds])

    def poll(self, timeout: float = 0.02, probe: bool = True):
        """Take in what arrived; probe hosts that just answered ARP (and the
        isolated segments' addresses through whoever answered for them)."""
        self.burst.collect(timeout)
        v = self.plan.vantage
        got = self.burst.got
        fresh = []
        for p in got[self._seen:]:
            f = arp_fields(p)
            if f is not None and f[0] == 2 and f[3] == v.ip:
                ip, mac = f[2], f[1]
                if mac in v.own_macs or ip in v.own:
                    continue
                if ip in self._claims:
                    self._claim(ip, mac, probe)
                    continue
                try:
                    inside = any(IPAddress(ip) in n for n in self.nets)
                except Exception:
                    inside = False
                if inside and self.plan.scope.allows(ip):
                    macs = self.answered.setdefault(ip, [])
                    if mac not in macs:
                        macs.append(mac)
                    fresh.append({"ip": ip, "mac": mac})
        self._seen = len(got)
        if fresh and self.learn_arp and probe:
            self.add(fresh)
        if probe:
            self._hop_new()

    def finish(self, wait: float) -> int:
        for at in (self._claims_sent, self._asked_at):   # ARP answers, then their probes
            while at is not None and time.monotonic() < at + CLAIM_WAIT:
                self.poll(0.02)
        self.poll(0)
        while self.batch:                    # the wait runs from the last frame sent
            left = self.last_send + wait - time.monotonic()
            if left <= 0:
                break
            self.poll(min(left, 0.05))
        self.poll(0, probe=False)            # late ARP answers are recorded, not probed
        _match(self.batch, self.burst.got[self._matched:], self.by_seq)
        sent = self.burst.sent
        self.close()
        if self.overflow:
            extra: list[Probe] = []
            sent += _burst(self.plan, list(self.overflow), wait, self.minter, self.zone, extra)
            self.overflow += extra
        return sent


def _burst(plan: Plan, probes: list[Probe], wait: float, minter=None, zone: str = "",
           extra: list | None = None) -> int:
    """Send probes in batches, one wait each; TTL-2 probes the batches sent on
    their own (behind time-exceeded answers) are added to `extra`."""
    sent = 0
    for start in range(0, len(probes), BATCH):
        st = Stream(plan, minter, zone, learn_arp=False)
        try:
            chunk = probes[start:start + BATCH]
            st._send(chunk)
            sent += st.finish(wait)
            if extra is not None:
                extra += st.batch[len(chunk):] + st.overflow
        finally:
            st.close()
    return sent


def _hop2(plan: Plan, probes: list[Probe], wait: float, minter, zone) -> tuple[list[Probe], int]:
    """Second round: the next hop behind every host that forwards (TTL 2)."""
    done = [pr for pr in probes if pr.ttl == 2]          # sent within the stream's wait
    have = {(pr.via_ip, pr.via_mac, pr.target.ip) for pr in done}
    pairs = {}
    for pr in probes:
        key = (pr.via_ip, pr.via_mac, pr.target.ip)
        if pr.ttl == 1 and pr.result == "time-exceeded" and key not in have:
            pairs.setdefault(key, pr)
    hop_probes = []
    for (vip, vmac, _), pr in pairs.items():
        proto, port = ("icmp", None) if pr.target.icmp else (pr.proto, pr.port)
        hop_probes.append(Probe(vip, vmac, pr.target, proto, port, 2))
    sent = _burst(plan, hop_probes, wait, minter, zone) if hop_probes else 0
    hop = {}
    for hp in done + hop_probes:
        if hp.result in ("time-exceeded", "unreachable", "answer"):
            hop[(hp.via_ip, hp.via_mac, hp.target.ip)] = hp.responder_ip
    for pr in probes + hop_probes:
        pr.hop2 = hop.get((pr.via_ip, pr.via_mac, pr.target.ip))
    return hop_probes, sent


def _section(plan: Plan, probes: list[Probe], st: "Stream", sent: int, method: str) -> dict:
    for pr in probes:                # a claim probe is named by its station's own address
        if pr.via_ip is None:
            pr.via_ip = st.vias.get(pr.via_mac)
    return {"status": "ok", "error": None, "method": method,
            "vias": len(st.vias), "targets": [t.ip for t in plan.remote], "sent": sent,
            "claims_asked": len(plan.claims), "asked_again": st.asked_again,
            "claims": [{"ip": ip, "segment": st._claims[ip].segment,
                        "device": st._claims[ip].name, "macs": list(macs)}
                       for ip, macs in sorted(st.claimed.items(), key=lambda x: IPAddress(x[0]))],
            "probes": [p.to_json() for p in probes]}


def every_mac(disc: dict, answered: dict[str, list[str]]) -> None:
    """Discovery keeps every MAC that answered ARP for an address (python-nmap
    keeps one per address, whichever won the reply race): the pairs the
    listener saw are added to disc["hosts"], marked "seen": "listener"."""
    disc["every_mac"] = True
    have = {(h.get("ip"), h.get("mac")) for h in disc.get("hosts") or ()}
    extra = [{"ip": ip, "mac": mac, "via": "arp", "seen": "listener"}
             for ip, macs in answered.items() for mac in macs if (ip, mac) not in have]
    if extra:
        disc["hosts"] = list(disc.get("hosts") or ()) + sorted(
            extra, key=lambda h: (IPAddress(h["ip"]), h["mac"]))


def probe(plan: Plan, hosts: list[dict], wait: float = WAIT, *, minter=None, zone: str = "") -> dict:
    """Forwarding probes through the given hosts (discovery's)."""
    require_privileges()
    require_up(plan.vantage.interface)
    require_l2(plan.vantage)
    st = Stream(plan, minter, zone, learn_arp=False)
    try:
        st.add(hosts)
        st.send_claims()
        sent = st.finish(wait)
        probes_all = st.batch + st.overflow
    finally:
        st.close()
    hops, n = _hop2(plan, probes_all, wait, minter, zone)
    return _section(plan, probes_all + hops, st, sent + n, METHOD)


def _arp_control_send(plan: Plan, st: Stream, wait: float = 0.05) -> None:
    """The positive control on the stream's own sockets: ARP who-has to the
    registered addresses, sent before nmap starts (nmap needs longer than
    `wait` to send its first frame, so the early replies answer ours)."""
    from scanner.probes.discovery import arp_frames, arp_replies
    wanted = {c.ip for c in plan.controls}
    if not wanted:
        return
    st.burst.send(arp_frames(plan, sorted(wanted)))
    seen: set[str] = set()
    upto = [0]

    def done(got) -> bool:          # incremental: a /22 answers a thousand times
        seen.update(arp_replies(got[upto[0]:], wanted))
        upto[0] = len(got)
        return wanted <= seen
    st.burst.collect(wait, done=done)


def _arp_control_items(plan: Plan, st: Stream) -> list[dict]:
    from scanner.probes.control import arp_items_from
    from scanner.probes.discovery import arp_replies
    return arp_items_from(plan, arp_replies(st.burst.got, {c.ip for c in plan.controls}))


def discover_and_probe(plan: Plan, discover, wait: float = WAIT, *, minter=None,
                       zone: str = "", control_out: list | None = None) -> tuple[dict, dict]:
    """Discovery and forwarding together: `discover()` (nmap) runs in a thread
    while every host that answers its ARP is probed at once; hosts in
    discover()'s result that were not seen yet are probed when it returns.
    Returns (discovery section, forwarding section)."""
    require_privileges()
    require_up(plan.vantage.interface)
    require_l2(plan.vantage)
    box: dict = {}

    def run():
        try:
            box["section"] = discover()
        except BaseException as exc:       # handed to the caller below
            box["exc"] = exc

    # the listener (no scapy: milliseconds) opens before nmap starts, so every
    # host is probed the moment it answers nmap's ARP and the shared wait runs
    # out while nmap is still waiting for the addresses nobody holds
    st = Stream(plan, minter, zone, learn_arp=True)
    t = threading.Thread(target=run, name="isoscan-discovery", daemon=True)
    try:
        t.start()
        if control_out is not None:
            _arp_control_send(plan, st)
        st.send_claims()
        while t.is_alive():
            st.poll(0.02)
        t.join()
        if "exc" in box:
            raise box["exc"]
        disc = box["section"]
        if control_out is not None:
            control_out.extend(_arp_control_items(plan, st))
        st.add(disc.get("hosts", []))
        st.ask_again()
        sent = st.finish(wait)
        probes_all = st.batch + st.overflow
        if disc.get("status") == "ok":
            every_mac(disc, st.answered)
    finally:
        if t.is_alive() or t.ident is not None:
            t.join()
        st.close()
    hops, n = _hop2(plan, probes_all, wait, minter, zone)
    return disc, _section(plan, probes_all + hops, st, sent + n,
                          METHOD + ", overlapped with discovery")


METHOD = "L2 burst through each host (gateway-finder), one listener, one shared wait"


# -- IPv6 -------------------------------------------------------------------
#
# Where the vantage's segment declares an IPv6 network and the vantage has an
# IPv6 address there (declared, else link-local: Plan.source6), the same
# technique runs over IPv6: frames addressed at layer 2 to every host found
# (its MAC from ND or ARP) and at layer 3 to the IPv6 canaries and one IPv6
# address of every other segment (Plan.remote6), ICMPv6 echo, TCP SYN and UDP,
# hop limit 1 and 64, then hop limit 2 behind hosts that answered
# time-exceeded. Each probe is keyed by its flow label (quoted back in ICMPv6
# errors), its echo sequence and its TCP/UDP source port. Records go to the
# same "forwarding.probes" list, with IPv6 addresses, so the checks judge them
# unchanged.

ICMP6_ID = 0x150D
FLOW_MASK = 0xFFFFF


def vias6(plan: Plan, disc: dict) -> list[tuple[str, str]]:
    """(address, MAC) of every host to probe through over IPv6: one per MAC,
    named by its global address inside the segment's IPv6 networks, else its
    link-local one, else (a host seen by ARP only) its IPv4 address."""
    v = plan.vantage
    nets = [IPNetwork(n) for n in plan.networks6]
    best: dict[str, tuple[int, str]] = {}

    def rank(ip: str) -> int:
        try:
            a = IPAddress(ip)
        except Exception:
            return 9
        if a.version == 6 and any(a in n for n in nets):
            return 0
        if a.version == 6 and a.is_link_local():
            return 1
        return 2 if a.version == 4 else 3

    for h in list(disc.get("neighbours6") or ()) + list(disc.get("hosts") or ()):
        ip, mac = h.get("ip"), (h.get("mac") or "").lower()
        if not ip or not mac or ip in v.own or mac in v.own_macs:
            continue
        r = rank(ip)
        if r == 3:
            continue                       # a rogue prefix's address does not name a host
        if mac not in best or r < best[mac][0]:
            best[mac] = (r, ip)
    return [(ip, mac) for mac, (_, ip) in best.items()]


def plan_probes6(plan: Plan, vias: list[tuple[str, str]]) -> list[Probe]:
    return _probes_through(plan, vias, plan.remote6)


def _frame6(plan: Plan, src: str, pr: Probe, key: int, minter=None, zone: str = "") -> bytes:
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    v = plan.vantage
    dst = plan.guard(pr.target.ip)
    tok = None
    if minter is not None:
        tok = minter.mint(pr.via_mac, "dns" if pr.proto == "udp" and pr.port == 53 else pr.proto,
                          pr.port)
        pr.token = tok.hex
    ip6 = IPv6(src=src, dst=dst, hlim=pr.ttl, fl=key & FLOW_MASK)
    if pr.proto == "icmp":
        l4 = ICMPv6EchoRequest(id=ICMP6_ID, seq=key & 0xFFFF,
                               data=tokens.payload_for(tok) if tok else b"isoscan-fwd")
    elif pr.proto == "tcp":
        seq = tokens.tcp_seq_for(tok) if tok else (0x15060000 + key) & 0xFFFFFFFF
        sport = tokens.tcp_sport_for(tok) if tok else SPORT_BASE + key
        pr.tcp_seq = seq
        l4 = TCP(sport=sport, dport=pr.port, seq=seq, flags="S", window=1024,
                 options=[("MSS", 1440)])
    else:
        if pr.port == 53:
            name = tokens.dns_name_for(tok, zone) if tok else f"f{key}.{zone or 'isoscan.invalid'}"
            data = _dns_query(key & 0xFFFF, name)
        else:
            data = tokens.payload_for(tok) if tok else b"isoscan-fwd"
        l4 = UDP(sport=SPORT_BASE + key, dport=pr.port) / Raw(data)
    return bytes(Ether(src=v.mac, dst=pr.via_mac) / ip6 / l4)


def _match6(batch: list[Probe], packets) -> None:
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6TimeExceeded,
                                    IPerror6, IPv6)
    from scapy.layers.l2 import Ether
    by_seq = {pr.tcp_seq: k for k, pr in enumerate(batch) if pr.tcp_seq is not None}

    settle = functools.partial(_settle, batch, None)

    def same(a, b) -> bool:
        try:
            return IPAddress(a) == IPAddress(b)
        except Exception:
            return False

    for p in packets:
        if IPv6 not in p or Ether not in p:
            continue
        rip, rmac = str(IPAddress(p[IPv6].src)), p[Ether].src.lower()
        if ICMPv6EchoReply in p:
            e = p[ICMPv6EchoReply]
            if e.id == ICMP6_ID and e.seq < len(batch) and batch[e.seq].proto == "icmp" \
                    and same(batch[e.seq].target.ip, rip):
                settle(e.seq, "answer", rip, rmac)
        elif (ICMPv6TimeExceeded in p or ICMPv6DestUnreach in p) and IPerror6 in p:
            inner = p[IPerror6]
            key = inner.fl
            if key >= len(batch) or not same(batch[key].target.ip, inner.dst):
                continue
            if ICMPv6TimeExceeded in p:
                settle(key, "time-exceeded", rip, rmac)
            elif same(rip, inner.dst):
                settle(key, "answer", rip, rmac)
            else:
                settle(key, "unreachable", rip, rmac)
        elif TCP in p:
            key = by_seq.get((p[TCP].ack - 1) & 0xFFFFFFFF, -1)
            if 0 <= key < len(batch):
                pr = batch[key]
                if same(pr.target.ip, rip) and pr.port == p[TCP].sport:
                    settle(key, "answer", rip, rmac)
        elif UDP in p:
            key = p[UDP].dport - SPORT_BASE
            if 0 <= key < len(batch):
                pr = batch[key]
                if same(pr.target.ip, rip) and pr.proto == "udp" and pr.port == p[UDP].sport:
                    settle(key, "answer", rip, rmac)


def _burst6(plan: Plan, src: str, probes: list[Probe], wait: float, minter=None,
            zone: str = "") -> int:
    v = plan.vantage
    sent = 0
    for start in range(0, len(probes), BATCH):
        batch = probes[start:start + BATCH]
        with Burst(v.interface, f"not ether src {v.mac} and ether dst {v.mac} and ip6") as b:
            b.send([_frame6(plan, src, pr, k, minter, zone) for k, pr in enumerate(batch)])
            b.collect(wait)
            _match6(batch, b.got)
            sent += b.sent
    return sent


def probe6(plan: Plan, disc: dict, wait: float = WAIT, *, minter=None, zone: str = "") -> dict:
    """The IPv6 forwarding probes: (probe records, facts about the round).

    Returns {"status", "error", "src", "vias", "targets", "sent", "probes"};
    status "not-run" when the segment declares no IPv6 network or there is no
    IPv6 target; ProbeError when the vantage has no IPv6 address there."""
    out = {"status": "not-run", "error": None, "src": None, "vias": 0,
           "targets": [t.ip for t in plan.remote6], "sent": 0, "probes": []}
    if not plan.networks6:
        out["error"] = "the segment declares no IPv6 network"
        return out
    if not plan.remote6 and not plan.claims6:
        out["error"] = "no IPv6 canary or other segment with an IPv6 network"
        return out
    src = plan.source6
    if src is None:
        # the segment declares IPv6 but we cannot speak it: an IPv6 bridge would
        # go unseen, so this is an error of the section, never a quiet pass
        raise ProbeError(text("网段声明了 IPv6，但本机在该网段没有 IPv6 地址（声明地址或链路本地地址），"
                              "无法经 IPv6 探测转发",
                              "the segment declares IPv6 but this host has no IPv6 address on it "
                              "(declared or link-local): forwarding over IPv6 cannot be probed"))
    require_privileges()
    require_up(plan.vantage.interface)
    require_l2(plan.vantage)
    claimed, claim_probes, sent = _claims6(plan, src, wait, minter, zone)
    vias = vias6(plan, disc) if plan.remote6 else []
    probes = plan_probes6(plan, vias)
    sent += _burst6(plan, src, probes, wait, minter, zone) if probes else 0
    pairs = {}
    for pr in probes:
        if pr.ttl == 1 and pr.result == "time-exceeded":
            pairs.setdefault((pr.via_ip, pr.via_mac, pr.target.ip), pr)
    hops = [Probe(vip, vmac, pr.target, *(("icmp", None) if pr.target.icmp else (pr.proto, pr.port)), 2)
            for (vip, vmac, _), pr in pairs.items()]
    if hops:
        sent += _burst6(plan, src, hops, wait, minter, zone)
        hop = {(hp.via_ip, hp.via_mac, hp.target.ip): hp.responder_ip for hp in hops
               if hp.result in ("time-exceeded", "unreachable", "answer")}
        for pr in probes + hops:
            pr.hop2 = hop.get((pr.via_ip, pr.via_mac, pr.target.ip))
    out.update(status="ok", src=src, vias=len(vias), sent=sent,
               probes=[p.to_json() for p in probes + hops + claim_probes],
               claims_asked=len(plan.claims6),
               claims=[{"ip": ip, "segment": t.segment, "device": t.name, "macs": macs}
                       for ip, (t, macs) in sorted(claimed.items(), key=lambda x: IPAddress(x[0]))])
    return out


def _claims6(plan: Plan, src: str, wait: float, minter=None, zone: str = ""):
    """Neighbour solicitation, once, for every registered IPv6 address of the
    isolated segments (plan.claims6): on this link nobody should answer. What
    answered is probed with an ICMPv6 echo framed to it, once per MAC.
    Returns ({ip: (target, [MACs])}, claim probes, frames sent)."""
    from scanner.probes.wire import na_fields, ns_frame
    if not plan.claims6:
        return {}, [], 0
    v = plan.vantage
    asked = {str(IPAddress(t.ip)): t for t in plan.claims6}
    claimed: dict[str, tuple[Target, list[str]]] = {}
    with Burst(v.interface, f"not ether src {v.mac} and ip6 and icmp6") as b:
        b.send([ns_frame(v.mac, src, plan.guard(ip)) for ip in asked])
        b.collect(CLAIM_WAIT)
        sent = b.sent
        for f in b.got:
            na = na_fields(f)
            if na is None or na[0] not in asked or na[1] in v.own_macs:
                continue
            macs = claimed.setdefault(na[0], (asked[na[0]], []))[1]
            if na[1] not in macs:
                macs.append(na[1])
    probes = [Probe(None, mac, t, "icmp", None, FULL_TTL, claim=True)
              for t, macs in claimed.values() for mac in macs]
    if probes:
        sent += _burst6(plan, src, probes, wait, minter, zone)
    return claimed, probes, sent
