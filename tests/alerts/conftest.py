"""Real receivers on loopback for the alert channels: a syslog receiver (UDP,
TCP with octet counting, a unix datagram socket), an HTTP server for the
webhook, and aiosmtpd as the SMTP server (with a STARTTLS certificate made by
openssl for the test). Each records what it received; each is stopped in
`finally` (a fixture's teardown)."""
from __future__ import annotations

import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "report" / "fixtures"


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class SyslogReceiver:
    """UDP or unix datagrams as they come; TCP split by octet counting."""

    def __init__(self, transport: str, port: int | None = None, path: str | None = None):
        self.transport = transport
        self.messages: list[bytes] = []
        self._stop = threading.Event()
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", port or 0))
        elif transport == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(path)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port or 0))
            self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1] if transport != "unix" else None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                if self.transport == "tcp":
                    conn, _ = self.sock.accept()
                    self._read_stream(conn)
                else:
                    self.messages.append(self.sock.recv(65535))
            except (socket.timeout, OSError):
                continue

    def _read_stream(self, conn):
        buf = b""
        conn.settimeout(2)
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
        while buf:                          # RFC 6587 octet counting: LEN SP MSG
            n, _, rest = buf.partition(b" ")
            size = int(n)
            self.messages.append(rest[:size])
            assert len(rest) >= size, "a truncated frame"
            buf = rest[size:]

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


class Webhook:
    """An HTTP server that records each POST (headers, raw body) and answers
    with the next status of `statuses` (then 200)."""

    def __init__(self, port: int | None = None, statuses=()):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body})
                code = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(2)


class Mailbox:
    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content, "tls": session.ssl is not None})
        return "250 OK"

    def __init__(self):
        self.messages: list[dict] = []


class Smtp:
    """aiosmtpd on loopback; with `tls` a STARTTLS server (required) whose
    self-signed certificate is `cafile`."""

    def __init__(self, tmp: Path, port: int | None = None, tls: bool = False):
        from aiosmtpd.controller import Controller
        self.box = Mailbox()
        self.port = port or free_port()
        kw = {}
        self.cafile = None
        if tls:
            key, crt = tmp / "smtp.key", tmp / "smtp.crt"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", str(key), "-out", str(crt), "-days", "2",
                            "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                           check=True, capture_output=True)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(crt), str(key))
            kw = {"tls_context": ctx, "require_starttls": True}
            self.cafile = str(crt)
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()

    @property
    def messages(self):
        return self.box.messages

    def close(self):
        self.controller.stop()


@pytest.fixture
def receivers(tmp_path):
    """Factories for receivers; every one made is closed at teardown."""
    made = []

    def make(kind, **kw):
        r = {"udp": lambda: SyslogReceiver("udp", **kw), "tcp": lambda: SyslogReceiver("tcp", **kw),
             "unix": lambda: SyslogReceiver("unix", **kw), "webhook": lambda: Webhook(**kw),
             "smtp": lambda: Smtp(tmp_path, **kw)}[kind]()
        made.append(r)
        return r
    try:
        yield make
    finally:
        for r in made:
            try:
                r.close()
            except Exception:
                pass


def bundle(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def write_json(path: Path, data) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return str(path)
