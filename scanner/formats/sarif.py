"""`--format sarif`: SARIF 2.1.0 for code-scanning UIs.

One rule per check seen; one result per finding that fails or errs (a pass
is not an annotation), each with a region (startLine, startColumn) so the UI
marks the right line of the inventory file. Paths become relative URIs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from scanner import __version__
from scanner.formats import sort_key
from scanner.model import pick

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "warning", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def uri(path: str) -> str:
    if os.path.isabs(path):
        return Path(path).as_uri()
    return quote(path.replace(os.sep, "/"))


def render(findings, lang, ctx) -> str:
    fs = [f for f in sorted(findings, key=sort_key) if f.status.value in ("fail", "error")]
    rules: list[dict] = []
    index: dict[str, int] = {}
    for f in sorted(findings, key=lambda f: f.check_id):
        if f.check_id in index:
            continue
        index[f.check_id] = len(rules)
        refs = ctx.regulation(f.check_id, lang)
        rule = {
            "id": f.check_id,
            "name": f.check_id.replace("-", ""),
            "shortDescription": {"text": pick(f.title, lang)},
            "defaultConfiguration": {"level": LEVEL[f.severity.value]},
            "properties": {"security-severity": SECURITY_SEVERITY[f.severity.value],
                           "tags": ["security", "isolation"], "regulation": refs},
        }
        if f.remediation:
            help_text = pick(f.remediation, lang)
            if refs:
                help_text += "\n\n" + "\n".join(refs)
            rule["help"] = {"text": help_text}
        rules.append(rule)
    results = []
    for f in fs:
        ev = "; ".join(pick(e, lang) for e in f.evidence) or pick(f.title, lang)
        res = {
            "ruleId": f.check_id,
            "ruleIndex": index[f.check_id],
            "kind": "fail",
            "level": LEVEL[f.severity.value] if f.status.value == "fail" else "error",
            "message": {"text": ("" if f.status.value == "fail" else "[error] ") + ev},
            "properties": {"status": f.status.value, "severity": f.severity.value},
        }
        if f.location is not None:
            res["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": uri(f.location.file)},
                "region": {"startLine": max(1, f.location.line),
                           "startColumn": max(1, f.location.column)}}}]
        if f.subject.ip or f.subject.mac or f.subject.device:
            res["properties"]["subject"] = f.subject.to_json()
        results.append(res)
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "isoscan", "version": __version__,
                                "rules": rules}},
            "artifacts": [{"location": {"uri": uri(p)}} for p in ctx.files],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
