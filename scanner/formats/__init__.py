"""Output formats of `isoscan validate`: text, json, sarif, junit. May import
judge/ (regulations), model/ and below.

    render(findings, fmt, lang) -> str

Each format is one module with `render(findings, lang, ctx) -> str`; `ctx`
carries what is not in a finding (the regulation lookup, the files read).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

from scanner.model import DEFAULT_LANG, Finding

FORMATS = {"text": "scanner.formats.text", "json": "scanner.formats.json_out",
           "sarif": "scanner.formats.sarif", "junit": "scanner.formats.junit"}


@dataclass
class Context:
    regulation: Callable[[str, str], list[str]]
    files: Sequence[str] = field(default_factory=list)


def _default_regulation(check_id: str, lang: str) -> list[str]:
    from scanner.judge.regulations import references
    return references(check_id, lang)


def render(findings: Sequence[Finding], fmt: str, lang: str = DEFAULT_LANG, *,
           regulation: Callable[[str, str], list[str]] | None = None,
           files: Sequence[str] = ()) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    mod = importlib.import_module(FORMATS[fmt])
    ctx = Context(regulation or _default_regulation, list(files))
    return mod.render(list(findings), lang, ctx)


def sort_key(f: Finding):
    """Failures and errors first, then by file, line, check."""
    order = {"fail": 0, "error": 1, "skipped": 2, "pass": 3}[f.status.value]
    loc = f.location
    return (order, loc.file if loc else "", loc.line if loc else 0,
            loc.column if loc else 0, f.check_id)
