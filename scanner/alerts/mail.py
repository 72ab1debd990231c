"""E-mail channel: the alerts of a run as one message over SMTP.

STARTTLS is required (the server's certificate verified against the system's
or `cafile`'s authorities) before any login or message: a server that does not
offer it fails the delivery. `starttls: false` sends in clear and is meant
only for a relay on loopback (the tests' aiosmtpd); say so in the config.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from scanner.alerts.rules import SEVERITY_RANK, SEVERITY_ZH, Alert
from scanner.alerts.errors import ChannelError


def message(alerts: list[Alert], sender: str, to: list[str], lang: str,
            zone=None) -> EmailMessage:
    """One message; its times in `zone` (the unit's; None: the host's) with their offset."""
    from scanner.localtime import local_iso
    worst = min(alerts, key=lambda a: SEVERITY_RANK.get(a.severity, 0))
    zh = lang == "zh-CN"
    subject = (f"[isoscan] {len(alerts)} 条告警：{worst.title.get('zh-CN', '')}" if zh
               else f"[isoscan] {len(alerts)} alert{'s' if len(alerts) > 1 else ''}: "
                    f"{worst.title.get('en', '')}")
    lines = []
    for a in sorted(alerts, key=lambda a: (SEVERITY_RANK.get(a.severity, 0), a.key)):
        sev = SEVERITY_ZH.get(a.severity, a.severity) if zh else a.severity
        lines.append(f"[{sev}] {a.title.get(lang) or a.title.get('en', '')}")
        lines.append(f"    {a.text.get(lang) or a.text.get('en', '')}")
        lines.append(f"    {'时间' if zh else 'time'}: {local_iso(a.time, zone)}  "
                     f"{'告警编号' if zh else 'key'}: {a.key}")
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=socket.gethostname() or "isoscan")
    msg["X-Isoscan-Alerts"] = str(len(alerts))
    msg.set_content("\n".join(lines) + "\n")
    return msg


@dataclass
class MailChannel:
    name: str
    host: str
    port: int = 587
    sender: str = ""
    to: list[str] = field(default_factory=list)
    starttls: bool = True
    cafile: str | None = None
    username: str | None = None
    password: str | None = field(repr=False, default=None)
    timeout: float = 30.0
    lang: str = "zh-CN"
    max_batch: int = 500             # alerts per POST / per message
    zone: object = None              # the unit's time zone (tzinfo); None: the host's
    batch = True

    def describe(self) -> str:
        return f"e-mail {self.host}:{self.port}"

    def send(self, alerts: list[Alert]) -> None:
        msg = message(alerts, self.sender, self.to, self.lang, self.zone)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    ctx = ssl.create_default_context(cafile=self.cafile)
                    smtp.starttls(context=ctx)       # SMTPNotSupportedError if not offered
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(msg)
            if refused:
                raise ChannelError(f"{self.describe()}: refused recipients "
                                   f"{', '.join(sorted(refused))}")
        except smtplib.SMTPNotSupportedError:
            raise ChannelError(f"{self.describe()}: the server offers no STARTTLS "
                               "(required; `starttls: false` only for a loopback relay)") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise ChannelError(f"{self.describe()}: {type(exc).__name__}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
