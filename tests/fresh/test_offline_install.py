"""install.sh of the offline kit refuses a kit that does not match its SHA256SUMS,
before it touches anything (fast: no root, no network; the slow fresh-machine test
installs a real kit)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from lab_support import REPO


@pytest.fixture
def kit(tmp_path):
    k = tmp_path / "isoscan-offline-0.0.0-debian12-amd64"
    (k / "wheels").mkdir(parents=True)
    (k / "debs").mkdir()
    shutil.copy2(REPO / "scripts" / "offline-install.sh", k / "install.sh")
    (k / "wheels" / "isoscan-0.0.0-py3-none-any.whl").write_bytes(b"wheel")
    (k / "debs" / "nmap_1_amd64.deb").write_bytes(b"deb")
    (k / "KIT_INFO").write_text("KIT_VERSION=0.0.0\nKIT_DISTRO=nowhere0\nKIT_ARCH=amd64\n"
                                "KIT_PYTHON=3.11\n")
    files = sorted(p.relative_to(k).as_posix() for p in k.rglob("*") if p.is_file())
    (k / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((k / f).read_bytes()).hexdigest()}  {f}\n" for f in files))
    return k


def _install(kit):
    return subprocess.run(["bash", str(kit / "install.sh")], capture_output=True, text=True,
                          timeout=60, cwd="/")


def test_a_changed_file_is_refused_by_name(kit):
    (kit / "debs" / "nmap_1_amd64.deb").write_bytes(b"evil")
    r = _install(kit)
    assert r.returncode != 0
    assert "debs/nmap_1_amd64.deb: FAILED" in r.stderr and "refusing" in r.stderr, r.stderr
    assert "[2/5]" not in r.stdout                 # nothing after the check ran


def test_a_missing_file_is_refused_by_name(kit):
    (kit / "wheels" / "isoscan-0.0.0-py3-none-any.whl").unlink()
    r = _install(kit)
    assert r.returncode != 0
    assert "wheels/isoscan-0.0.0-py3-none-any.whl" in r.stderr and "refusing" in r.stderr, r.stderr


def test_a_file_nobody_listed_is_refused_by_name(kit):
    (kit / "debs" / "extra_1_amd64.deb").write_bytes(b"smuggled")
    r = _install(kit)
    assert r.returncode != 0
    assert "debs/extra_1_amd64.deb" in r.stderr and "refusing" in r.stderr, r.stderr


def test_a_kit_without_sha256sums_is_refused(kit):
    (kit / "SHA256SUMS").unlink()
    r = _install(kit)
    assert r.returncode != 0 and "SHA256SUMS" in r.stderr and "refusing" in r.stderr


def test_a_matching_kit_for_another_release_is_refused_before_installing(kit):
    r = _install(kit)          # the sums match; KIT_INFO names another distribution
    assert r.returncode != 0
    assert "files match" in r.stdout
    assert "this kit is for nowhere0" in r.stderr, r.stderr
