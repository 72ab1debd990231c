"""A throwaway PostgreSQL cluster for the store tests: initdb in a temporary
folder (as the postgres user when run as root), listening on a unix socket
only (no TCP port, nothing on the network), stopped and removed at the end.

    with Cluster() as pg:
        url = pg.create_database("t1")    # postgresql+psycopg://postgres@/t1?host=...
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def available() -> bool:
    return all(pg_bin(n) for n in ("initdb", "pg_ctl"))


class Cluster:
    def __init__(self):
        self.dir = None
        self.user = None

    def _run(self, argv, **kw):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", self.user, "--", *argv]
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="isoscan-pg-")
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self._run([pg_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                   "-E", "UTF8", "--no-locale"])
        opts = f"-c listen_addresses='' -k {self.sock} -c max_connections=60 -c fsync=off"
        self._run([pg_bin("pg_ctl"), "-D", self.data, "-o", opts, "-l",
                   os.path.join(self.dir, "log"), "-w", "-t", "60", "start"])
        return self

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{db}?host={self.sock}"

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(host=self.sock, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __exit__(self, *exc):
        try:
            self._run([pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
