"""What `isoscan report` does with --trust, --require-signed, the inspection
record options, --pdf and --evidence, kept out of the command module.

    opts = ReportEvidence.from_options(trust=..., require_signed=..., ...)
    opts.verify(inputs)                 # [(path, data)]; EvidenceRefused with --require-signed
    html = render_report(..., extend=opts.extension(merged, lang))
    ... write html ...
    opts.finish(html, lambda ext: render_report(..., extend=ext), merged, lang, paths)
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from scanner.evidence.keys import KeyFileError, Trust, load_trust
from scanner.evidence.reportview import Evidence, RecordOptions, report_extension
from scanner.evidence.sign import FIELD
from scanner.evidence.verify import check_chains, verify_document


class EvidenceRefused(Exception):
    """One line: why the report is not made (exit 2)."""


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _record_config(path: str) -> dict:
    """inspector, responsible, deadline, unit from a small YAML file (the
    configuration of the record; the options win over it)."""
    import yaml_rs
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml_rs.loads(fh.read(65536), parse_datetime=False)
    except (OSError, UnicodeDecodeError, yaml_rs.YAMLDecodeError) as exc:
        raise EvidenceRefused(f"{path}: cannot be read as YAML "
                              f"({str(exc).splitlines()[0] if str(exc) else exc})") from None
    if not isinstance(data, dict):
        raise EvidenceRefused(f"{path}: expected a mapping (inspector:, responsible:, "
                              "deadline:, unit:)")
    rec = data.get("record", data)
    if not isinstance(rec, dict):
        raise EvidenceRefused(f"{path}: record: expected a mapping (inspector:, responsible:, "
                              "deadline:, unit:)")
    unknown = set(rec) - {"inspector", "responsible", "deadline", "unit"}
    if unknown:
        raise EvidenceRefused(f"{path}: unknown keys {', '.join(sorted(map(str, unknown)))} "
                              "(inspector, responsible, deadline, unit)")
    return {k: str(v) for k, v in rec.items() if v is not None}


@dataclass
class ReportEvidence:
    trust: Trust | None = None
    require_signed: bool = False
    record: RecordOptions | None = None
    pdf: str | None = None
    package: str | None = None
    sign_key: str | None = None                 # signs the package's SHA256SUMS
    evidence: Evidence | None = None
    signed_unchecked: bool = False
    inputs: list[tuple[str, Any]] = field(default_factory=list)

    @classmethod
    def from_options(cls, *, trust: Sequence[str] = (), require_signed: bool = False,
                     record: bool = False, inspector: str | None = None,
                     responsible: str | None = None, deadline: str | None = None,
                     record_config: str | None = None, pdf: str | None = None,
                     evidence: str | None = None, sign: str | None = None) -> "ReportEvidence":
        if sign and not evidence:
            raise EvidenceRefused("--sign signs the evidence package: give --evidence FILE.zip")
        if require_signed and not trust:
            raise EvidenceRefused("--require-signed needs --trust KEYS (the public keys the "
                                  "signatures are checked against)")
        t = None
        if trust:
            try:
                t = load_trust(list(trust))
            except KeyFileError as exc:
                raise EvidenceRefused(str(exc)) from None
        conf = _record_config(record_config) if record_config else {}
        vals = {"inspector": inspector or conf.get("inspector"),
                "responsible": responsible or conf.get("responsible"),
                "deadline": deadline or conf.get("deadline"), "unit": conf.get("unit")}
        if vals["deadline"] and not _DATE.fullmatch(vals["deadline"]):
            raise EvidenceRefused(f"deadline {vals['deadline']!r}: give a date, YYYY-MM-DD")
        if vals["deadline"]:
            try:
                _dt.date.fromisoformat(vals["deadline"])
            except ValueError:
                raise EvidenceRefused(f"deadline {vals['deadline']!r} is not a date") from None
        rec = (RecordOptions(**{k: (" ".join(v.split())[:200] if v else None)
                                for k, v in vals.items()})
               if record or record_config or any(vals.values()) else None)
        if sign:
            from scanner.evidence.keys import load_private_key
            try:
                load_private_key(sign)          # refused now, before anything is written
            except KeyFileError as exc:
                raise EvidenceRefused(str(exc)) from None
        return cls(trust=t, require_signed=require_signed, record=rec, pdf=pdf,
                   package=evidence, sign_key=sign)

    def verify(self, inputs: Sequence[tuple[str, Any]]) -> None:
        """Verify every input (bundles and canary logs as read, before re-judging)."""
        self.inputs = list(inputs)
        self.signed_unchecked = any(isinstance(d, dict) and FIELD in d for _, d in inputs)
        if self.trust is None:
            return
        results = [verify_document(d, self.trust, p) for p, d in inputs]
        self.evidence = Evidence(True, results, check_chains(results))
        if self.require_signed and not self.evidence.all_good:
            from scanner.model import pick
            why = [f"{r.name}: {r.status} ({pick(r.detail, 'en')})" for r in self.evidence.bad]
            why += [f"chain {c.chain}: {pick(c.problems[0], 'en')}" for c in self.evidence.broken]
            raise EvidenceRefused("--require-signed: refused, not every input verifies: "
                                  + "; ".join(why))

    def verify_earlier(self, docs: Sequence[tuple[str, Any]], what: str) -> None:
        """--require-signed: the earlier results the changes since the last scan
        compare with (--previous, or the store's scans: verified again on every
        report) must verify too; no chain is asked of them (they are not tonight's)."""
        if self.trust is None or not self.require_signed:
            return
        from scanner.model import pick
        bad = [r for r in (verify_document(d, self.trust, n) for n, d in docs) if not r.ok]
        if bad:
            raise EvidenceRefused(f"--require-signed: refused, {what} does not verify: " + "; ".join(
                f"{r.name}: {r.status} ({pick(r.detail, 'en')})" for r in bad))

    def extension(self, merged: dict, lang: str, *, print_all: bool = False,
                  report_sha: str | None = None) -> Callable[[dict], None] | None:
        if (self.evidence is None and self.record is None and not self.signed_unchecked
                and not print_all):
            return None
        return report_extension(merged, lang, evidence=self.evidence, record=self.record,
                                print_all=print_all, report_sha=report_sha,
                                signed_unchecked=self.signed_unchecked)

    def finish(self, html: str, render: Callable[[Any], str], merged: dict, lang: str) -> list[str]:
        """--pdf and --evidence after the HTML is written; returns what was written."""
        written = []
        html_bytes = html.encode("utf-8")
        sha = hashlib.sha256(html_bytes).hexdigest()
        pdf_bytes = None
        if self.pdf:
            from scanner.evidence.pdf import html_to_pdf
            printable = render(self.extension(merged, lang, print_all=True, report_sha=sha))
            pdf_bytes = html_to_pdf(printable, self.pdf)
            written.append(self.pdf)
        if self.package:
            from scanner.evidence.package import build_package
            from scanner.evidence.verify import Result
            raws = []
            for path, _data in self.inputs:
                try:
                    with open(path, "rb") as fh:
                        raws.append((path, fh.read()))
                except OSError as exc:
                    raise EvidenceRefused(f"{path}: cannot be read again for the package "
                                          f"({exc.strerror or exc})") from None
            results = (self.evidence.results if self.evidence is not None
                       else [Result(p, "unsigned" if FIELD not in d else "untrusted", "")
                             for p, d in self.inputs])
            signer = None
            if self.sign_key:
                from scanner.evidence.keys import load_private_key
                signer = load_private_key(self.sign_key)
            build_package(self.package, report_html=html_bytes, report_pdf=pdf_bytes,
                          inputs=raws, results=results, trust=self.trust, signer=signer)
            written.append(self.package)
        return written
