"""The store tests run on both back ends: every test taking `db_url` runs on
SQLite (a file in tmp_path) and on PostgreSQL (a throwaway cluster on a unix
socket, started once per session). Under CI (env CI set) the PostgreSQL runs
must not skip; elsewhere they skip only when PostgreSQL is not installed."""
from __future__ import annotations

import itertools
import os

import pytest

import pgcluster  # tests/store is on sys.path (rootdir-relative, no package)

_count = itertools.count()


@pytest.fixture(scope="session")
def pg():
    if not pgcluster.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed: under CI the store's "
                        "PostgreSQL tests must run (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("psycopg 3 is not installed (pip install 'isoscan[test]')")
        pytest.skip("psycopg 3 is not installed")
    with pgcluster.Cluster() as c:
        yield c


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/isoscan.db"
    return request.getfixturevalue("pg").create_database(f"t{os.getpid()}_{next(_count)}")


