"""Verifying signed documents and the chains they form (docs/SPEC.md §8).

    trust = load_trust("trusted/")
    rs = [verify_document(doc, trust, "bundle-1.json") for doc in docs]
    chains = check_chains(rs)

Per document the result is one of:

* valid      signed by a trusted key, the signature checks;
* untrusted  the signature block names a key that is not trusted (whether the
             signature would check is not a question: anyone can sign);
* invalid    the block names a trusted key, but the signature does not check
             (a changed byte anywhere), or the block is malformed;
* unsigned   no signature block.

Per chain (the valid documents that name one chain): whole, or broken, with
each problem named: a gap (sequence numbers missing between two files), a
replay (the same document given twice), a replacement (two documents with one
sequence number, or one whose previous_sha256 is not its predecessor), time
running backwards.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from scanner.documents.canonical import CanonicalError, DuplicateKey, loads_strict
from scanner.documents.read import max_input_bytes  # noqa: F401 (the one cap; evidence.package reads it here)
from scanner.evidence.keys import ALG, ALGS, Trust, short_fingerprint
from scanner.evidence.sign import FIELD, FORMAT, document_digest, signed_payload
from scanner.model import pick, text

VALID, UNTRUSTED, INVALID, UNSIGNED = "valid", "untrusted", "invalid", "unsigned"
STATUSES = (VALID, UNTRUSTED, INVALID, UNSIGNED)
WHOLE, BROKEN = "whole", "broken"


class VerifyInputError(ValueError):
    """A file that cannot be verified at all (unreadable, not JSON): exit 2."""


@dataclass
class Result:
    name: str
    status: str
    detail: Any
    kind: str = "document"
    fingerprint: str | None = None
    key_name: str = ""
    chain: str | None = None
    sequence: int | None = None
    previous: str | None = None
    digest: str | None = None
    signed_at: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == VALID

    @property
    def signer(self) -> str:
        if not self.fingerprint:
            return ""
        return f"{self.key_name} ({self.fingerprint})" if self.key_name else self.fingerprint

    def to_json(self, lang: str = "en") -> dict:
        return {"file": self.name, "kind": self.kind, "status": self.status,
                "detail": pick(self.detail, lang), "key_fingerprint": self.fingerprint,
                "key_short": short_fingerprint(self.fingerprint) if self.fingerprint else None,
                "key_name": self.key_name or None, "chain": self.chain,
                "sequence": self.sequence, "previous_sha256": self.previous,
                "sha256": self.digest, "signed_at": self.signed_at}


@dataclass
class ChainReport:
    chain: str
    status: str
    links: list[tuple[int, str]] = field(default_factory=list)
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_json(self, lang: str = "en") -> dict:
        return {"chain": self.chain, "status": self.status,
                "links": [{"sequence": s, "file": n} for s, n in self.links],
                "problems": [pick(p, lang) for p in self.problems],
                "notes": [pick(n, lang) for n in self.notes]}


def kind_of(doc: Mapping) -> str:
    schema = doc.get("schema")
    if schema == "isoscan.bundle/1":
        return "bundle"
    if schema == "isoscan.canary/1":
        return "canary"
    return "document"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def verify_document(doc: Any, trust: Trust, name: str) -> Result:
    if not isinstance(doc, Mapping):
        return Result(name, INVALID, text("不是 JSON 对象", "not a JSON object"))
    kind = kind_of(doc)
    if FIELD not in doc:
        return Result(name, UNSIGNED, text("没有签名", "no signature block"), kind)
    block = doc[FIELD]
    if not isinstance(block, Mapping):
        return Result(name, INVALID, text("签名块不是对象", "the signature block is not an object"), kind)
    fp = block.get("key_fingerprint")
    fp = fp if isinstance(fp, str) and len(fp) <= 200 else None
    r = Result(name, INVALID, "", kind, fingerprint=fp)
    seq, prev, chain = block.get("sequence"), block.get("previous_sha256"), block.get("chain")
    r.chain = chain if isinstance(chain, str) and chain else None
    r.sequence = seq if _is_int(seq) and seq >= 1 else None
    r.previous = prev if isinstance(prev, str) else None
    r.signed_at = block.get("signed_at") if isinstance(block.get("signed_at"), str) else None
    try:
        r.digest = document_digest(doc)
    except CanonicalError as exc:
        r.detail = text(f"无规范形式：{exc}", str(exc))
        return r
    problems = []
    if block.get("format") != FORMAT:
        problems.append(f"format is not {FORMAT}")
    if block.get("alg") not in ALGS:
        problems.append(f"alg {str(block.get('alg'))[:20]!r} is not one of {', '.join(ALGS)}")
    if fp is None:
        problems.append("no key_fingerprint")
    if r.sequence is None:
        problems.append("sequence is not a number from 1")
    if r.chain is None:
        problems.append("no chain name")
    if prev is not None and not (isinstance(prev, str) and len(prev) == 64
                                 and all(c in "0123456789abcdef" for c in prev)):
        problems.append("previous_sha256 is not a sha256 (64 hex digits) or null")
    value = block.get("value")
    sig = None
    if not isinstance(value, str) or len(value) > 200:
        problems.append("the signature value is not a string")
    else:
        try:
            sig = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problems.append("the signature value is not base64")
        if sig is not None and block.get("alg") == ALG and len(sig) != 64:
            problems.append(f"an Ed25519 signature has 64 bytes, this one {len(sig)}")
    if fp is not None and fp not in trust:
        r.status = UNTRUSTED
        extra = ("; " + "; ".join(problems)) if problems else ""
        r.detail = text(f"签名密钥不受信任：{fp}{extra}",
                        f"signed by a key that is not trusted: {fp}{extra}")
        return r
    if problems:
        r.detail = text("签名块格式错误：" + "; ".join(problems),
                        "malformed signature block: " + "; ".join(problems))
        return r
    key = trust[fp]
    r.key_name = key.name
    if key.alg != block.get("alg"):
        r.detail = text(f"签名算法 {block.get('alg')} 与受信任公钥的算法 {key.alg} 不符",
                        f"the signature says {block.get('alg')}, the trusted key is {key.alg}")
        return r
    try:
        payload = signed_payload(doc)
    except CanonicalError as exc:
        r.detail = text(f"无规范形式：{exc}", str(exc))
        return r
    if key.verify(sig, payload):
        r.status = VALID
        r.detail = text(f"签名者 {trust.describe(fp)}", f"signed by {trust.describe(fp)}")
    else:
        r.detail = text(f"签名与内容不符（{trust.describe(fp)} 签名后文件被改动）",
                        f"the signature does not match the content (the document was changed "
                        f"after {trust.describe(fp)} signed it)")
    return r


def parse_document(raw: bytes, name: str) -> Any:
    """JSON, strictly (no duplicate keys, no NaN); VerifyInputError otherwise."""
    try:
        return loads_strict(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise VerifyInputError(f"{name}: not UTF-8 text, so not a signed document") from None
    except DuplicateKey as exc:
        raise VerifyInputError(f"{name}: {exc} (two readers could read two documents)") from None
    except RecursionError:
        raise VerifyInputError(f"{name}: JSON nested too deeply") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line}, column {exc.colno}: {exc.msg})" if line else f" ({exc})"
        raise VerifyInputError(f"{name}: not JSON{where}") from None


def read_document(path: str) -> Any:
    cap = max_input_bytes()
    try:
        with open(path, "rb") as fh:
            raw = fh.read(cap + 1)
    except OSError as exc:
        raise VerifyInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(raw) > cap:
        raise VerifyInputError(f"{path}: larger than {cap:,} bytes (ISOSCAN_MAX_BUNDLE_BYTES)")
    return parse_document(raw, path)


def check_chains(results: Sequence[Result]) -> list[ChainReport]:
    by_chain: dict[str, list[Result]] = {}
    for r in results:
        if r.ok and r.chain and r.sequence is not None:
            by_chain.setdefault(r.chain, []).append(r)
    return [_one_chain(c, rs) for c, rs in sorted(by_chain.items())]


def _one_chain(chain: str, rs: list[Result]) -> ChainReport:
    rep = ChainReport(chain, WHOLE)
    rs = sorted(rs, key=lambda r: (r.sequence, r.name))
    rep.links = [(r.sequence, r.name) for r in rs]
    uniq: list[Result] = []
    for r in rs:
        if uniq and uniq[-1].sequence == r.sequence:
            first = uniq[-1]
            if first.digest == r.digest:
                rep.problems.append(text(
                    f"重放：{r.name} 与 {first.name} 是同一文件（#{r.sequence}），出现两次",
                    f"replayed: {r.name} is the same document as {first.name} "
                    f"(#{r.sequence}), given twice"))
            else:
                rep.problems.append(text(
                    f"两个不同文件都是 #{r.sequence}：{first.name} 与 {r.name}（一个替换了另一个）",
                    f"two different documents claim #{r.sequence}: "
                    f"{first.name} and {r.name} (one replaces the other)"))
            continue
        uniq.append(r)
    head = uniq[0]
    if head.sequence > 1:
        rep.notes.append(text(
            f"从 #{head.sequence}（{head.name}）开始：#1–#{head.sequence - 1} 不在输入中",
            f"begins at #{head.sequence} ({head.name}): #1-#{head.sequence - 1} "
            "are not among the inputs"))
    elif head.previous is not None:
        rep.problems.append(text(f"{head.name} 是 #1，却指向一个前序文件",
                                 f"{head.name} is #1 but names a previous document"))
    for a, b in zip(uniq, uniq[1:]):
        if b.sequence > a.sequence + 1:
            missing = (f"#{a.sequence + 1}" if b.sequence == a.sequence + 2
                       else f"#{a.sequence + 1}-#{b.sequence - 1}")
            rep.problems.append(text(
                f"断链：{a.name}（#{a.sequence}）与 {b.name}（#{b.sequence}）之间缺少 {missing}",
                f"gap: {missing} missing between {a.name} (#{a.sequence}) "
                f"and {b.name} (#{b.sequence})"))
        elif b.previous != a.digest:
            rep.problems.append(text(
                f"{b.name}（#{b.sequence}）不接续 {a.name}（#{a.sequence}）：其 previous_sha256 "
                "指向另一文件（被替换或重签）",
                f"{b.name} (#{b.sequence}) does not follow {a.name} "
                f"(#{a.sequence}): its previous_sha256 names another document "
                "(replaced or re-signed)"))
        if a.signed_at and b.signed_at and b.signed_at < a.signed_at:
            rep.problems.append(text(
                f"时间倒流：{b.name}（#{b.sequence}）签于 {b.signed_at}，早于 {a.name}"
                f"（#{a.sequence}）的 {a.signed_at}",
                f"time runs backwards: {b.name} (#{b.sequence}) signed at "
                f"{b.signed_at}, before {a.name} (#{a.sequence}) at {a.signed_at}"))
        if a.fingerprint != b.fingerprint:
            rep.notes.append(text(
                f"自 #{b.sequence}（{b.name}）起换用密钥：{a.fingerprint} → {b.fingerprint}",
                f"the key changes at #{b.sequence} ({b.name}): "
                f"{a.fingerprint} -> {b.fingerprint}"))
    if rep.problems:
        rep.status = BROKEN
    return rep


def all_good(results: Sequence[Result], chains: Sequence[ChainReport]) -> bool:
    return bool(results) and all(r.ok for r in results) and all(c.status == WHOLE for c in chains)


def check_against_state(chains: list[ChainReport], results: Sequence[Result],
                        state: Mapping[str, Any], source: str) -> None:
    """Compare the chains with a probe's chain state file (sign.ChainState): the
    newest document the probe signed must be among the inputs, unchanged. This
    is what shows a deleted or replaced *last* bundle, which the documents alone
    cannot. Adds the problem to the chain (a chain absent from the inputs is added)."""
    name = state.get("chain")
    seq = state.get("sequence")
    if not isinstance(name, str) or not _is_int(seq):
        return
    rep = next((c for c in chains if c.chain == name), None)
    if rep is None:
        rep = ChainReport(name, BROKEN)
        chains.append(rep)
        rep.problems.append(text(f"{source} 记录该检查点已签 #{seq}，但输入中没有此链的有效文件",
                                 f"{source} says #{seq} was signed, but no valid document of "
                                 "this chain is among the inputs"))
        return
    last = max((s for s, _ in rep.links), default=0)
    if seq > last:
        missing = f"#{seq}" if seq == last + 1 else f"#{last + 1}-#{seq}"
        rep.problems.append(text(f"缺少最新的 {missing}：{source} 记录已签至 #{seq}，输入止于 #{last}",
                                 f"newest {missing} missing: {source} says #{seq} was signed, "
                                 f"the inputs end at #{last}"))
    elif seq == last:
        digests = {r.digest for r in results if r.ok and r.chain == name and r.sequence == seq}
        if state.get("last_sha256") not in digests:
            rep.problems.append(text(f"#{seq} 不是检查点最后签名的文件（{source} 中的 SHA-256 不同）",
                                     f"#{seq} is not the document the probe signed last "
                                     f"(its sha256 differs from {source})"))
    else:
        rep.problems.append(text(f"输入中有 #{last}，但 {source} 只记录到 #{seq}（状态文件被回退？）",
                                 f"the inputs reach #{last}, but {source} only #{seq} "
                                 "(was the state file rolled back?)"))
    rep.status = BROKEN if rep.problems else WHOLE
