"""The outbox: each alert is delivered once per channel, none is lost.

A JSON-lines file, one line per (alert key, channel):

    {"key": "...", "channel": "siem", "state": "pending"|"delivered",
     "queued_at": "...", "delivered_at": "...", "attempts": 2,
     "last_error": "...", "alert": {...}}

A run loads it under an exclusive lock (`<outbox>.lock`, flock: two runs at
once do not send twice), queues the new alerts for every channel whose line
does not exist yet, tries every pending line (an alert that failed last night
is retried even if tonight's results no longer raise it), and rewrites the
file atomically (scanner.atomicio, fsync'd) after each channel, so a crash
mid-run repeats at most one channel's batch, never loses one. Delivered lines
older than `keep_days` are dropped; pending ones never are.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
from dataclasses import dataclass, field
from typing import Iterable

from scanner.alerts.rules import Alert, iso
from scanner.alerts.errors import ChannelError
from scanner.atomicio import write_text_atomic


class OutboxError(Exception):
    """The outbox cannot be read or written (exit 2: nothing is sent blind)."""


@dataclass
class Result:
    sent: dict[str, int] = field(default_factory=dict)          # channel -> alerts delivered
    failed: dict[str, str] = field(default_factory=dict)        # channel -> why
    pending: dict[str, int] = field(default_factory=dict)       # channel -> still pending


@contextlib.contextmanager
def locked(path: str):
    try:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise OutboxError(f"{path}.lock: cannot be opened ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise OutboxError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise OutboxError(f"{path}:{n}:{exc.colno}: not a JSON line ({exc.msg}); "
                              "move it aside to start a new outbox") from None
        if (not isinstance(rec, dict) or not isinstance(rec.get("key"), str)
                or not isinstance(rec.get("channel"), str)
                or rec.get("state") not in ("pending", "delivered")
                or not isinstance(rec.get("alert"), dict)):
            raise OutboxError(f"{path}:{n}:1: not an outbox record")
        out.append(rec)
    return out


def save(path: str, records: Iterable[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    try:
        write_text_atomic(path, text, mode=0o600, prefix=".isoscan-outbox-")
    except OSError as exc:
        raise OutboxError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def _prune(records: list[dict], now: _dt.datetime, keep_days: int) -> list[dict]:
    cut = iso(now - _dt.timedelta(days=keep_days))
    return [r for r in records
            if r["state"] == "pending" or (r.get("delivered_at") or "") >= cut]


def deliver(path: str, alerts: list[Alert], channels: list, *, now: _dt.datetime,
            keep_days: int = 90) -> Result:
    """Queue `alerts` for every channel and send everything pending."""
    res = Result()
    with locked(path):
        loaded = load(path)
        records = _prune(loaded, now, keep_days)
        changed = len(records) != len(loaded)
        have = {(r["key"], r["channel"]) for r in records}
        for ch in channels:
            for a in alerts:
                if (a.key, ch.name) not in have:
                    have.add((a.key, ch.name))
                    records.append({"key": a.key, "channel": ch.name, "state": "pending",
                                    "queued_at": iso(now), "attempts": 0, "alert": a.to_json()})
                    changed = True
        if changed:                         # queued before anything is sent (a quiet night
            save(path, records)             # with nothing new writes nothing)
        for ch in channels:
            todo = [r for r in records if r["channel"] == ch.name and r["state"] == "pending"]
            if not todo:
                continue
            size = max(1, int(getattr(ch, "max_batch", 500))) if ch.batch else 1
            groups = [todo[i:i + size] for i in range(0, len(todo), size)]
            sent = 0
            for group in groups:
                for r in group:
                    r["attempts"] = int(r.get("attempts") or 0) + 1
                try:
                    ch.send([Alert.from_json(r["alert"]) for r in group])
                except Exception as exc:        # noqa: BLE001 - any failure keeps it pending
                    why = str(exc) if isinstance(exc, ChannelError) else \
                        f"{ch.describe()}: {type(exc).__name__}: {exc}"
                    for r in group:
                        r["last_error"] = why
                    res.failed[ch.name] = why
                    break
                for r in group:
                    r["state"], r["delivered_at"] = "delivered", iso(now)
                    r.pop("last_error", None)
                sent += len(group)
            res.sent[ch.name] = sent
            left = sum(1 for r in todo if r["state"] == "pending")
            if left:
                res.pending[ch.name] = left
            save(path, records)
        # a channel removed from the config keeps its pending lines: they are reported
        names = {ch.name for ch in channels}
        for r in records:
            if r["state"] == "pending" and r["channel"] not in names:
                res.pending[r["channel"]] = res.pending.get(r["channel"], 0) + 1
                res.failed.setdefault(r["channel"], "channel no longer in the configuration")
    return res


def default_outbox(db: str | None = None) -> str:
    """Where alerts wait when no outbox is configured: next to the SQLite store (--db, else ISOSCAN_DB, else the default
    file: the store's own resolve/sqlite_path, so a bare path or a ?query reads as the
    store reads it), else /var/lib/isoscan."""
    from scanner.store.url import StoreURLError, resolve, sqlite_path
    try:
        path = sqlite_path(resolve(db))
    except StoreURLError:
        path = None
    if path:
        return os.path.join(os.path.dirname(os.path.abspath(path)), "alerts-outbox.jsonl")
    return "/var/lib/isoscan/alerts-outbox.jsonl"
