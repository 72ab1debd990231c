"""SNMPv3 with the User-based Security Model (RFC 3414), as the identity step
asks it where a segment declares v3 credentials: authentication HMAC-SHA-96
(usmHMACSHAAuthProtocol) or HMAC-SHA-256-192 (RFC 7860), privacy AES-128-CFB
(RFC 3826) or none. The same GetBulk as v2c (scanner/probes/snmp.py) inside a
scoped PDU.

Two rounds, every station at once, one shared wait each:
1. discovery: a reportable, unauthenticated request with no engine ID; the
   agent answers a Report carrying its engine ID, boots and time;
2. the request, authenticated (and encrypted) with the user's keys localised
   to that engine (password -> key: RFC 3414 A.2).
An answer counts only when its HMAC verifies with the localised key: a
station that cannot prove it knows the user's key says nothing.
AES comes from the `cryptography` library, imported only here.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import select
import socket
import time

from scanner.probes import snmp as S
from scanner.probes.snmp import BerError, _int, _items, _read, integer, tlv

AUTH = {"SHA": (hashlib.sha1, 12), "SHA-256": (hashlib.sha256, 24)}
PRIV = ("AES", "none")
MAX_SIZE = 65507
REPORT, RESPONSE = 0xA8, 0xA2


def password_to_key(password: bytes, hash_fn) -> bytes:
    """RFC 3414 A.2.1: the hash of 1 MiB of the repeated password."""
    if not password:
        raise ValueError("an empty SNMPv3 password")
    n = 1048576
    data = (password * (n // len(password) + 1))[:n]
    return hash_fn(data).digest()


def localize(key: bytes, engine_id: bytes, hash_fn) -> bytes:
    """RFC 3414 A.2.2: the key localised to an authoritative engine."""
    return hash_fn(key + engine_id + key).digest()


def _aes(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
    try:
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:                       # cryptography before 47
        from cryptography.hazmat.primitives.ciphers.modes import CFB
    c = Cipher(algorithms.AES(key[:16]), CFB(iv))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def _usm(engine: bytes, boots: int, etime: int, user: bytes, auth: bytes, priv: bytes) -> bytes:
    return tlv(0x04, tlv(0x30, tlv(0x04, engine) + integer(boots) + integer(etime)
                         + tlv(0x04, user) + tlv(0x04, auth) + tlv(0x04, priv)))


def _message(msg_id: int, flags: int, usm: bytes, data: bytes) -> bytes:
    head = tlv(0x30, integer(msg_id) + integer(MAX_SIZE) + tlv(0x04, bytes([flags])) + integer(3))
    return tlv(0x30, integer(3) + head + usm + data)


def _scoped(engine: bytes, pdu: bytes) -> bytes:
    return tlv(0x30, tlv(0x04, engine) + tlv(0x04, b"") + pdu)


def _bulk_pdu(request_id: int) -> bytes:
    vbs = tlv(0x30, tlv(0x30, S.oid(S.SYSNAME) + b"\x05\x00") + tlv(0x30, S.oid(S.IFPHYS) + b"\x05\x00"))
    return tlv(0xA5, integer(request_id) + integer(1) + integer(S.MAX_REPETITIONS) + vbs)


def discovery(msg_id: int) -> bytes:
    """A reportable noAuthNoPriv GetRequest with no engine ID (RFC 3414 §4)."""
    pdu = tlv(0xA0, integer(msg_id) + integer(0) + integer(0) + tlv(0x30, b""))
    return _message(msg_id, 0x04, _usm(b"", 0, 0, b"", b"", b""), _scoped(b"", pdu))


class User:
    """A USM user's keys, made once; localised per engine."""

    def __init__(self, name: str, auth: str, auth_key: str, priv: str = "none",
                 priv_key: str | None = None):
        if auth not in AUTH or priv not in PRIV:
            raise ValueError(f"unsupported SNMPv3 protocols {auth}/{priv}")
        self.name = name.encode("utf-8")
        self.hash, self.mac_len = AUTH[auth]
        self.priv = priv
        self._ka = password_to_key(auth_key.encode("utf-8"), self.hash)
        self._kp = password_to_key(priv_key.encode("utf-8"), self.hash) if priv == "AES" else None

    def keys(self, engine: bytes) -> tuple[bytes, bytes | None]:
        ka = localize(self._ka, engine, self.hash)
        kp = localize(self._kp, engine, self.hash) if self._kp is not None else None
        return ka, kp

    def request(self, msg_id: int, engine: bytes, boots: int, etime: int) -> bytes:
        ka, kp = self.keys(engine)
        scoped = _scoped(engine, _bulk_pdu(msg_id))
        if kp is not None:
            salt = secrets.token_bytes(8)
            iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
            data, flags = tlv(0x04, _aes(kp, iv, scoped, True)), 0x07
        else:
            salt, data, flags = b"", scoped, 0x05
        mark = secrets.token_bytes(self.mac_len)
        msg = _message(msg_id, flags, _usm(engine, boots, etime, self.name, mark, salt), data)
        zeroed = msg.replace(mark, bytes(self.mac_len), 1)
        mac = hmac.new(ka, zeroed, self.hash).digest()[:self.mac_len]
        return msg.replace(mark, mac, 1)


