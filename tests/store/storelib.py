"""Helpers of the store tests (import them from here, not from conftest)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "report" / "fixtures"
NAMES = ("secret-lan", "office-lan", "internet")

_CACHE: dict = {}


def fixture_bundle(name: str) -> dict:
    if name not in _CACHE:
        _CACHE[name] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return copy.deepcopy(_CACHE[name])


def write(path: Path, data) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return str(path)
