"""A host bundle pushed to the console (isoscan serve) is stored and shown
like a probe's (issue 26)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
pytest.importorskip("httpx")
import servelib  # noqa: E402

from scanner.host.run import run_host  # noqa: E402
from tests.host import roots  # noqa: E402

INV = Path(__file__).resolve().parents[1] / "checks" / "HOST-NIC" / "inventory.yaml"


def test_pushed_host_bundle_is_stored_and_shown(tmp_path):
    b = run_host([INV], root=str(roots.build("iphone-tether", tmp_path / "root")),
                 device="pc-07", lang="en").bundle
    c = servelib.start_console(tmp_path)
    try:
        r = c.push(b)
        assert r.status_code in (200, 201), r.text
        assert c.scans() == 1
        web = c.client("admin")
        for page in ("/", "/findings", "/reports"):
            got = web.get(page)
            assert got.status_code == 200, (page, got.text[:500])
        assert "HOST-NIC" in web.get("/findings").text
    finally:
        c.stop()
