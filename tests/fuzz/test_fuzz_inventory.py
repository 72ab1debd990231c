"""Fuzz: hostile inventory files never give a traceback.

Random bytes and random YAML-ish documents (deep nesting, huge ints, odd
scalars, anchors and aliases, non-UTF-8, BOMs, NULs) go through
`scanner.inventory.load.load_inventory` and `isoscan validate`: the only outcomes
are findings, or InputError (exit 2, one line); every INV-SCHEMA finding
points at a line and column >= 1.
"""
from __future__ import annotations

import json
import os
import tempfile
import time

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.cli import main
from scanner.inventory.load import InputError, load_inventory
from scanner.model import Status

# ISOSCAN_FUZZ=N runs N times more examples, not derandomized (a longer hunt by hand)
SCALE = int(os.environ.get("ISOSCAN_FUZZ", "0") or 0)
FUZZ = settings(max_examples=60 * max(SCALE, 1), deadline=2000, derandomize=not SCALE, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID = b"""version: 1
organization: {name: x}
segments:
  - {name: a, classification: classified, level: secret, networks: [10.0.0.0/24]}
devices:
  - {name: d, kind: workstation, asset_tag: T, custodian: c, segment: a, ip: 10.0.0.5}
"""

# ---------------------------------------------------------------- strategies

KEYS = ["version", "organization", "name", "id", "segments", "devices", "canaries",
        "transfers", "classification", "level", "networks", "ingress", "exposed",
        "dhcp_servers", "ipv6_routers", "kind", "asset_tag", "custodian", "segment",
        "ip", "mac", "interfaces", "address", "tcp", "udp", "icmp", "from", "to",
        "device", "title", "lab", "netwroks", "<<", "", "\u202e", "a:b", "- x"]

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10 ** 40), max_value=10 ** 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["10.0.0.0/24", "10.0.0.5", "::1", "fe80::/10", "02:00:00:00:00:01",
                     "0200.0000.0001", "12:34:56", "1:2:3:4:5:6", "999.1.1.1/99",
                     "classified", "non-classified", "internet", "secret", "top-secret",
                     "workstation", "probe", "yes", "no", "on", "off", "~", "null",
                     ".inf", "-.nan", "0x1F", "0o17", "1_000", "2026-11-30", "1e999",
                     "<script>alert(1)</script>", "\u202eevil", "\x1b[31mred",
                     "line\nbreak", "a\x00b", "\ufeff", "é", "涉密"]),
    st.text(max_size=12),
)


def _yamlish(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)),
                        children, max_size=5),
    )


DOCS = st.recursive(SCALARS, _yamlish, max_leaves=30)


def _inventoryish():
    """Documents shaped like inventories, with random values in the slots."""
    seg = st.fixed_dictionaries({"name": DOCS, "classification": DOCS, "networks": DOCS},
                                optional={"level": DOCS, "ingress": DOCS, "exposed": DOCS,
                                          "dhcp_servers": DOCS, "ipv6_routers": DOCS,
                                          "title": DOCS})
    dev = st.fixed_dictionaries({"name": DOCS}, optional={
        "kind": DOCS, "segment": DOCS, "ip": DOCS, "mac": DOCS, "asset_tag": DOCS,
        "custodian": DOCS, "interfaces": st.lists(st.dictionaries(
            st.sampled_from(["segment", "ip", "mac", "zz"]), DOCS, max_size=4), max_size=3)})
    return st.fixed_dictionaries(
        {"version": st.one_of(st.just(1), DOCS)},
        optional={"organization": st.one_of(st.fixed_dictionaries({"name": DOCS}), DOCS),
                  "segments": st.one_of(st.lists(seg, max_size=3), DOCS),
                  "devices": st.one_of(st.lists(dev, max_size=3), DOCS),
                  "canaries": st.one_of(st.lists(st.dictionaries(
                      st.sampled_from(["name", "address", "tcp", "udp", "icmp"]), DOCS,
                      max_size=5), max_size=2), DOCS),
                  "transfers": st.one_of(st.lists(st.dictionaries(
                      st.sampled_from(["device", "from", "to"]), DOCS, max_size=3),
                      max_size=2), DOCS),
                  "lab": DOCS})


