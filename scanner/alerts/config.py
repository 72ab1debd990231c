"""alerts.yaml: which channels, which vantages to expect, where the outbox is
(docs/SPEC.md §6). Every error is `file:line:column: message` (exit 2).

Secrets (`secret`, `password`) may be written inline or, better, read from a
file (`secret_file`, `password_file`: its content, a trailing newline
stripped). They are never printed: not in errors, not in the channels' repr.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from scanner import yamlconfig as yc
from scanner.alerts.mail import MailChannel
from scanner.alerts.rules import SEVERITIES
from scanner.alerts.syslog import FACILITIES, SyslogChannel
from scanner.alerts.webhook import WebhookChannel
from scanner.model import LANGS

ConfigError = yc.ConfigError
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")


@dataclass
class ExpectedVantage:
    segment: str
    ip: str | None
    every_s: int

    @property
    def name(self) -> str:
        return f"{self.segment} {self.ip}" if self.ip else self.segment


@dataclass
class Config:
    path: str
    channels: list = field(default_factory=list)
    vantages: list[ExpectedVantage] = field(default_factory=list)
    outbox: str | None = None
    lang: str = "zh-CN"
    min_severity: str = "low"
    keep_days: int = 90
    timezone: str | None = None       # IANA name; None: the inventory's, else the host's


def _secret(doc, path: tuple, obj: dict, key: str, *, required: bool) -> str | None:
    inline, file_key = obj.get(key), key + "_file"
    if inline is not None and obj.get(file_key) is not None:
        raise doc.problem(path + (file_key, yc.ys.KEY), f"give {key} or {file_key}, not both")
    if obj.get(file_key) is not None:
        fpath = yc.string(doc, path + (file_key,), obj[file_key])
        fpath = os.path.join(os.path.dirname(os.path.abspath(doc.path)), fpath)
        try:
            with open(fpath, "rb") as fh:
                raw = fh.read(65537)
        except OSError as exc:
            raise doc.problem(path + (file_key,),
                              f"cannot read {file_key} {fpath}: {exc.strerror or exc}") from None
        if len(raw) > 65536:
            raise doc.problem(path + (file_key,), f"{file_key} {fpath} is larger than 64 KiB")
        try:
            value = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise doc.problem(path + (file_key,), f"{file_key} {fpath} is not UTF-8") from None
        if not value:
            raise doc.problem(path + (file_key,), f"{file_key} {fpath} is empty")
        return value
    if inline is not None:
        if not isinstance(inline, str) or not inline:
            raise doc.problem(path + (key,), "must be a non-empty string")   # never echo it
        return inline
    if required:
        raise doc.problem(path, f"missing {key} or {file_key}")
    return None


_COMMON = {"name", "type"}
_SYSLOG = _COMMON | {"transport", "host", "port", "path", "facility", "lang", "app_name",
                     "sd_id", "hostname", "timeout"}
_WEBHOOK = _COMMON | {"url", "secret", "secret_file", "timeout", "retries", "backoff", "max_batch"}
_EMAIL = _COMMON | {"host", "port", "from", "to", "starttls", "cafile", "username",
                    "password", "password_file", "timeout", "lang", "max_batch"}


def _channel(doc, path: tuple, obj, lang: str):
    if not isinstance(obj, dict):
        raise doc.problem(path, "a channel must be a mapping (name, type, ...)")
    kind = obj.get("type")
    allowed = {"syslog": _SYSLOG, "webhook": _WEBHOOK, "email": _EMAIL}.get(kind)
    if allowed is None:
        raise doc.problem(path + ("type",) if "type" in obj else path,
                          "type must be one of syslog, webhook, email")
    yc.keys(doc, path, obj, allowed, {"name", "type"})
    name = yc.string(doc, path + ("name",), obj["name"])
    if not _NAME.match(name):
        raise doc.problem(path + ("name",), "name must match [a-z0-9][a-z0-9_-]*")
    timeout = yc.number(doc, path + ("timeout",), obj.get("timeout", 10), 0.1, 600)
    ch_lang = obj.get("lang", lang)
    if ch_lang not in LANGS:
        raise doc.problem(path + ("lang",), f"lang must be one of {', '.join(LANGS)}")
    if kind == "syslog":
        transport = obj.get("transport", "udp")
        if transport not in ("udp", "tcp", "unix"):
            raise doc.problem(path + ("transport",), "transport must be udp, tcp or unix")
        fac = obj.get("facility", "local0")
        if fac not in FACILITIES:
            raise doc.problem(path + ("facility",), "facility must be a syslog facility name "
                                                    "(daemon, local0 ... local7, ...)")
        return SyslogChannel(
            name=name, transport=transport,
            host=yc.string(doc, path + ("host",), obj.get("host", "127.0.0.1")),
            port=yc.integer(doc, path + ("port",), obj.get("port", 514), 1, 65535),
            path=yc.string(doc, path + ("path",), obj.get("path", "/dev/log")),
            facility=FACILITIES[fac], lang=ch_lang,
            app_name=yc.string(doc, path + ("app_name",), obj.get("app_name", "isoscan")),
            sd_id=yc.string(doc, path + ("sd_id",), obj.get("sd_id", "isoscan@32473")),
            hostname=yc.string(doc, path + ("hostname",), obj["hostname"]) if "hostname" in obj else "",
            timeout=timeout)
    if kind == "webhook":
        if "url" not in obj:
            raise doc.problem(path, "missing required key 'url'")
        url = yc.string(doc, path + ("url",), obj["url"])
        if not re.match(r"https?://[^/\s]+", url):
            raise doc.problem(path + ("url",), "url must be http:// or https://")
        if "@" in url.split("/")[2]:
            raise doc.problem(path + ("url",), "url must not carry user:password@ "
                                               "(the HMAC secret authenticates the sender)")
        secret = _secret(doc, path, obj, "secret", required=True)
        return WebhookChannel(
            name=name, url=url, secret=secret.encode("utf-8"), timeout=timeout,
            retries=yc.integer(doc, path + ("retries",), obj.get("retries", 3), 0, 10),
            backoff=yc.number(doc, path + ("backoff",), obj.get("backoff", 1), 0, 300),
            max_batch=yc.integer(doc, path + ("max_batch",), obj.get("max_batch", 500), 1, 100_000))
    for k in ("host", "from", "to"):
        if k not in obj:
            raise doc.problem(path, f"missing required key {k!r}")
    to = obj["to"] if isinstance(obj["to"], list) else [obj["to"]]
    if not to:
        raise doc.problem(path + ("to",), "must name at least one recipient")
    rcpts = [yc.string(doc, path + ("to", i) if isinstance(obj["to"], list) else path + ("to",), t)
             for i, t in enumerate(to)]
    host = yc.string(doc, path + ("host",), obj["host"])
    starttls = yc.boolean(doc, path + ("starttls",), obj.get("starttls", True))
    if not starttls and not _loopback(host):
        raise doc.problem(path + ("starttls",), f"starttls: false is for a relay on loopback "
                                                f"only, not {host}: the login and the alerts "
                                                "would cross the network in clear text")
    return MailChannel(
        name=name, host=host,
        port=yc.integer(doc, path + ("port",), obj.get("port", 587), 1, 65535),
        sender=yc.string(doc, path + ("from",), obj["from"]), to=rcpts,
        starttls=starttls,
        cafile=yc.string(doc, path + ("cafile",), obj["cafile"]) if "cafile" in obj else None,
        username=yc.string(doc, path + ("username",), obj["username"]) if "username" in obj else None,
        password=_secret(doc, path, obj, "password", required=False),
        timeout=yc.number(doc, path + ("timeout",), obj.get("timeout", 30), 0.1, 600),
        lang=ch_lang,
        max_batch=yc.integer(doc, path + ("max_batch",), obj.get("max_batch", 500), 1, 100_000))


def _loopback(host: str) -> bool:
    import ipaddress
    if host.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def load_config(path: str) -> Config:
    doc = yc.load(path, "an alerts configuration")
    d = doc.data
    yc.keys(doc, (), d, {"version", "lang", "outbox", "min_severity", "keep_days",
                         "vantages", "channels", "timezone"}, {"version", "channels"})
    if d["version"] != 1:
        raise doc.problem(("version",), "version must be 1")
    lang = d.get("lang", "zh-CN")
    if lang not in LANGS:
        raise doc.problem(("lang",), f"lang must be one of {', '.join(LANGS)}")
    cfg = Config(path=path, lang=lang)
    if "outbox" in d:
        cfg.outbox = os.path.join(os.path.dirname(os.path.abspath(path)),
                                  yc.string(doc, ("outbox",), d["outbox"]))
    if "min_severity" in d:
        if d["min_severity"] not in SEVERITIES:
            raise doc.problem(("min_severity",), f"must be one of {', '.join(SEVERITIES)}")
        cfg.min_severity = d["min_severity"]
    if "timezone" in d:
        from scanner.localtime import known_zone
        zone = yc.string(doc, ("timezone",), d["timezone"])
        if not known_zone(zone):
            raise doc.problem(("timezone",), "timezone must be an IANA name this system "
                                             "knows (Asia/Shanghai)")
        cfg.timezone = zone
    cfg.keep_days = yc.integer(doc, ("keep_days",), d.get("keep_days", 90), 1, 36500)
    chans = d["channels"]
    if not isinstance(chans, list) or not chans:
        raise doc.problem(("channels",), "must be a list of at least one channel")
    seen: set[str] = set()
    for i, c in enumerate(chans):
        ch = _channel(doc, ("channels", i), c, lang)
        if ch.name in seen:
            raise doc.problem(("channels", i, "name"), f"channel name {ch.name!r} used twice")
        seen.add(ch.name)
        cfg.channels.append(ch)
    vans = d.get("vantages", [])
    if not isinstance(vans, list):
        raise doc.problem(("vantages",), "must be a list")
    for i, v in enumerate(vans):
        p = ("vantages", i)
        yc.keys(doc, p, v, {"segment", "ip", "every"}, {"segment", "every"})
        cfg.vantages.append(ExpectedVantage(
            segment=yc.string(doc, p + ("segment",), v["segment"]),
            ip=yc.string(doc, p + ("ip",), v["ip"]) if "ip" in v else None,
            every_s=yc.duration(doc, p + ("every",), v["every"])))
    return cfg
