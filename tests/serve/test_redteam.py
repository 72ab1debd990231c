"""A red team's second pass over the console (after issue 23's hardening),
against a real `isoscan serve` (uvicorn) on 127.0.0.1 only. Every loop is
bounded in count and time. Each attack that is refused is proved refused
(its status, nothing stored); each that got through has its fix beside it
in scanner/serve/ and is named in the commit that fixed it."""
from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile

import httpx
import pytest

from servelib import PASSWORDS, csrf_of, fixture_bundle
from test_attacks import any_store  # noqa: F401  (the fixture: a console on SQLite, then PostgreSQL)

PUSH = "/api/v1/bundles"


def _stored(c) -> dict:
    from sqlalchemy import func, select
    from scanner.store import tables as T
    with c.store.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in (T.scans, T.findings, T.sightings, T.documents)}


def _login(c: httpx.Client, name, password, **extra):
    return c.post("/login", data={"name": name, "password": password,
                                  "csrf": csrf_of(c, "/login"), **extra})


def _inventory(secret_class="classified"):
    return {"organization": {"name": "示例审计局", "id": "EX-0001"},
            "segments": [{"name": "secret-lan", "classification": secret_class,
                          "level": "secret" if secret_class == "classified" else None,
                          "title": "涉密内网", "networks": ["10.10.0.0/24"]},
                         {"name": "office-lan", "classification": "non-classified",
                          "title": "办公网", "networks": ["10.20.0.0/24"]}],
            "devices": []}


def _with_inventory(b, inv):
    b["inventory"] = {**b["inventory"], "document": inv}
    return b


# ---------------------------------------------------------------- push scope

def test_scope_spellings_and_shapes_are_refused(console):
    """A token bound to office-lan: secret-lan spelled in every near way, in
    every place the scope reads, and shapes the scope check might trip on."""
    from scanner.serve.accounts import new_token
    c = console
    assert c.push(fixture_bundle("secret-lan")).status_code == 201
    before = _stored(c)
    tok = new_token(c.store, "probe-office", segments=["office-lan"])
    spellings = ["secret-lan", "Secret-LAN", " secret-lan", "secret-lan ", "secret-lan\n",
                 "secret\u2010lan", "ѕecret-lan", "secret-lan\u200b", "secret-lan\u202e"]
    attacks = []
    for i, s in enumerate(spellings):
        b = fixture_bundle("office-lan")
        b["scan_id"] = f"sp-v-{i}"
        b["vantage"]["segment"] = s
        attacks.append(b)
        b = fixture_bundle("office-lan")
        b["scan_id"] = f"sp-f-{i}"
        b["findings"].append({**b["findings"][-1], "check_id": "ISO-BRIDGE", "status": "fail",
                              "severity": "critical", "segment": s})
        attacks.append(b)
        b = fixture_bundle("office-lan")
        b["scan_id"] = f"sp-vs-{i}"
        b["findings"][-1]["vantage_segments"] = ["office-lan", s]
        attacks.append(b)
    # odd shapes where a list or a string is expected
    for i, shape in enumerate([{"secret-lan": 1}, [["secret-lan"]], 7, True, ["office-lan", None]]):
        b = fixture_bundle("office-lan")
        b["scan_id"] = f"shape-vs-{i}"
        b["findings"][-1]["vantage_segments"] = shape
        attacks.append(b)
        b = fixture_bundle("office-lan")
        b["scan_id"] = f"shape-seg-{i}"
        b["findings"][-1]["segment"] = shape
        attacks.append(b)
        b = fixture_bundle("office-lan")
        b["scan_id"] = f"shape-v-{i}"
        b["vantage"]["segment"] = shape
        attacks.append(b)
    t0 = time.time()
    for b in attacks:
        assert time.time() - t0 < 120
        r = c.push(b, token=tok)
        assert r.status_code in (400, 403), (b["scan_id"], r.status_code, r.text[:300])
        assert "nothing stored" in r.json()["error"], r.text
    assert _stored(c) == before


def test_scope_duplicate_keys_judge_what_is_stored(console):
    """A key given twice: the scope check and the store read the same value,
    so a vantage or segment hidden behind a duplicate cannot slip through."""
    from scanner.serve.accounts import new_token
    c = console
    tok = new_token(c.store, "probe-office", segments=["office-lan"])
    b = fixture_bundle("office-lan")
    b["scan_id"] = "dup-1"
    raw = json.dumps(b, ensure_ascii=False)
    seg = '"segment": "office-lan"'
    assert seg in raw
    # the vantage's segment given twice, secret-lan last (Python keeps the last)
    evil = raw.replace(seg, '"segment": "office-lan", "segment": "secret-lan"', 1)
    r = c.push(evil.encode("utf-8"), token=tok)
    assert r.status_code in (400, 403), r.text
    assert _stored(c)["scans"] == 0
    # secret-lan first, office-lan last: whatever is stored says office-lan only
    b["scan_id"] = "dup-2"
    raw = json.dumps(b, ensure_ascii=False)
    sneaky = raw.replace(seg, '"segment": "secret-lan", "segment": "office-lan"', 1)
    r = c.push(sneaky.encode("utf-8"), token=tok)
    if r.status_code == 201:
        from scanner.serve.views import latest_bundles
        (doc,) = latest_bundles(c.store)
        assert "secret-lan" not in json.dumps(doc["vantage"])
        from sqlalchemy import select
        from scanner.store import tables as T
        with c.store.read() as conn:
            assert {r[0] for r in conn.execute(select(T.scans.c.segment))} == {"office-lan"}
    else:
        assert r.status_code in (400, 403) and _stored(c)["scans"] == 0


