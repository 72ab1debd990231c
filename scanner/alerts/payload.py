"""The JSON body of a webhook delivery (schema isoscan.alerts/1, docs/SPEC.md §6)
and its signature.

The body is UTF-8 JSON; the header `X-Isoscan-Signature: sha256=<hex>` is the
HMAC-SHA256 of exactly those bytes under the channel's secret. A receiver
recomputes it over the raw body before parsing (hmac.compare_digest).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
from typing import Sequence

from scanner import __version__
from scanner.alerts.rules import Alert, iso

SCHEMA = "isoscan.alerts/1"
SIGNATURE_HEADER = "X-Isoscan-Signature"


def body(alerts: Sequence[Alert], now, hostname: str | None = None) -> bytes:
    doc = {"schema": SCHEMA, "sent_at": iso(now),
           "source": {"host": hostname or socket.gethostname(),
                      "tool": {"name": "isoscan", "version": __version__}},
           "alerts": [a.to_json() for a in alerts]}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")


def signature(secret: bytes, data: bytes) -> str:
    return "sha256=" + hmac.new(secret, data, hashlib.sha256).hexdigest()


def verify(secret: bytes, data: bytes, header: str | None) -> bool:
    return isinstance(header, str) and hmac.compare_digest(signature(secret, data), header)
