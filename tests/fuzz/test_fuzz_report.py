"""Fuzz: `isoscan report` on random and tampered bundles and canary logs, and
the canary listener's parsing on random bytes: exit 0 or exit 2 with one line,
never a traceback."""
from __future__ import annotations

import copy
import json
import os
import sys
import tempfile

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
import fuzzkit  # noqa: E402

from scanner.canary import listen as C  # noqa: E402
from scanner.cli import main  # noqa: E402

SCALE = int(os.environ.get("ISOSCAN_FUZZ", "0") or 0)


def fuzz(n: int, deadline: int = 5000):
    return settings(max_examples=n * max(SCALE, 1), deadline=deadline, derandomize=not SCALE, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


BUNDLE = fuzzkit.make_bundle()
BUNDLE_EN = fuzzkit.make_bundle("DEV-UNREGISTERED/fail/unknown-hosts", lang="en")
CANARY_BUNDLE = fuzzkit.canary_bundle()
LOG = fuzzkit.canary_log("log-breach")

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
              st.floats(allow_nan=False), st.text(max_size=10),
              st.sampled_from(["ok", "error", "not-run", "pass", "fail", "skipped", "critical",
                               "10.10.0.11", "02:00:00:00:0c:0b", "secret-lan", "internet",
                               "<script>x</script>", "\x1b[2J", "\u202e", "", "nan",
                               "2026-11-30T02:00:00Z", "isoscan.bundle/1", "isoscan.canary/1"])),
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(st.text(max_size=8), kids, max_size=4)),
    max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _set(doc, path, value, delete=False):
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    elif delete and isinstance(node, list):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@st.composite
def tampered(draw, base):
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths[1:] or paths))
        how = draw(st.integers(0, 2))
        doc = _set(doc, path, draw(JSON), delete=how == 0)
    return doc