def test_scope_bundle_whose_vantage_differs_from_its_findings(console):
    """A secret-lan token (the probe there) cannot file office-lan's findings
    under its own vantage, and an office token cannot carry a secret-lan
    vantage with office findings; a segment named only in evidence text stays
    text of an office-lan finding."""
    from scanner.serve.accounts import new_token
    c = console
    office = new_token(c.store, "probe-office", segments=["office-lan"])
    secret = new_token(c.store, "probe-secret", segments=["secret-lan"])
    b = fixture_bundle("secret-lan")
    b["scan_id"] = "mix-1"
    b["findings"] = fixture_bundle("office-lan")["findings"]
    from scanner.bundle import summary
    b["summary"] = summary(b["findings"])
    assert c.push(b, token=secret).status_code == 403
    b = fixture_bundle("office-lan")
    b["scan_id"] = "mix-2"
    b["vantage"] = fixture_bundle("secret-lan")["vantage"]
    assert c.push(b, token=office).status_code == 403
    assert _stored(c)["scans"] == 0
    b = fixture_bundle("office-lan")
    b["scan_id"] = "mix-3"
    b["findings"].append({**b["findings"][-1], "check_id": "ING-SINGLE", "status": "fail",
                          "severity": "high", "segment": "office-lan",
                          "evidence": ["segment: secret-lan", "vantage_segments: [secret-lan]"]})
    b["summary"] = summary(b["findings"])
    assert c.push(b, token=office).status_code == 201
    from scanner.serve.unit import forget, unit_state
    from scanner.serve.config import Config
    forget(c.store)
    u = unit_state(c.store, Config())
    assert all(r.h.segment != "secret-lan" for r in u.rows)


def test_another_segments_token_cannot_declassify_a_segment(console):
    """Every bundle embeds the unit's inventory. An office-lan probe's token
    pushes a bundle of its own segment whose embedded inventory calls
    secret-lan non-classified. The console must keep secret-lan classified
    (its own probe's inventory says so), and must not let an admin waive
    ISO-BRIDGE there on the strength of the office probe's word."""
    from scanner.serve.accounts import new_token
    from scanner.serve.config import Config
    from scanner.serve.unit import forget, unit_state
    c = console
    office = new_token(c.store, "probe-office", segments=["office-lan"])
    evil = _with_inventory(fixture_bundle("office-lan"), _inventory("non-classified"))
    evil["vantage"]["ip"] = "10.20.0.99"           # a vantage of its own: its scan stays "latest"
    assert c.push(evil, token=office).status_code == 201
    assert c.push(_with_inventory(fixture_bundle("secret-lan"), _inventory())).status_code == 201
    forget(c.store)
    u = unit_state(c.store, Config())
    assert u.classification.get("secret-lan") == "classified", u.classification
    a = c.client("admin")
    bridge = next(r for r in u.rows if r.h.check == "ISO-BRIDGE" and r.h.segment == "secret-lan")
    r = a.post(f"/findings/{bridge.fingerprint}/waive",
               data={"reason": "x", "approver": "y", "expires": "2099-12-31",
                     "csrf": csrf_of(a, f"/findings/{bridge.fingerprint}")})
    assert r.status_code == 400
    from scanner.serve.waiverstore import live_waivers
    assert not live_waivers(c.store)


def test_a_segment_no_probe_of_its_own_describes_is_unknown_when_bundles_disagree(console):
    """Where no bundle of a segment's own vantage describes it and the others
    disagree, its classification is unknown (fail closed), not the oldest
    bundle's word."""
    from scanner.serve.config import Config
    from scanner.serve.unit import forget, unit_state
    c = console
    inv = _inventory()
    inv["segments"].append({"name": "lab-lan", "classification": "classified", "level": "secret",
                            "title": "实验网"})
    a = _with_inventory(fixture_bundle("secret-lan"), inv)
    inv2 = json.loads(json.dumps(inv))
    inv2["segments"][-1]["classification"] = "non-classified"
    b = _with_inventory(fixture_bundle("office-lan"), inv2)
    assert c.push(b).status_code == 201
    assert c.push(a).status_code == 201
    forget(c.store)
    u = unit_state(c.store, Config())
    assert u.classification.get("lab-lan") is None
    assert u.classification.get("secret-lan") == "classified"
    assert u.classification.get("office-lan") == "non-classified"


# ---------------------------------------------------------------- sessions

