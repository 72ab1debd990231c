"""Opening the store: the engine, SQLite's pragmas, the migrations.

    store = open_store(url)            # --db URL / ISOSCAN_DB / the default file
    with store.write() as conn: ...    # one transaction, the writer's lock held
    with store.read() as conn: ...

SQLite runs in WAL mode (readers never wait for the writer) with a busy
timeout; every write transaction is BEGIN IMMEDIATE, so concurrent writers
(several probes' timers firing at once) queue for the lock instead of failing
on a lock upgrade. PostgreSQL serialises what must be serial with
transaction-scoped advisory locks. Opening runs Alembic's `upgrade head`
under that lock, so a store made by an older isoscan is upgraded in place and
two processes opening a new store at once do not both create it.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from importlib import resources

from scanner.store.url import StoreURLError, redact, resolve, sqlite_path

BUSY_TIMEOUT_MS = 60_000
# the newest migration (migrations/versions/): a store at this revision is opened
# without importing Alembic (tests/store/test_ingest.py checks it is Alembic's head)
HEAD = "0003"
_MIGRATE_LOCK = 0x15_05_CA_14      # pg_advisory_xact_lock key of the migrations


class StoreError(RuntimeError):
    """The store cannot be opened or used (one line)."""


def store_problem(exc: BaseException) -> str:
    """One line of a database error (its driver's message, without SQL)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}"


class Store:
    def __init__(self, engine, url: str):
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name        # sqlite | postgresql

    @contextmanager
    def write(self):
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self):
        with self.engine.connect() as conn:
            yield conn

    def lock(self, conn, key: int) -> None:
        """A transaction-scoped lock on `key` (PostgreSQL; SQLite's writer lock is whole)."""
        if self.dialect == "postgresql":
            from sqlalchemy import text
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: str):
    from sqlalchemy import create_engine, event
    path = sqlite_path(url)
    if path:
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open the store {path}: cannot make its folder "
                             f"({exc.strerror or exc})") from None
        _private_file(path)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None        # we say BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if path:
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _private_file(path: str) -> None:
    """A new store file is made 0600 before SQLite opens it (its bundles hold
    the canary-token key; SQLite gives its -wal and -shm files the same mode).
    An existing one of ours that group or others may read (made by an older
    isoscan) is made 0600 too, with its -wal and -shm."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        for p in (path, path + "-wal", path + "-shm"):
            try:
                st = os.stat(p, follow_symlinks=False)
                if st.st_uid == os.geteuid() and st.st_mode & 0o077 and not os.path.islink(p):
                    os.chmod(p, 0o600)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot open the store {path}: {p}: "
                                 f"{exc.strerror or exc}") from None
        return
    except OSError as exc:
        raise StoreError(f"cannot open the store {path}: {exc.strerror or exc}") from None
    os.close(fd)


def _engine(url: str):
    try:
        from sqlalchemy import create_engine
    except ImportError:
        raise StoreError("the store needs SQLAlchemy and Alembic: pip install 'isoscan[store]'"
                         ) from None
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StoreError("a PostgreSQL store needs psycopg 3: pip install 'isoscan[postgresql]'"
                         ) from None
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(conn):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location",
                        str(resources.files("scanner.store") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory
    cfg = _alembic_config(None)
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(conn) -> str | None:
    """The store's revision (alembic_version), None for a new store."""
    from sqlalchemy import inspect, text
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(store: Store) -> None:
    """`alembic upgrade head`, under the store's writer lock (Alembic is
    imported only when there is something to do)."""
    with store.read() as conn:
        if current_revision(conn) == HEAD:
            return
    with store.write() as conn:
        store.lock(conn, _MIGRATE_LOCK)
        if current_revision(conn) == HEAD:   # another process did it meanwhile
            return
        from alembic import command
        command.upgrade(_alembic_config(conn), "head")


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """The store `url` names (else ISOSCAN_DB, else the default SQLite file)."""
    try:
        full = resolve(url)
    except StoreURLError as exc:
        raise StoreError(str(exc)) from None
    try:
        engine = _engine(full)
    except StoreError:
        raise
    except Exception as exc:      # an unparsable URL (a port that is no number): one line
        raise StoreError(f"cannot open the store {redact(full)}: {type(exc).__name__}: "
                         f"{redact(_first_line(exc))}") from None
    store = Store(engine, full)
    if upgrade:
        try:
            migrate(store)
        except StoreError:
            raise
        except Exception as exc:
            store.close()
            raise StoreError(f"cannot open the store {redact(full)}: "
                             f"{type(exc).__name__}: {_first_line(exc)}") from None
    return store


def _first_line(exc: BaseException) -> str:
    s = str(getattr(exc, "orig", None) or exc).strip()
    return s.splitlines()[0] if s else type(exc).__name__
