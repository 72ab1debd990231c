"""docs/checks.md is generated from each check's META (`isoscan checks list
--format markdown`): one truth per fact, so the page can never drift from the code."""
from pathlib import Path

from click.testing import CliRunner

from scanner.cli import main
from scanner.judge.registry import BUILTIN, load_checks

DOC = Path(__file__).resolve().parent.parent / "docs" / "checks.md"


def test_checks_md_is_what_the_registry_says():
    r = CliRunner().invoke(main, ["checks", "list", "--format", "markdown"])
    assert r.exit_code == 0, r.output
    assert r.output == DOC.read_text(encoding="utf-8"), \
        "docs/checks.md is stale: isoscan checks list --format markdown > docs/checks.md"


def test_checks_md_names_every_builtin_check_with_its_own_title():
    text = DOC.read_text(encoding="utf-8")
    metas = {c.id: c.meta for c in load_checks().checks}
    for cid in BUILTIN:
        assert f"\n## {cid}\n" in text
        assert metas[cid].title["en"] in text and metas[cid].title["zh-CN"] in text
