"""The store: every scan kept, what changed since the last one (issue 14).
May import judge/ (the registry, for fingerprint fields), documents/, model/ and
below; never report/, serve/ or commands/.

Pure parts, usable without a database and without SQLAlchemy:
  fingerprint.py   a finding's stable identity (SPEC §9)
  changes.py       new / resolved / persisting / not assessed between two results
  url.py           which database a --db / ISOSCAN_DB names

The database parts (SQLAlchemy 2 Core, Alembic migrations shipped in
migrations/ and run on open):
  tables.py        the tables
  db.py            open_store(): engine, SQLite pragmas, `upgrade head`
  ingest.py        bundles, merged bundles and canary logs into the store
  history.py       per-fingerprint history, station history, the report's trend
  reader.py        what `report --db` reads, in a child process started first

Importing this package imports nothing of SQLAlchemy: `isoscan scan` without
--db never pays for it.
"""
