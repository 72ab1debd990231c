"""A result bundle as a document (SPEC §5): read, parse and validate it.

    b = read_bundle("bundle.json")          # BundleError (one line) if not a bundle
    problem = validate(data)                # None, or the first problem (one line)
    check_bundle(data, name)                # ReportInputError: the report's lighter test

Building, writing and re-judging a bundle are scanner.bundle's (they need judging).
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Mapping

from scanner.model import Severity, Status
from scanner.model.verdict import COMPLIANT, INCOMPLETE, NON_COMPLIANT, counts, verdict

SCHEMA = "isoscan.bundle/1"
STATUSES = tuple(s.value for s in Status)
SEVERITIES = tuple(s.value for s in Severity)
VERDICTS = (COMPLIANT, NON_COMPLIANT, INCOMPLETE)


class BundleError(ValueError):
    """A file that is not a bundle of this schema; the message is one line."""


def read_bundle(path: str | os.PathLike) -> dict:
    """Read and validate a bundle; BundleError with a one-line message otherwise."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise BundleError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    return parse_bundle(raw, name)


def parse_bundle(raw: bytes | str, name: str = "bundle") -> dict:
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name}: not JSON (not UTF-8 text: {exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{name}: not JSON (line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg})") from None
    except RecursionError:
        raise BundleError(f"{name}: not JSON (nested too deeply)") from None
    problem = validate(data)
    if problem is not None:
        raise BundleError(f"{name}: {problem}")
    return data


def bundle_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------
# validation: what SPEC §5 names, one problem at a time

class _Bad(Exception):
    pass


def validate(data: Any) -> str | None:
    """None when data is a bundle of this schema, else the first problem (one line)."""
    try:
        _validate(data)
    except _Bad as exc:
        return str(exc)
    return None


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False, default=str)
    s = " ".join(s.split())
    return s if len(s) <= 40 else s[:37] + "..."


