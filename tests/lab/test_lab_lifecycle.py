"""Lab lifecycle: teardown is complete, idempotent, and works after a crash."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from lab_support import DEMO_LAB, require_root, unique_lab_name

pytestmark = pytest.mark.lab


@pytest.fixture(autouse=True)
def _root():
    require_root()


def netns_with(prefix: str) -> list[str]:
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [l.split()[0] for l in r.stdout.splitlines() if l.startswith(prefix)]


def gone(pids) -> bool:
    return all(not os.path.exists(f"/proc/{p}") or
               open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z" for p in pids)


def test_cli_up_then_down_from_another_process_leaves_nothing():
    from scanner.lab import state
    name = unique_lab_name("c")
    try:
        r = subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "up", str(DEMO_LAB),
                            "--name", name], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        st = state.load(name)
        pids = [p["pid"] for p in st["procs"]]
        assert len(netns_with(f"isl-{name}.")) == len(st["namespaces"]) == 18
        assert pids and not gone(pids)
        r = subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "status", "--format", "json"],
                           capture_output=True, text=True)
        assert name in r.stdout
        r = subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "down", name],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and name in r.stdout
        assert netns_with(f"isl-{name}.") == []
        time.sleep(0.1)
        assert gone(pids)
        assert not os.path.exists(state.run_dir(name))
        r = subprocess.run([sys.executable, "-m", "scanner.cli", "lab", "down", name],
                           capture_output=True, text=True)
        assert r.returncode == 0                                   # idempotent
    finally:
        from scanner import lab as L
        L.down(name)


def test_down_after_lost_state_still_removes_everything():
    from scanner import lab as L
    from scanner.lab import state
    name = unique_lab_name("s")
    try:
        lab = L.up(DEMO_LAB, faults=["soho-router"], name=name)
        pids = [p["pid"] for p in state.load(name)["procs"]]
        extra = lab.spawn("probe-office", ["sleep", "300"])           # something a test left
        shutil.rmtree(state.run_dir(name))                              # the crash lost /run state
        assert L.down(name) == [name]
        assert netns_with(f"isl-{name}.") == []
        extra.wait(timeout=5)
        time.sleep(0.1)
        assert gone(pids)
        assert L.down(name) == []
    finally:
        L.down(name)


def test_a_failed_build_tears_down_what_it_built(monkeypatch):
    from scanner import lab as L
    from scanner.lab import build, state
    name = unique_lab_name("f")

    def broken(topo):
        raise L.LabError("simulated failure while starting processes")
    monkeypatch.setattr(build, "_start_procs", broken)
    try:
        with pytest.raises(L.LabError, match="simulated"):
            L.up(DEMO_LAB, name=name)
        assert netns_with(f"isl-{name}.") == []
        assert state.load(name) is None
    finally:
        L.down(name)


def test_exec_runs_inside_the_host_and_hostile_names_are_data(tmp_path):
    from scanner import lab as L
    data = yaml.safe_load(DEMO_LAB.read_text(encoding="utf-8"))
    data["devices"][1]["name"] = "工作站 1; touch /tmp/pwned-$(id -u)"
    data["lab"]["faults"] = []
    p = tmp_path / "hostile.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    name = unique_lab_name("h")
    try:
        with L.up(p, name=name) as lab:
            host = "工作站 1; touch /tmp/pwned-$(id -u)"
            assert lab.netns(host).startswith(lab.prefix)
            r = lab.exec(host, ["ip", "-br", "addr", "show", "eth0"], check=True)
            assert "10.10.0.11/24" in r.stdout
            with pytest.raises(L.LabError):
                lab.netns("nope")
        assert netns_with(f"isl-{name}.") == []
        assert not os.path.exists("/tmp/pwned-0")
    finally:
        L.down(name)


def test_same_file_twice_under_two_names():
    from scanner import lab as L
    a, b = unique_lab_name("a"), unique_lab_name("b")
    try:
        la = L.up(DEMO_LAB, faults=[], name=a)
        lb = L.up(DEMO_LAB, faults=[], name=b)
        assert set(la.hosts) == set(lb.hosts)
        assert la.netns("gw-01") != lb.netns("gw-01")
        with pytest.raises(L.LabError, match="already up"):
            L.up(DEMO_LAB, faults=[], name=a)
    finally:
        L.down(a)
        L.down(b)
    assert netns_with(f"isl-{a}.") == netns_with(f"isl-{b}.") == []