def _parse(data: bytes):
    """(msg id, flags, (engine, boots, time, user, auth, priv), msgData TLV) of a v3 message."""
    if len(data) > S.REPLY_MAX:
        raise BerError("too large")
    tag, msg, _ = _read(data, 0)
    parts = _items(msg) if tag == 0x30 else []
    if len(parts) != 4 or parts[0][0] != 0x02 or _int(parts[0][1]) != 3:
        raise BerError("not SNMPv3")
    head = _items(parts[1][1])
    if len(head) != 4 or head[2][0] != 0x04 or len(head[2][1]) != 1:
        raise BerError("bad header")
    msg_id, flags = _int(head[0][1]), head[2][1][0]
    if parts[2][0] != 0x04:
        raise BerError("bad security parameters")
    tag, usm, _ = _read(parts[2][1], 0)
    u = _items(usm) if tag == 0x30 else []
    if len(u) != 6:
        raise BerError("bad USM parameters")
    sec = (u[0][1], _int(u[1][1]) if u[1][1] else 0, _int(u[2][1]) if u[2][1] else 0,
           u[3][1], u[4][1], u[5][1])
    return msg_id, flags, sec, parts[3]


def _pdu_of(scoped: bytes):
    tag, v, _ = _read(scoped, 0)
    items = _items(v) if tag == 0x30 else []
    if len(items) != 3:
        raise BerError("bad scoped PDU")
    return items[2]


def engine_of_report(data: bytes) -> tuple[int, tuple[bytes, int, int]] | None:
    """(msg id, (engine ID, boots, time)) of a discovery Report, else None."""
    try:
        msg_id, _flags, sec, body = _parse(data)
        if body[0] != 0x30 or _pdu_of(tlv(0x30, body[1]))[0] != REPORT or not sec[0]:
            return None
        return msg_id, (sec[0], sec[1], sec[2])
    except (BerError, IndexError, ValueError):
        return None


def read_response(data: bytes, user: User) -> tuple[int, dict] | None:
    """(msg id, what_it_says) of an authenticated Response, else None."""
    try:
        msg_id, flags, sec, body = _parse(data)
        engine, boots, etime, name, mac, salt = sec
        if name != user.name or not flags & 0x01 or len(mac) != user.mac_len \
                or data.count(mac) != 1:
            return None
        ka, kp = user.keys(engine)
        want = hmac.new(ka, data.replace(mac, bytes(user.mac_len), 1), user.hash).digest()
        if not hmac.compare_digest(want[:user.mac_len], mac):
            return None
        if flags & 0x02:
            if kp is None or body[0] != 0x04 or len(salt) != 8:
                return None
            iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
            scoped = _aes(kp, iv, body[1], False)
        elif body[0] == 0x30:
            scoped = tlv(0x30, body[1])
        else:
            return None
        tag, pdu = _pdu_of(scoped)
        if tag != RESPONSE:
            return None
        items = _items(pdu)
        if len(items) != 4 or _int(items[1][1]) != 0:
            return msg_id, S.what_it_says([])
        vbs = []
        for t, vb in _items(items[3][1]):
            kv = _items(vb) if t == 0x30 else []
            if len(kv) == 2 and kv[0][0] == 0x06:
                vbs.append((S._oid(kv[0][1]), kv[1][0], kv[1][1]))
        return msg_id, S.what_it_says(vbs)
    except (BerError, IndexError, ValueError, OverflowError):
        return None


def _round(s: socket.socket, sends: dict[int, tuple[str, bytes]], wait: float, read,
           send=None) -> dict:
    """Send every (ip, message) keyed by msg id; {ip: read(data)} of the answers."""
    send = send or s.sendto
    for _mid, (ip, msg) in sends.items():
        try:
            send(msg, (ip, S.PORT))
        except BlockingIOError:
            time.sleep(0.001)
            send(msg, (ip, S.PORT))
    out: dict[str, object] = {}
    end = time.monotonic() + wait
    while len(out) < len(sends):
        left = end - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        try:
            data, (peer, _port) = s.recvfrom(S.REPLY_MAX)
        except (BlockingIOError, ConnectionRefusedError):
            continue
        got = read(data)
        if got is None:
            continue
        mid, value = got
        if mid in sends and sends[mid][0] == peer and peer not in out:
            out[peer] = value
    return out


def ask(iface: str, src_ip: str, ips, guard, user: User, wait: float = S.WAIT,
        macs: dict | None = None) -> dict:
    """{ip: what_it_says(...)} of every station that answered as `user`."""
    from scanner.probes.l2udp import link_socket
    ips = [guard(ip) for ip in ips]
    with link_socket(iface, src_ip, macs) as (s, l2):
        first = {secrets.randbelow(2**31 - 2) + 1: ip for ip in ips}
        engines = _round(s, {m: (ip, discovery(m)) for m, ip in first.items()}, wait,
                         engine_of_report, l2.sendto)
        second = {}
        for ip, (engine, boots, etime) in engines.items():
            second[secrets.randbelow(2**31 - 2) + 1] = (ip, (engine, boots, etime))
        sends = {m: (ip, user.request(m, *e)) for m, (ip, e) in second.items()}
        return _round(s, sends, wait, lambda d: read_response(d, user), l2.sendto) if sends else {}
