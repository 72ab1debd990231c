"""What a 保密员 does in the console (issue 23), in Debian's Chromium driven by
Playwright: each role, in zh-CN and in en, opens the overview's first finding,
follows its counts, searches, exports what is shown, acknowledges (inspector)
and waives (admin). Screenshots go to tests/serve/screenshots/ (artefacts).
A waiver made in the console is then honoured by `isoscan report --db
--waivers store` and `isoscan alert --waivers URL`."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from servelib import PASSWORDS, REPO, SCREENSHOTS, csrf_of, fixture_bundle
from test_console_browser import browser  # noqa: F401  (the module's Chromium fixture)

WORDS = {"zh-CN": {"fix": "优先整改", "ack": "已确认并指派", "waived": "已豁免"},
         "en": {"fix": "Fix first", "ack": "Acknowledged", "waived": "Waived"}}


@pytest.fixture
def unit(console):
    for n in ("secret-lan", "office-lan", "internet"):
        assert console.push(fixture_bundle(n)).status_code == 201
    return console


def _login(page, base, role, lang):
    page.goto(base + "/login?lang=" + lang)
    page.fill("#name", role)
    page.fill("#password", PASSWORDS[role])
    page.click("#login-submit")
    page.wait_for_url(base + "/")


@pytest.mark.parametrize("role", ["viewer", "inspector", "admin"])
def test_a_secrecy_officer_in_ten_seconds(browser, unit, role):  # noqa: F811
    SCREENSHOTS.mkdir(exist_ok=True)
    for lang in ("zh-CN", "en"):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = ctx.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and "status of 400" not in m.text else None)
        _login(page, unit.base, role, lang)
        W = WORDS[lang]
        assert page.locator("#unit-name").inner_text() == "示例审计局"       # the unit's name
        assert W["fix"] in page.locator("#fix-first h2").inner_text()
        first = page.locator("#fix-first a.fix-link >> nth=0")
        title = first.inner_text()
        assert title
        page.screenshot(path=str(SCREENSHOTS / f"flow-{role}-{lang}-overview.png"), full_page=True)
        # the first finding: the most urgent (critical) one, its evidence and where it is
        first.click()
        page.wait_for_url(unit.base + "/findings/*")
        assert page.locator("main h1").inner_text().endswith(title)
        assert "10.10.0.77" in page.locator("#finding-where").inner_text()    # ISO-BRIDGE
        assert page.locator("#evidence li:not(.muted)").count() >= 1
        assert "sevb-critical" in page.locator("main h1 span").get_attribute("class")
        assert page.locator("#report-link").count() == 1
        assert (page.locator("#ack-form").count() == 1) == (role != "viewer")
        assert (page.locator("#waive-form").count() == 1) == (role == "admin")
        page.screenshot(path=str(SCREENSHOTS / f"flow-{role}-{lang}-finding.png"), full_page=True)
        # a count links to the findings it counts
        page.goto(unit.base + "/")
        n = page.locator("#count-critical").inner_text().split()[-1]
        page.click("#count-critical")
        page.wait_for_url("**/findings?severity=critical")
        assert page.locator("#findings tbody tr").count() == int(n)
        # search over title, subject and evidence
        page.fill("#f-q", "10.20.0.254")
        page.select_option("#f-severity", "")
        page.click("#f-apply")
        page.wait_for_url("**q=10.20.0.254*")
        rows = page.locator("#findings tbody tr")
        assert rows.count() == 1 and "10.20.0.254" in rows.inner_text()
        page.fill("#f-q", "SYN-ACK")                      # a word only the evidence has
        page.click("#f-apply")
        page.wait_for_url("**q=SYN-ACK*")
        assert page.locator("#findings tbody tr").count() == 1
        shown = page.locator("#findings tbody tr").count()
        # export exactly what is shown
        with page.expect_download() as dl:
            page.click("#export-csv")
        data = open(dl.value.path(), encoding="utf-8-sig").read()
        assert len(list(csv.reader(io.StringIO(data)))) == shown + 1
        with page.expect_download() as dl:
            page.click("#export-json")
        assert len(json.load(open(dl.value.path(), encoding="utf-8"))["findings"]) == shown
        page.screenshot(path=str(SCREENSHOTS / f"flow-{role}-{lang}-search.png"), full_page=True)
        # acknowledge (inspector and admin) and waive (admin)
        if role != "viewer":
            page.goto(unit.base + "/findings?q=ING-SINGLE")
            page.click("#findings tbody a >> nth=0")
            page.wait_for_url(unit.base + "/findings/*")
            page.fill("#ack-assignee", "王五")
            page.fill("#ack-note", f"{lang}: 更换单出口网关")
            page.click("#ack-submit")
            page.wait_for_url("**done=ack")
            assert W["ack"] in page.locator("#finding-message").inner_text()
            assert "王五" in page.locator("#ack-current").inner_text()
        if role == "admin" and lang == "en":
            page.fill("#waive-reason", "待更换，已断开备用出口")
            page.fill("#waive-approver", "李四")
            page.fill("#waive-expires", "2099-12-31")
            page.click("#waive-submit")
            page.wait_for_url("**done=waive")
            assert W["waived"] in page.locator("#finding-message").inner_text()
            assert "李四" in page.locator("#waiver-current").inner_text()
            page.goto(unit.base + "/findings?q=ING-SINGLE")
            assert page.locator("#findings tbody tr td.muted").count() == 1    # no longer open
            page.goto(unit.base + "/findings?q=ING-SINGLE&state=waived")
            assert page.locator("#findings tbody tr").count() == 1
            # a protected check on a segment of unknown classification: refused (fail closed)
            page.goto(unit.base + "/")
            page.click("#fix-first a.fix-link >> nth=0")
            page.wait_for_url(unit.base + "/findings/*")
            page.fill("#waive-reason", "x")
            page.fill("#waive-approver", "y")
            page.fill("#waive-expires", "2099-12-31")
            page.click("#waive-submit")
            assert page.locator("#finding-error").count() == 1
            page.screenshot(path=str(SCREENSHOTS / f"flow-{role}-{lang}-waive.png"), full_page=True)
        assert not errors, errors
        ctx.close()
    if role == "admin":
        _waiver_is_honoured_by_the_cli(unit)


def _waiver_is_honoured_by_the_cli(unit):
    db = f"sqlite:///{unit.tmp}/console.db"
    office = unit.tmp / "office.json"
    office.write_text(json.dumps(fixture_bundle("office-lan")))
    out = unit.tmp / "r.json"
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "report", str(office), "--db", db,
                        "--waivers", "store", "-o", str(unit.tmp / "r.html"), "--json", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1), r.stderr
    ing = [f for f in json.load(open(out))["findings"] if f["check_id"] == "ING-SINGLE"]
    assert ing and all(f.get("waiver") and f["waiver"]["approver"] == "李四" for f in ing)
    prev = json.loads(office.read_text())
    prev["scan_id"] = "scan-office-00"
    prev["findings"] = [f for f in prev["findings"] if f["check_id"] != "ING-SINGLE"]
    from scanner.bundle import summary
    prev["summary"] = summary(prev["findings"])
    (unit.tmp / "prev.json").write_text(json.dumps(prev))
    cfg = unit.tmp / "alerts.yaml"
    cfg.write_text("version: 1\nlang: en\nchannels:\n  - {name: siem, type: syslog, "
                   "transport: tcp, host: 127.0.0.1, port: 9, hostname: console}\n")
    args = [sys.executable, "-m", "scanner.cli", "alert", "--config", str(cfg), "--previous",
            str(unit.tmp / "prev.json"), "--current", str(office), "--dry-run"]
    r = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ING-SINGLE" in [a.get("check") for a in json.loads(r.stdout)]     # without: alerted
    r = subprocess.run(args + ["--waivers", db], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ING-SINGLE" not in [a.get("check") for a in json.loads(r.stdout)]


def test_the_waivers_cli_imports_and_exports(unit, tmp_path):
    from click.testing import CliRunner
    from scanner.cli import main
    db = f"sqlite:///{unit.tmp}/console.db"
    w = tmp_path / "waivers.yaml"
    w.write_text("version: 1\nwaivers:\n  - {match: {check: ING-SINGLE, segment: office-lan}, "
                 "reason: 备用出口, approver: 李四, expires: 2099-01-01}\n")
    r = CliRunner().invoke(main, ["serve", "waivers", "import", str(w), "--db", db])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["serve", "waivers", "export", "--db", db])
    assert r.exit_code == 0 and "ING-SINGLE" in r.output and "李四" in r.output
    a = unit.client("viewer")
    assert "ING-SINGLE" in a.get("/findings?state=waived").text
    r = CliRunner().invoke(main, ["serve", "token", "list", "--db", db])
    assert r.exit_code == 0 and "probe-1" in r.output
    r = CliRunner().invoke(main, ["serve", "token", "revoke", "1", "--db", db])
    assert r.exit_code == 0 and unit.push(fixture_bundle("office-lan")).status_code == 401
    i = unit.client("inspector")
    r = CliRunner().invoke(main, ["serve", "user", "disable", "inspector", "--db", db])
    assert r.exit_code == 0 and i.get("/").status_code == 303
    a = unit.client("admin")
    r = a.post("/findings/nope/waive", data={"reason": "r", "approver": "a",
                                             "expires": "2099-01-01", "csrf": csrf_of(a)})
    assert r.status_code == 404


def test_a_finding_shows_its_ports_destination_and_remediation(console):
    b = fixture_bundle("secret-lan")
    for f in b["findings"]:
        if f["check_id"] == "ISO-PHYSICAL":
            f["subject"]["ports"] = ["443/tcp"]
            f["subject"]["destination"] = "203.0.113.10:443/tcp"
    assert console.push(b).status_code == 201
    from scanner.serve.config import Config
    from scanner.serve.unit import unit_state
    fp = next(r.fingerprint for r in unit_state(console.store, Config()).open
              if r.h.check == "ISO-PHYSICAL")
    v = console.client("viewer")
    page = v.get(f"/findings/{fp}?lang=en").text
    assert 'id="finding-destination">203.0.113.10:443/tcp' in page
    assert 'id="finding-ports">443/tcp' in page
    assert "-&gt; 203.0.113.10:443/tcp" in page                     # where(): the leak's way
    rem = page.split('id="remediation">')[1].split("<")[0]
    assert rem.strip() and rem.strip() != "none"                    # the check's own, in en
    assert 'id="ack-form"' not in page and 'id="waive-form"' not in page
