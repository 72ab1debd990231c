"""Chromium (Debian's /usr/bin/chromium, driven by Playwright) logs in as each
role, clicks through every page it may see, and is refused the others. The
overview is photographed in both languages into tests/serve/screenshots/.

Under CI (env CI set) these tests must run; elsewhere they skip only when
Chromium or the playwright package is missing."""
from __future__ import annotations

import os
import shutil

import pytest

from servelib import PASSWORDS, SCREENSHOTS, finding, fixture_bundle, synthetic_bundle

CHROMIUM = os.environ.get("ISOSCAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

NAV = {"viewer": ["nav-overview", "nav-findings", "nav-changes", "nav-devices", "nav-reports"],
       "inspector": ["nav-overview", "nav-findings", "nav-changes", "nav-devices", "nav-reports"],
       "admin": ["nav-overview", "nav-findings", "nav-changes", "nav-devices", "nav-reports",
                 "nav-admin", "nav-audit"]}
ALL_NAV = NAV["admin"]
PAGE_OF = {"nav-findings": "/findings", "nav-changes": "/changes", "nav-devices": "/devices",
           "nav-reports": "/reports", "nav-admin": "/admin", "nav-audit": "/audit"}


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (pip install 'isoscan[test]')")
        pytest.skip("playwright is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: under CI the console's browser tests must run "
                        "(apt-get install chromium)")
        pytest.skip("chromium is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _login(page, base, role):
    page.goto(base + "/login")
    page.fill("#name", role)
    page.fill("#password", PASSWORDS[role])
    page.click("#login-submit")
    page.wait_for_url(base + "/")


@pytest.fixture
def loaded(console):
    earlier = synthetic_bundle("secret-lan", "2026-11-29T02:00:00Z", vantage_ip="10.10.0.5",
                               findings=[finding("DEV-UNREGISTERED", "secret-lan", "fail",
                                                 mac="02:aa:00:00:00:77", severity="critical")])
    assert console.push(earlier).status_code == 201          # a second scan day: a trend
    for n in ("secret-lan", "office-lan", "internet"):
        assert console.push(fixture_bundle(n)).status_code == 201
    return console


@pytest.mark.parametrize("role", ["viewer", "inspector", "admin"])
def test_each_role_clicks_through_what_it_may_see(browser, loaded, role):
    ctx = browser.new_context()
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "status of 403" not in m.text else None)
    _login(page, loaded.base, role)
    assert page.locator("#verdict").inner_text().strip()
    for nav in ALL_NAV:
        visible = page.locator("#" + nav).count() == 1
        assert visible == (nav in NAV[role]), (role, nav)
    for nav in NAV[role][1:]:
        page.click("#" + nav)
        page.wait_for_load_state()
        assert page.url.startswith(loaded.base + PAGE_OF[nav])
        assert page.locator("main h1").count() >= 1
        page.go_back()
    page.click("#nav-findings")
    page.click("#findings tbody a >> nth=0")
    assert page.locator("#history tbody tr").count() >= 1
    page.goto(loaded.base + "/findings")
    page.select_option("#f-segment", "secret-lan")
    page.click("#f-apply")
    assert "segment=secret-lan" in page.url
    segs = page.locator("#findings tbody tr td:nth-child(3)").all_inner_texts()
    assert segs and set(segs) == {"secret-lan"}
    if role != "viewer":
        page.click("#nav-reports")
        with page.expect_download() as dl:
            page.click("#latest a:has-text('HTML')")
        assert dl.value.suggested_filename.endswith(".html")
    for nav in set(ALL_NAV) - set(NAV[role]):
        r = page.goto(loaded.base + PAGE_OF[nav])
        assert r.status == 403, (role, nav)
        assert page.locator("#error").count() == 1
    page.goto(loaded.base + "/")
    page.click("#logout")
    page.wait_for_url(loaded.base + "/login")
    assert not errors, errors            # no CSP violation, no script error
    ctx.close()


def test_screenshots_of_the_overview_in_both_languages(browser, loaded):
    SCREENSHOTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    _login(page, loaded.base, "inspector")
    for lang, word in (("zh-CN", "单位总览"), ("en", "Overview")):
        page.goto(loaded.base + "/?lang=" + lang)
        assert word in page.locator("#nav-overview").inner_text()
        out = SCREENSHOTS / f"overview-{lang}.png"
        page.screenshot(path=str(out), full_page=True)
        assert out.stat().st_size > 5000
        assert page.locator("#trend svg polyline").count() == 4
    page.click("#lang-switch")                       # en -> zh-CN by the link
    assert "单位总览" in page.locator("#nav-overview").inner_text()
    ctx.close()


def test_admin_makes_a_token_in_the_browser(browser, loaded):
    ctx = browser.new_context()
    page = ctx.new_page()
    _login(page, loaded.base, "admin")
    page.click("#nav-admin")
    page.fill("#t-probe", "probe-office")
    page.click("#t-add")
    tok = page.locator("#new-token").inner_text()
    assert tok.startswith("isk_")
    assert loaded.push(fixture_bundle("secret-lan"), token=tok).status_code == 409   # known, already
    page.click("#nav-audit")
    assert page.locator("#audit tbody tr").count() > 3
    ctx.close()


def test_pdf_download_of_the_latest_set(browser, loaded):
    c = loaded.client("inspector")
    r = c.get("/reports/latest/report.pdf", timeout=120)
    assert r.status_code == 200 and r.content[:5] == b"%PDF-"
    assert "attachment" in r.headers["content-disposition"]
