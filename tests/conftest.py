"""Shared fixtures: labs of real network namespaces, always torn down.

    def test_something(lab_factory):
        lab = lab_factory("inventories/lab/demo.yaml", faults=["forgotten-forward"])
        r = lab.exec("probe-internet", ["python3", "-c", "..."])

    def test_demo(demo_lab):            # the demo file with every fault, once per module
        ...

Each lab gets a unique name (`t<random>`), so test runs of several people on
one machine never share namespaces. Every lab a module built is torn down at
module end, also when tests fail. Lab tests need root: without it they skip,
except under CI (env CI set), where they fail. Helpers for test modules
(DEMO_LAB, require_root, unique_lab_name) are in tests/lab_support.py: import
them from there, not from conftest (several conftest.py files exist).
"""
from __future__ import annotations

import pytest

from lab_support import DEMO_LAB, REPO, require_root, unique_lab_name  # noqa: F401 (re-exported)


@pytest.fixture(scope="module")
def lab_factory():
    """A function build(path, faults=None, name=None) -> Lab; all built labs go down at module end."""
    require_root()
    from scanner import lab as L
    built: list[str] = []

    def build(path=DEMO_LAB, faults=None, name=None):
        name = name or unique_lab_name()
        built.append(name)          # before up(): a half-built lab is torn down too
        return L.up(path, faults=faults, name=name)

    try:
        yield build
    finally:
        for name in built:
            L.down(name)


@pytest.fixture(scope="module")
def demo_lab(lab_factory):
    """The bundled demo lab with every seeded fault."""
    return lab_factory(DEMO_LAB)