def _report(*docs, raw: bytes | None = None, args=()):
    with tempfile.TemporaryDirectory() as d:
        names = []
        for i, doc in enumerate(docs):
            p = os.path.join(d, f"in{i}.json")
            with open(p, "wb") as fh:
                fh.write(doc if isinstance(doc, bytes) else
                         json.dumps(doc, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass"))
            names.append(p)
        out = os.path.join(d, "r.html")
        r = CliRunner().invoke(main, ["report", *names, "-o", out,
                                      "--json", os.path.join(d, "m.json"), *args])
        wrote = os.path.exists(out)
    assert r.exception is None or isinstance(r.exception, SystemExit), \
        f"traceback: {r.exc_info[1]!r}"
    assert "Traceback" not in r.output
    assert r.exit_code in (0, 2), r.output
    if r.exit_code == 2:
        err = r.stderr.strip()
        assert err and "\n" not in err, err
        assert not wrote
    else:
        assert wrote
    return r


def test_the_untampered_inputs_report():
    assert _report(BUNDLE).exit_code == 0
    assert _report(BUNDLE, LOG, CANARY_BUNDLE).exit_code == 0


@fuzz(40)
@given(st.binary(max_size=300))
def test_random_bytes(raw):
    _report(raw)


@fuzz(40)
@given(JSON)
def test_random_json(doc):
    _report(doc)


@fuzz(40, 10000)
@given(tampered(BUNDLE))
def test_tampered_bundle(doc):
    _report(doc)


@fuzz(20, 10000)
@given(tampered(BUNDLE_EN), st.sampled_from([(), ("--lang", "en"), ("--no-rejudge",)]))
def test_tampered_bundle_options(doc, args):
    _report(doc, args=args)


@fuzz(40, 10000)
@given(tampered(LOG))
def test_tampered_canary_log(log):
    _report(CANARY_BUNDLE, log)


@fuzz(20, 10000)
@given(tampered(CANARY_BUNDLE), tampered(LOG))
def test_tampered_canary_bundle_and_log(bundle, log):
    _report(bundle, log)


def test_deep_json_is_one_line():
    _report(b"[" * 100_000 + b"]" * 100_000)
    _report(b'{"schema": "isoscan.bundle/1", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")


# ---------------------------------------------------------------- the listener's parsing

@fuzz(300, 2000)
@given(st.binary(max_size=200), st.booleans(), st.sampled_from([None, "canary.test"]))
def test_canary_parsing_random_bytes(raw, ether, zone):
    rec = C.Recorder(max_arrivals=20)
    rec.feed(raw, 1.0, "eth0", ether, zone)
    C.parse_ip(raw)
    C.parse_ether(raw)
    C.parse_dns_query(raw)
    if zone:
        C.dns_answer(raw, zone, "203.0.113.10")


_PREFIXES = [bytes.fromhex("ffffffffffff020000000001" "0800"),
             bytes.fromhex("ffffffffffff020000000001" "8100" "0005" "0800"),
             bytes.fromhex("ffffffffffff020000000001" "86dd")]


@fuzz(300, 2000)
@given(st.sampled_from(_PREFIXES), st.binary(max_size=120), st.sampled_from([4, 6]),
       st.sampled_from([1, 6, 17, 58, 0, 43, 44, 60]))
def test_canary_parsing_plausible_headers(prefix, rest, version, proto):
    """Frames that pass the first checks: right EtherType, plausible version and protocol."""
    if version == 4:
        ip = bytes([0x45, 0, 0, 60, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])
    else:
        ip = bytes([0x60, 0, 0, 0, 0, 40, proto, 64]) + bytes(15) + b"\x01" + bytes(15) + b"\x02"
    rec = C.Recorder(max_arrivals=20)
    rec.feed(prefix + ip + rest, 1.0, "eth0", True, "canary.test")
    rec.feed(ip + rest, 1.0, "eth0", False, None)


# ---------------------------------------------------------------- the canary judge, in process

from scanner.judge.crossbundle import canary as CJ  # noqa: E402
from scanner.inventory.load import load_inventory  # noqa: E402

DEMO_INV = load_inventory([os.path.join(fuzzkit.TESTS.parent, "inventories", "lab",
                                        "demo.yaml")]).inventory
OFFICE = fuzzkit.canary_bundle("bundle-office")


@fuzz(150, 5000)
@given(tampered(LOG), tampered(CANARY_BUNDLE), st.sampled_from(["model", "dict", "none"]))
def test_canary_judge_on_tampered_inputs(log, bundle, inv_kind):
    """judge_arrivals / outside_view / attribute never raise, whatever the log says."""
    inv = {"model": DEMO_INV, "dict": {"canaries": log.get("interfaces"), "segments": 1},
           "none": None}[inv_kind]
    for logs in ([log], {"x.json": log}, [log, LOG]):
        fs = CJ.judge_arrivals([bundle, OFFICE], logs, inv)
        assert all(f.status.value in ("pass", "fail", "error", "skipped") for f in fs)
        CJ.outside_view([bundle, OFFICE], logs, inv)
        for a in (log.get("arrivals") if isinstance(log.get("arrivals"), list) else []):
            CJ.attribute(a, [bundle, OFFICE])


ODD = [None, 1, -1, 2 ** 70, 1.5, True, "", "x", [], [1, None], {}, {"a": 1}]


def _single_mutations(base):
    for path in list(_paths(base))[1:]:
        for value in ODD:
            yield path, _set(copy.deepcopy(base), path, value)
        yield path, _set(copy.deepcopy(base), path, None, delete=True)


def test_canary_judge_every_single_mutation_of_a_log():
    for path, log in _single_mutations(LOG):
        try:
            CJ.judge_arrivals([CANARY_BUNDLE, OFFICE], [log], DEMO_INV)
            CJ.outside_view([CANARY_BUNDLE, OFFICE], [log], DEMO_INV)
        except Exception as exc:  # pragma: no cover - the message names the path
            raise AssertionError(f"{path}: {exc!r}") from exc


def test_canary_judge_every_single_mutation_of_a_bundle():
    for path, b in _single_mutations(CANARY_BUNDLE):
        try:
            CJ.judge_arrivals([b, OFFICE], [LOG], DEMO_INV)
            CJ.outside_view([b, OFFICE], [LOG], DEMO_INV)
            for a in LOG["arrivals"]:
                CJ.attribute(a, [b, OFFICE])
        except Exception as exc:  # pragma: no cover
            raise AssertionError(f"{path}: {exc!r}") from exc


def test_canary_judge_every_single_mutation_of_an_inventory_document():
    doc = BUNDLE["inventory"]["document"]
    for path, d in _single_mutations(doc):
        try:
            CJ.judge_arrivals([CANARY_BUNDLE, OFFICE], [LOG], d)
            CJ.outside_view([CANARY_BUNDLE, OFFICE], [LOG], d)
        except Exception as exc:  # pragma: no cover
            raise AssertionError(f"{path}: {exc!r}") from exc
