"""scanner.atomicio: the one atomic writer of bundles, reports and canary logs."""
from __future__ import annotations

import os
import stat

import pytest

from scanner.atomicio import write_text_atomic


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def test_writes_utf8_text_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "out.json"
    write_text_atomic(p, "涉密 {\"a\": 1}\n")
    assert p.read_bytes() == "涉密 {\"a\": 1}\n".encode("utf-8")
    assert [x.name for x in tmp_path.iterdir()] == ["out.json"]


def test_replaces_an_existing_file(tmp_path):
    p = tmp_path / "out.html"
    p.write_text("old", encoding="utf-8")
    write_text_atomic(str(p), "new")
    assert p.read_text(encoding="utf-8") == "new"


def test_default_mode_is_what_open_would_make(tmp_path, umask_027):
    p = tmp_path / "report.html"
    write_text_atomic(p, "x")
    q = tmp_path / "plain.html"
    with open(q, "w", encoding="utf-8") as fh:
        fh.write("x")
    assert _mode(p) == _mode(q) == 0o640


def test_private_mode_is_what_mkstemp_would_make(tmp_path, umask_027):
    p = tmp_path / "hits.json"
    write_text_atomic(p, "{}", mode=0o600)
    assert _mode(p) == 0o600


@pytest.mark.parametrize("fsync", [True, False])
def test_fsync_only_when_asked(tmp_path, monkeypatch, fsync):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    write_text_atomic(tmp_path / "b.json", "{}", fsync=fsync)
    assert bool(calls) is fsync


def test_a_failed_rename_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "bundle.json"
    p.write_text("old", encoding="utf-8")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(p, "new")
    assert p.read_text(encoding="utf-8") == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["bundle.json"]


def test_a_missing_folder_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        write_text_atomic(tmp_path / "no" / "such" / "out.json", "{}")


def test_dash_is_stdout_only_when_asked(tmp_path, capsys, monkeypatch):
    write_text_atomic("-", "to stdout\n", dash_is_stdout=True)
    assert capsys.readouterr().out == "to stdout\n"
    monkeypatch.chdir(tmp_path)
    write_text_atomic("-", "to a file named '-'")
    assert capsys.readouterr().out == ""
    assert (tmp_path / "-").read_text(encoding="utf-8") == "to a file named '-'"


def test_the_temporary_has_the_prefix_and_stays_in_the_folder(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append((src, dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_text_atomic(tmp_path / "x.json", "{}", prefix=".canary-")
    (src, dst), = seen
    assert os.path.dirname(src) == str(tmp_path)
    assert os.path.basename(src).startswith(".canary-") and src.endswith(".tmp")
    assert dst == str(tmp_path / "x.json")
