"""INV-SCHEMA: every inventory file is valid YAML and of the schema (SPEC §2).

This check is special. Schema problems are found while the files are read,
by `scanner.inventory.load.load_inventory`, because only the loader sees the raw
files (a file that is not YAML gives no Inventory at all). The loader makes
those findings with the META that scanner.inventory.schema_check owns (and this
module exports), and `validate` / `scan` add them to
the results next to the other checks' findings.

`evaluate` therefore sees an Inventory that has already been loaded; it
reports `pass` (with the files read as evidence) so that a clean run shows
INV-SCHEMA as judged. When the loader found problems, the callers drop this
pass: `merge_with_loader()` returns the loader's findings instead of it, so
one run never shows INV-SCHEMA both passing and failing.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner.inventory.schema_check import META, merge_with_loader  # noqa: F401 (inventory/ owns them)
from scanner.model import Finding, Inventory, passed, text


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    files = ", ".join(f.path for f in inv.files) or "-"
    yield passed(META, text(f"已读取并校验 {len(inv.files)} 个文件：{files}",
                            f"{len(inv.files)} file(s) read and of the schema: {files}"))