def test_tampered_fixed_and_forged_cookies_open_nothing(console):
    c = console
    a = c.client("admin")
    good = a.cookies.get("isoscan_session")
    flips = [good[:-1] + ("A" if good[-1] != "A" else "B"), good.upper(), good + "=",
             good[:20], "", "x" * 101, good + "%00", "' OR '1'='1", "../" * 30]
    t0 = time.time()
    for bad in flips:
        assert time.time() - t0 < 60
        r = httpx.get(c.base + "/admin", cookies={"isoscan_session": bad}, timeout=30)
        assert r.status_code == 303 and r.headers["location"] == "/login", repr(bad)
    # fixation: a session id planted before login is never the one after it
    planted = "planted-session-id-0123456789abcdef0123"
    x = httpx.Client(base_url=c.base, timeout=30)
    x.cookies.set("isoscan_session", planted, domain="127.0.0.1")
    assert _login(x, "admin", PASSWORDS["admin"]).status_code == 303
    after = [ck.value for ck in x.cookies.jar if ck.name == "isoscan_session"]
    assert planted not in after and after
    r = httpx.get(c.base + "/admin", cookies={"isoscan_session": planted}, timeout=30)
    assert r.status_code == 303
    # a session cookie of a viewer does not gain rights by any header
    v = c.client("viewer")
    for h in ({"X-Remote-User": "admin"}, {"X-Remote-Role": "admin"},
              {"X-Forwarded-User": "admin"}):
        assert v.get("/admin", headers=h).status_code == 403


def test_no_open_redirect_after_login(console):
    c = console
    for q in ("?next=//evil.example/", "?next=https://evil.example/",
              "?return_to=/\\evil.example", "?redirect=javascript:alert(1)"):
        x = httpx.Client(base_url=c.base, timeout=30)
        r = x.post("/login" + q, data={"name": "viewer", "password": PASSWORDS["viewer"],
                                       "csrf": csrf_of(x, "/login" + q)})
        assert r.status_code == 303 and r.headers["location"] == "/", (q, r.headers)
    # the waiver revoke's "back" stays on /findings
    a = c.client("admin")
    for back in ("//evil.example/", "https://evil.example/", "/\\evil.example",
                 "javascript:alert(1)"):
        r = a.post("/waivers/999999/revoke", data={"back": back, "csrf": csrf_of(a)})
        assert r.status_code == 303 and r.headers["location"].startswith("/findings"), back
        assert not r.headers["location"].startswith("//")


def test_cross_origin_form_posts_are_refused(console):
    """A page elsewhere auto-posts with the victim's cookie (SameSite aside):
    without the session's own token it is 403, and nothing changes."""
    from scanner.serve.accounts import list_users
    c = console
    a = c.client("admin")
    evil = {"Origin": "http://evil.example", "Referer": "http://evil.example/x",
            "Content-Type": "application/x-www-form-urlencoded"}
    for body in ({"name": "mallory", "role": "admin", "password": "mallory-pass-1"},
                 {"name": "mallory", "role": "admin", "password": "mallory-pass-1", "csrf": ""},
                 {"name": "mallory", "role": "admin", "password": "mallory-pass-1",
                  "csrf": "0" * 43}):
        assert a.post("/admin/users", data=body, headers=evil).status_code == 403
    # a text/plain or multipart body (what a cross-origin form may send) is not a form with a token
    r = a.post("/admin/users", content=b"name=mallory&role=admin&password=mallory-pass-1",
               headers={**evil, "Content-Type": "text/plain"})
    assert r.status_code == 403
    r = a.post("/admin/users", files={"name": (None, "mallory"), "role": (None, "admin"),
                                      "password": (None, "mallory-pass-1")}, headers=evil)
    assert r.status_code == 403
    # an old token: the one before this session's login
    old = csrf_of(a)
    _login(a, "admin", PASSWORDS["admin"])
    assert a.post("/admin/users", data={"name": "mallory", "role": "admin",
                                        "password": "mallory-pass-1", "csrf": old}).status_code == 403
    assert "mallory" not in [u["name"] for u in list_users(c.store)]


def test_login_limit_holds_across_an_ipv6_prefix(any_store):
    """An attacker holds a whole IPv6 /64 (any host on a LAN with SLAAC
    privacy addresses, any cloud VM): each guess from a new address of it.
    The limit must count the prefix, not each address (SQLite and PostgreSQL)."""
    from scanner.serve.config import Config
    c = any_store(cfg=Config(forwarded_from=("127.0.0.1",)))
    codes = []
    t0 = time.time()
    for i in range(30):
        assert time.time() - t0 < 120
        with httpx.Client(base_url=c.base, timeout=60,
                          headers={"X-Forwarded-For": f"2001:db8:66:1::{i + 1:x}"}) as x:
            codes.append(_login(x, "admin", f"guess-{i}").status_code)
    assert codes.count(401) <= 5 and codes.count(429) >= 25, codes
    # another network (another /64) still logs in: no lock-out of the real user
    with httpx.Client(base_url=c.base, timeout=60,
                      headers={"X-Forwarded-For": "2001:db8:10:1::5"}) as real:
        assert _login(real, "admin", PASSWORDS["admin"]).status_code == 303
    # an IPv4 address and its IPv4-mapped IPv6 spelling are one address
    codes = []
    for i in range(8):
        xff = "192.0.2.66" if i % 2 else "::ffff:192.0.2.66"
        with httpx.Client(base_url=c.base, timeout=60, headers={"X-Forwarded-For": xff}) as x:
            codes.append(_login(x, "viewer", f"guess-{i}").status_code)
    assert codes.count(401) == 5 and codes.count(429) == 3, codes


