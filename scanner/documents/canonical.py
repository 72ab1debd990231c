"""The canonical JSON form that signatures and chain digests are computed over.

canonical(obj) is, byte for byte (docs/SPEC.md §8):

* objects with their keys sorted by Unicode code point, no whitespace anywhere
  (separators "," and ":");
* strings as JSON strings, non-ASCII kept as UTF-8 (not \\uXXXX); only '"', '\\'
  and the control characters U+0000-U+001F are escaped (\\n \\r \\t \\b \\f, the
  rest as \\u00XX, lower-case hex);
* integers in decimal; other numbers as Python's repr (the shortest form that
  reads back to the same double); NaN and infinities are refused;
* true, false, null; the whole encoded as UTF-8 (lone surrogates are refused).

It is Python's json.dumps(obj, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False) encoded as UTF-8, written out so that a
verifier in another language can reproduce it.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any


class CanonicalError(ValueError):
    """A value that has no canonical form (NaN, a lone surrogate, a non-JSON type)."""


def canonical(obj: Any) -> bytes:
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
        return text.encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError) as exc:
        raise CanonicalError(f"no canonical JSON form: {type(exc).__name__}: "
                             f"{str(exc)[:120]}") from None


def digest(obj: Any) -> str:
    """sha256 (hex) of the canonical form: the digest a chain refers to."""
    return hashlib.sha256(canonical(obj)).hexdigest()


class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(f"the key {k!r} occurs twice in one object")
        out[k] = v
    return out


def loads_strict(raw: bytes | str) -> Any:
    """json.loads that refuses duplicate keys (two parsers could read two documents
    out of one file) and NaN/Infinity (they have no canonical form)."""
    def no_const(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=no_const)
