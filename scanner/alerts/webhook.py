"""Webhook channel: the alerts of a run as one signed JSON POST.

Timeout per attempt (`timeout`, default 10 s); `retries` more attempts
(default 3) after a connection failure, a timeout, HTTP 429 or 5xx, waiting
`backoff` × 2^n seconds (default 1, 2, 4); any other status outside 2xx fails
at once (a 401 is a wrong secret, not a busy server). Redirects are not
followed and no proxy is used: the body goes to the configured URL or nowhere.
"""
from __future__ import annotations

import datetime as _dt
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from scanner.alerts import payload
from scanner.alerts.rules import Alert
from scanner.alerts.errors import ChannelError


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass
class WebhookChannel:
    name: str
    url: str
    secret: bytes = field(repr=False, default=b"")
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0
    max_batch: int = 500             # alerts per POST / per message
    batch = True

    def describe(self) -> str:
        """The URL's scheme and host only: user info, query and path may hold the
        token (Feishu, Slack and Discord put it in the path)."""
        u = urllib.parse.urlsplit(self.url)
        host = u.netloc.rpartition("@")[2]
        return f"webhook {u.scheme}://{host}" + ("/…" if u.path not in ("", "/") else "/")

    def send(self, alerts: list[Alert], sleep=time.sleep) -> None:
        data = payload.body(alerts, _dt.datetime.now(_dt.timezone.utc))
        req = urllib.request.Request(self.url, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "isoscan-alert",
            payload.SIGNATURE_HEADER: payload.signature(self.secret, data)})
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with _opener().open(req, timeout=self.timeout) as resp:
                    resp.read(65536)
                    if 200 <= resp.status < 300:
                        return
                    last = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if not (exc.code == 429 or exc.code >= 500):
                    break
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = str(getattr(reason, "strerror", None) or reason)
            except ValueError:              # http.client.InvalidURL: its text holds the URL
                last = "not a usable URL"
                break
        raise ChannelError(f"{self.describe()}: {last} (after {attempt + 1} attempt"
                           f"{'s' if attempt else ''})")