def test_a_spoofed_forwarded_for_is_not_believed_without_forwarded_from(console):
    """Without forwarded_from, X-Forwarded-For is the client's own word: it
    neither resets the login window nor hides the address in the audit."""
    c = console
    codes = []
    for i in range(8):
        with httpx.Client(base_url=c.base, timeout=60,
                          headers={"X-Forwarded-For": f"198.51.100.{i + 1}"}) as x:
            codes.append(_login(x, "admin", f"guess-{i}").status_code)
    assert codes.count(401) == 5 and codes.count(429) == 3, codes
    assert all(r["remote"] == "127.0.0.1" for r in c.audit() if r["attempted"] == "admin")


def test_proxy_headers_from_an_untrusted_peer_are_ignored(console_factory):
    from scanner.serve.config import Config, ProxyAuth
    c = console_factory(cfg=Config(proxy_auth=ProxyAuth("X-Remote-User", "X-Remote-Role",
                                                        ("192.0.2.1",), create=True)))
    for h in ({"X-Remote-User": "admin"}, {"X-Remote-User": "admin", "X-Remote-Role": "admin"},
              {"x-remote-user": "admin"}, {"X-Remote-User": "admin",
                                           "X-Forwarded-For": "192.0.2.1"}):
        r = httpx.get(c.base + "/admin", headers=h, timeout=30)
        assert r.status_code == 303 and r.headers["location"] == "/login", h


# ---------------------------------------------------------------- downloads and zips

def test_report_downloads_do_not_traverse(console):
    c = console
    assert c.push(fixture_bundle("secret-lan")).status_code == 201
    i = c.client("inspector")
    for path in ("/reports/..%2f..%2f..%2fetc%2fpasswd", "/reports/1/..%2f..%2fetc%2fpasswd",
                 "/reports/1/%2e%2e%2fconsole.db", "/reports/../../etc/passwd",
                 "/reports/1/evidence.zip%00.html", "/reports/-1/bundle.json",
                 "/reports/1e3/bundle.json", "/reports/0x1/bundle.json",
                 "/static/..%2f..%2fscanner%2fserve%2fapp.py", "/static/../../etc/passwd"):
        r = i.get(path)
        assert r.status_code in (404, 303) or (r.status_code == 200 and "root:" not in r.text
                                               and "import" not in r.text), path
        assert "root:x:0:0" not in r.text


def test_the_evidence_zip_names_no_path_from_the_network(console):
    c = console
    b = fixture_bundle("secret-lan")
    b["scan_id"] = "../../../../etc/cron.d/evil\nSHA256SUMS\\..\\x"
    assert c.push(b).status_code == 201
    r = c.client("inspector").get("/reports/latest/evidence.zip")
    assert r.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(r.content))
    for n in z.namelist():
        assert ".." not in n.split("/") and not n.startswith("/") and "\\" not in n \
            and "\n" not in n, n
    sums = z.read("SHA256SUMS").decode()
    assert all(re.fullmatch(r"[0-9a-f]{64}  \S+", line) for line in sums.splitlines()), sums
    assert r.headers["content-disposition"] == 'attachment; filename="isoscan-latest-evidence.zip"'


# ---------------------------------------------------------------- what the network writes

XSS = ['<script>alert("x1")</script>', '"><img src=x onerror=alert("x2")>',
       "javascript:alert('x3')", "</textarea><svg onload=alert('x4')>", "{{7*7}}"]
