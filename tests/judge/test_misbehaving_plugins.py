"""Review: a check plugin that misbehaves never makes a run read as clean."""
from __future__ import annotations

import pytest

from scanner.judge.run import run_check, run_checks, verdict
from scanner.model import CheckMeta, Finding, Severity, Status, fail, passed, text

M = CheckMeta(id="X-REVIEW", severity=Severity.HIGH, title=text("t", "t"),
              needs=("discovery",), remediation=text("r", "r"))
OTHER = CheckMeta(id="ISO-PHYSICAL", severity=Severity.CRITICAL, title=text("t", "t"),
                  needs=("egress",), remediation=text("r", "r"))


def test_fails_yielded_before_a_crash_are_kept():
    def evaluate(inv, obs):
        yield fail(M, text("坏", "evidence of a breach"))
        yield passed(M, text("好", "something fine"))
        raise RuntimeError("boom")
    fs = run_check(M, evaluate, None, {})
    st = [f.status for f in fs]
    assert Status.FAIL in st and Status.ERROR in st
    assert Status.PASS not in st          # a check that broke half-way earns no pass
    assert verdict(fs) == "non-compliant"


@pytest.mark.parametrize("exc", [SystemExit(0), SystemExit(None), GeneratorExit(), RecursionError()])
def test_base_exceptions_from_a_check_are_errors(exc):
    def evaluate(inv, obs):
        raise exc
    fs = run_check(M, evaluate, None, {})
    assert [f.status for f in fs] == [Status.ERROR]
    assert verdict(fs) == "incomplete"


def test_keyboard_interrupt_is_not_swallowed():
    def evaluate(inv, obs):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_check(M, evaluate, None, {})


@pytest.mark.parametrize("junk", [{"status": "pass"}, None, "pass", 1])
def test_yielding_something_not_a_finding_is_an_error(junk):
    def evaluate(inv, obs):
        yield passed(M, text("好", "fine"))
        yield junk
    fs = run_check(M, evaluate, None, {})
    assert all(isinstance(f, Finding) for f in fs)
    assert [f.status for f in fs] == [Status.ERROR]
    assert verdict(fs) == "incomplete"


def test_a_finding_of_another_check_id_is_an_error():
    def evaluate(inv, obs):
        yield passed(OTHER, text("好", "ISO-PHYSICAL passes, says a plugin"))
    fs = run_check(M, evaluate, None, {})
    assert [(f.check_id, f.status) for f in fs] == [("X-REVIEW", Status.ERROR)]


def test_returning_none_or_nothing_is_an_error():
    for ev in (lambda inv, obs: None, lambda inv, obs: iter(())):
        fs = run_check(M, ev, None, {})
        assert [f.status for f in fs] == [Status.ERROR]


def test_one_broken_check_does_not_hide_the_others():
    def good(inv, obs):
        yield fail(OTHER, text("坏", "bad"))

    def bad(inv, obs):
        raise ValueError("x" * 10_000)
    fs = run_checks([(M, bad), (OTHER, good)], None, {})
    assert verdict(fs) == "non-compliant"
    assert len(fs[0].evidence[0]["en"]) < 500      # one readable line, not a megabyte
