"""The console tests: a real server on loopback (servelib.start_console)."""
from __future__ import annotations

import pytest

import servelib  # tests/serve is on sys.path (rootdir-relative, no package)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory, monkeypatch):
    """`isoscan serve` makes its signing key in $ISOSCAN_STATE_DIR: a test's own
    (beside tmp_path, not in it: some tests list tmp_path)."""
    monkeypatch.setenv("ISOSCAN_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def console(tmp_path):
    c = servelib.start_console(tmp_path)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def console_factory(tmp_path):
    made = []

    def make(**kw):
        d = tmp_path / f"c{len(made)}"
        d.mkdir()
        c = servelib.start_console(d, **kw)
        made.append(c)
        return c
    try:
        yield make
    finally:
        for c in made:
            c.stop()


@pytest.fixture(scope="session")
def pg():
    """A throwaway PostgreSQL cluster (tests/store/pgcluster.py); under CI it must run."""
    import os
    import pgcluster
    if not pgcluster.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed: under CI the console's "
                        "PostgreSQL test must run")
        pytest.skip("PostgreSQL is not installed")
    with pgcluster.Cluster() as c:
        yield c
