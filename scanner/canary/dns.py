"""A DNS query read off the wire (the canary's listener and the transfer probe
both read the names their tokens arrive in). Pure bytes in, tuple out."""
from __future__ import annotations

import struct

MAX_QNAME = 255


def parse_dns_query(payload: bytes) -> tuple[int, str, int, int] | None:
    """(id, qname, qtype, end offset of the question) of a DNS query, or None.

    Only plain queries with one question and an uncompressed name.
    """
    if len(payload) < 12:
        return None
    qid, flags, qd = struct.unpack_from("!HHH", payload, 0)
    if flags & 0x8000 or qd != 1 or (flags >> 11) & 0xF != 0:
        return None
    labels, off = [], 12
    total = 0
    while True:
        if off >= len(payload):
            return None
        n = payload[off]
        if n == 0:
            off += 1
            break
        if n > 63 or off + 1 + n > len(payload):   # compression or overrun
            return None
        total += n + 1
        if total > MAX_QNAME:
            return None
        label = payload[off + 1:off + 1 + n]
        labels.append(label.decode("ascii", "replace"))
        off += 1 + n
    if off + 4 > len(payload):
        return None
    qtype = struct.unpack_from("!H", payload, off)[0]
    qname = ".".join(labels)
    qname = "".join(c if 0x21 <= ord(c) < 0x7F else "?" for c in qname)
    return qid, qname, qtype, off + 4
