"""Every attack of issue 23, driven against a real console on 127.0.0.1 (a
uvicorn server as `isoscan serve` runs it; a child `isoscan serve` process
where start-up itself is attacked). Each is refused with the status
docs/console.md documents, and leaves nothing stored. Loops are bounded in
count and time and stop by themselves.

The attacks that touch the store's concurrency (scope, sessions, CSRF, the
login limit) run on SQLite and on PostgreSQL (tests/store/pgcluster.py)."""
from __future__ import annotations

import copy
import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from servelib import PASSWORDS, REPO, csrf_of, fixture_bundle, free_port, start_console

PUSH = "/api/v1/bundles"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """A console on SQLite, then on PostgreSQL."""
    made = []

    def make(**kw):
        d = tmp_path / f"c{len(made)}"
        d.mkdir()
        if request.param == "postgresql":
            pg = request.getfixturevalue("pg")
            kw["db_url"] = pg.create_database(f"atk{os.getpid()}x{len(made)}")
        c = start_console(d, **kw)
        made.append(c)
        return c
    try:
        yield make
    finally:
        for c in made:
            c.stop()


def _stored(c) -> dict:
    from sqlalchemy import func, select
    from scanner.store import tables as T
    with c.store.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in (T.scans, T.findings, T.sightings, T.documents)}


def _login(c: httpx.Client, name, password, **extra):
    return c.post("/login", data={"name": name, "password": password,
                                  "csrf": csrf_of(c, "/login"), **extra})


# ---------------------------------------------------------------- 1. token scope

def test_scope_bypass_by_findings_segment_and_vantage_segments(any_store):
    from scanner.serve.accounts import new_token
    c = any_store()
    assert c.push(fixture_bundle("secret-lan")).status_code == 201      # the real secret scan
    before = _stored(c)
    tok = new_token(c.store, "probe-office", segments=["office-lan"])
    attacks = []
    b = fixture_bundle("office-lan")                 # a planted critical finding on secret-lan
    b["scan_id"] = "atk-1"
    b["findings"].append({**b["findings"][-1], "check_id": "ISO-BRIDGE", "status": "fail",
                          "severity": "critical", "segment": "secret-lan",
                          "vantage_segments": ["secret-lan"]})
    attacks.append(b)
    b = fixture_bundle("office-lan")                 # only vantage_segments
    b["scan_id"] = "atk-2"
    for f in b["findings"]:
        f["vantage_segments"] = ["secret-lan"]
    attacks.append(b)
    b = fixture_bundle("office-lan")                 # the secret-lan stations "resolved"
    b["scan_id"] = "atk-3"
    b["findings"].append({**b["findings"][-1], "check_id": "DEV-UNREGISTERED", "status": "pass",
                          "segment": "office-lan",
                          "subject": {"ip": "10.10.0.77", "mac": "02:aa:00:00:00:77",
                                      "device": None}})
    attacks.append(b)
    b = fixture_bundle("secret-lan")                 # the vantage itself
    b["scan_id"] = "atk-5"
    attacks.append(b)
    b = {"schema": "isoscan.merged/1", "scan_id": "atk-6",       # a merged bundle
         "sources": [fixture_bundle("office-lan")], "findings": []}
    attacks.append(b)
    for b in attacks:
        r = c.push(b, token=tok)
        assert r.status_code in (400, 403), (b["scan_id"], r.text)
        assert "nothing stored" in r.json()["error"]
    assert _stored(c) == before
    assert c.push(fixture_bundle("office-lan"), token=tok).status_code == 201   # its own: taken


# ---------------------------------------------------------------- 2. sessions

def _sessions_of(c):
    from sqlalchemy import select
    from scanner.serve import tables as C
    with c.store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(C.sessions))]


