"""Signing bundles and canary logs, and the chain of one probe's documents.

    signer = Signer(load_private_key("probe.key"), ChainState.for_chain("secret-lan"))
    signed = signer.sign(bundle)          # a new dict with a top-level "signature"
    write_bundle("bundle.json", signed)
    signer.commit()                       # the chain state moves on only once written

The signature block (docs/SPEC.md §8)::

    "signature": {
      "format": "isoscan.signature/1",
      "alg": "ed25519",
      "key_fingerprint": "ed25519:SHA256:…",
      "chain": "secret-lan",          # whose chain: one probe (vantage) or canary
      "sequence": 7,                  # 1, 2, 3 … within the chain
      "previous_sha256": "…" | null,  # digest() of the chain's previous document
      "signed_at": "2026-12-02T02:00:41Z",
      "value": "<base64 of the 64-byte Ed25519 signature>"
    }

What is signed: DOMAIN followed by canonical() of the whole document with the
signature block in it but without its "value". So every byte of content and
every field of the block but the signature itself is covered; the key order and
whitespace of the file are not (a reformatted bundle still verifies).

A document's digest (what the next one's previous_sha256 names) is the sha256
of canonical() of the whole signed document, value included.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import fcntl
import json
import os
import re
from typing import Any, Mapping

from scanner.atomicio import write_text_atomic
from scanner.documents.canonical import canonical, digest
from scanner.evidence.keys import ALG, PrivateKey

FORMAT = "isoscan.signature/1"
DOMAIN = b"isoscan.signature/1\n"
FIELD = "signature"
STATE_SCHEMA = "isoscan.chain-state/1"
DEFAULT_STATE_DIR = "/var/lib/isoscan/chain"
_CHAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


class SignError(ValueError):
    """A document that cannot be signed or a chain state that cannot be used."""


def signed_payload(doc: Mapping[str, Any]) -> bytes:
    """The bytes a signature is over: DOMAIN + canonical(doc, block without value)."""
    body = {k: v for k, v in doc.items() if k != FIELD}
    block = doc.get(FIELD)
    if isinstance(block, Mapping):
        body[FIELD] = {k: v for k, v in block.items() if k != "value"}
    return DOMAIN + canonical(body)


def document_digest(doc: Mapping[str, Any]) -> str:
    return digest(doc)


def unsigned(doc: Mapping[str, Any]) -> dict:
    return {k: v for k, v in doc.items() if k != FIELD}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def chain_name_for(doc: Mapping[str, Any]) -> str:
    """The default chain of a document: its vantage's segment (a bundle), or
    'canary-' + the first interface address (a canary log)."""
    if doc.get("schema") == "isoscan.canary/1":
        addrs = [a for i in doc.get("interfaces") or () if isinstance(i, Mapping)
                 for a in i.get("addresses") or () if isinstance(a, str)]
        base = "canary-" + (addrs[0] if addrs else "local")
    else:
        v = doc.get("vantage") if isinstance(doc.get("vantage"), Mapping) else {}
        base = str(v.get("segment") or "probe")
        if v.get("interface"):
            base += "@" + str(v["interface"])
    name = re.sub(r"[^A-Za-z0-9._@-]", "_", base).lstrip("._@-")[:100]
    return name or "probe"


class ChainState:
    """The small state file of one chain: the sequence and digest of its last
    signed document. Written atomically (scanner.atomicio), locked while a
    signature is made so two scans of one probe never take the same number."""

    def __init__(self, path: str, chain: str | None = None):
        self.path = path
        self.chain = chain
        self._lock_fd: int | None = None

    @classmethod
    def default_path(cls, chain: str) -> str:
        return os.path.join(os.environ.get("ISOSCAN_CHAIN_DIR", DEFAULT_STATE_DIR), chain + ".json")

    def lock(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            fd = os.open(self.path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise SignError(f"{self.path}: the chain state cannot be used "
                            f"({exc.strerror or exc}); give --chain-state PATH") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            self._lock_fd = None

    def read(self) -> dict:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(1 << 16)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SignError(f"{self.path}: the chain state cannot be read "
                            f"({exc.strerror or exc})") from None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise SignError(f"{self.path}: the chain state is not JSON; it is never "
                            "guessed: move it away to start a new chain (verify will "
                            "show the break)") from None
        ok = (isinstance(data, dict) and data.get("schema") == STATE_SCHEMA
              and isinstance(data.get("sequence"), int) and data["sequence"] >= 0
              and isinstance(data.get("last_sha256"), (str, type(None))))
        if not ok:
            raise SignError(f"{self.path}: not an isoscan chain state ({STATE_SCHEMA})")
        return data

    def write(self, data: dict) -> None:
        text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        try:
            write_text_atomic(self.path, text, mode=0o600, prefix=".isoscan-chain-")
        except OSError as exc:
            raise SignError(f"{self.path}: the chain state cannot be written "
                            f"({exc.strerror or exc})") from None


class Signer:
    """Signs documents with one key, linking each to the previous of its chain."""

    def __init__(self, key: PrivateKey, state: ChainState | None = None,
                 state_path: str | None = None):
        self.key = key
        self.state = state
        self.state_path = state_path           # None: the default for the chain
        self._pending: dict | None = None

    def sign(self, doc: Mapping[str, Any], chain: str | None = None) -> dict:
        if not isinstance(doc, Mapping):
            raise SignError("only a JSON object can be signed")
        chain = chain or (self.state.chain if self.state and self.state.chain else None) \
            or chain_name_for(doc)
        if not _CHAIN_NAME.fullmatch(chain):
            raise SignError(f"chain name {chain!r}: letters, digits and . _ @ - only")
        if self.state is None:
            self.state = ChainState(self.state_path or ChainState.default_path(chain), chain)
        self.state.lock()
        try:
            prev = self.state.read()
            if prev and prev.get("chain") not in (None, chain):
                raise SignError(f"{self.state.path}: holds the chain {prev.get('chain')!r}, "
                                f"not {chain!r}; give each probe its own --chain-state")
            seq = int(prev.get("sequence") or 0) + 1
            block = {"format": FORMAT, "alg": getattr(self.key, "alg", ALG),
                     "key_fingerprint": self.key.fingerprint,
                     "chain": chain, "sequence": seq,
                     "previous_sha256": prev.get("last_sha256"), "signed_at": _now()}
            out = unsigned(doc)
            out[FIELD] = block
            value = self.key.sign(signed_payload(out))
            out[FIELD] = {**block, "value": base64.b64encode(value).decode("ascii")}
            self._pending = {"schema": STATE_SCHEMA, "chain": chain, "sequence": seq,
                             "last_sha256": document_digest(out),
                             "key_fingerprint": self.key.fingerprint,
                             "last_id": doc.get("scan_id") or doc.get("started_at"),
                             "updated_at": block["signed_at"]}
        except BaseException:
            self.state.unlock()
            raise
        return out

    def commit(self) -> None:
        """The signed document was written: the chain moves on."""
        if self.state is None or self._pending is None:
            return
        try:
            self.state.write(self._pending)
        finally:
            self._pending = None
            self.state.unlock()

    def abandon(self) -> None:
        """The signed document was not written: the chain stays where it was."""
        self._pending = None
        if self.state is not None:
            self.state.unlock()


def sign_once(doc: Mapping[str, Any], key: PrivateKey, state_path: str,
              chain: str | None = None) -> dict:
    """Sign and advance the chain at once (tests, and tools that write right after)."""
    s = Signer(key, ChainState(state_path, chain))
    out = s.sign(doc, chain)
    s.commit()
    return out
