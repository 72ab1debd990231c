"""Helpers of the evidence tests: key pairs, signed chains of the report fixtures,
the CLI in-process."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

FIXTURES = Path(__file__).resolve().parents[1] / "report" / "fixtures"


def fixture_bundle(name: str = "secret-lan") -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def run(*args: str):
    from scanner.cli import main
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    return path


@pytest.fixture
def keypair(tmp_path):
    """(private key path, public key path) of a fresh key named 'probe A'."""
    from scanner.evidence.keys import new_key_pair
    priv, pub, _ = new_key_pair(str(tmp_path / "probe.key"), name="probe A 涉密")
    return Path(priv), Path(pub)


@pytest.fixture
def chain(tmp_path, keypair):
    """Five bundles of one probe, signed in order: [Path]."""
    from scanner.evidence.keys import load_private_key
    from scanner.evidence.sign import sign_once
    key = load_private_key(str(keypair[0]))
    base = fixture_bundle()
    out = []
    for i in range(1, 6):
        doc = copy.deepcopy(base)
        doc["scan_id"] = f"night-{i}"
        signed = sign_once(doc, key, str(tmp_path / "chain-state.json"))
        out.append(write_json(tmp_path / f"night-{i}.json", signed))
    return out