def test_sessions_are_server_side_and_revocable(any_store):
    from scanner.serve import accounts as A
    c = any_store()

    def stolen(cookie):                 # the copied cookie, in a browser of its own
        return httpx.get(c.base + "/admin", cookies={"isoscan_session": cookie}, timeout=30)

    def admin():
        a = c.client("admin")
        return a, a.cookies.get("isoscan_session")

    a, cookie = admin()
    assert stolen(cookie).status_code == 200
    # nothing in the database opens a session: no signing secret, only the id's SHA-256
    from sqlalchemy import select
    from scanner.serve import tables as C
    with c.store.read() as conn:
        assert conn.execute(select(C.settings.c.name)
                            .where(C.settings.c.name == "session_secret")).first() is None
    rows = _sessions_of(c)
    assert rows and all(cookie not in json.dumps(r) for r in rows)
    # logout
    a.post("/logout", data={"csrf": csrf_of(a)})
    assert stolen(cookie).status_code == 303
    # a password change (by the user) ends every other session too
    a, cookie = admin()
    b, other = admin()
    r = b.post("/account/password", data={"old": PASSWORDS["admin"], "new": "new-admin-pass-2",
                                          "again": "new-admin-pass-2", "csrf": csrf_of(b)})
    assert r.status_code == 303
    assert stolen(cookie).status_code == 303 and stolen(other).status_code == 303
    assert b.get("/admin").status_code == 200           # the changer's browser has a new one
    A.set_password(c.store, "admin", PASSWORDS["admin"])
    # a reset by the CLI (user add over an existing name), disabling, removing + recreating
    for revoke in (lambda: A.add_user(c.store, "admin", "admin", PASSWORDS["admin"]),
                   lambda: A.disable_user(c.store, "admin"),
                   lambda: (A.remove_user(c.store, "admin"),
                            A.add_user(c.store, "admin", "admin", PASSWORDS["admin"]))):
        A.disable_user(c.store, "admin", False)
        a, cookie = admin()
        assert stolen(cookie).status_code == 200
        revoke()
        assert stolen(cookie).status_code == 303
    # log out everywhere
    A.disable_user(c.store, "admin", False)
    a, cookie = admin()
    b, other = admin()
    b.post("/account/logout-everywhere", data={"csrf": csrf_of(b)})
    assert stolen(cookie).status_code == 303 and stolen(other).status_code == 303
    # idle 30 minutes; 12 hours in all
    for column, age in (("seen_at", 31 * 60), ("created_at", 12 * 3600 + 60)):
        a, cookie = admin()
        old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age))
        with c.store.write() as conn:
            conn.execute(C.sessions.update().values(**{column: old}))
        assert stolen(cookie).status_code == 303, column


# ---------------------------------------------------------------- 3. the spool at start-up

