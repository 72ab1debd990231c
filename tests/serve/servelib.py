"""Helpers of the console tests: a real uvicorn server on 127.0.0.1 (a thread,
a free port), a SQLite store in tmp, users of each role and a probe token."""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "store"))
from storelib import finding, fixture_bundle, synthetic_bundle  # noqa: E402,F401

PASSWORDS = {"admin": "admin-pass-1", "inspector": "inspector-pass-1", "viewer": "viewer-pass-1"}
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def csrf_of(c, page: str = "/account") -> str:
    """The CSRF token a page's forms carry (the session's own; before login the
    login form's). A test posts what a browser would: the value in the form."""
    import re
    m = re.search(r'name="csrf" value="([^"]+)"', c.get(page).text)
    assert m, f"{page} has no form with a CSRF token"
    return m.group(1)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class Console:
    base: str
    store: object
    token: str
    spool: object = None
    tmp: Path = None
    _server: object = None
    _thread: object = None
    extra: dict = field(default_factory=dict)

    def scans(self) -> int:
        from sqlalchemy import func, select
        from scanner.store import tables as T
        with self.store.read() as conn:
            return conn.execute(select(func.count()).select_from(T.scans)).scalar()

    def audit(self) -> list[dict]:
        from scanner.serve.accounts import audit_rows
        return audit_rows(self.store, limit=100000)

    def push(self, body, token="default", **kw):
        import httpx
        tok = self.token if token == "default" else token
        headers = {"Authorization": "Bearer " + tok} if tok else {}
        headers.update(kw.pop("headers", {}))
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return httpx.post(self.base + "/api/v1/bundles", content=bytes(body), headers=headers,
                          timeout=60, **kw)

    def client(self, role: str | None = None):
        """An httpx client, logged in as the user of `role` (None: anonymous)."""
        import httpx
        c = httpx.Client(base_url=self.base, timeout=60)
        if role:
            r = c.post("/login", data={"name": role, "password": PASSWORDS[role],
                                       "csrf": csrf_of(c, "/login")})
            assert r.status_code == 303, r.text
        return c

    def stop(self):
        if self.spool is not None:
            self.spool.stop()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.store.close()


def start_console(tmp: Path, cfg=None, trust=None, spool_dir=None, db_url=None) -> Console:
    from scanner.serve import accounts as A
    from scanner.serve import tables
    from scanner.serve.app import build_app, server as make_server
    from scanner.serve.config import Config
    from scanner.store.db import open_store
    cfg = cfg or Config()
    store = open_store(db_url or f"sqlite:///{tmp}/console.db")
    tables.create(store)
    for role, pw in PASSWORDS.items():
        A.add_user(store, role, role, pw)
    token = A.new_token(store, "probe-1", by="test")
    sp = None
    if spool_dir is not None:
        from scanner.serve.spool import Spool
        sp = Spool(str(spool_dir), store, cfg, trust)
    from scanner.evidence.keys import load_private_key, new_key_pair
    key_path = tmp / "console.key"
    if not key_path.exists():
        new_key_pair(str(key_path), "test console")
    app = build_app(store, cfg, trust, sp, load_private_key(str(key_path)))
    port = free_port()
    server = make_server(app, "127.0.0.1", port)
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not th.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.02)
    if sp is not None:
        sp.start()
    return Console(f"http://127.0.0.1:{port}", store, token, sp, tmp, server, th)
