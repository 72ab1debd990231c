"""SNMP, only where the inventory gives read access: what a station says it is.

For a segment that declares `snmp: {community: ...}` (SNMPv2c; never guessed,
never a default community), one GetBulk request to UDP 161 of each station
discovery found asks for sysName (the GETNEXT of 1.3.6.1.2.1.1.5: sysName.0)
and up to MAX_REPETITIONS rows of ifPhysAddress (1.3.6.1.2.1.2.2.1.6): the
MACs of *all* the station's cards. A dual-homed host that answers on its
office card reports the MAC of its classified card, which the classified
vantage's discovery saw: `isoscan report` joins them (a strong identity).

One socket, every request sent at once, one shared wait (as NBSTAT and the
PTR queries); answers are matched by request id and source address, read
with a bounded BER reader. Standard library only.
"""
from __future__ import annotations

import secrets
import select
import time

PORT = 161
WAIT = 1.0
SYSNAME = (1, 3, 6, 1, 2, 1, 1, 5)                 # GETNEXT -> sysName.0
IFPHYS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 6)            # ifPhysAddress.<ifIndex>
MAX_REPETITIONS = 32
REPLY_MAX = 65535
NAME_MAX = 255


class BerError(ValueError):
    pass


# -- BER, as much as SNMPv2c needs -------------------------------------------

def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def integer(n: int) -> bytes:
    return tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def oid(parts) -> bytes:
    parts = list(parts)
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, body)


def get_bulk(community: bytes, request_id: int) -> bytes:
    """GetBulkRequest: non-repeaters 1 (sysName), max-repetitions for ifPhysAddress."""
    vbs = tlv(0x30, tlv(0x30, oid(SYSNAME) + b"\x05\x00") + tlv(0x30, oid(IFPHYS) + b"\x05\x00"))
    pdu = tlv(0xA5, integer(request_id) + integer(1) + integer(MAX_REPETITIONS) + vbs)
    return tlv(0x30, integer(1) + tlv(0x04, community) + pdu)


def _read(data: bytes, i: int) -> tuple[int, bytes, int]:
    """(tag, value, next index) of the TLV at i; BerError when it does not fit."""
    if i + 2 > len(data):
        raise BerError("truncated")
    tag, n = data[i], data[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 3 or i + k > len(data):
            raise BerError("bad length")
        n = int.from_bytes(data[i:i + k], "big")
        i += k
    if i + n > len(data):
        raise BerError("truncated")
    return tag, data[i:i + n], i + n


def _items(data: bytes) -> list[tuple[int, bytes]]:
    out, i = [], 0
    while i < len(data):
        tag, v, i = _read(data, i)
        out.append((tag, v))
        if len(out) > 1024:
            raise BerError("too many items")
    return out


def _int(v: bytes) -> int:
    if not 0 < len(v) <= 8:
        raise BerError("bad integer")
    return int.from_bytes(v, "big", signed=True)


def _oid(v: bytes) -> tuple[int, ...]:
    if not v or len(v) > 128:
        raise BerError("bad oid")
    parts = list(divmod(v[0], 40)) if v[0] < 80 else [2, v[0] - 80]
    n = 0
    for b in v[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(n)
            n = 0
    return tuple(parts)


def parse_response(data: bytes, community: bytes) -> tuple[int, list[tuple[tuple, int, bytes]]]:
    """(request id, [(oid, value tag, value)]) of an SNMPv2c Response; BerError otherwise."""
    if len(data) > REPLY_MAX:
        raise BerError("too large")
    tag, msg, _ = _read(data, 0)
    if tag != 0x30:
        raise BerError("not a message")
    parts = _items(msg)
    if len(parts) != 3 or parts[0][0] != 0x02 or _int(parts[0][1]) != 1:
        raise BerError("not SNMPv2c")
    if parts[1] != (0x04, community):
        raise BerError("another community")
    if parts[2][0] != 0xA2:
        raise BerError("not a response")
    pdu = _items(parts[2][1])
    if len(pdu) != 4 or pdu[3][0] != 0x30:
        raise BerError("bad pdu")
    rid, status = _int(pdu[0][1]), _int(pdu[1][1])
    if status != 0:
        return rid, []
    out = []
    for t, vb in _items(pdu[3][1]):
        kv = _items(vb) if t == 0x30 else []
        if len(kv) == 2 and kv[0][0] == 0x06:
            out.append((_oid(kv[0][1]), kv[1][0], kv[1][1]))
    return rid, out


def what_it_says(varbinds) -> dict:
    """{"sysname": str|None, "macs": [MAC...], "more": bool} of a response's varbinds."""
    name, macs, last = None, [], None
    for o, tag, v in varbinds:
        if o[:len(SYSNAME)] == SYSNAME and tag == 0x04 and name is None:
            name = v[:NAME_MAX].decode("utf-8", "replace")
        elif o[:len(IFPHYS)] == IFPHYS and len(o) == len(IFPHYS) + 1:
            last = o
            if tag == 0x04 and len(v) == 6 and v != bytes(6):
                m = ":".join(f"{b:02x}" for b in v)
                if m not in macs:
                    macs.append(m)
    rows = sum(1 for o, _t, _v in varbinds if o[:len(IFPHYS)] == IFPHYS)
    return {"sysname": name, "macs": macs, "more": rows >= MAX_REPETITIONS and last is not None}


def ask(iface: str, src_ip: str, ips, guard, community: str, wait: float = WAIT,
        macs: dict | None = None) -> dict:
    """{ip: what_it_says(...)} of every station that answered with this community
    (`macs`: ip -> MAC, the requests framed to it: scanner/probes/l2udp.py)."""
    from scanner.probes.l2udp import link_socket
    ips = [guard(ip) for ip in ips]
    comm = community.encode("utf-8")
    with link_socket(iface, src_ip, macs) as (s, l2):
        ids: dict[int, str] = {}
        for ip in ips:
            rid = secrets.randbelow(2**31 - 1) + 1
            ids[rid] = ip
            try:
                l2.sendto(get_bulk(comm, rid), (ip, PORT))
            except BlockingIOError:
                time.sleep(0.001)
                l2.sendto(get_bulk(comm, rid), (ip, PORT))
        out: dict[str, dict] = {}
        end = time.monotonic() + wait
        while len(out) < len(ips):
            left = end - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                break
            try:
                data, (peer, _port) = s.recvfrom(REPLY_MAX)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            try:
                rid, vbs = parse_response(data, comm)
            except (BerError, IndexError, ValueError):
                continue
            if ids.get(rid) == peer and peer not in out:
                out[peer] = what_it_says(vbs)
        return out