FORMULAS = ["=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _hostile_bundle():
    b = fixture_bundle("secret-lan")
    b["scan_id"] = 'scan<script>alert("id")</script>'
    for k, f in enumerate(b["findings"]):
        if f["status"] == "fail":
            f["title"] = XSS[k % len(XSS)] + FORMULAS[k % len(FORMULAS)]
            f["subject"]["device"] = FORMULAS[k % len(FORMULAS)]
            f["evidence"] = [XSS[(k + 1) % len(XSS)], "banner: " + XSS[0], FORMULAS[0]]
            f["remediation"] = XSS[1]
    hosts = (b.get("observations", {}).get("discovery") or {}).get("hosts") or []
    for h in hosts:
        h["hostname"] = XSS[0]
        h["banner"] = XSS[1]
    return b


def test_html_from_the_network_is_inert_on_every_page(console):
    c = console
    assert c.push(_hostile_bundle()).status_code == 201
    a = c.client("admin")
    _login(httpx.Client(base_url=c.base, timeout=30), XSS[0], "whatever-pass")
    from scanner.serve.config import Config
    from scanner.serve.unit import forget, unit_state
    forget(c.store)
    fps = [r.fingerprint for r in unit_state(c.store, Config()).rows]
    pages = ["/", "/findings", "/findings?state=all", "/devices", "/changes?since=3650d",
             "/audit", "/reports", "/admin", "/account",
             "/findings?q=" + XSS[0], "/audit?q=" + XSS[1], "/findings?segment=" + XSS[1],
             "/findings/" + XSS[1]] + [f"/findings/{fp}" for fp in fps]
    for p in pages:
        r = a.get(p)
        assert r.status_code in (200, 404), p
        for x in XSS[:4]:
            assert x not in r.text, (p, x)
        assert "default-src 'none'" in r.headers.get("content-security-policy", ""), p
    r = a.get("/nope" + XSS[0])             # no route: Starlette's plain "Not Found"
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
    assert "<script" not in r.text
    for p in ("/reports/latest", "/reports/1", "/reports/1/report.html"):
        r = c.client("inspector").get(p)
        assert r.status_code == 200, p
        assert '<script>alert("' not in r.text and "<img src=x onerror" not in r.text, p
        assert "<svg onload" not in r.text, p


def test_csv_exports_neutralise_formulas(console):
    c = console
    assert c.push(_hostile_bundle()).status_code == 201
    for f in FORMULAS[:4]:                     # and through the audit log: a login name
        _login(httpx.Client(base_url=c.base, timeout=30), f, "whatever-pass")
    a = c.client("admin")
    for p in ("/findings?format=csv&state=all", "/devices?format=csv", "/audit?format=csv"):
        r = a.get(p)
        assert r.status_code == 200 and "text/csv" in r.headers["content-type"], p
        assert r.headers["content-disposition"].startswith("attachment")
        cells = [cell for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig")))
                 for cell in row]
        assert cells, p
        bad = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not bad, (p, bad[:5])
    r = a.get("/findings?format=csv&state=all")
    assert "'=cmd|" in r.content.decode("utf-8-sig")


# ---------------------------------------------------------------- the audit chain

def _audit_rows(c):
    from sqlalchemy import select
    from scanner.serve import tables as C
    with c.store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(C.audit).order_by(C.audit.c.id))]