def _dump(doc, style: int) -> str:
    """YAML text of a document: flow (JSON) or block (PyYAML), both valid YAML-ish."""
    import yaml
    if style == 0:
        return json.dumps(doc, ensure_ascii=bool(style), allow_nan=True, default=str)
    try:
        return yaml.safe_dump(doc, allow_unicode=True, default_flow_style=False)
    except Exception:
        return json.dumps(doc, default=str)


MUTATIONS = [b"", b"\xef\xbb\xbf", b"\x00", b"\xff\xfe", b"\t", b"&a ", b"*a", b"!!binary ",
             b"!!python/object:os.system ", b"--- ", b"\n---\n", b"%YAML 1.1\n", b"? ", b"<<: *a\n",
             b"\r", b"\x85", b"\xe2\x80\xa8", b"{", b"[", b"'", b'"', b"#", b"|\n", b">-\n",
             b"\x1b[2J", b"\xc3", b"\xed\xa0\x80"]


@st.composite
def mutated(draw):
    base = draw(st.one_of(st.just(VALID),
                          _inventoryish().map(lambda d: _dump(d, 1).encode("utf-8", "surrogatepass")),
                          DOCS.map(lambda d: _dump(d, draw(st.integers(0, 1)))
                                   .encode("utf-8", "surrogatepass"))))
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(base)))
        base = base[:pos] + draw(st.sampled_from(MUTATIONS)) + base[pos:]
    return base


# ---------------------------------------------------------------- helpers

def _load_bytes(raw: bytes, name: str = "inv.yaml"):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, name)
        with open(p, "wb") as fh:
            fh.write(raw)
        try:
            res = load_inventory([p])
        except InputError as exc:
            assert "\n" not in str(exc)
            return None
        _assert_findings_located(res)
        return res


def _assert_findings_located(res):
    for f in res.findings:
        assert f.check_id == "INV-SCHEMA"
        assert f.status == Status.FAIL
        assert f.location is not None
        assert f.location.line >= 1, f
        assert f.location.column >= 1, f
        assert f.evidence


def _validate_bytes(raw: bytes, fmt: str = "text", extra=()):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "inv.yaml")
        with open(p, "wb") as fh:
            fh.write(raw)
        r = CliRunner().invoke(main, ["validate", "--format", fmt, *extra, p])
    assert r.exception is None or isinstance(r.exception, SystemExit), \
        f"traceback: {r.exc_info and r.exc_info[1]!r}"
    assert r.exit_code in (0, 1, 2), r.output
    assert "Traceback" not in r.output
    if r.exit_code == 2:
        err = r.stderr.strip()
        assert err and "\n" not in err, err
    return r


# ---------------------------------------------------------------- tests

@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_load(raw):
    _load_bytes(raw)


@FUZZ
@given(mutated())
def test_yamlish_documents_load(raw):
    _load_bytes(raw)


@FUZZ
@given(_inventoryish())
def test_inventory_shaped_documents_load(doc):
    res = _load_bytes(_dump(doc, 1).encode("utf-8", "surrogatepass"))
    assert res is not None


@settings(max_examples=25 * max(SCALE, 1), deadline=5000, derandomize=not SCALE, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated(), st.sampled_from(["text", "json", "sarif", "junit"]),
       st.sampled_from([(), ("--lang", "en")]))
def test_validate_cli_never_traces(raw, fmt, extra):
    r = _validate_bytes(raw, fmt, extra)
    if r.exit_code in (0, 1) and fmt == "json":
        doc = json.loads(r.stdout)
        for f in doc["findings"]:
            if f["check_id"] == "INV-SCHEMA" and f["status"] == "fail":
                loc = f["location"]
                assert loc["line"] >= 1 and loc["column"] >= 1


