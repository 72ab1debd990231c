"""Lab test support importable from any test module (`from lab_support import ...`).

A module of its own, because `from conftest import ...` is ambiguous when a
test run loads several conftest.py files.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_LAB = REPO / "inventories" / "lab" / "demo.yaml"


def require_root() -> None:
    """Skip a lab test when not root, unless under CI (then fail: CI runs as root)."""
    if os.geteuid() == 0:
        return
    if os.environ.get("CI"):
        pytest.fail("lab tests need root, and CI must run them as root")
    pytest.skip("needs root for network namespaces (runs under CI)")


def unique_lab_name(base: str = "t") -> str:
    """A fresh lab name, so test runs of several people never share namespaces."""
    return f"{base[:8]}{secrets.token_hex(3)}"
