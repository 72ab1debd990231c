"""The evidence package (佐证材料): one zip an inspector files with the record.

Layout (docs/SPEC.md §8.5)::

    report.html              the report
    report.pdf               when --pdf was asked for
    inputs/NN-<name>         every input bundle and canary log, byte for byte
    keys/<fingerprint>.pub   the trusted public keys that signed them
    MANIFEST.json            what each file is ({"schema": "isoscan.evidence/1", …})
    SHA256SUMS               sha256sum(1) lines for every other member
    SHA256SUMS.sig           with `report --sign KEY`: the reporter's Ed25519 signature
                             of SHA256SUMS, so the report is bound to who made it

The sums alone bind nothing: whoever changes the report can change the sums.
So a package verifies only when SHA256SUMS.sig is there and made by a key of
--trust; without --trust the package's own keys are read and said, but the
package is not verified (a key shipped beside what it signs proves nothing).

`isoscan verify evidence.zip` reads it without extracting anything to disk and
refuses members with absolute or '..' paths, links, encrypted members,
duplicates, more than MAX_MEMBERS members, and -- from the sizes the zip's
directory declares, BEFORE anything is inflated -- a member larger than
MAX_MEMBER_BYTES (256 MiB, or the input cap if lower), a whole larger than
MAX_TOTAL_BYTES (1 GiB), or a member of more than 1 MiB that inflates more
than MAX_RATIO (200) times its compressed size (a zip bomb). A declared size
may lie: inflating stops one byte past the bound.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from typing import Sequence

from scanner.evidence.keys import Trust, parse_public_line
from scanner.model import text
from scanner.evidence.verify import (ChainReport, Result, VerifyInputError, check_chains,
                                     max_input_bytes, parse_document, verify_document)

SCHEMA = "isoscan.evidence/1"
SUMS = "SHA256SUMS"
SUMS_SIG = "SHA256SUMS.sig"
MANIFEST = "MANIFEST.json"
MAX_MEMBERS = 10_000
_SAFE = re.compile(r"[A-Za-z0-9._-]")


def _safe_name(name: str) -> str:
    base = os.path.basename(name) or "input"
    return "".join(c if _SAFE.match(c) else "_" for c in base)[:80].lstrip(".") or "input"


def build_package(out: str, *, report_html: bytes, report_pdf: bytes | None,
                  inputs: Sequence[tuple[str, bytes]], results: Sequence[Result],
                  trust: Trust | None, signer=None) -> None:
    """Write the zip atomically (a temporary file renamed over `out`)."""
    members: list[tuple[str, bytes]] = [("report.html", report_html)]
    if report_pdf is not None:
        members.append(("report.pdf", report_pdf))
    manifest_inputs = []
    for i, ((path, raw), r) in enumerate(zip(inputs, results), 1):
        name = f"inputs/{i:02d}-{_safe_name(path)}"
        members.append((name, raw))
        manifest_inputs.append({"file": name, "given_as": os.path.basename(path),
                                "kind": r.kind, "status": r.status,
                                "key_fingerprint": r.fingerprint, "chain": r.chain,
                                "sequence": r.sequence})
    keys = []
    used = {r.fingerprint for r in results if r.fingerprint}
    trust = dict(trust or {})
    if signer is not None:
        used.add(signer.fingerprint)
        trust.setdefault(signer.fingerprint, signer.public)
    for fp, k in sorted(trust.items()):
        if fp in used:
            name = "keys/" + _safe_name(fp.rsplit(":", 1)[-1].replace("/", "_").replace("+", "-")) + ".pub"
            members.append((name, (k.line() + "\n").encode("utf-8")))
            keys.append({"file": name, "key_fingerprint": fp, "name": k.name or None})
    manifest = {"schema": SCHEMA,
                "created_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "report": [m for m, _ in members if m.startswith("report.")],
                "inputs": manifest_inputs, "keys": keys}
    members.append((MANIFEST, (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
                    .encode("utf-8")))
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in members)
    members.append((SUMS, sums.encode("ascii")))
    if signer is not None:
        import base64
        sig = {"alg": getattr(signer, "alg", "ed25519"), "key_fingerprint": signer.fingerprint,
               "value": base64.b64encode(signer.sign(sums.encode("ascii"))).decode("ascii")}
        members.append((SUMS_SIG, (json.dumps(sig) + "\n").encode("ascii")))
    from scanner.atomicio import open_atomic
    with open_atomic(out, prefix=".isoscan-evidence-") as fh, \
            zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)


@dataclass
class PackageReport:
    name: str
    problems: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    chains: list[ChainReport] = field(default_factory=list)
    trust_note: str = ""
    given_trust: bool = False
    signer: str | None = None          # the trusted key that signed SHA256SUMS

    @property
    def ok(self) -> bool:
        return (not self.problems and self.given_trust and self.signer is not None
                and bool(self.results) and all(r.ok for r in self.results)
                and all(c.status == "whole" for c in self.chains))


def _bad_member(info: zipfile.ZipInfo) -> str | None:
    n = info.filename
    if not n or "\\" in n or "\x00" in n or n.startswith("/") or re.match(r"^[A-Za-z]:", n):
        return "an absolute or unsafe path"
    if any(p in ("..", "") for p in n.rstrip("/").split("/")):
        return "a path that leaves the package (..)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if info.flag_bits & 0x1:
        return "encrypted"
    return None


MAX_MEMBER_BYTES = 256 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_RATIO = 200
RATIO_FROM = 1 << 20            # smaller members may compress as well as they like


def _declared_bounds(path: str, infos, cap: int) -> None:
    """The bounds of the module docstring, on the directory's declared sizes
    (nothing inflated yet)."""
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        if info.file_size > cap:
            raise VerifyInputError(f"{path}: member {info.filename[:120]!r} declares "
                                   f"{info.file_size:,} bytes inflated, more than {cap:,}; refused "
                                   "before inflating")
        if info.file_size > RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise VerifyInputError(f"{path}: member {info.filename[:120]!r} inflates "
                                   f"{info.file_size / max(info.compress_size, 1):,.0f} times its "
                                   f"{info.compress_size:,} compressed bytes, more than {MAX_RATIO} "
                                   "(a zip bomb); refused before inflating")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise VerifyInputError(f"{path}: its members declare more than {MAX_TOTAL_BYTES:,} "
                                   "bytes inflated in all; refused before inflating")


def read_members(path: str) -> dict[str, bytes]:
    """Every file member's bytes, after the checks of the module docstring
    (VerifyInputError: the package cannot be trusted to be read at all)."""
    cap = min(max_input_bytes(), MAX_MEMBER_BYTES)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise VerifyInputError(f"{path}: not a zip file ({exc})") from None
    out: dict[str, bytes] = {}
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise VerifyInputError(f"{path}: {len(infos):,} members, more than an evidence "
                                   f"package has ({MAX_MEMBERS:,})")
        _declared_bounds(path, infos, cap)
        total = 0
        for info in infos:
            why = _bad_member(info)
            if why:
                raise VerifyInputError(f"{path}: member {info.filename[:120]!r} is {why}; refused")
            if info.is_dir():
                continue
            if info.filename in out:
                raise VerifyInputError(f"{path}: member {info.filename!r} occurs twice; refused")
            if info.file_size > cap:
                raise VerifyInputError(f"{path}: member {info.filename!r} claims "
                                       f"{info.file_size:,} bytes, more than {cap:,}; refused")
            try:
                with zf.open(info) as fh:
                    data = fh.read(cap + 1)      # the header's size may lie: read at most cap
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError,
                    EOFError, ValueError) as exc:
                raise VerifyInputError(f"{path}: member {info.filename!r} cannot be read "
                                       f"({exc})") from None
            if len(data) > cap:
                raise VerifyInputError(f"{path}: member {info.filename!r} unpacks to more "
                                       f"than {cap:,} bytes; refused")
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise VerifyInputError(f"{path}: unpacks to more than {MAX_TOTAL_BYTES:,} bytes; "
                                       "refused")
            out[info.filename] = data
    return out


def verify_package(path: str, trust: Trust | None) -> PackageReport:
    members = read_members(path)
    rep = PackageReport(path)
    sums = members.get(SUMS)
    if sums is None:
        rep.problems.append(text(f"证据包中没有 {SUMS}", f"no {SUMS} in the package"))
        listed: dict[str, str] = {}
    else:
        listed = {}
        for n, line in enumerate(sums.decode("utf-8", "replace").splitlines(), 1):
            m = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
            if not m:
                rep.problems.append(text(f"{SUMS}:{n}：不是 sha256sum 格式的行", f"{SUMS}:{n}: not a sha256sum line"))
                continue
            listed[m.group(2)] = m.group(1)
        for name, want in sorted(listed.items()):
            data = members.get(name)
            if data is None:
                rep.problems.append(text(f"{name}：列在 {SUMS} 中，但证据包中没有（被删除）",
                                         f"{name}: listed in {SUMS} but missing from the package"))
            elif hashlib.sha256(data).hexdigest() != want:
                rep.problems.append(text(f"{name}：SHA-256 与 {SUMS} 不符（被改动）",
                                         f"{name}: its sha256 does not match {SUMS} (changed)"))
        for name in sorted(set(members) - set(listed) - {SUMS, SUMS_SIG}):
            rep.problems.append(text(f"{name}：在证据包中，但不在 {SUMS} 中（被添加）",
                                     f"{name}: in the package but not in {SUMS} (added)"))
    if "report.html" not in members:
        rep.problems.append(text("证据包中没有 report.html", "no report.html in the package"))
    rep.given_trust = trust is not None
    if trust is None:
        trust = Trust()
        for name, data in sorted(members.items()):
            if name.startswith("keys/") and name.endswith(".pub"):
                for i, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                    if line.strip() and not line.startswith("#"):
                        try:
                            k = parse_public_line(line.strip(), f"{name}:{i}")
                        except ValueError as exc:
                            rep.problems.append(str(exc))
                            continue
                        trust.setdefault(k.fingerprint, k)
        rep.trust_note = ("keys: those shipped in the package (keys/); compare their "
                          "fingerprints with the unit's register, or give --trust")
    rep.signer = _check_sums_signature(members, trust, rep)
    if not rep.given_trust:
        rep.problems.append(text(
            "未给出 --trust：证据包自带的公钥证明不了什么（谁改了包，谁就能换上自己的公钥），证据包未获验证",
            "no --trust given: keys shipped in the package prove nothing (whoever changed the "
            "package can ship their own), so the package is not verified"))
    inputs = sorted(n for n in members if n.startswith("inputs/"))
    if not inputs:
        rep.problems.append(text("证据包中没有 inputs/", "no inputs/ in the package"))
    for name in inputs:
        try:
            doc = parse_document(members[name], name)
        except VerifyInputError as exc:
            rep.problems.append(str(exc))
            continue
        rep.results.append(verify_document(doc, trust, name))
    rep.chains = check_chains(rep.results)
    return rep


def _check_sums_signature(members: dict, trust: Trust, rep) -> str | None:
    """The fingerprint of the trusted key that signed SHA256SUMS, else None
    (and a problem that says why: unsigned, malformed, untrusted, invalid)."""
    import base64
    raw = members.get(SUMS_SIG)
    if raw is None:
        rep.problems.append(text(
            f"证据包未签名（没有 {SUMS_SIG}）：报告与 {SUMS} 可被一并改动而不被发现（report … --evidence … --sign KEY）",
            f"the package is not signed (no {SUMS_SIG}): the report and {SUMS} could be changed "
            f"together unnoticed (report … --evidence … --sign KEY)"))
        return None
    try:
        sig = json.loads(raw.decode("ascii"))
        fp, value = sig["key_fingerprint"], base64.b64decode(sig["value"], validate=True)
        if sig.get("alg") not in ("ed25519", "sm2-sm3") or not isinstance(fp, str):
            raise ValueError("not an ed25519 or sm2-sm3 signature")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        rep.problems.append(text(f"{SUMS_SIG}：格式不对（{exc}）", f"{SUMS_SIG}: malformed ({exc})"))
        return None
    key = trust.get(fp)
    if key is None:
        rep.problems.append(text(f"{SUMS_SIG}：签名公钥 {fp} 不在信任列表中",
                                 f"{SUMS_SIG}: signed by {fp}, a key that is not trusted"))
        return None
    if key.alg != sig.get("alg") or not key.verify(value, members.get(SUMS, b"")):
        rep.problems.append(text(f"{SUMS_SIG}：签名无效（{SUMS} 已被改动）",
                                 f"{SUMS_SIG}: the signature is invalid ({SUMS} was changed)"))
        return None
    return fp


def is_zip(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False