def _need(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise _Bad(f"{where}: {msg}" if where else msg)


def _at(where: str, key: str) -> str:
    return f"{where}.{key}".lstrip(".")

# The helpers below test first and build their message only for a bundle that
# fails: a valid 10,000-finding bundle is checked without formatting a word.


def _obj(d: Mapping, key: str, where: str) -> Mapping:
    if key not in d:
        _need(False, where, f"missing '{key}'")
    v = d[key]
    if not isinstance(v, dict):
        _need(False, _at(where, key), f"expected an object, got {_short(v)}")
    return v


def _str(d: Mapping, key: str, where: str, *, null: bool = False, empty: bool = True) -> None:
    if key not in d:
        _need(False, where, f"missing '{key}'")
    v = d[key]
    if v is None and null:
        return
    if not (isinstance(v, str) and (empty or v)):
        _need(False, _at(where, key),
              f"expected {'a string or null' if null else 'a string'}, got {_short(v)}")


def _strlist(d: Mapping, key: str, where: str) -> None:
    if key not in d:
        _need(False, where, f"missing '{key}'")
    v = d[key]
    if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
        _need(False, _at(where, key), f"expected a list of strings, got {_short(v)}")


def _validate(b: Any) -> None:
    _need(isinstance(b, dict), "", f"not an isoscan bundle (the top level is {type(b).__name__}, "
                                   f"not an object)")
    schema = b.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("isoscan.bundle/"):
            raise _Bad(f"unsupported bundle schema {_short(schema)} (this isoscan reads {SCHEMA})")
        raise _Bad(f"not an isoscan bundle (schema is {_short(schema)}, expected {SCHEMA})")
    _str(b, "scan_id", "", null=True)
    tool = _obj(b, "tool", "")
    _str(tool, "name", "tool")
    _str(tool, "version", "tool")
    _str(b, "started_at", "")
    _str(b, "finished_at", "")
    inv = _obj(b, "inventory", "")
    _strlist(inv, "files", "inventory")
    _str(inv, "sha256", "inventory")
    v = _obj(b, "vantage", "")
    for k in ("segment", "interface", "ip", "mac"):
        if k in v:
            _str(v, k, "vantage", null=True)
    _need("segment" in v, "vantage", "missing 'segment'")
    _obj(b, "observations", "")
    _need("findings" in b, "", "missing 'findings'")
    fs = b["findings"]
    _need(isinstance(fs, list), "findings", f"expected a list, got {_short(fs)}")
    # a scan always judges something (the inventory at least): an empty list is a
    # bundle that judged nothing, and must not read as compliant
    _need(len(fs) > 0, "findings", "empty: the bundle judged nothing")
    for i, f in enumerate(fs):
        _finding(f, f"findings[{i}]")
    s = _obj(b, "summary", "")
    _need(s.get("verdict") in VERDICTS, "summary.verdict",
          f"{_short(s.get('verdict'))} is not one of {', '.join(VERDICTS)}")
    c = _obj(s, "counts", "summary")
    for k in STATUSES:
        _need(isinstance(c.get(k), int) and not isinstance(c.get(k), bool) and c[k] >= 0,
              "summary.counts", f"'{k}' is not a count: {_short(c.get(k))}")
    fs = [f for f in fs if not f.get("waiver")]     # waived (scanner/waivers.py): not counted
    _need(s["verdict"] == verdict(fs), "summary.verdict",
          f"{s['verdict']} does not follow from the findings ({verdict(fs)})")
    _need(all(c[k] == n for k, n in counts(fs).items()), "summary.counts",
          f"{_short({k: c[k] for k in STATUSES})} do not match the findings "
          f"{_short(counts(fs))}")


def _finding(f: Any, where: str) -> None:
    if not isinstance(f, dict):
        _need(False, where, f"expected an object, got {_short(f)}")
    _str(f, "check_id", where, empty=False)
    if f.get("status") not in STATUSES:
        _need(False, f"{where}.status", f"{_short(f.get('status'))} is not one of {', '.join(STATUSES)}")
    if f.get("severity") not in SEVERITIES:
        _need(False, f"{where}.severity",
              f"{_short(f.get('severity'))} is not one of {', '.join(SEVERITIES)}")
    _str(f, "segment", where, null=True)
    subj = _obj(f, "subject", where)
    for k in ("ip", "mac", "device"):
        _str(subj, k, f"{where}.subject", null=True)
    _str(f, "title", where)
    _strlist(f, "evidence", where)
    _strlist(f, "regulation", where)
    if "remediation" in f:
        _str(f, "remediation", where)
    if f.get("location") is not None:
        loc = _obj(f, "location", where)
        _str(loc, "file", f"{where}.location")
        for k in ("line", "column"):
            if not (isinstance(loc.get(k), int) and loc[k] >= 1):
                _need(False, f"{where}.location.{k}",
                      f"expected a 1-based number, got {_short(loc.get(k))}")


# --------------------------------------------------------------------------
# the report's lighter test (a bundle `report` can read)

class ReportInputError(ValueError):
    """A bundle (or canary log) that is not of the schema: one-line message."""



def check_bundle(b: Any, name: str = "bundle") -> None:
    """Raise ReportInputError (one line) unless b looks like a SPEC §5 bundle."""
    if not isinstance(b, Mapping):
        raise ReportInputError(f"{name}: not a JSON object")
    if b.get("schema") != SCHEMA:
        raise ReportInputError(f"{name}: schema is {_short_ascii(b.get('schema'))}, expected {SCHEMA}")
    findings = b.get("findings")
    if not isinstance(findings, list):
        raise ReportInputError(f"{name}: 'findings' is not a list")
    for i, f in enumerate(findings):
        if not isinstance(f, Mapping):
            raise ReportInputError(f"{name}: findings[{i}] is not an object")
        if not isinstance(f.get("check_id"), str) or not f.get("check_id"):
            raise ReportInputError(f"{name}: findings[{i}] has no check_id")
        if f.get("status") not in STATUSES:
            raise ReportInputError(f"{name}: findings[{i}] status {_short_ascii(f.get('status'))} "
                                   f"is not one of {', '.join(STATUSES)}")
        if f.get("severity") not in SEVERITIES:
            raise ReportInputError(f"{name}: findings[{i}] severity {_short_ascii(f.get('severity'))} "
                                   f"is not one of {', '.join(SEVERITIES)}")
    for key in ("vantage", "observations", "inventory", "tool"):
        if b.get(key) is not None and not isinstance(b.get(key), Mapping):
            raise ReportInputError(f"{name}: '{key}' is not an object")


def _short_ascii(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=True)
    return s if len(s) <= 40 else s[:37] + "..."
