"""In the lab: two signed scans of one vantage, a report with --trust and --pdf,
then the chain broken by deleting the first bundle's successor and a replay."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.e2e import scanlib
from tests.evidence.conftest import run

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(scanlib.DEMO, faults=["forgotten-forward"])


def test_signed_scans_verify_and_the_pdf_names_the_signer(lab, tmp_path):
    from scanner.evidence.keys import new_key_pair, short_fingerprint
    priv, pub, fp = new_key_pair(str(tmp_path / "probe.key"), name="lab probe")
    state = tmp_path / "chain.json"
    bundles = []
    for i in range(3):
        rc, bundle, out = scanlib.scan(lab, "probe-secret", "--sign", priv,
                                       "--chain-state", str(state))
        assert bundle is not None, out[-3000:]
        assert bundle["signature"]["key_fingerprint"] == fp
        assert bundle["signature"]["sequence"] == i + 1
        p = tmp_path / f"scan-{i}.json"
        p.write_text(json.dumps(bundle, ensure_ascii=False), "utf-8")
        bundles.append(p)
    r = run("verify", *map(str, bundles), "--trust", pub, "--format", "json")
    assert r.exit_code == 0, r.output

    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    r = run("report", *map(str, bundles), "--trust", pub, "-o", str(html), "--pdf", str(pdf),
            "--record", "--inspector", "王检查")
    assert r.exit_code == 0, r.output
    if shutil.which("pdftotext"):
        text = "".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                      text=True, check=True).stdout.split())
        assert fp in text and "".join(short_fingerprint(fp).split()) in text
        assert "ISO-BRIDGE" in text and "检查记录" in text

    # the middle scan deleted: verify and report --trust both name the gap
    r = run("verify", str(bundles[0]), str(bundles[2]), "--trust", pub, "--lang", "en")
    assert r.exit_code == 1 and "gap: #2 missing" in r.output
    r = run("report", str(bundles[0]), str(bundles[2]), "--trust", pub, "--require-signed",
            "-o", str(tmp_path / "r2.html"))
    assert r.exit_code == 2 and "gap: #2 missing" in r.output