def test_unreadable_and_vanished_spool_files_never_stop_the_start(tmp_path):
    """As a real `isoscan serve` runs, but without the power to read every file
    (root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, as a console under its
    own user is): a 0600 file of another user left in .work/ by a crash. It
    starts, serves, takes the good file, and rejects that one with its reason."""
    import shutil
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        if os.environ.get("CI"):
            pytest.fail("needs root and setpriv (util-linux)")
        pytest.skip("needs root and setpriv")
    home = tmp_path / "run"
    spool = home / "spool"
    for d in (home, spool, spool / ".work", spool / "done", spool / "rejected", home / "state"):
        d.mkdir(parents=True, exist_ok=True)
    stuck = spool / ".work" / "stuck.json"
    stuck.write_text(json.dumps(fixture_bundle("secret-lan")))
    os.chown(stuck, 65534, 65534)
    os.chmod(stuck, 0o600)                     # another user's: unreadable without DAC override
    good = spool / "good.json"
    good.write_text(json.dumps(fixture_bundle("office-lan")))
    old = time.time() - 60
    os.utime(good, (old, old))
    cfg = home / "console.yaml"
    cfg.write_text("spool_poll_seconds: 0.1\nspool_settle_seconds: 0\n")
    port = free_port()
    env = {**os.environ, "ISOSCAN_STATE_DIR": str(home / "state")}
    p = subprocess.Popen(["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search",
                          sys.executable, "-m", "scanner.cli", "serve", "--db",
                          f"sqlite:///{home}/c.db", "--port", str(port), "--spool", str(spool),
                          "--config", str(cfg)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert p.poll() is None, p.stdout.read()
            assert time.time() < deadline, "the console did not start"
            time.sleep(0.1)
        while not (spool / "done" / "good.json").exists():
            assert time.time() < deadline, "the good file was not taken"
            time.sleep(0.1)
        reason = (spool / "rejected" / "stuck.json.reason.txt").read_text()
        assert "cannot be read" in reason and "nothing stored" in reason
        assert not stuck.exists() and (spool / "rejected" / "stuck.json").exists()
    finally:
        p.terminate()
        p.wait(timeout=20)


def test_concurrent_pollers_never_crash(tmp_path):
    from scanner.serve import tables
    from scanner.serve.config import Config
    from scanner.serve.spool import Spool
    from scanner.store.db import open_store
    from storelib import synthetic_bundle
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    tables.create(store)
    root = tmp_path / "spool"
    cfg = Config(spool_settle_seconds=0, spool_poll_seconds=0.01)
    pollers = [Spool(str(root), store, cfg, None) for _ in range(4)]
    n = 40
    for i in range(n):
        name = root / f"b{i:02d}.json"
        name.write_text(json.dumps(synthetic_bundle("office-lan", "2026-12-01T02:00:00Z",
                                                    scan_id=f"s{i}")))
    (root / ".work" / "left.json").write_text(json.dumps(fixture_bundle("internet")))
    errors = []

    def run(sp):
        try:
            out = sp.recover()
            for _ in range(50):
                out += sp.poll(once=True)
            return out
        except Exception as exc:
            errors.append(exc)
            return []
    with ThreadPoolExecutor(4) as ex:
        results = [r for rs in ex.map(run, pollers) for r in rs]
    store.close()
    assert not errors, errors
    names = sorted(r[0] for r in results if r[1] == "stored")
    assert names == sorted([f"b{i:02d}.json" for i in range(n)] + ["left.json"])
    assert len(list((root / "done").iterdir())) == n + 1
    assert not list((root / ".work").iterdir())


# ---------------------------------------------------------------- 4. CSRF

def test_csrf_is_the_sessions_and_rotates_at_login(any_store):
    from scanner.serve.accounts import list_users
    c = any_store()
    a = c.client("admin")
    form = {"name": "mallory", "role": "admin", "password": "mallory-pass-1"}
    # a page on another port of the host sets cookies of its own and auto-posts
    for cookie in ("isoscan_csrf", "isoscan_pre"):
        a.cookies.set(cookie, "planted-value-0123456789abcdef", domain="127.0.0.1")
        r = a.post("/admin/users", data={**form, "csrf": "planted-value-0123456789abcdef"})
        assert r.status_code == 403
    # another session's token (the attacker's own viewer login) is not this session's
    v = c.client("viewer")
    assert a.post("/admin/users", data={**form, "csrf": csrf_of(v)}).status_code == 403
    assert a.post("/admin/users", data=form).status_code == 403
    assert "mallory" not in [u["name"] for u in list_users(c.store)]
    # rotated at login
    x = httpx.Client(base_url=c.base, timeout=30)
    pre = csrf_of(x, "/login")
    _login(x, "admin", PASSWORDS["admin"])
    first = csrf_of(x)
    _login(x, "admin", PASSWORDS["admin"])
    second = csrf_of(x)
    assert len({pre, first, second}) == 3
    assert x.post("/admin/users", data={**form, "csrf": first}).status_code == 403
    assert x.post("/admin/users", data={**form, "csrf": second}).status_code == 200


# ---------------------------------------------------------------- weaknesses

def test_login_limit_is_atomic_and_per_address(any_store):
    from scanner.serve.config import Config
    c = any_store(cfg=Config(forwarded_from=("127.0.0.1",)))

    def guess(i):
        with httpx.Client(base_url=c.base, timeout=60,
                          headers={"X-Forwarded-For": "192.0.2.66"}) as x:
            return _login(x, "admin", f"guess-{i}").status_code
    with ThreadPoolExecutor(20) as ex:
        codes = list(ex.map(guess, range(40)))
    assert codes.count(401) == 5 and codes.count(429) == 35, codes
    with httpx.Client(base_url=c.base, timeout=60,
                      headers={"X-Forwarded-For": "192.0.2.10"}) as real:
        assert _login(real, "admin", PASSWORDS["admin"]).status_code == 303
    rows = c.audit()
    assert sum(1 for r in rows if r["attempted"] == "admin" and r["status"] == 401) == 5


def test_anonymous_bodies_are_not_read(console_factory, tmp_path):
    from scanner.evidence.keys import load_trust, new_key_pair
    _, pub, _ = new_key_pair(str(tmp_path / "k.key"), "k")
    from scanner.serve.config import Config
    plain = console_factory()
    signed = console_factory(cfg=Config(trust=("x",), max_anonymous_push_bytes=64 << 10),
                             trust=load_trust(pub))
    big = b"{" + b" " * (8 << 20)
    for c in (plain, signed):
        for _ in range(4):
            t = time.time()
            r = c.push(big, token=None)
            assert r.status_code in (401, 413), r.text
            assert time.time() - t < 10
    r = plain.push(b'{"schema": "isoscan.bundle/1", "find', token=None)
    assert r.status_code == 401
    r = signed.push(b'{"schema": "isoscan.bundle/1", "find', token=None)
    assert r.status_code == 401 and "JSON" not in r.text and "line" not in r.text
    assert plain.scans() == signed.scans() == 0


def _raw(port, data: bytes):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall(data)
    return s


def _closed_within(s, seconds) -> tuple[bool, bytes]:
    s.settimeout(seconds)
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return True, got
            got += chunk
    except (socket.timeout, TimeoutError):
        return False, got
    except ConnectionResetError:
        return True, got
    finally:
        s.close()


def test_slow_clients_are_cut_and_connections_bounded(console_factory):
    from scanner.serve.config import Config
    c = console_factory(cfg=Config(header_timeout_seconds=1, body_timeout_seconds=2,
                                   max_connections=8))
    port = int(c.base.rsplit(":", 1)[1])
    half = _raw(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    closed, got = _closed_within(half, 6)
    assert closed and (got == b"" or got.startswith(b"HTTP/1.1 408"))
    body = _raw(port, b"POST /api/v1/bundles HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + c.token.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"sch")
    closed, _ = _closed_within(body, 8)
    assert closed
    idle = [_raw(port, b"") for _ in range(10)]
    try:
        r = httpx.get(c.base + "/api/v1/health", timeout=10)
        assert r.status_code == 503
    finally:
        for s in idle:
            s.close()
    deadline = time.time() + 10
    while httpx.get(c.base + "/api/v1/health", timeout=10).status_code != 200:
        assert time.time() < deadline
        time.sleep(0.2)
    assert c.scans() == 0


def test_proxy_auth_only_for_known_users(console_factory):
    from scanner.serve.config import Config, ProxyAuth
    c = console_factory(cfg=Config(proxy_auth=ProxyAuth("X-Remote-User", "X-Remote-Role",
                                                        ("127.0.0.1",))))
    r = httpx.get(c.base + "/admin", headers={"X-Remote-User": "stranger",
                                              "X-Remote-Role": "admin"})
    assert r.status_code == 303
    r = httpx.get(c.base + "/admin", headers={"X-Remote-User": "viewer", "X-Remote-Role": "admin"})
    assert r.status_code == 403                      # a known user keeps their own role
    d = console_factory(cfg=Config(proxy_auth=ProxyAuth("X-Remote-User", "X-Remote-Role",
                                                        ("127.0.0.1",), create=True)))
    r = httpx.get(d.base + "/findings", headers={"X-Remote-User": "sso-user",
                                                 "X-Remote-Role": "inspector"})
    assert r.status_code == 200


def test_audit_log_targets_chain_paging_and_csv(console):
    from scanner.serve import accounts as A
    from scanner.serve import tables as C
    a = console.client("admin")
    a.post("/admin/users", data={"name": "carol", "role": "viewer", "password": "carol-pass-1",
                                 "csrf": csrf_of(a)})
    a.post("/admin/users/carol/disable", data={"csrf": csrf_of(a)})
    a.post("/admin/tokens/1/revoke", data={"csrf": csrf_of(a)})
    _login(httpx.Client(base_url=console.base, timeout=30), "no-such-user", "guess-guess")
    rows = console.audit()
    assert any(r["target"] == "carol" and r["detail"] == "user disable" for r in rows)
    assert any(r["target"] == "token:1" for r in rows)
    assert any(r["attempted"] == "no-such-user" and r["status"] == 401 for r in rows)
    for i in range(150):
        A.audit(console.store, who="x", role=None, remote="", method="GET", what=f"/p{i}",
                status=200)
    page = a.get("/audit").text
    assert 'id="audit-older"' in page and "/p149" in page and "/p10<" not in page
    assert "/p10" in a.get("/audit?page=1").text
    assert "carol" in a.get("/audit?q=carol").text and "/p77" not in a.get("/audit?q=carol").text
    r = a.get("/audit?format=csv")
    assert r.status_code == 200 and "text/csv" in r.headers["content-type"]
    assert r.text.count("\n") >= 150 and "no-such-user" in r.text
    assert A.audit_verify(console.store) == []
    with console.store.write() as conn:        # one row deleted in the middle: it shows
        conn.execute(C.audit.delete().where(C.audit.c.what == "/p50"))
    assert A.audit_verify(console.store)
    assert "audit-chain" in a.get("/audit").text and "broken" in a.get("/audit?lang=en").text


def test_a_signed_bundle_is_not_blocked_by_an_unsigned_squatter(console_factory, tmp_path):
    from scanner.evidence.keys import load_private_key, load_trust, new_key_pair
    from scanner.evidence.sign import sign_once
    from scanner.serve.config import Config
    priv, pub, _ = new_key_pair(str(tmp_path / "p.key"), "probe")
    c = console_factory(cfg=Config(trust=("x",)), trust=load_trust(pub))
    original = fixture_bundle("secret-lan")
    squat = copy.deepcopy(original)
    squat["finished_at"] = "2026-11-30T08:00:00Z"
    assert c.push(squat).status_code == 201                  # an unsigned copy comes first
    signed = sign_once(original, load_private_key(priv), str(tmp_path / "state.json"))
    r = c.push(signed, token=None)
    assert r.status_code == 201, r.text
    assert r.json()["superseded"].startswith("scan-secret-01~unsigned-")
    # and never the other way round: an unsigned copy does not displace the signed one
    again = copy.deepcopy(squat)
    again["finished_at"] = "2026-11-30T09:00:00Z"
    assert c.scans() == 2
    assert c.push(again).status_code == 409


def test_verify_refuses_a_zip_bomb_before_inflating(tmp_path):
    from click.testing import CliRunner
    from scanner.cli import main
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report.html", b"<p>x</p>")
        zf.writestr("inputs/01-bomb.json", b"0" * (40 << 20))   # 40 MiB of zeros, ~40 KB packed
    assert os.path.getsize(bomb) < (1 << 20)
    r = CliRunner().invoke(main, ["verify", str(bomb)])
    assert r.exit_code == 2 and "zip bomb" in r.output and "before inflating" in r.output


def test_the_consoles_evidence_zip_is_signed_by_its_key(console):
    from scanner.evidence.keys import load_trust
    from scanner.evidence.package import verify_package
    assert console.push(fixture_bundle("secret-lan")).status_code == 201
    r = console.client("inspector").get("/reports/latest/evidence.zip")
    assert r.status_code == 200
    assert "SHA256SUMS.sig" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    p = console.tmp / "e.zip"
    p.write_bytes(r.content)
    rep = verify_package(str(p), load_trust(str(console.tmp / "console.pub")))
    assert rep.signer is not None and not rep.problems


def test_bidi_controls_are_neutralised_on_every_page(console):
    b = fixture_bundle("secret-lan")
    for f in b["findings"]:
        if f["status"] == "fail":
            f["title"] = "evil \u202egpj.exe"
            f["subject"]["device"] = "pc\u202e-07"
    assert console.push(b).status_code == 201
    a = console.client("admin")
    from scanner.serve.views import findings
    fp = findings(console.store)[0].fingerprint
    for page in ("/", "/findings", f"/findings/{fp}", "/devices", "/changes?since=3650d",
                 "/audit"):
        html = a.get(page).text
        assert "\u202e" not in html, page


def test_totp_second_factor_for_an_admin(console):
    import re
    import pyotp
    a = console.client("admin")
    page = a.post("/account/totp", data={"action": "new", "csrf": csrf_of(a)}).text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    r = a.post("/account/totp", data={"action": "confirm", "secret": secret, "otp": "000000",
                                      "csrf": csrf_of(a)})
    assert r.status_code == 400 or pyotp.TOTP(secret).now() == "000000"
    r = a.post("/account/totp", data={"action": "confirm", "secret": secret,
                                      "otp": pyotp.TOTP(secret).now(), "csrf": csrf_of(a)})
    assert r.status_code == 200
    x = httpx.Client(base_url=console.base, timeout=30)
    assert _login(x, "admin", PASSWORDS["admin"]).status_code == 401          # no code
    codes = [_login(x, "admin", PASSWORDS["admin"], otp=f"{i:06d}").status_code
             for i in range(8)]                       # guessing codes counts as failing
    assert codes.count(429) >= 3
    with console.store.write() as conn:              # the window passes
        from scanner.serve import tables as C
        conn.execute(C.login_failures.delete())
    y = httpx.Client(base_url=console.base, timeout=30)
    r = _login(y, "admin", PASSWORDS["admin"], otp=pyotp.TOTP(secret).now())
    assert r.status_code == 303 and y.get("/admin").status_code == 200
    v = console.client("viewer")                      # a viewer cannot turn TOTP on or off
    assert v.post("/account/totp", data={"action": "new", "csrf": csrf_of(v)}).status_code == 403
