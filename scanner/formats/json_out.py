"""`--format json`: {"findings": [...], "summary": {...}} (SPEC §4, §5)."""
from __future__ import annotations

import json

from scanner.model.verdict import counts, verdict


def document(findings, lang, ctx) -> dict:
    return {
        "findings": [f.to_json(lang, ctx.regulation(f.check_id, lang)) for f in findings],
        "summary": {"verdict": verdict(findings), "counts": counts(findings),
                    "files": list(ctx.files)},
    }


def render(findings, lang, ctx) -> str:
    return json.dumps(document(findings, lang, ctx), ensure_ascii=False, indent=2) + "\n"
