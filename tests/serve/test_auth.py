"""Logins, CSRF, roles, the rate limit, proxy header auth, the audit log."""
from __future__ import annotations

import httpx

from servelib import PASSWORDS, csrf_of, fixture_bundle

VIEWER_PAGES = ["/findings", "/changes", "/devices", "/reports", "/reports/latest", "/account"]
INSPECTOR_PAGES = ["/reports/1/bundle.json", "/reports/1/report.html", "/reports/1/evidence.zip"]
ADMIN_PAGES = ["/admin", "/audit"]


def _login(c: httpx.Client, name, password):
    return c.post("/login", data={"name": name, "password": password,
                                  "csrf": csrf_of(c, "/login")})


def test_anonymous_is_sent_to_login(console):
    c = console.client()
    for page in ["/", *VIEWER_PAGES, *INSPECTOR_PAGES, *ADMIN_PAGES]:
        r = c.get(page)
        assert r.status_code == 303 and r.headers["location"] == "/login", page


def test_wrong_password(console):
    c = console.client()
    r = _login(c, "admin", "not-the-password")
    assert r.status_code == 401 and "isoscan_session" not in c.cookies
    assert c.get("/").status_code == 303
    r = _login(c, "nobody", "whatever-pass")
    assert r.status_code == 401


def test_session_cookie_flags(console):
    c = console.client()
    r = _login(c, "viewer", PASSWORDS["viewer"])
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_rate_limit_after_five_failures(console):
    c = console.client()
    for _ in range(5):
        assert _login(c, "inspector", "wrong-password").status_code == 401
    r = _login(c, "inspector", PASSWORDS["inspector"])          # the right one, too late
    assert r.status_code == 429 and "isoscan_session" not in c.cookies
    assert _login(c, "viewer", PASSWORDS["viewer"]).status_code == 303   # others are not locked


def test_hundred_wrong_passwords(console):
    c = console.client()
    codes = [_login(c, "admin", f"guess-{i}").status_code for i in range(100)]
    assert set(codes) <= {401, 429} and codes.count(401) == 5
    assert "isoscan_session" not in c.cookies


def test_csrf_missing_or_wrong_is_403(console):
    c = console.client()
    c.get("/login")
    r = c.post("/login", data={"name": "admin", "password": PASSWORDS["admin"]})
    assert r.status_code == 403
    r = c.post("/login", data={"name": "admin", "password": PASSWORDS["admin"], "csrf": "forged"})
    assert r.status_code == 403
    a = console.client("admin")
    r = a.post("/admin/tokens", data={"probe": "p2"})
    assert r.status_code == 403
    from scanner.serve.accounts import list_tokens
    assert [t["probe"] for t in list_tokens(console.store)] == ["probe-1"]
    r = a.post("/admin/tokens", data={"probe": "p2", "csrf": csrf_of(a)})
    assert r.status_code == 200 and "isk_" in r.text


def test_role_limits(console):
    assert console.push(fixture_bundle("secret-lan")).status_code == 201
    v, i, a = console.client("viewer"), console.client("inspector"), console.client("admin")
    assert v.get("/").status_code == 200
    for page in VIEWER_PAGES:                   # a viewer reads everything (issue 23)
        assert v.get(page).status_code == 200, page
    for page in INSPECTOR_PAGES + ADMIN_PAGES:
        assert v.get(page).status_code == 403, page
    for page in INSPECTOR_PAGES:
        assert i.get(page).status_code == 200, page
        assert a.get(page).status_code == 200, page
    for page in ADMIN_PAGES:
        assert i.get(page).status_code == 403, page
        assert a.get(page).status_code == 200, page
    r = i.post("/admin/users", data={"name": "x", "role": "admin", "password": "12345678",
                                     "csrf": csrf_of(i)})
    assert r.status_code == 403


