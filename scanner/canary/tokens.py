"""Canary tokens: the mark every egress and forwarding probe carries.

A token names the scan, the vantage segment and the path tried (the MAC of the
candidate host the frame was handed to, or "direct" for the vantage's own
stack; the protocol; the port) and cannot be forged: it ends in an HMAC under
a per-scan key that only the bundle holds (``observations["canary_key"]``).
The outside listener needs no key: it records the bytes, and ``report``
verifies them against the bundles.

Binary layout (33 bytes, big-endian)::

    offset size
    0      4    magic b"iSc\\x01" (the last byte is the format version)
    4      4    scan tag     sha256(scan_id)[:4]
    8      4    segment tag  sha256(segment name)[:4]
    12     6    via MAC      00:00:00:00:00:00 = "direct"
    18     1    protocol     1 icmp · 6 tcp · 17 udp · 53 dns
    19     2    port         0 when the protocol has none
    21     2    serial       a counter per minter (two probes on one path differ)
    23     10   HMAC-SHA256(key, bytes 0..22) truncated to 10 bytes

Carriers:

- ICMP echo and UDP payloads: the 33 bytes as they are (``payload_for``);
  the listener finds them by the magic anywhere in a payload.
- DNS: one label ``base32(token)`` (lower case, no padding, 53 characters)
  under the canary zone (``dns_name_for``).
- TCP SYN: a SYN has no room for 33 bytes, so the sequence number and the
  source port carry a short id derived from the token's HMAC
  (``tcp_seq_for``, ``tcp_sport_for``). The listener records them; the
  report maps them back to the full token through the bundle's probe
  records. NAT usually keeps the sequence number and may change the port,
  so the sequence number alone identifies a probe and the port, when it
  survived, confirms it. Probes may put the full token in the SYN payload
  as well; the listener records it when it is there.
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

MAGIC = b"iSc\x01"
MAC_LEN = 10
BODY_LEN = 4 + 4 + 4 + 6 + 1 + 2 + 2
TOKEN_LEN = BODY_LEN + MAC_LEN          # 33
KEY_LEN = 32
DNS_LABEL_LEN = 53                      # len(base32(33 bytes)) without padding
DIRECT = "direct"
NO_MAC = b"\x00" * 6

PROTO_CODES = {"icmp": 1, "tcp": 6, "udp": 17, "dns": 53}
PROTO_NAMES = {v: k for k, v in PROTO_CODES.items()}

_BODY = struct.Struct("!4s4s4s6sBHH")


def new_key() -> bytes:
    """A fresh per-scan key (32 random bytes)."""
    return os.urandom(KEY_LEN)


def key_to_json(key: bytes) -> str:
    return key.hex()


def key_from_json(value) -> bytes | None:
    """The key as stored in a bundle, or None when absent or malformed."""
    if not isinstance(value, str) or len(value) > 2 * 256:
        return None
    try:
        key = bytes.fromhex(value)
    except ValueError:
        return None
    return key if len(key) >= 16 else None


def tag(name: str) -> bytes:
    """The 4-byte tag of a scan id or a segment name."""
    return hashlib.sha256(name.encode("utf-8")).digest()[:4]


@functools.lru_cache(maxsize=4096)      # a /22 mints ~11 tokens per station
def _mac_bytes(via_mac: str | None) -> bytes:
    if via_mac is None or via_mac == DIRECT:
        return NO_MAC
    hexdigits = "".join(c for c in via_mac if c not in ":-.").lower()
    raw = bytes.fromhex(hexdigits)
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {via_mac!r}")
    return raw


@functools.lru_cache(maxsize=4096)
def _mac_str(raw: bytes) -> str:
    return DIRECT if raw == NO_MAC else ":".join(f"{b:02x}" for b in raw)


def _hmac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:MAC_LEN]


@dataclass(frozen=True)
class Token:
    """One minted token: its bytes and what they say."""
    raw: bytes
    scan_id: str
    segment: str
    via_mac: str          # normalised MAC, or "direct"
    proto: str
    port: int
    serial: int

    @property
    def hex(self) -> str:
        return self.raw.hex()

    def __str__(self) -> str:   # how a probe record stores it
        return self.raw.hex()


@dataclass(frozen=True)
class TokenInfo:
    """What a verified token says. Names are tags: compare them with
    ``names(scan_id, segment)``; the bundle holds the names themselves."""
    raw: bytes
    scan_tag: bytes
    segment_tag: bytes
    via_mac: str
    proto: str
    port: int
    serial: int

    def names(self, scan_id: str, segment: str) -> bool:
        return self.scan_tag == tag(scan_id) and self.segment_tag == tag(segment)


class TokenMinter:
    """Mints the tokens of one scan from one vantage segment."""

    def __init__(self, scan_id: str, segment: str, key: bytes):
        if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
            raise ValueError("the canary key must be at least 16 bytes")
        self.scan_id = scan_id
        self.segment = segment
        self.key = bytes(key)
        self._scan_tag = tag(scan_id)
        self._segment_tag = tag(segment)
        self._serial = 0

    def mint(self, via_mac: str | None, proto: str, port: int | None = None) -> Token:
        """A token for a probe handed to via_mac ("direct"/None: own stack)."""
        if proto not in PROTO_CODES:
            raise ValueError(f"unknown protocol {proto!r}")
        port = int(port or 0)
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"port out of range: {port}")
        self._serial = (self._serial + 1) & 0xFFFF
        mac = _mac_bytes(via_mac)
        body = _BODY.pack(MAGIC, self._scan_tag, self._segment_tag, mac,
                          PROTO_CODES[proto], port, self._serial)
        raw = body + _hmac(self.key, body)
        return Token(raw=raw, scan_id=self.scan_id, segment=self.segment,
                     via_mac=_mac_str(mac), proto=proto, port=port,
                     serial=self._serial)


def verify(token_bytes, key: bytes) -> TokenInfo | None:
    """The token's claims when its HMAC is right under key, else None.

    Never raises: anything that is not a well-formed token is None.
    """
    try:
        if isinstance(token_bytes, Token):
            token_bytes = token_bytes.raw
        if isinstance(token_bytes, str):
            token_bytes = bytes.fromhex(token_bytes)
        if not isinstance(token_bytes, (bytes, bytearray)) or len(token_bytes) != TOKEN_LEN:
            return None
        if not isinstance(key, (bytes, bytearray)) or not key:
            return None
        raw = bytes(token_bytes)
        body, mac = raw[:BODY_LEN], raw[BODY_LEN:]
        if not hmac.compare_digest(_hmac(bytes(key), body), mac):
            return None
        magic, scan_tag, seg_tag, via, proto, port, serial = _BODY.unpack(body)
        if magic != MAGIC or proto not in PROTO_NAMES:
            return None
        return TokenInfo(raw=raw, scan_tag=scan_tag, segment_tag=seg_tag,
                         via_mac=_mac_str(via), proto=PROTO_NAMES[proto],
                         port=port, serial=serial)
    except (ValueError, TypeError, struct.error):
        return None


def _raw(token) -> bytes:
    if isinstance(token, Token):
        return token.raw
    if isinstance(token, str):
        return bytes.fromhex(token)
    return bytes(token)


# -- carriers: encoders ---------------------------------------------------------

def payload_for(token) -> bytes:
    """ICMP echo / UDP payload (also usable as a TCP SYN payload)."""
    return _raw(token)


def tcp_seq_for(token) -> int:
    """The TCP SYN sequence number that carries this token's short id."""
    raw = _raw(token)
    return int.from_bytes(raw[BODY_LEN:BODY_LEN + 4], "big")


