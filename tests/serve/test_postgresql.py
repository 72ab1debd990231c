"""The console on a PostgreSQL store: push, refusal, every page."""
from __future__ import annotations

import os

from servelib import fixture_bundle, start_console


def test_console_on_postgresql(pg, tmp_path):
    c = start_console(tmp_path, db_url=pg.create_database(f"serve{os.getpid()}"))
    try:
        for n in ("secret-lan", "office-lan", "internet"):
            assert c.push(fixture_bundle(n)).status_code == 201
        assert c.push(b"{").status_code == 400
        assert c.scans() == 3
        a = c.client("admin")
        for page in ("/", "/findings", "/changes?since=3650d", "/devices", "/reports",
                     "/reports/latest", "/admin", "/audit"):
            assert a.get(page).status_code == 200, page
        assert "non-compliant" in a.get("/?lang=en").text
    finally:
        c.stop()
