"""The console's configuration file (console.yaml, SPEC §10.4).

    expected_interval_hours: 26      # a vantage silent longer is flagged
    vantage_intervals: {secret-lan: 170}   # per segment, hours
    trust: /etc/isoscan/trust        # probes' public keys (file or folder)
    require_signed: false            # refuse a bundle that is not validly signed
    max_push_bytes: 67108864         # 64 MiB
    secure_cookies: false            # true behind TLS (nginx)
    proxy_auth: {header: X-Remote-User, trusted: [127.0.0.1]}
                                     # only users the console knows, in their own role;
                                     # create: true also lets in unknown names with
                                     # role_header's role (viewer|inspector|admin)
    spool_poll_seconds: 5
    spool_settle_seconds: 2
    forwarded_from: [127.0.0.1]      # X-Forwarded-For believed only from these (nginx)
    unit_name: 某单位                 # shown on the overview (else the bundles' organization)
    timezone: Asia/Shanghai          # times on the pages (else the host's zone)
    audit_retention_days: 400        # audit rows older than this are deleted (at least 180)
    max_anonymous_push_bytes: 4194304  # a push without a token (signed only): 4 MiB
    header_timeout_seconds: 10       # a request's head must arrive in this long
    body_timeout_seconds: 60         # and its body in this long (else 408)
    max_connections: 64              # more at once are answered 503
    signing_key: /etc/isoscan/console.key   # signs the console's evidence zip
"""
from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_INTERVAL_H = 26.0


class ConfigError(ValueError):
    """The console config is refused (one line)."""


@dataclass
class ProxyAuth:
    header: str
    role_header: str | None
    trusted: tuple[str, ...]
    create: bool = False        # unknown names let in with role_header's role
    secret: str | None = None   # the identity header counts only beside X-Isoscan-Proxy-Secret: this


@dataclass
class Config:
    expected_interval_hours: float = DEFAULT_INTERVAL_H
    vantage_intervals: dict = field(default_factory=dict)
    trust: tuple[str, ...] = ()
    require_signed: bool = False
    max_push_bytes: int = 64 << 20
    secure_cookies: bool = False
    proxy_auth: ProxyAuth | None = None
    spool_poll_seconds: float = 5.0
    spool_settle_seconds: float = 2.0
    forwarded_from: tuple[str, ...] = ()
    unit_name: str | None = None
    timezone: str | None = None
    audit_retention_days: float = 400.0
    max_anonymous_push_bytes: int = 4 << 20
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    max_connections: int = 64
    signing_key: str | None = None

    def interval_for(self, segment: str | None) -> float:
        v = self.vantage_intervals.get(segment or "")
        return float(v) if v is not None else self.expected_interval_hours


_KEYS = {"expected_interval_hours", "vantage_intervals", "trust", "require_signed",
         "max_push_bytes", "secure_cookies", "proxy_auth",
         "spool_poll_seconds", "spool_settle_seconds", "forwarded_from", "unit_name",
         "timezone", "audit_retention_days", "max_anonymous_push_bytes",
         "header_timeout_seconds", "body_timeout_seconds", "max_connections", "signing_key"}


def _num(d, k, lo, path):
    v = d[k]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo:
        raise ConfigError(f"{path}: {k} must be a number of at least {lo}")
    return v


def load_config(path: str | None) -> Config:
    if not path:
        return Config()
    import yaml
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a mapping of settings expected")
    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    c = Config()
    if "expected_interval_hours" in data:
        c.expected_interval_hours = float(_num(data, "expected_interval_hours", 0.1, path))
    if "vantage_intervals" in data:
        vi = data["vantage_intervals"]
        if not isinstance(vi, dict):
            raise ConfigError(f"{path}: vantage_intervals must map segments to hours")
        for k in vi:
            _num(vi, k, 0.1, path)
        c.vantage_intervals = {str(k): float(v) for k, v in vi.items()}
    if "trust" in data:
        t = data["trust"]
        t = [t] if isinstance(t, str) else t
        if not isinstance(t, list) or not all(isinstance(x, str) for x in t):
            raise ConfigError(f"{path}: trust must be a path or a list of paths")
        c.trust = tuple(t)
    for k in ("require_signed", "secure_cookies"):
        if k in data:
            if not isinstance(data[k], bool):
                raise ConfigError(f"{path}: {k} must be true or false")
            setattr(c, k, data[k])
    if "max_push_bytes" in data:
        c.max_push_bytes = int(_num(data, "max_push_bytes", 1024, path))
    for k in ("spool_poll_seconds", "spool_settle_seconds"):
        if k in data:
            setattr(c, k, float(_num(data, k, 0, path)))
    if "forwarded_from" in data:
        f = data["forwarded_from"]
        if not isinstance(f, list) or not all(isinstance(x, str) for x in f):
            raise ConfigError(f"{path}: forwarded_from must be a list of addresses")
        c.forwarded_from = tuple(f)
    if "proxy_auth" in data:
        p = data["proxy_auth"]
        if not isinstance(p, dict) or not isinstance(p.get("header"), str) \
                or not isinstance(p.get("trusted"), list) or not p["trusted"]:
            raise ConfigError(f"{path}: proxy_auth needs header: NAME and trusted: [addresses]")
        if not isinstance(p.get("create", False), bool):
            raise ConfigError(f"{path}: proxy_auth.create must be true or false")
        if p.get("create") and not p.get("role_header"):
            raise ConfigError(f"{path}: proxy_auth.create needs role_header: NAME")
        if p.get("secret") is not None and (not isinstance(p["secret"], str)
                                            or len(p["secret"]) < 16):
            raise ConfigError(f"{path}: proxy_auth.secret must be a string of at least 16 "
                              "characters (nginx sends it as X-Isoscan-Proxy-Secret)")
        c.proxy_auth = ProxyAuth(p["header"], p.get("role_header"),
                                 tuple(str(x) for x in p["trusted"]), bool(p.get("create")),
                                 p.get("secret"))
    for k in ("unit_name", "timezone", "signing_key"):
        if k in data:
            if not isinstance(data[k], str) or not data[k].strip():
                raise ConfigError(f"{path}: {k} must be a text")
            setattr(c, k, data[k].strip())
    if c.timezone:
        from scanner.localtime import known_zone
        if not known_zone(c.timezone):
            raise ConfigError(f"{path}: timezone {c.timezone!r} is not an IANA zone this host knows")
    if "audit_retention_days" in data:
        c.audit_retention_days = float(_num(data, "audit_retention_days", 180, path))
    if "max_anonymous_push_bytes" in data:
        c.max_anonymous_push_bytes = int(_num(data, "max_anonymous_push_bytes", 1024, path))
    for k in ("header_timeout_seconds", "body_timeout_seconds"):
        if k in data:
            setattr(c, k, float(_num(data, k, 1, path)))
    if "max_connections" in data:
        c.max_connections = int(_num(data, "max_connections", 4, path))
    if c.require_signed and not c.trust:
        raise ConfigError(f"{path}: require_signed needs trust: (the probes' public keys)")
    return c
