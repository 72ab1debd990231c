"""8 processes ingest the same 200 bundles at once, each in its own order and
one transaction a bundle: every scan is stored once, no process fails, no
row is lost (SQLite in WAL mode; PostgreSQL with advisory locks)."""
from __future__ import annotations

import subprocess
import sys

from storelib import REPO, finding, synthetic_bundle, write

WORKER = r"""
import random, sys
from scanner.store.db import open_store
from scanner.store.ingest import ingest, read_document
url, seed, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
random.Random(seed).shuffle(files)
store = open_store(url)
new = 0
for i in range(0, len(files), 5):
    new += sum(s.new for s in ingest(store, [read_document(p) for p in files[i:i + 5]]))
store.close()
print(new)
"""


def test_eight_writers_two_hundred_bundles(db_url, tmp_path):
    files = []
    for i in range(200):
        seg = f"seg{i % 10}"
        b = synthetic_bundle(seg, f"2026-11-{1 + i // 10:02d}T02:00:00Z",
                             [finding("DEV-UNREGISTERED", seg, "fail", mac=f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"),
                              finding("NET-DHCP", seg, "pass")],
                             [(f"10.0.{i % 10}.{i % 200 + 2}", f"02:00:00:00:{i // 256:02x}:{i % 256:02x}")])
        files.append(write(tmp_path / f"b{i:03d}.json", b))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, db_url, str(seed), *files],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in range(8)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    assert sum(int(out) for out, _ in outs) == 200          # each stored by exactly one writer
    from sqlalchemy import func, select
    from scanner.store import tables as T
    from scanner.store.db import open_store
    store = open_store(db_url)
    try:
        with store.read() as c:
            assert c.execute(select(func.count()).select_from(T.scans)).scalar() == 200
            assert c.execute(select(func.count(func.distinct(T.scans.c.scan_id)))).scalar() == 200
            assert c.execute(select(func.count()).select_from(T.findings)).scalar() == 400
            assert c.execute(select(func.count()).select_from(T.sightings)).scalar() == 200
            assert c.execute(select(func.count()).select_from(T.documents)).scalar() == 200
    finally:
        store.close()