@settings(max_examples=20 * max(SCALE, 1), deadline=5000, derandomize=not SCALE, database=None)
@given(st.binary(max_size=300))
def test_validate_cli_random_bytes(raw):
    r = _validate_bytes(raw)
    # random bytes are never a clean inventory
    assert r.exit_code == 1


# ---------------------------------------------------------------- fixed hostile files

def _timed_load(raw: bytes):
    t0 = time.perf_counter()
    res = _load_bytes(raw)
    return res, time.perf_counter() - t0


def test_alias_bomb_fails_fast():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    res, took = _timed_load(("version: 1\n" + "\n".join(lines) + "\n").encode())
    assert took < 1.0, took
    assert res is not None and res.inventory is None or res.findings
    assert any("alias" in f.evidence[0]["en"].lower() for f in res.findings)


def test_alias_bomb_in_a_slot_fails_fast():
    raw = b"version: 1\norganization: {name: x}\nx: &x [&y [&z [a, b, c, d, e, f, g, h]]]\n"
    lines = ["version: 1", "organization: {name: x}", "b0: &b0 [x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 8)}]")
    lines.append("segments: *b9")
    res, took = _timed_load("\n".join(lines).encode())
    assert took < 1.0, took
    assert res.findings
    _load_bytes(raw)


def test_deep_nesting_flow_fails_fast():
    raw = b"version: 1\norganization: {name: x}\nsegments: " + b"[" * 1000 + b"]" * 1000 + b"\n"
    res, took = _timed_load(raw)
    assert took < 1.0, took
    assert res.findings


def test_deep_nesting_mapping_fails_fast():
    raw = b"version: 1\norganization: {name: x}\nsegments: " + b"{a: " * 1000 + b"1" + b"}" * 1000 + b"\n"
    res, took = _timed_load(raw)
    assert took < 1.0, took
    assert res.findings


def test_deep_nesting_block_fails_fast():
    body = "".join(" " * i + "- \n" for i in range(0, 2000, 2))
    body = "version: 1\norganization: {name: x}\nsegments:\n" + \
        "".join(" " * (i + 2) + f"k{i}:\n" for i in range(0, 2000, 2)) + " " * 2002 + "v\n"
    res, took = _timed_load(body.encode())
    assert took < 1.0, took
    assert res.findings
    assert body


def test_deep_nesting_through_validate_cli():
    raw = b"version: 1\norganization: {name: x}\nsegments: " + b"[" * 1000 + b"]" * 1000 + b"\n"
    t0 = time.perf_counter()
    r = _validate_bytes(raw)
    assert time.perf_counter() - t0 < 2.0
    assert r.exit_code == 1


def test_huge_int_and_odd_scalars():
    raw = ("version: " + "9" * 5000 + "\norganization: {name: .nan}\n"
           "segments:\n  - {name: !!binary aGVsbG8=, classification: .inf, networks: [!!int 1]}\n"
           "devices: [{name: d, ip: 1e999, mac: 12:34:56:78:9a:bc:de}]\n").encode()
    res = _load_bytes(raw)
    assert res is not None and res.findings


def test_bom_nul_crlf_and_non_utf8():
    assert _load_bytes(b"\xef\xbb\xbf" + VALID).inventory is not None
    for raw in (b"\xef\xbb\xbf\xef\xbb\xbf" + VALID, VALID.replace(b"x}", b"x\x00}"),
                VALID.replace(b"\n", b"\r\n"), VALID + b"\xff\xfe", b"\xff\xfe" + VALID,
                VALID.replace(b"name: x", b"name: \xed\xa0\x80"), b"\x00" * 10,
                VALID.replace(b"name: x", b"name: \xc3")):
        res = _load_bytes(raw)
        assert res is not None


def test_python_tags_are_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    raw = (f"version: 1\norganization: !!python/object/apply:os.system ['touch {marker}']\n").encode()
    _load_bytes(raw)
    assert not marker.exists()
