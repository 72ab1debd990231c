"""Pushing bundles to a console (`isoscan push`, `scan --push`): urllib only,
so a probe needs nothing of the console's extra.

    result = push_file(url, path, token)      # PushError: refused or unreachable

`url` is the console's base (https://collector.example/) or the endpoint
itself; a 409 "already stored" counts as delivered (a retried push).
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

ENDPOINT = "/api/v1/bundles"
TIMEOUT = 120


class PushError(RuntimeError):
    def __init__(self, msg: str, status: int | None = None):
        super().__init__(msg)
        self.status = status


def endpoint(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise PushError(f"{url}: a console URL begins with https:// (or http:// on loopback)")
    return url if url.rstrip("/").endswith(ENDPOINT) else url.rstrip("/") + ENDPOINT


def read_token(path: str | None) -> str | None:
    if not path:
        return os.environ.get("ISOSCAN_PUSH_TOKEN") or None
    try:
        with open(path, encoding="utf-8") as fh:
            tok = fh.readline().strip()
    except OSError as exc:
        raise PushError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not tok:
        raise PushError(f"{path}: empty token file")
    return tok


def push_bytes(url: str, body: bytes, token: str | None, name: str = "bundle") -> dict:
    from urllib.parse import quote
    req = urllib.request.Request(endpoint(url) + "?name=" + quote(os.path.basename(name)[:100]),
                                 data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            data = json.loads(exc.read() or b"{}")
        except ValueError:
            data = {}
        if exc.code == 409 and data.get("already_stored"):
            return data
        raise PushError(f"{exc.code}: {data.get('error') or exc.reason}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PushError(f"{url}: cannot be reached ({reason})") from None


def push_file(url: str, path: str, token: str | None) -> dict:
    try:
        with open(path, "rb") as fh:
            body = fh.read()
    except OSError as exc:
        raise PushError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return push_bytes(url, body, token, path)
