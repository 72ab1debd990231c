"""`isoscan report --db` / `--previous`: the report opens with the changes since
the last scan and a trend; without them the report is as before."""
from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from storelib import NAMES, fixture_bundle, write


def run(*argv):
    from scanner.cli import main
    return CliRunner().invoke(main, list(argv), catch_exceptions=False)


def _earlier(b, days):
    b = dict(b, scan_id=str(uuid.uuid4()))
    for k in ("started_at", "finished_at"):
        day = int(b[k][8:10]) - days
        b[k] = b[k][:8] + f"{day:02d}" + b[k][10:]
    return b


def _section(html):
    i = html.index('<section id="since"')
    return html[i:html.index("</section>", i)]


def test_report_with_db(db_url, tmp_path):
    old = [write(tmp_path / f"old-{d}-{n}.json", _earlier(fixture_bundle(n), d))
           for d in (2, 1) for n in NAMES]
    assert run("ingest", "-q", "--db", db_url, *old).exit_code == 0
    now = [write(tmp_path / f"{n}.json", fixture_bundle(n)) for n in NAMES]
    out = tmp_path / "r.html"
    r = run("report", "--lang", "en", "--db", db_url, "-o", str(out), "--json",
            str(tmp_path / "m.json"), *now)
    assert r.exit_code == 0, r.output
    html = out.read_text("utf-8")
    # the report opens with the verdict and what to fix first (issue 22), then the changes
    assert html.index('id="fixfirst"') < html.index('id="since"') < html.index('id="header"')
    sec = _section(html)
    assert "Changes since the last scan" in sec and "the store" in sec
    assert "<svg" in sec and sec.count("<polyline") == 4
    m = json.loads((tmp_path / "m.json").read_text("utf-8"))
    since = m["since_last"]
    assert since["previous"] == "2026-11-29T02:05:00Z"      # the newest of the previous night
    assert [p["day"] for p in since["trend"]] == ["2026-11-28", "2026-11-29", "2026-11-30"]
    persisting = [c for c in since["changes"] if c["kind"] == "persisting"]
    assert persisting and all(c["first_seen"][:10] == "2026-11-28" for c in persisting)
    assert all(c["age_days"] == 2 for c in persisting)
    # zh-CN too
    r = run("report", "--db", db_url, "-o", str(out), *now)
    assert r.exit_code == 0 and "上次检查以来的变化" in _section(out.read_text("utf-8"))


def test_report_empty_store_and_without(tmp_path):
    now = [write(tmp_path / f"{n}.json", fixture_bundle(n)) for n in NAMES]
    out = tmp_path / "r.html"
    assert run("report", "--lang", "en", "--db", f"sqlite:///{tmp_path}/e.db", "-o", str(out), *now).exit_code == 0
    assert "holds no earlier scan" in _section(out.read_text("utf-8"))
    assert run("report", "--lang", "en", "-o", str(out), *now).exit_code == 0
    assert 'id="since"' not in out.read_text("utf-8")


def test_report_previous_file(tmp_path):
    now = [write(tmp_path / f"{n}.json", fixture_bundle(n)) for n in NAMES]
    prev = write(tmp_path / "prev.json", _earlier(fixture_bundle("secret-lan"), 1))
    out = tmp_path / "r.html"
    r = run("report", "--lang", "en", "--previous", prev, "-o", str(out), *now)
    assert r.exit_code == 0, r.output
    sec = _section(out.read_text("utf-8"))
    assert "previous merged result file" in sec and "<svg" in sec
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = run("report", "--previous", str(bad), "-o", str(out), *now)
    assert r.exit_code == 2 and "not JSON" in r.output
