"""Syslog channel: RFC 5424 messages over UDP, TCP or a unix socket.

One message per alert:

    <PRI>1 TIMESTAMP HOSTNAME isoscan PROCID KIND [isoscan@32473 key=".." ...] BOM text

PRI is facility × 8 + the syslog severity of the alert (critical → 2 crit,
high → 3 err, medium → 4 warning, low → 5 notice, info → 6 info). The
structured-data ID uses 32473, the private enterprise number RFC 5612 reserves
for documentation; a unit with its own PEN may set `sd_id`. Over TCP each
message is framed by octet counting (RFC 6587 §3.4.1: `LEN SP MSG`); over UDP
and a unix (datagram) socket it is one datagram.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from scanner.alerts.errors import ChannelError
from scanner.alerts.rules import Alert

FACILITIES = {name: n for n, name in enumerate(
    ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
     "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
     "local3", "local4", "local5", "local6", "local7"))}
LEVEL = {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}
BOM = "\ufeff"
# one message at most (octets): a datagram UDP carries on any path, far above
# the 2048 RFC 5424 asks receivers to take; a longer text (a hostile device name
# in a bundle) is cut with "…", never refused (it would block the channel)
MAX_MESSAGE = 8192
MAX_SD_VALUE = 256


def _sd_value(v: object) -> str:
    """PARAM-VALUE escaping (RFC 5424 §6.3.3): '"', '\\' and ']'."""
    s = ("" if v is None else str(v))[:MAX_SD_VALUE]
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_field(v: str, limit: int) -> str:
    """PRINTUSASCII, no space, at most `limit` characters; '-' when empty."""
    s = "".join(c for c in v if 33 <= ord(c) <= 126)[:limit]
    return s or "-"


def format_message(alert: Alert, *, facility: int, lang: str, hostname: str,
                   app_name: str = "isoscan", sd_id: str = "isoscan@32473",
                   procid: str | None = None) -> bytes:
    pri = facility * 8 + LEVEL.get(alert.severity, 2)
    ts = alert.time if alert.time else "-"
    params = [("kind", alert.kind), ("key", alert.key), ("severity", alert.severity),
              ("segment", alert.segment), ("check", alert.check),
              ("fingerprint", alert.fingerprint)]
    sd = "[" + sd_id + "".join(f' {k}="{_sd_value(v)}"' for k, v in params if v) + "]"
    msg = alert.text.get(lang) or alert.text.get("en") or ""
    msg = " ".join(msg.split())                       # one line
    head = (f"<{pri}>1 {ts} {_header_field(hostname, 255)} {_header_field(app_name, 48)} "
            f"{_header_field(procid or str(os.getpid()), 128)} {_header_field(alert.kind, 32)} ")
    out = (head + sd + " " + BOM).encode("utf-8")
    text_bytes = msg.encode("utf-8")
    room = MAX_MESSAGE - len(out)
    if len(text_bytes) > room:
        cut = "…".encode("utf-8")
        text_bytes = text_bytes[:max(0, room - len(cut))].decode("utf-8", "ignore").encode("utf-8") + cut
    return out + text_bytes


def frame_octet_counting(msg: bytes) -> bytes:
    return str(len(msg)).encode("ascii") + b" " + msg


def _port_unreachable(s: socket.socket, wait: float = 0.2) -> None:
    """UDP has no receipt; an ICMP port unreachable that comes back within
    `wait` (a receiver that is down, seen at once on a near host) raises
    ConnectionRefusedError on the connected socket. Silence is taken as sent."""
    s.settimeout(wait)
    try:
        s.recv(1)
    except socket.timeout:
        pass


@dataclass
class SyslogChannel:
    name: str
    transport: str = "udp"            # udp | tcp | unix
    host: str = "127.0.0.1"
    port: int = 514
    path: str = "/dev/log"
    facility: int = FACILITIES["local0"]
    lang: str = "zh-CN"
    app_name: str = "isoscan"
    sd_id: str = "isoscan@32473"
    hostname: str = ""
    timeout: float = 10.0
    batch = False                     # one message per alert: the outbox marks each one

    def describe(self) -> str:
        where = self.path if self.transport == "unix" else f"{self.host}:{self.port}"
        return f"syslog {self.transport} {where}"

    def send(self, alerts: list[Alert]) -> None:
        host = self.hostname or socket.gethostname()
        msgs = [format_message(a, facility=self.facility, lang=self.lang, hostname=host,
                               app_name=self.app_name, sd_id=self.sd_id) for a in alerts]
        try:
            if self.transport == "tcp":
                with socket.create_connection((self.host, self.port), timeout=self.timeout) as s:
                    s.sendall(b"".join(frame_octet_counting(m) for m in msgs))
            elif self.transport == "udp":
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                with socket.socket(family, socket.SOCK_DGRAM) as s:
                    s.settimeout(self.timeout)
                    s.connect((self.host, self.port))
                    for m in msgs:
                        s.send(m)
                    _port_unreachable(s)
            else:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                    s.settimeout(self.timeout)
                    s.connect(self.path)
                    for m in msgs:
                        s.send(m)
        except OSError as exc:
            raise ChannelError(f"{self.describe()}: {exc.strerror or exc}") from None
