"""The watch's privilege drop, read back from the kernel (scanner/watch/privs.py).

Each case runs in a child process: a drop cannot be undone in the test's own."""
from __future__ import annotations

import subprocess
import sys

from tests.lab_support import require_root

CHILD = """
import sys
from scanner.watch import privs
print(privs.drop({user!r}, {keep!r}))
st = privs._status()
print(st["CapEff"], st["CapPrm"], st["CapBnd"], st["NoNewPrivs"])
"""


def _drop(user, keep):
    r = subprocess.run([sys.executable, "-c", CHILD.format(user=user, keep=keep)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    said, caps = r.stdout.strip().splitlines()
    return said, [int(x) for x in caps.split()]


def test_root_keeps_only_cap_net_raw_also_in_the_bounding_set():
    require_root()
    said, (eff, prm, bnd, nnp) = _drop(None, True)
    assert "CAP_NET_RAW only" in said
    assert eff == prm == bnd == 1 << 13
    assert nnp == 1


def test_user_without_raw_keeps_nothing():
    require_root()
    said, (eff, prm, bnd, nnp) = _drop("nobody", False)
    assert said.startswith("user nobody")
    assert eff == prm == bnd == 0
    assert nnp == 1


def test_a_status_that_cannot_be_read_is_a_failure(monkeypatch):
    from scanner.watch import privs

    def unreadable(*a, **k):
        raise PermissionError("no /proc")
    monkeypatch.setattr("builtins.open", unreadable)
    try:
        privs._status()
    except privs.PrivError as exc:
        assert "cannot be confirmed" in str(exc) or "cannot be read" in str(exc)
    else:
        raise AssertionError("an unreadable status read as no capabilities")


def test_user_asked_of_a_watch_not_started_as_root_is_refused(monkeypatch):
    from scanner.watch import privs
    monkeypatch.setattr(privs.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(privs, "_capset", lambda keep: (_ for _ in ()).throw(AssertionError("capset")))
    try:
        privs.drop("nobody", True)
    except privs.PrivError as exc:
        assert "--user nobody" in str(exc)
    else:
        raise AssertionError("--user was ignored")