def test_audit_log_has_views_and_downloads(console):
    assert console.push(fixture_bundle("secret-lan")).status_code == 201
    i = console.client("inspector")
    i.get("/findings?segment=secret-lan")
    i.get("/reports/1/bundle.json")
    console.client("viewer").get("/findings")
    rows = console.audit()
    def has(who, what, status):
        return any(r["who"] == who and r["what"] == what and r["status"] == status
                   and r["remote"] == "127.0.0.1" and r["at"] for r in rows)
    assert has("inspector", "/findings?segment=secret-lan", 200)
    assert has("inspector", "/reports/1/bundle.json", 200)
    assert any(r["what"] == "/reports/1/bundle.json" and r["detail"] == "download" for r in rows)
    assert has("viewer", "/findings", 200)
    assert has("probe-1", "/api/v1/bundles", 201)
    assert any(r["detail"] == "login" and r["who"] == "inspector" for r in rows)
    page = console.client("admin").get("/audit").text
    assert "/reports/1/bundle.json" in page


def test_pages_carry_a_strict_csp(console):
    r = console.client("viewer").get("/")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "<script" not in r.text
    assert r.headers["x-frame-options"] == "DENY"


def test_language_switch(console):
    c = console.client("viewer")
    assert "单位总览" in c.get("/").text
    assert "Overview" in c.get("/?lang=en").text
    assert "Overview" in c.get("/").text             # kept in a cookie
    assert "单位总览" in c.get("/?lang=zh-CN").text


def test_proxy_header_only_from_trusted_addresses(console_factory):
    from scanner.serve.config import Config, ProxyAuth
    c = console_factory(cfg=Config(proxy_auth=ProxyAuth("X-Remote-User", None, ("127.0.0.1",))))
    r = httpx.get(c.base + "/findings", headers={"X-Remote-User": "inspector"})
    assert r.status_code == 200
    r = httpx.get(c.base + "/admin", headers={"X-Remote-User": "viewer"})
    assert r.status_code == 403
    r = httpx.get(c.base + "/findings", headers={"X-Remote-User": "stranger"})
    assert r.status_code == 303                      # no such user: not logged in
    d = console_factory(cfg=Config(proxy_auth=ProxyAuth("X-Remote-User", None, ("10.9.9.9",))))
    r = httpx.get(d.base + "/findings", headers={"X-Remote-User": "admin"})
    assert r.status_code == 303                      # not from the proxy: the header is ignored


def test_user_add_command_reads_password_from_stdin(tmp_path):
    from click.testing import CliRunner
    from scanner.cli import main
    db = f"sqlite:///{tmp_path}/u.db"
    r = CliRunner().invoke(main, ["serve", "user", "add", "alice", "--role", "inspector",
                                  "--db", db], input="alice-password\n")
    assert r.exit_code == 0, r.output
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    r = CliRunner().invoke(main, ["serve", "user", "add", "bob", "--role", "viewer",
                                  "--password-file", str(pw), "--db", db])
    assert r.exit_code == 2 and "at least 8" in r.output
    from scanner.serve.accounts import authenticate, list_users
    from scanner.store.db import open_store
    s = open_store(db)
    assert [u["name"] for u in list_users(s)] == ["alice"]
    assert authenticate(s, "alice", "alice-password", "t")["role"] == "inspector"
    assert authenticate(s, "alice", "wrong", "t") is None
    from sqlalchemy import select
    from scanner.serve.tables import users
    with s.read() as conn:
        h = conn.execute(select(users.c.password_hash)).scalar()
    assert h.startswith("$argon2id$") and "alice-password" not in h
    s.close()


def test_forwarded_for_only_from_the_configured_proxy(console_factory):
    from scanner.serve.config import Config
    c = console_factory(cfg=Config(forwarded_from=("127.0.0.1",)))
    httpx.get(c.base + "/login", headers={"X-Forwarded-For": "6.6.6.6, 10.1.2.3"})
    d = console_factory()
    httpx.get(d.base + "/login", headers={"X-Forwarded-For": "10.1.2.3"})
    assert [r["remote"] for r in c.audit() if r["what"] == "/login"] == ["10.1.2.3"]
    assert [r["remote"] for r in d.audit() if r["what"] == "/login"] == ["127.0.0.1"]


def test_a_page_that_fails_says_so_and_is_audited(console, monkeypatch):
    from scanner.serve import views
    def boom(*a, **k):
        raise ValueError("<b>broken</b> store row")
    monkeypatch.setattr(views, "devices", boom)
    r = console.client("inspector").get("/devices?lang=en")
    assert r.status_code == 500 and "could not be made" in r.text
    assert "&lt;b&gt;broken" in r.text and "<b>broken" not in r.text
    assert any(a["what"] == "/devices?lang=en" and a["status"] == 500 for a in console.audit())
