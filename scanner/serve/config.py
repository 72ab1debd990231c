"""The console's configuration file (console.yaml, SPEC §10.4).

    expected_interval_hours: 26      # a vantage silent longer is flagged
    vantage_intervals: {secret-lan: 170}   # per segment, hours
    trust: /etc/isoscan/trust        # probes' public keys (file or folder)
    require_signed: false            # refuse a bundle that is not validly signed
    max_push_bytes: 67108864         # 64 MiB
    secure_cookies: false            # true behind TLS (nginx)
    proxy_auth: {header: X-Remote-User, role_header: X-Remote-Role, trusted: [127.0.0.1]}
    spool_poll_seconds: 5
    spool_settle_seconds: 2
    forwarded_from: [127.0.0.1]      # X-Forwarded-For believed only from these (nginx)
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

    def interval_for(self, segment: str | None) -> float:
        v = self.vantage_intervals.get(segment or "")
        return float(v) if v is not None else self.expected_interval_hours


_KEYS = {"expected_interval_hours", "vantage_intervals", "trust", "require_signed",
         "max_push_bytes", "secure_cookies", "proxy_auth",
         "spool_poll_seconds", "spool_settle_seconds", "forwarded_from"}


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
        c.proxy_auth = ProxyAuth(p["header"], p.get("role_header"),
                                 tuple(str(x) for x in p["trusted"]))
    if c.require_signed and not c.trust:
        raise ConfigError(f"{path}: require_signed needs trust: (the probes' public keys)")
    return c
