"""The one reader of the documents isoscan takes in: result bundles (SPEC §5)
and canary logs (isoscan.canary/1), from a path or from bytes already in hand
(a push to the console), with the size cap and one parse.

    doc = read_document("bundle.json")              # InputProblem (one line) otherwise
    doc = parse_document(raw, "push:probe-secret", strict=True)
    doc.kind, doc.data, doc.raw_sha256, doc.sha256  # sha256: of the canonical JSON

`report`, `ingest`, `history`, `alert`, the store and the console all read
through here, so a file one refuses the others refuse with the same message.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from scanner.documents.bundle import ReportInputError, check_bundle, validate
from scanner.documents.canonical import DuplicateKey, _no_duplicates, canonical

CANARY_SCHEMA = "isoscan.canary/1"


class InputProblem(Exception):
    """One line: which file, what is wrong."""


def max_input_bytes() -> int:
    """The size cap of one input file: 1 GiB, or ISOSCAN_MAX_BUNDLE_BYTES (a
    scan of 100,000 devices writes a bundle of some tens of MB)."""
    try:
        return max(1, int(os.environ.get("ISOSCAN_MAX_BUNDLE_BYTES", "")))
    except ValueError:
        return 1 << 30


@dataclass
class Document:
    name: str
    kind: str                       # bundle | canary
    data: dict
    raw_sha256: str | None = None   # of the bytes as read (None: built in memory)

    @cached_property
    def sha256(self) -> str:
        """sha256 of the canonical JSON (keys sorted, no spaces): the same
        document re-indented is the same document (how the store knows it)."""
        return hashlib.sha256(canonical(self.data)).hexdigest()

    @property
    def scan_id(self) -> str:
        """The bundle's scan_id (without one: sha256:HASH). A merged bundle's id is
        derived from its sources' ids, and two reports of the same bundles differ
        (when, how they were judged): it is stored as ID+HASH16, each a scan of its own."""
        sid = self.data.get("scan_id")
        if not (isinstance(sid, str) and sid):
            return "sha256:" + self.sha256
        if isinstance(self.data.get("sources"), list):
            return f"{sid}+{self.sha256[:16]}"
        return sid


class _NotJson(ValueError):
    pass


def _not_json(name: str):
    raise _NotJson(name)


def read_raw(path: str, cap: int | None = None) -> bytes:
    """The file's bytes, refused (InputProblem) beyond the cap without reading it all."""
    cap = max_input_bytes() if cap is None else cap
    try:
        with open(path, "rb") as fh:
            # a (sparse) 2 GB file is refused unread; a pipe or /dev/zero stops at the cap
            big = os.fstat(fh.fileno()).st_size > cap
            raw = b"" if big else fh.read(cap + 1)
    except OSError as exc:
        raise InputProblem(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if big or len(raw) > cap:
        raise InputProblem(f"{path}: larger than {cap:,} bytes (ISOSCAN_MAX_BUNDLE_BYTES), "
                           "so not a bundle or canary log isoscan wrote")
    return raw


def read_document(path: str, strict: bool = False) -> Document:
    return parse_document(read_raw(path), path, strict=strict)


def parse_document(raw: bytes, name: str, strict: bool = False) -> Document:
    """A bundle or canary log out of its bytes. `strict` (report --trust, a
    console with trusted keys): a key twice in one object is refused, as
    `isoscan verify` refuses it (SPEC §8.2): the signature covers the value
    Python keeps, another reader may keep the other."""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        # NaN and Infinity are not JSON and have no canonical form: refused, so the
        # store's sha256 (canonical JSON) exists for every document read here
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_not_json,
                          object_pairs_hook=_no_duplicates if strict else None)
    except _NotJson as exc:
        raise InputProblem(f"{name}: not JSON ({exc} is not JSON)") from None
    except UnicodeDecodeError:
        raise InputProblem(f"{name}: not UTF-8 text, so not a bundle") from None
    except json.JSONDecodeError as exc:
        raise InputProblem(f"{name}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise InputProblem(f"{name}: JSON nested too deeply") from None
    except DuplicateKey as exc:
        raise InputProblem(f"{name}: {exc} (two readers could read two documents)") from None
    if isinstance(data, dict) and data.get("schema") == CANARY_SCHEMA:
        if not isinstance(data.get("arrivals"), list):
            raise InputProblem(f"{name}: canary log without an 'arrivals' list")
        return Document(name, "canary", data, digest)
    try:
        check_bundle(data, name)
    except ReportInputError as exc:
        raise InputProblem(str(exc)) from None
    problem = validate(data)                 # the full SPEC §5 validation
    if problem is not None:
        raise InputProblem(f"{name}: {problem}")
    return Document(name, "bundle", data, digest)


def read_input(path: str, strict: bool = False) -> tuple[str, Any, str]:
    """("bundle" | "canary", data, sha256 of the file's bytes)."""
    doc = read_document(path, strict=strict)
    return doc.kind, doc.data, doc.raw_sha256
