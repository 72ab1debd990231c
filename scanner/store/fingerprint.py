"""A finding's fingerprint: the same finding has the same one in every scan
and in every isoscan version (SPEC §9.1 is the rule; tests/store/
test_fingerprint.py holds golden values that must never change).

    fp = fingerprint(finding_json, ("identity",))      # 'fp1:' + 32 hex digits
    fps = Fingerprinter()                              # the installed checks' fields
    fps(finding_json)

The parts, in this order, as a JSON array hashed with SHA-256:
  "isoscan.fingerprint/1", the check id, the segment ("" when none), and
  [name, value] for each field the check declares (CheckMeta.fingerprint,
  default ("identity",)). Field names:
    identity        the subject's MAC (normalised), else its device name, else
                    its IP, else the finding's location file:line:column, else ""
                    -- the most stable of what is known, never an IP when a
                    MAC or device is known (DHCP moves addresses)
    subject.ip | subject.mac | subject.device   that part of the subject
    location        file:line:column
    peer_segment    the other segment of a cross-vantage finding (ISO-BRIDGE)
Values are strings; a missing value is "".
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Mapping, Sequence

from scanner.model import net

VERSION = "isoscan.fingerprint/1"
PREFIX = "fp1:"
DEFAULT_FIELDS = ("identity",)
FIELDS = ("identity", "subject.ip", "subject.mac", "subject.device", "location", "peer_segment")


class FingerprintError(ValueError):
    """A check declares a fingerprint field this rule does not know (one line)."""


def norm_mac(mac: Any) -> str:
    """'02:00:00:00:0c:0b' from any spelling of 12 hex digits; other text lower-cased."""
    if not isinstance(mac, str) or not mac:
        return ""
    return net.norm_mac(mac) or ""


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v.strip() if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)


def _location(f: Mapping) -> str:
    loc = f.get("location")
    if not isinstance(loc, Mapping) or not loc.get("file"):
        return ""
    return f"{_text(loc.get('file'))}:{_text(loc.get('line'))}:{_text(loc.get('column'))}"


def field_value(f: Mapping, name: str) -> str:
    subj = f.get("subject") if isinstance(f.get("subject"), Mapping) else {}
    if name == "identity":
        return (("mac:" + norm_mac(subj.get("mac"))) if norm_mac(subj.get("mac")) else
                ("device:" + _text(subj.get("device"))) if _text(subj.get("device")) else
                ("ip:" + _text(subj.get("ip"))) if _text(subj.get("ip")) else
                ("location:" + _location(f)) if _location(f) else "")
    if name == "subject.mac":
        return norm_mac(subj.get("mac"))
    if name in ("subject.ip", "subject.device"):
        return _text(subj.get(name.split(".", 1)[1]))
    if name == "location":
        return _location(f)
    if name == "peer_segment":
        return _text(f.get("peer_segment"))
    raise ValueError(f"unknown fingerprint field {name!r} (one of {', '.join(FIELDS)})")


def fingerprint(f: Mapping, fields: Sequence[str] = DEFAULT_FIELDS) -> str:
    parts = [VERSION, _text(f.get("check_id")), _text(f.get("segment")),
             [[n, field_value(f, n)] for n in (fields or DEFAULT_FIELDS)]]
    raw = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return PREFIX + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def check_fields() -> dict[str, tuple[str, ...]]:
    """{check id: its declared fingerprint fields} of the installed checks."""
    from scanner.judge.registry import load_checks
    out = {}
    for c in load_checks().checks:
        out[c.meta.id] = tuple(getattr(c.meta, "fingerprint", None) or DEFAULT_FIELDS)
    return out


class Fingerprinter:
    """fingerprint() with each check's declared fields (unknown checks: the default)."""

    def __init__(self, fields: Mapping[str, Sequence[str]] | None = None):
        self._fields = dict(fields) if fields is not None else None

    def fields(self, check_id: str) -> tuple[str, ...]:
        if self._fields is None:
            self._fields = check_fields()
        fields = tuple(self._fields.get(check_id) or DEFAULT_FIELDS)
        bad = [n for n in fields if n not in FIELDS]
        if bad:
            raise FingerprintError(f"check {check_id} declares fingerprint field(s) "
                                   f"{', '.join(map(repr, bad))}, not one of {', '.join(FIELDS)}")
        return fields

    def __call__(self, f: Mapping) -> str:
        return fingerprint(f, self.fields(_text(f.get("check_id"))))


FingerprintFn = Callable[[Mapping], str]
