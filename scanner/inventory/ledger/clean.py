"""Cell values to clean text: numbers and dates as a person reads them,
full-width characters folded to half-width where a value is an identifier
(an address, a tag, a name), stray spaces gone."""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from typing import Any

_SPACES = re.compile(r"[\s\u3000\u00a0\u2028\u2029\u200b\u200c\u200d\ufeff]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def cell_text(value: Any) -> str:
    """A cell's value as text: 20240001 (not 20240001.0), 2024-03-01 for a date."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, _dt.datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


def tidy(s: str) -> str:
    """Stray spaces gone: runs of any white space (full-width, no-break, line
    breaks, zero-width) as one space, none at the ends; control characters out."""
    if not s:
        return ""
    if s.isprintable() and "  " not in s and s[0] != " " and s[-1] != " ":
        return s              # the common case: no tab, no odd space, nothing to fold
    return _SPACES.sub(" ", _CONTROL.sub("", s)).strip()


def half(s: str) -> str:
    """Full-width letters, digits and punctuation folded to half-width (NFKC:
    'ＡＡ：ＢＢ' -> 'AA:BB', '１０．１０．０．１' -> '10.10.0.1'), then tidied."""
    if not s:
        return ""
    if not unicodedata.is_normalized("NFKC", s):
        s = unicodedata.normalize("NFKC", s)
    return tidy(s)


def key(s: str) -> str:
    """A header or a choice as compared: half-width, lower case, no spaces,
    no required-field marks or trailing colons."""
    k = half(s).lower().replace(" ", "")
    return k.strip("*＊:：")