def test_audit_chain_shows_a_row_changed_and_its_hash_blanked(console):
    """Someone with the console's database credentials edits a row (their own
    failed login) and blanks its hash, so it looks like a row from before the
    chain: the chain must still break there."""
    from scanner.serve import accounts as A
    from scanner.serve import tables as C
    c = console
    for i in range(5):
        A.audit(c.store, who="x", role=None, remote="", method="GET", what=f"/r{i}", status=200)
    rows = _audit_rows(c)
    mid = rows[len(rows) // 2]
    with c.store.write() as conn:
        conn.execute(C.audit.update().where(C.audit.c.id == mid["id"])
                     .values(what="/nothing-to-see", hash=None))
    assert A.audit_verify(c.store), "a row changed with its hash blanked went unnoticed"


def test_audit_chain_shows_a_row_deleted_and_the_next_hash_blanked(console):
    from scanner.serve import accounts as A
    from scanner.serve import tables as C
    c = console
    for i in range(5):
        A.audit(c.store, who="x", role=None, remote="", method="GET", what=f"/r{i}", status=200)
    rows = _audit_rows(c)
    mid, nxt = rows[len(rows) // 2], rows[len(rows) // 2 + 1]
    with c.store.write() as conn:
        conn.execute(C.audit.delete().where(C.audit.c.id == mid["id"]))
        conn.execute(C.audit.update().where(C.audit.c.id == nxt["id"]).values(hash=None))
    assert A.audit_verify(c.store), "a row deleted went unnoticed"


def test_audit_chain_detects_a_middle_deletion_and_an_edit(console):
    from scanner.serve import accounts as A
    from scanner.serve import tables as C
    c = console
    for i in range(6):
        A.audit(c.store, who="x", role=None, remote="", method="GET", what=f"/r{i}", status=200)
    assert A.audit_verify(c.store) == []
    rows = _audit_rows(c)
    with c.store.write() as conn:
        conn.execute(C.audit.update().where(C.audit.c.id == rows[-2]["id"]).values(status=500))
    assert A.audit_verify(c.store)


def test_login_csrf_from_a_sibling_port(console):
    """Login CSRF: a page on another port of the host (same site, so SameSite
    does not help) plants an `isoscan_pre` cookie whose form token the
    attacker fetched for himself, and auto-posts the attacker's own name and
    password: the victim's browser would work, acknowledge and download as
    the attacker. A browser says where a form came from (Sec-Fetch-Site):
    a form from another origin is refused."""
    from scanner.serve.accounts import add_user
    c = console
    add_user(c.store, "mallory", "inspector", "mallory-pass-1")
    planted = "attacker-chosen-pre-cookie-0123456789"
    attacker = httpx.Client(base_url=c.base, timeout=30)
    attacker.cookies.set("isoscan_pre", planted, domain="127.0.0.1")
    token = csrf_of(attacker, "/login")
    victim = httpx.Client(base_url=c.base, timeout=30)
    victim.cookies.set("isoscan_pre", planted, domain="127.0.0.1")
    for site in ("same-site", "cross-site"):
        r = victim.post("/login", data={"name": "mallory", "password": "mallory-pass-1",
                                        "csrf": token},
                        headers={"Sec-Fetch-Site": site, "Origin": "http://127.0.0.1:1"})
        assert r.status_code == 403, (site, r.status_code)
        assert victim.cookies.get("isoscan_session") is None
    # the console's own login form (same-origin) and clients that send no such header work
    x = httpx.Client(base_url=c.base, timeout=30)
    r = x.post("/login", data={"name": "viewer", "password": PASSWORDS["viewer"],
                               "csrf": csrf_of(x, "/login")},
               headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303
    assert c.client("viewer").get("/").status_code == 200


def test_a_huge_request_head_is_refused_before_auth(console):
    """A request head far past the bound (one 256 KiB header, or 20,000 small
    ones), anonymous: answered 4xx or closed, quickly, the console still up."""
    import socket
    c = console
    port = int(c.base.rsplit(":", 1)[1])
    for head in (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 << 10) + b"\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i
                                                           for i in range(20000)) + b"\r\n"):
        t = time.time()
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        try:
            try:
                s.sendall(head)
            except (BrokenPipeError, ConnectionResetError):
                pass
            s.settimeout(15)
            try:
                got = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                got = b""
        finally:
            s.close()
        assert got == b"" or got.split(b" ", 2)[1][:1] == b"4", got[:100]
        assert time.time() - t < 15
    assert httpx.get(c.base + "/api/v1/health", timeout=10).status_code == 200


@pytest.mark.xfail(strict=True, reason="left: the audit chain has no anchor outside the "
                   "database, so the newest rows can be cut off unseen (see the red-team report)")
def test_audit_chain_shows_the_newest_rows_deleted(console):
    from scanner.serve import accounts as A
    from scanner.serve import tables as C
    c = console
    for i in range(5):
        A.audit(c.store, who="x", role=None, remote="", method="GET", what=f"/r{i}", status=200)
    last = _audit_rows(c)[-1]
    with c.store.write() as conn:
        conn.execute(C.audit.delete().where(C.audit.c.id == last["id"]))
    assert A.audit_verify(c.store)


def test_a_finding_without_a_segment_is_no_way_around_the_scope(console):
    """An office-lan token pushes a critical ISO-BRIDGE failure with no segment
    at all (its evidence says secret-lan): the scope check skipped segment-less
    findings as statements about the inventory, and the overview listed it
    first. A segment-less failure of a check that reads more than the
    inventory is out of a bound token's scope; a segment-less error (a
    vantage whose probe could not run, as NET-IPV6-RA reports it) still goes."""
    from scanner.bundle import summary
    from scanner.serve.accounts import new_token
    c = console
    tok = new_token(c.store, "probe-office", segments=["office-lan"])
    b = fixture_bundle("office-lan")
    b["scan_id"] = "noseg-1"
    b["findings"].append({**b["findings"][-1], "check_id": "ISO-BRIDGE", "status": "fail",
                          "severity": "critical", "segment": None, "title": "PLANTED",
                          "evidence": ["secret-lan is bridged: unplug 10.10.0.5 now"],
                          "subject": {"ip": "10.10.0.6", "mac": None, "device": "PLANTED"}})
    b["summary"] = summary(b["findings"])
    r = c.push(b, token=tok)
    assert r.status_code == 403 and "nothing stored" in r.json()["error"], r.text
    assert c.scans() == 0
    b = fixture_bundle("office-lan")
    b["scan_id"] = "noseg-2"
    b["findings"].append({**b["findings"][-1], "check_id": "NET-IPV6-RA", "status": "error",
                          "severity": "high", "segment": None,
                          "subject": {"ip": None, "mac": None, "device": None}})
    b["summary"] = summary(b["findings"])
    assert c.push(b, token=tok).status_code == 201


def test_scan_id_squatting_by_taking_the_renamed_id_first(console_factory, tmp_path):
    """issue 23's answer to an unsigned squatter renames it SCAN_ID~unsigned-HASH16
    (HASH16: the start of the squatter's own content hash, which the squatter
    knows). A squatter who first takes that name too must not block the
    signed original either."""
    import copy
    import hashlib
    from scanner.evidence.keys import load_private_key, load_trust, new_key_pair
    from scanner.evidence.sign import sign_once
    from scanner.serve.config import Config
    from scanner.store.ingest import canonical
    priv, pub, _ = new_key_pair(str(tmp_path / "p.key"), "probe")
    c = console_factory(cfg=Config(trust=("x",)), trust=load_trust(pub))
    original = fixture_bundle("secret-lan")
    squat = copy.deepcopy(original)
    squat["finished_at"] = "2026-11-30T08:00:00Z"
    h16 = hashlib.sha256(canonical(squat)).hexdigest()[:16]
    decoy = copy.deepcopy(squat)
    decoy["scan_id"] = f"{original['scan_id']}~unsigned-{h16}"
    decoy["finished_at"] = "2026-11-30T08:30:00Z"
    assert c.push(decoy).status_code == 201
    assert c.push(squat).status_code == 201
    signed = sign_once(original, load_private_key(priv), str(tmp_path / "state.json"))
    r = c.push(signed, token=None)
    assert r.status_code == 201, (r.status_code, r.text[:300])
    from sqlalchemy import select
    from scanner.store import tables as T
    with c.store.read() as conn:
        ids = {r[0] for r in conn.execute(select(T.scans.c.scan_id))}
    assert original["scan_id"] in ids and len(ids) == 3, ids


def _register_rows(c, lang="en"):
    rows = list(csv.reader(io.StringIO(c.client("admin").get(f"/devices?format=csv&lang={lang}")
                                       .content.decode("utf-8-sig"))))
    return rows


def test_the_register_does_not_pass_a_rogue_station_off_as_a_probe(console):
    """The devices page marks isoscan's own probes as probes. It matched a
    vantage's address anywhere in a row, the "Vantages" column too, so every
    station a probe saw (the rogue bridge 10.10.0.77 of secret-lan with them)
    read "probe (isoscan's own)"; and an office-lan token could name a
    secret-lan station as its vantage to hide it the same way."""
    from scanner.serve.accounts import new_token
    c = console
    assert c.push(fixture_bundle("secret-lan")).status_code == 201
    tok = new_token(c.store, "probe-office", segments=["office-lan"])
    b = fixture_bundle("office-lan")
    b["scan_id"] = "probe-mask"
    b["vantage"]["ip"], b["vantage"]["mac"] = "10.10.0.77", "02:aa:00:00:00:77"
    assert c.push(b, token=tok).status_code == 201
    rogue = [r for r in _register_rows(c) if "10.10.0.77" in r[1:-1]]
    assert rogue and all("probe" not in r[1] for r in rogue), rogue
    page = c.client("admin").get("/devices?lang=en").text
    row = next(line for line in page.split("<tr") if "02:aa:00:00:00:77 " in line
               or "02:aa:00:00:00:77<" in line and "st-" in line)
    assert "badge probe" not in row, row


def test_the_register_still_marks_a_probe_on_its_own_segment(console):
    c = console
    b = fixture_bundle("secret-lan")
    hosts = b["observations"]["discovery"]["hosts"]
    hosts.append({"ip": b["vantage"]["ip"], "mac": b["vantage"]["mac"], "via": "arp"})
    assert c.push(b).status_code == 201
    mine = [r for r in _register_rows(c) if b["vantage"]["ip"] in r[1:-1]]
    assert mine and all("probe" in r[1] for r in mine), mine


def test_numbers_past_the_stores_integers_are_not_found_not_500(console):
    """An id, a page or a window past a 64-bit integer: 404 or the page as
    for a bad value (not a 500 and a traceback in the log)."""
    c = console
    assert c.push(fixture_bundle("secret-lan")).status_code == 201
    a = c.client("admin")
    huge = "9" * 25
    for p in (f"/reports/{huge}", f"/reports/{huge}/bundle.json", f"/audit?page={huge}",
              f"/changes?since={huge}d"):
        r = a.get(p)
        assert r.status_code in (200, 404), (p, r.status_code)
    for p in (f"/admin/tokens/{huge}/revoke", f"/waivers/{huge}/revoke"):
        r = a.post(p, data={"csrf": csrf_of(a)})
        assert r.status_code in (200, 303, 404), (p, r.status_code)


def test_csv_exports_neutralise_bidi_controls(console):
    """A title or device name with U+202E from the network reads reversed in a
    spreadsheet as on a page: the CSV exports show it as \\u202e too."""
    c = console
    b = fixture_bundle("secret-lan")
    for f in b["findings"]:
        if f["status"] == "fail":
            f["title"] = "evil \u202egpj.exe"
            f["subject"]["device"] = "pc\u202e-07"
            f["evidence"] = ["banner \u2066x\u2069 \u200f"]
    assert c.push(b).status_code == 201
    _login(httpx.Client(base_url=c.base, timeout=30), "adm\u202enim", "whatever-pass")
    a = c.client("admin")
    for p in ("/findings?format=csv&state=all&lang=en", "/devices?format=csv",
              "/audit?format=csv"):
        text = a.get(p).content.decode("utf-8-sig")
        for ch in ("\u202e", "\u2066", "\u2069", "\u200f"):
            assert ch not in text, (p, hex(ord(ch)))


def test_another_token_cannot_rename_the_unit(console):
    """The overview's title is the bundles' organization (unless console.yaml
    names the unit): the oldest latest bundle's word, so any token's bundle
    could retitle the unit. Where the bundles disagree, no name is taken."""
    from scanner.serve.accounts import new_token
    c = console
    tok = new_token(c.store, "probe-office", segments=["office-lan"])
    b = fixture_bundle("office-lan")
    b["inventory"]["organization"] = {"name": "SPOOFED 全部合规", "id": "EX-0001"}
    assert c.push(b, token=tok).status_code == 201
    assert c.push(fixture_bundle("secret-lan")).status_code == 201
    page = c.client("viewer").get("/").text
    assert "SPOOFED" not in page


def test_a_foreign_station_in_any_spelling_of_its_mac(console):
    """A station the store knows only on secret-lan, named by an office-lan
    token's finding in every spelling of its MAC a reader might normalise."""
    from scanner.bundle import summary
    from scanner.serve.accounts import new_token
    c = console
    assert c.push(fixture_bundle("secret-lan")).status_code == 201
    before = _stored(c)
    tok = new_token(c.store, "probe-office", segments=["office-lan"])
    for i, mac in enumerate(["02:aa:00:00:00:77", "02:AA:00:00:00:77", "02-aa-00-00-00-77",
                             "02aa.0000.0077", "02aa00000077", " 02:aa:00:00:00:77 ",
                             "2:aa:0:0:0:77"]):
        b = fixture_bundle("office-lan")
        b["scan_id"] = f"mac-{i}"
        b["findings"].append({**b["findings"][-1], "check_id": "DEV-UNREGISTERED",
                              "status": "pass", "segment": "office-lan",
                              "subject": {"ip": "10.10.0.77", "mac": mac, "device": None}})
        b["summary"] = summary(b["findings"])
        r = c.push(b, token=tok)
        if r.status_code == 201:            # then it was not read as that station at all
            from scanner.store.fingerprint import norm_mac
            assert norm_mac(mac) != "02:aa:00:00:00:77", (mac, r.text)
        else:
            assert r.status_code in (400, 403), (mac, r.text)
    from sqlalchemy import select
    from scanner.store import tables as T
    with c.store.read() as conn:
        segs = {r[0] for r in conn.execute(select(T.sightings.c.segment).where(
            T.sightings.c.mac == "02:aa:00:00:00:77"))}
    assert segs == {"secret-lan"}
    assert _stored(c)["scans"] >= before["scans"]


def test_a_stolen_session_cannot_turn_off_or_replace_the_second_factor(console):
    """With an admin's session (a copied cookie), the attacker turned TOTP off,
    or enrolled a secret of his own, in one form: the second factor then
    protected nothing at the next login. Either now needs a code of the
    current secret."""
    import pyotp
    from scanner.serve.accounts import has_totp
    c = console
    a = c.client("admin")
    page = a.post("/account/totp", data={"action": "new", "csrf": csrf_of(a)}).text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    r = a.post("/account/totp", data={"action": "confirm", "secret": secret,
                                      "otp": pyotp.TOTP(secret).now(), "csrf": csrf_of(a)})
    assert r.status_code == 200 and has_totp(c.store, "admin")
    thief = httpx.Client(base_url=c.base, timeout=30,
                         cookies={"isoscan_session": a.cookies.get("isoscan_session")})
    r = thief.post("/account/totp", data={"action": "off", "csrf": csrf_of(thief)})
    assert r.status_code == 400 and has_totp(c.store, "admin")
    mine = pyotp.random_base32()
    r = thief.post("/account/totp", data={"action": "confirm", "secret": mine,
                                          "otp": pyotp.TOTP(mine).now(), "csrf": csrf_of(thief)})
    assert r.status_code == 400
    from sqlalchemy import select
    from scanner.serve import tables as C
    with c.store.read() as conn:
        assert conn.execute(select(C.users.c.totp_secret)
                            .where(C.users.c.name == "admin")).scalar() == secret
    # the owner, with a code of the current secret, may turn it off
    r = a.post("/account/totp", data={"action": "off", "current": pyotp.TOTP(secret).now(),
                                      "csrf": csrf_of(a)})
    assert r.status_code == 200 and not has_totp(c.store, "admin")


def test_proxy_auth_with_a_secret_is_not_any_local_process(console_factory, tmp_path):
    """With proxy_auth trusting 127.0.0.1, any process of the host that talks to
    the console's port itself is "the proxy". With `secret:` the identity
    header counts only beside the secret nginx sends (X-Isoscan-Proxy-Secret)."""
    from scanner.serve.config import Config, ProxyAuth, load_config
    secret = "nginx-only-0123456789abcdef"
    p = tmp_path / "console.yaml"
    p.write_text("proxy_auth: {header: X-Remote-User, trusted: [127.0.0.1], secret: %s}\n"
                 % secret)
    pa = load_config(str(p)).proxy_auth
    assert pa.secret == secret
    c = console_factory(cfg=Config(proxy_auth=ProxyAuth("X-Remote-User", None, ("127.0.0.1",),
                                                        secret=secret)))
    for extra in ({}, {"X-Isoscan-Proxy-Secret": "guess"},
                  {"X-Isoscan-Proxy-Secret": secret[:-1]}):
        r = httpx.get(c.base + "/admin", headers={"X-Remote-User": "admin", **extra}, timeout=30)
        assert r.status_code == 303 and r.headers["location"] == "/login", extra
    r = httpx.get(c.base + "/admin", headers={"X-Remote-User": "admin",
                                              "X-Isoscan-Proxy-Secret": secret}, timeout=30)
    assert r.status_code == 200
    bad = tmp_path / "bad.yaml"
    bad.write_text("proxy_auth: {header: X-Remote-User, trusted: [127.0.0.1], secret: short}\n")
    with pytest.raises(ValueError):
        load_config(str(bad))
