"""Small YAML configuration files (alerts.yaml, waivers.yaml) with errors that
say where: `file:line:column: what is wrong`.

Parsed as the inventory is (scanner.inventory.yamlsource: yaml_rs, alias
limits, duplicate keys refused); positions come from PyYAML's event parser only
when an error needs one. `Doc.where(path)` gives the place of a value, and
`Doc.problem(path, message)` the exception to raise for it.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

from scanner.inventory import yamlsource as ys

MAX_BYTES = 4 * 1024 * 1024


class ConfigError(Exception):
    """One line, `file:line:column: message`; the commands exit 2 with it."""


@dataclass
class Doc:
    path: str
    data: Any
    locator: ys.Locator

    def where(self, path: tuple) -> str:
        line, col = self.locator.resolve(path)
        return f"{self.path}:{line}:{col}"

    def problem(self, path: tuple, message: str) -> ConfigError:
        return ConfigError(f"{self.where(path)}: {message}")


def load(path: str, what: str) -> Doc:
    """The file parsed; ConfigError when it cannot be read or is not YAML of a mapping."""
    try:
        src = ys.read_source(path, MAX_BYTES)
    except ys.InputError as exc:
        raise ConfigError(str(exc)) from None
    if len(src.raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES:,} bytes, so not {what}")
    bad = ys.decode(src)
    if bad is None:
        data, bad = ys.parse(src.text)
    if bad is not None:
        raise ConfigError(f"{path}:{bad.line}:{bad.column}: {bad.message}")
    doc = Doc(path, data, ys.Locator(path, src.text))
    if not isinstance(data, dict):
        raise doc.problem((), f"{what} must be a mapping (key: value), not "
                              f"{type(data).__name__ if data is not None else 'empty'}")
    return doc


# --------------------------------------------------------------------------
# typed reads: each raises ConfigError at the value's place


def keys(doc: Doc, path: tuple, obj: Any, allowed: set[str], required: set[str] = frozenset()):
    if not isinstance(obj, dict):
        raise doc.problem(path, "must be a mapping (key: value)")
    for k in obj:
        if not isinstance(k, str) or k not in allowed:
            raise doc.problem(path + (k, ys.KEY),
                              f"unknown key {k!r} (allowed: {', '.join(sorted(allowed))})")
    for k in sorted(required):
        if k not in obj:
            raise doc.problem(path, f"missing required key {k!r}")


def string(doc: Doc, path: tuple, v: Any, *, empty: bool = False) -> str:
    if not isinstance(v, str) or (not empty and not v.strip()):
        raise doc.problem(path, "must be a non-empty string")
    if any(ord(c) < 32 and c not in "\t" for c in v):
        raise doc.problem(path, "must not contain control characters")
    return v


def integer(doc: Doc, path: tuple, v: Any, lo: int, hi: int) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise doc.problem(path, f"must be an integer from {lo} to {hi}")
    return v


def number(doc: Doc, path: tuple, v: Any, lo: float, hi: float) -> float:
    if type(v) not in (int, float) or not lo <= v <= hi:
        raise doc.problem(path, f"must be a number from {lo} to {hi}")
    return float(v)


def boolean(doc: Doc, path: tuple, v: Any) -> bool:
    if type(v) is not bool:
        raise doc.problem(path, "must be true or false")
    return v


_DURATION = re.compile(r"(\d+)\s*([smhd])\Z")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(doc: Doc, path: tuple, v: Any) -> int:
    """'90m', '26h', '7d' (or a number of seconds) as seconds."""
    if type(v) is int and v > 0:
        return v
    m = _DURATION.match(v.strip()) if isinstance(v, str) else None
    if not m or int(m.group(1)) <= 0:
        raise doc.problem(path, "must be a duration such as 90m, 26h or 7d")
    return int(m.group(1)) * _UNIT[m.group(2)]


def date(doc: Doc, path: tuple, v: Any) -> _dt.date:
    """An ISO date, YYYY-MM-DD (parse_datetime is off: it arrives as a string)."""
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
        try:
            return _dt.date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise doc.problem(path, "must be a date YYYY-MM-DD")