def tcp_sport_for(token) -> int:
    """The TCP SYN source port (49152..65535) that confirms the short id."""
    raw = _raw(token)
    return 49152 + (int.from_bytes(raw[BODY_LEN + 4:BODY_LEN + 6], "big") & 0x3FFF)


def dns_label_for(token) -> str:
    return base64.b32encode(_raw(token)).decode("ascii").rstrip("=").lower()


def dns_name_for(token, zone: str) -> str:
    """The query name ``<base32 token>.<zone>`` (no trailing dot)."""
    zone = zone.strip(".").lower()
    return f"{dns_label_for(token)}.{zone}" if zone else dns_label_for(token)


# -- carriers: decoders (keyless; used by the listener on hostile input) ---------

def find_in_payload(payload: bytes) -> bytes | None:
    """The first token-shaped 33 bytes in a payload, unverified, or None."""
    if not isinstance(payload, (bytes, bytearray)):
        return None
    i = bytes(payload).find(MAGIC)
    if i < 0 or len(payload) - i < TOKEN_LEN:
        return None
    return bytes(payload[i:i + TOKEN_LEN])


def from_dns_label(label: str) -> bytes | None:
    """The token bytes of one DNS label, unverified, or None."""
    if not isinstance(label, str) or len(label) != DNS_LABEL_LEN:
        return None
    try:
        raw = base64.b32decode(label.upper() + "=" * (-len(label) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != TOKEN_LEN or not raw.startswith(MAGIC):
        return None
    return raw


def from_dns_name(qname: str) -> bytes | None:
    """The token carried by any label of a query name, unverified, or None."""
    if not isinstance(qname, str) or len(qname) > 1024:
        return None
    for label in qname.strip(".").split("."):
        raw = from_dns_label(label)
        if raw is not None:
            return raw
    return None


def tcp_ids_for(token) -> tuple[int, int]:
    """(sequence number, source port) of the token's TCP SYN carrier."""
    return tcp_seq_for(token), tcp_sport_for(token)
