"""Regulation references: check id -> clauses, read from a replaceable data file.

The mapping is checks/regulations.yaml (shipped with the package), or the
file named by ISOSCAN_REGULATIONS, or `mapping_path`. A unit replaces it with
its own framework file; no clause text lives in code.
"""
from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml_rs

ENV = "ISOSCAN_REGULATIONS"


class MappingError(Exception):
    """The mapping file cannot be read or is not of its format."""


def default_path() -> str:
    env = os.environ.get(ENV)
    if env:
        return env
    return str(resources.files("checks").joinpath("regulations.yaml"))


def shown_source(lang: str = "zh-CN") -> str:
    """The mapping's name as a person reads it (a record, a report): the
    built-in one by its name and isoscan's version, never its install path
    (/opt/isoscan/venv/lib/...); a unit's own file (ISOSCAN_REGULATIONS) by
    the path the unit gave."""
    env = os.environ.get(ENV)
    if env:
        return env
    from scanner import __version__
    return (f"isoscan {__version__} 内置 regulations.yaml" if lang == "zh-CN"
            else f"regulations.yaml built into isoscan {__version__}")


def references(check_id: str, lang: str = "zh-CN", mapping_path: str | os.PathLike | None = None) -> list[str]:
    """The clauses check_id serves, in lang (falls back to en, then zh-CN)."""
    mapping = load_mapping(os.fspath(mapping_path) if mapping_path else default_path())
    return [_pick(c, lang) for c in mapping.get(check_id, ())]


def load_mapping(path: str) -> dict[str, list[dict[str, str]]]:
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise MappingError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return _load(path, mtime)


@lru_cache(maxsize=8)
def _load(path: str, mtime: int) -> dict[str, list[dict[str, str]]]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml_rs.loads(fh.read(), parse_datetime=False)
    except (OSError, UnicodeDecodeError, yaml_rs.YAMLDecodeError) as exc:
        raise MappingError(f"{path}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("checks"), dict):
        raise MappingError(f"{path}: expected a mapping with 'checks:'")
    clauses = data.get("clauses") or {}
    out: dict[str, list[dict[str, str]]] = {}
    for check_id, items in data["checks"].items():
        resolved = []
        for item in items or ():
            clause = clauses.get(item) if isinstance(item, str) else item
            if not isinstance(clause, dict):
                raise MappingError(f"{path}: {check_id}: unknown clause {item!r}")
            resolved.append({str(k): str(v) for k, v in clause.items()})
        out[str(check_id)] = resolved
    return out


def _pick(clause: dict[str, Any], lang: str) -> str:
    return clause.get(lang) or clause.get("en") or clause.get("zh-CN") or next(iter(clause.values()), "")
