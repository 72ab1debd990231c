"""Which database a `--db URL` / ISOSCAN_DB names (no SQLAlchemy import here).

    resolve(None)                      -> "sqlite:////var/lib/isoscan/isoscan.db"
    resolve("/srv/isoscan.db")         -> "sqlite:////srv/isoscan.db"
    resolve("postgresql://u@h/db")     -> "postgresql+psycopg://u@h/db"
"""
from __future__ import annotations

import os
import re

DEFAULT_PATH = "/var/lib/isoscan/isoscan.db"
ENV = "ISOSCAN_DB"


class StoreURLError(ValueError):
    """A --db value that names no database isoscan can open (one line)."""


def resolve(url: str | None) -> str:
    """The SQLAlchemy URL of `url`, else ISOSCAN_DB, else the default SQLite file."""
    url = url or os.environ.get(ENV) or DEFAULT_PATH
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg://"):
        return url
    if url.startswith("postgresql+"):
        raise StoreURLError(f"{redact(url)}: only the psycopg driver is supported "
                            "(postgresql:// or postgresql+psycopg://)")
    if url.startswith("sqlite://"):
        return url
    if "://" in url:
        raise StoreURLError(f"{redact(url)}: not a store URL (a SQLite file path, sqlite:///PATH "
                            "or postgresql://...)")
    return "sqlite:///" + os.path.abspath(url)


def sqlite_path(url: str) -> str | None:
    """The file of a sqlite:/// URL (None for another database or :memory:)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return None if path in ("", ":memory:") else path


_QUERY_SECRET = re.compile(r"([?&](?:ssl)?pass(?:word|wd)=)[^&#]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL without its password (user:password@, or ?password= as libpq
    takes it too), for messages."""
    url = _QUERY_SECRET.sub(r"\1***", url)
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    cred, host = rest.rsplit("@", 1)
    user = cred.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in cred else url
