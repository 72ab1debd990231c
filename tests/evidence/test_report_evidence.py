"""report --trust / --require-signed, the inspection record, --evidence and
`verify evidence.zip` (with hostile packages)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile

import pytest

from scanner.evidence.keys import load_private_key, new_key_pair
from scanner.evidence.sign import sign_once
from tests.evidence.conftest import FIXTURES, fixture_bundle, run, write_json
from tests.report.conftest import Page


@pytest.fixture
def inputs(tmp_path, keypair):
    """Three signed bundles of one probe plus the unsigned office-lan and internet ones."""
    key = load_private_key(str(keypair[0]))
    out = []
    for i in range(1, 4):
        doc = fixture_bundle()
        doc["scan_id"] = f"night-{i}"
        out.append(write_json(tmp_path / f"secret-{i}.json",
                              sign_once(doc, key, str(tmp_path / "state.json"))))
    return out


def _report(tmp_path, *files, extra=()):
    html = tmp_path / "r.html"
    r = run("report", *map(str, files), "-o", str(html), *extra)
    return r, (html.read_text("utf-8") if html.exists() else None)


def test_report_header_shows_signer_and_chain(tmp_path, inputs, keypair):
    r, html = _report(tmp_path, *inputs, extra=("--trust", str(keypair[1])))
    assert r.exit_code == 0, r.output
    page = Page(html)
    ev = page.id_text("evidence")
    assert ev.count("有效") >= 3 and "probe A 涉密" in ev and "ed25519:SHA256:" in ev
    assert "secret-lan@eth0" in ev and "完整" in ev
    assert "evidence-good" in page.ids or 'id="evidence-good"' in html
    assert "evidence-alert" not in html


def test_unsigned_and_invalid_are_flagged_in_the_verdict(tmp_path, inputs, keypair):
    doc = json.loads(inputs[1].read_text())
    doc["observations"]["tampered"] = True
    write_json(inputs[1], doc)
    r, html = _report(tmp_path, *inputs, FIXTURES / "office-lan.json",
                      extra=("--trust", str(keypair[1]), "--lang", "en"))
    assert r.exit_code == 0, r.output
    page = Page(html)
    alert = page.id_text("evidence-alert")
    assert "secret-2.json" in alert and "invalid signature" in alert
    assert "office-lan.json" in alert and "unsigned" in alert
    assert "broken" in alert and "gap: #2 missing" in alert
    # the alert sits in the verdict section
    verdict = html.split('id="verdict"', 1)[1].split("</section>", 1)[0]
    assert 'id="evidence-alert"' in verdict


def test_require_signed_refuses(tmp_path, inputs, keypair):
    r, html = _report(tmp_path, *inputs, FIXTURES / "office-lan.json",
                      extra=("--trust", str(keypair[1]), "--require-signed"))
    assert r.exit_code == 2 and html is None
    assert "--require-signed: refused" in r.output and "office-lan.json: unsigned" in r.output
    r, _ = _report(tmp_path, *inputs, extra=("--trust", str(keypair[1]), "--require-signed"))
    assert r.exit_code == 0, r.output
    r, _ = _report(tmp_path, *inputs, extra=("--require-signed",))
    assert r.exit_code == 2 and "needs --trust" in r.output


def test_require_signed_refuses_a_chain_gap(tmp_path, inputs, keypair):
    r, _ = _report(tmp_path, inputs[0], inputs[2],
                   extra=("--trust", str(keypair[1]), "--require-signed"))
    assert r.exit_code == 2 and "gap: #2 missing" in r.output


def test_signed_inputs_without_trust_say_so(tmp_path, inputs):
    r, html = _report(tmp_path, *inputs)
    assert r.exit_code == 0
    assert "未给出 --trust" in Page(html).id_text("evidence")


def test_plain_report_is_unchanged_without_evidence_options(tmp_path):
    r, html = _report(tmp_path, FIXTURES / "secret-lan.json")
    assert r.exit_code == 0
    assert 'id="evidence"' not in html and 'id="record"' not in html


def test_inspection_record(tmp_path, inputs, keypair):
    conf = tmp_path / "record.yaml"
    conf.write_text("inspector: 配置里的人\nresponsible: 李主任\nunit: 示例审计局机关\n", "utf-8")
    r, html = _report(tmp_path, *inputs, FIXTURES / "office-lan.json", FIXTURES / "internet.json",
                      extra=("--trust", str(keypair[1]), "--inspector", "王检查",
                             "--deadline", "2027-01-31", "--record-config", str(conf)))
    assert r.exit_code == 0, r.output
    rec = Page(html).id_text("record")
    for s in ("检查记录", "一、检查依据", "GB/T 22239-2019", "二、检查范围", "三、检查方法",
              "四、逐项结论", "五、整改清单", "六、检查意见", "七、签字", "王检查", "李主任",
              "示例审计局机关", "2027-01-31", "被检查单位负责人", "检查人"):
        assert s in rec, s
    assert "配置里的人" not in rec           # the option wins over the configuration
    # one row per failing finding (low or above), each with an id cited in the verdicts
    listed = html.split('class="rec-list"', 1)[1].split("</table>", 1)[0]
    ids = re.findall(r'<div class="mono rid muted">([A-Z]+-[A-Z0-9-]+-[0-9a-f]{6}(?:-\d+)?)</div>',
                     listed)
    assert ids and len(ids) == len(set(ids))
    m = tmp_path / "m.json"
    r = run("report", *map(str, inputs), str(FIXTURES / "office-lan.json"),
            str(FIXTURES / "internet.json"), "-o", str(tmp_path / "r2.html"), "--json", str(m))
    fails = [f for f in json.loads(m.read_text())["findings"]
             if f["status"] == "fail" and f["severity"] != "info"]
    assert len(ids) == len(fails)             # one row per failing finding
    verdicts = html.split('class="rec-verdicts"', 1)[1].split("</table>", 1)[0]
    for i in ids:
        assert i in verdicts


@pytest.mark.parametrize("opt, value", [("--deadline", "next week"),
                                        ("--deadline", "2027-02-30")])
def test_bad_deadline(tmp_path, inputs, opt, value):
    r, _ = _report(tmp_path, inputs[0], extra=(opt, value))
    assert r.exit_code == 2 and "deadline" in r.output


def test_bad_record_config(tmp_path, inputs):
    conf = tmp_path / "c.yaml"
    conf.write_text("inspecter: typo\n")
    r, _ = _report(tmp_path, inputs[0], extra=("--record-config", str(conf)))
    assert r.exit_code == 2 and "unknown keys" in r.output


def test_hostile_strings_are_text(tmp_path, keypair):
    os.unlink(keypair[1])
    os.unlink(keypair[0])
    priv, pub, _ = new_key_pair(str(tmp_path / "h.key"), name='<script>alert(1)</script>"')
    doc = fixture_bundle()
    doc["findings"][0]["remediation"] = "<img src=x onerror=alert(2)>"
    signed = sign_once(doc, load_private_key(priv), str(tmp_path / "s.json"))
    p = write_json(tmp_path / "<b>evil<\b>.json", signed)
    r, html = _report(tmp_path, p, extra=("--trust", pub, "--record",
                                          "--inspector", "<i>x</i>"))
    assert r.exit_code == 0, r.output
    body = html.split("<body", 1)[1]
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "<b>evil" not in body and "&lt;b&gt;evil" in body and "<i>x</i>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_evidence_package_roundtrip(tmp_path, inputs, keypair):
    z = tmp_path / "evidence.zip"
    r, html = _report(tmp_path, *inputs, extra=("--trust", str(keypair[1]), "--evidence", str(z)))
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(z) as zf:
        names = set(zf.namelist())
        assert {"report.html", "SHA256SUMS", "MANIFEST.json"} <= names
        assert sum(n.startswith("inputs/") for n in names) == 3
        assert sum(n.startswith("keys/") for n in names) == 1
        assert zf.read("report.html") == (tmp_path / "r.html").read_bytes()
        for n in ("inputs/01-secret-1.json",):
            assert zf.read(n) == inputs[0].read_bytes()
    # unsigned, the sums bind nothing: whoever edits the report edits SHA256SUMS too
    r = run("verify", str(z), "--trust", str(keypair[1]), "--lang", "en")
    assert r.exit_code == 1 and "the package is not signed (no SHA256SUMS.sig)" in r.output, r.output
    z2 = tmp_path / "signed.zip"
    r, _ = _report(tmp_path, *inputs, extra=("--trust", str(keypair[1]), "--evidence", str(z2),
                                             "--sign", str(keypair[0])))
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(z2) as zf:
        assert "SHA256SUMS.sig" in zf.namelist()
    r = run("verify", str(z2), "--trust", str(keypair[1]), "--lang", "en")
    assert r.exit_code == 0 and "are signed by ed25519:" in r.output, r.output
    r = run("verify", str(z2), "--lang", "en")        # the package's own keys: said, not trusted
    assert r.exit_code == 1 and "shipped in the package" in r.output
    assert "keys shipped in the package prove nothing" in r.output


def test_a_signed_package_whose_report_and_sums_were_both_changed_is_refused(tmp_path, inputs,
                                                                              keypair):
    z = tmp_path / "signed.zip"
    r, _ = _report(tmp_path, *inputs, extra=("--trust", str(keypair[1]), "--evidence", str(z),
                                             "--sign", str(keypair[0])))
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(z) as zf:
        html = zf.read("report.html").replace(b"</body>", b"<p>compliant</p></body>")
        sums = zf.read("SHA256SUMS").decode()
        old = hashlib.sha256(zf.read("report.html")).hexdigest()
    sums = sums.replace(old, hashlib.sha256(html).hexdigest())
    bad = tmp_path / "bad.zip"
    _rezip(z, bad, change={"report.html": lambda d: html, "SHA256SUMS": lambda d: sums.encode()})
    r = run("verify", str(bad), "--trust", str(keypair[1]), "--lang", "en")
    assert r.exit_code == 1 and "SHA256SUMS.sig: the signature is invalid" in r.output, r.output


def test_sign_without_evidence_is_refused(tmp_path, inputs, keypair):
    r, _ = _report(tmp_path, *inputs, extra=("--sign", str(keypair[0])))
    assert r.exit_code == 2 and "--sign signs the evidence package" in r.output


def _rezip(src, dst, change=None, add=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if change and info.filename in change:
                data = change[info.filename](data)
            zout.writestr(info, data)
        for info, data in add:
            zout.writestr(info, data)


@pytest.fixture
def package(tmp_path, inputs, keypair):
    z = tmp_path / "evidence.zip"
    r, _ = _report(tmp_path, *inputs, extra=("--trust", str(keypair[1]), "--evidence", str(z)))
    assert r.exit_code == 0
    return z


def test_package_changed_member_is_named(tmp_path, package, keypair):
    bad = tmp_path / "bad.zip"
    _rezip(package, bad, change={"report.html": lambda d: d.replace(b"</body>", b"x</body>")})
    r = run("verify", str(bad), "--trust", str(keypair[1]), "--lang", "en")
    assert r.exit_code == 1 and "report.html: its sha256 does not match SHA256SUMS" in r.output


def test_package_added_member_is_named(tmp_path, package, keypair):
    bad = tmp_path / "bad.zip"
    _rezip(package, bad, add=[(zipfile.ZipInfo("inputs/99-extra.json"), b"{}")])
    r = run("verify", str(bad), "--trust", str(keypair[1]), "--lang", "en")
    assert r.exit_code == 1 and "inputs/99-extra.json: in the package but not in SHA256SUMS" in r.output


def test_package_tampered_input_with_fixed_sums_is_invalid(tmp_path, package, keypair):
    bad = tmp_path / "bad.zip"
    name = "inputs/02-secret-2.json"
    with zipfile.ZipFile(package) as zf:
        data = json.loads(zf.read(name))
        sums = zf.read("SHA256SUMS").decode()
    data["observations"]["x"] = 1
    new = json.dumps(data).encode()
    old_sum = re.search(rf"([0-9a-f]{{64}})  {re.escape(name)}", sums).group(1)
    sums = sums.replace(old_sum, hashlib.sha256(new).hexdigest())
    _rezip(package, bad, change={name: lambda d: new, "SHA256SUMS": lambda d: sums.encode()})
    r = run("verify", str(bad), "--trust", str(keypair[1]), "--lang", "en")
    assert r.exit_code == 1 and "INVALID SIGNATURE" in r.output


@pytest.mark.parametrize("name", ["../evil.json", "/etc/evil", "inputs/../../x", "a\\..\\b",
                                  "C:/x"])
def test_zip_slip_is_refused(tmp_path, package, keypair, name):
    bad = tmp_path / "bad.zip"
    _rezip(package, bad, add=[(zipfile.ZipInfo(name), b"{}")])
    r = run("verify", str(bad), "--trust", str(keypair[1]))
    assert r.exit_code == 2 and "refused" in r.output
    assert not (tmp_path.parent / "evil.json").exists()


def test_symlink_member_is_refused(tmp_path, package, keypair):
    bad = tmp_path / "bad.zip"
    info = zipfile.ZipInfo("inputs/link.json")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    _rezip(package, bad, add=[(info, b"/etc/passwd")])
    r = run("verify", str(bad), "--trust", str(keypair[1]))
    assert r.exit_code == 2 and "symbolic link" in r.output


def test_huge_member_is_refused(tmp_path, package, keypair, monkeypatch):
    bad = tmp_path / "bomb.zip"
    info = zipfile.ZipInfo("inputs/bomb.json")
    info.compress_type = zipfile.ZIP_DEFLATED
    _rezip(package, bad, add=[(info, b"0" * (5 << 20))])   # 5 MB of zeros, some KB packed
    assert os.path.getsize(bad) < (1 << 20)
    monkeypatch.setenv("ISOSCAN_MAX_BUNDLE_BYTES", str(1 << 20))
    r = run("verify", str(bad), "--trust", str(keypair[1]))
    assert r.exit_code == 2 and "refused" in r.output


def test_not_a_zip_and_not_json(tmp_path, keypair):
    p = tmp_path / "x.zip"
    p.write_bytes(b"PK\x03\x04garbage")
    r = run("verify", str(p), "--trust", str(keypair[1]))
    assert r.exit_code == 2
