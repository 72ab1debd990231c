import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path):
    """write(text, name="inv.yaml") -> path of a dedented YAML file in tmp_path."""
    def _write(body: str, name: str = "inv.yaml") -> str:
        p = Path(tmp_path) / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
        return str(p)
    return _write
