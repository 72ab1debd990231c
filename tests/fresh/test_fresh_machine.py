"""The README's first command on a genuinely fresh Debian 12, and the air-gapped install.

One test, in two fresh roots made by debootstrap (minbase, python3, ca-certificates):
1. root A (connected): clone this project, run the README's first command exactly as
   the README writes it, expect exit 0, the demo's PASS line and no network namespace
   left; then build the offline kit there with scripts/offline-kit;
2. root B (never connected): a tampered copy of the kit is refused, naming the file;
   then the README's air-gapped line runs inside a network namespace that has only
   `lo`, and `isoscan demo` passes there, from a folder that is no source tree.

Slow (minutes): not in the default run; .ci/run runs it with `-m slow`. The clone is of
the repository under test (its HEAD: commit what you want tested).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from lab_support import REPO, require_root
from tests.fresh.debian_root import DebianRoot

README = REPO / "README.md"


def readme_first_command() -> str:
    """The first line of the README's first code block, without its comment."""
    block = re.search(r"^```[a-z]*\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
    assert block, "README.md has no code block"
    return re.sub(r"\s+#.*$", "", block.group(1).splitlines()[0]).strip()


def readme_offline_command() -> str:
    """The README's air-gapped install line (tar xzf … ./install.sh), without its comment."""
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("tar xzf isoscan-offline-") and "./install.sh" in line:
            return re.sub(r"\s+#.*$", "", line).strip()
    raise AssertionError("README.md shows no `tar xzf isoscan-offline-… ./install.sh` line")


def test_readme_commands_are_what_this_test_runs():
    # cheap guard that runs with the slow test: the extraction finds the real commands
    assert readme_first_command() == "./scripts/setup && isoscan demo"
    assert "./install.sh" in readme_offline_command()


def _need_debootstrap():
    require_root()
    if shutil.which("debootstrap") is None:
        if os.environ.get("CI"):
            pytest.fail("debootstrap is missing: ./scripts/setup --tests installs it")
        pytest.skip("debootstrap is missing (./scripts/setup --tests installs it)")


def _pass_line(out: str) -> str | None:
    lines = [ln for ln in out.splitlines() if ln.startswith(("结果：", "result:"))]
    return lines[-1] if lines and lines[-1].rstrip().endswith(("通过（PASS）", "— PASS")) else None


def _no_namespace_left(root: DebianRoot) -> None:
    r = root.run("ip netns list")
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr
    assert root.nsfs_mounts() == []
    labs = root.file("/run/isoscan-lab")
    assert not labs.exists() or list(labs.iterdir()) == [], list(labs.iterdir())


@pytest.mark.slow
def test_fresh_debian12_readme_command_then_air_gapped_kit(tmp_path, capsys):
    _need_debootstrap()
    times = {}
    t0 = time.monotonic()
    base = DebianRoot.bootstrap(tmp_path / "base", "bookworm", log=tmp_path / "debootstrap.log")
    times["debootstrap"] = time.monotonic() - t0
    a = base.copy_to(tmp_path / "a")
    b = base
    try:
        # ---- 1. connected root: the README's first command, literally ----------------
        a.connect()
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(a.file("/root/isoscan"))],
                       check=True, timeout=300)
        command = readme_first_command()
        with a.mounted():
            t1 = time.monotonic()
            r = a.run(f"cd /root/isoscan && {command}", log=tmp_path / "readme-command.log")
            times["readme command"] = time.monotonic() - t1
            assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
            assert _pass_line(r.stdout), r.stdout[-3000:]
            _no_namespace_left(a)
            du = subprocess.run(["du", "-sm", str(a.file("/opt/isoscan"))], capture_output=True,
                                text=True).stdout.split()[0]
            times["venv MB"] = float(du)

            t2 = time.monotonic()
            r = a.run("cd /root/isoscan && ./scripts/offline-kit", log=tmp_path / "offline-kit.log")
            times["offline-kit"] = time.monotonic() - t2
            assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
        kits = sorted(a.file("/root/isoscan/dist").glob("isoscan-offline-*.tar.gz"))
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True).stdout.strip()
        assert [k.name for k in kits] == [f"isoscan-offline-{_version()}-debian12-{arch}.tar.gz"]
        kit = kits[0]
        times["kit MB"] = kit.stat().st_size / 1e6
        shutil.copy2(kit, b.file("/root") / kit.name)

        # ---- 2. a second fresh root, no network at all ----------------------------------
        with b.mounted():
            r = b.run("cat /proc/net/dev", network=False)
            ifaces = [ln.split(":")[0].strip() for ln in r.stdout.splitlines() if ":" in ln]
            assert ifaces == ["lo"], r.stdout

            # a kit that does not match its SHA256SUMS is refused, naming the file
            r = b.run(f"mkdir /root/bad && cd /root/bad && tar xzf ../{kit.name} "
                      "&& cd isoscan-offline-*/ && w=$(ls wheels | head -n1) && echo \"$w\" "
                      "&& echo tampered >> wheels/$w && ./install.sh", network=False)
            tampered = r.stdout.splitlines()[0] if r.stdout else "?"
            assert r.returncode != 0, r.stdout + r.stderr
            assert f"wheels/{tampered}" in r.stderr and "refusing" in r.stderr, r.stderr
            assert not b.file("/opt/isoscan").exists()

            t3 = time.monotonic()
            r = b.run(f"cd /root && {readme_offline_command()} && cd / && isoscan demo",
                      network=False, log=tmp_path / "air-gapped.log")
            times["air-gapped install + demo"] = time.monotonic() - t3
            assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
            assert _pass_line(r.stdout), r.stdout[-3000:]
            _no_namespace_left(b)
    finally:
        a.unmount()
        b.unmount()
        a.remove()
        b.remove()
    times["total"] = time.monotonic() - t0
    with capsys.disabled():
        print("\nfresh-machine figures (s, MB):", {k: round(v, 1) for k, v in times.items()})


def _version() -> str:
    m = re.search(r'^version = "(.*)"', (REPO / "pyproject.toml").read_text(), re.M)
    return m.group(1)
