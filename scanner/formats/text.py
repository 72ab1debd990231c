"""`--format text`: one line a finding, problems first, a summary line last.

Control characters in data (names from an inventory can be anything) are
shown escaped, so a hostile name cannot drive the terminal or forge a line.
"""
from __future__ import annotations

import re

from scanner.formats import sort_key
from scanner.model.verdict import counts, verdict
from scanner.model import pick

# C0 (newline too: one finding is one line, so a hostile name cannot forge a
# line of its own, such as a clean verdict), DEL, C1, the Unicode line
# separators and every bidirectional control (an RTL override reorders what
# is shown)
_CTRL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                   r"\u202a-\u202e\u2066-\u2069]")

# `validate` judges a file, not the unit: a failure is "did not pass" and the
# last line says whether the inventory passed validation, never "compliant"
LABELS = {
    "zh-CN": {"pass": "通过", "fail": "未通过", "error": "无法判定", "skipped": "跳过",
              "summary": "清单校验", "passed": "通过", "failed": "未通过",
              "files": "个文件", "critical": "严重", "high": "高", "medium": "中", "low": "低",
              "info": "提示"},
    "en": {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "skipped": "SKIPPED",
           "summary": "inventory validation", "passed": "passed", "failed": "failed",
           "files": "file(s)"},
}


# the same, but keeping line breaks (newline, U+2028/2029) and tabs: for a report
# cell that lays out lines
_CTRL_IN_BLOCK = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f"
                            r"\u202a-\u202e\u2066-\u2069]")


def _shown(m: re.Match) -> str:
    return f"\\u{ord(m.group()):04x}"


def clean(s: str) -> str:
    """One line of text for a terminal: every control character shown as \\uXXXX."""
    return _CTRL.sub(_shown, s)


def visible(s: str) -> str:
    """Text for a report cell: controls shown as \\uXXXX, line breaks and tabs kept."""
    return _CTRL_IN_BLOCK.sub(_shown, s)


def render(findings, lang, ctx) -> str:
    L = LABELS.get(lang, LABELS["en"])
    lines = []
    for f in sorted(findings, key=sort_key):
        where = f"{f.location}: " if f.location else ""
        ev = "; ".join(pick(e, lang) for e in f.evidence)
        sev = L.get(f.severity.value, f.severity.value)     # zh-CN: 严重/高/中/低/提示
        lines.append(clean(f"{where}{L[f.status.value]} [{sev}] {f.check_id} "
                           f"{pick(f.title, lang)}: {ev}"))
    c = counts(findings)
    ok = verdict(findings) == "compliant"        # no failure, nothing that could not be judged
    tally = ", ".join(f"{L[k]} {n}" for k, n in c.items())
    if lang == "zh-CN":
        lines.append(f"{L['summary']}：{L['passed' if ok else 'failed']}（{tally.replace(', ', '，')}；"
                     f"{len(ctx.files)} {L['files']}）")
    else:
        lines.append(f"{L['summary']}: {L['passed' if ok else 'failed']} ({tally}; "
                     f"{len(ctx.files)} {L['files']})")
    return "\n".join(lines) + "\n"
