"""`isoscan serve` as a process, and what it says without the console extra."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from click.testing import CliRunner

from servelib import REPO, fixture_bundle, free_port


def test_serve_without_the_extra_says_what_to_install(monkeypatch, tmp_path):
    import scanner.commands.serve as S
    from scanner.cli import main
    monkeypatch.setattr(S, "NEEDS", ("starlette", "no_such_module_xyz"))
    r = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path}/x.db"])
    assert r.exit_code == 2
    assert "no_such_module_xyz" in r.output and "isoscan[console]" in r.output


def test_bad_config_is_refused_with_its_line(tmp_path):
    from scanner.cli import main
    cfg = tmp_path / "console.yaml"
    cfg.write_text("expected_interval_hours: 26\nbogus: 1\n")
    r = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path}/x.db", "--config", str(cfg)])
    assert r.exit_code == 2 and "unknown setting 'bogus'" in r.output
    cfg.write_text("a: [1,\n")
    r = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path}/x.db", "--config", str(cfg)])
    assert r.exit_code == 2 and "console.yaml:" in r.output and "not valid YAML" in r.output


def test_serve_process_takes_pushes_and_spool(tmp_path):
    db = f"sqlite:///{tmp_path}/c.db"
    tok = subprocess.run([sys.executable, "-m", "scanner.cli", "serve", "token", "add", "p1",
                          "--db", db], capture_output=True, text=True, cwd=REPO, check=True).stdout.strip()
    cfg = tmp_path / "console.yaml"
    cfg.write_text("spool_poll_seconds: 0.1\nspool_settle_seconds: 0.2\n")
    port = free_port()
    spool = tmp_path / "spool"
    p = subprocess.Popen([sys.executable, "-m", "scanner.cli", "serve", "--db", db, "--port",
                          str(port), "--spool", str(spool), "--config", str(cfg)], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/api/v1/health", timeout=2)
                break
            except OSError:
                assert p.poll() is None and time.time() < deadline, p.stdout.read()
                time.sleep(0.1)
        from scanner.serve.client import push_bytes
        r = push_bytes(base, json.dumps(fixture_bundle("secret-lan")).encode(), tok)
        assert r["stored"] is True
        (spool / "office.json").write_text(json.dumps(fixture_bundle("office-lan")))
        while not (spool / "done" / "office.json").exists():
            assert time.time() < deadline + 30
            time.sleep(0.1)
    finally:
        p.terminate()
        p.wait(timeout=20)


def test_yaml_rs_in_short_lived_worker_threads_is_safe_after_the_warm_up():
    """Why build_app imports yaml_rs first (scanner.serve.app.warm_up): a pyo3
    module first imported in a thread that exits segfaults on the next thread's
    call. Proven in a child process, so a crash does not take the tests down."""
    code = (
        "import threading\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "import sys\n"
        "if sys.argv[1] == 'warm':\n"
        "    from scanner.serve.app import warm_up; warm_up()\n"
        "def parse():\n"
        "    import yaml_rs\n"
        "    return yaml_rs.loads('a: [1, 2]', parse_datetime=False)\n"
        "def outer():\n"
        "    with ThreadPoolExecutor(1) as ex:\n"
        "        ex.submit(parse).result()\n"
        "for _ in range(3):\n"
        "    t = threading.Thread(target=outer); t.start(); t.join()\n"
        "print('ok')\n")
    warm = subprocess.run([sys.executable, "-c", code, "warm"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert warm.returncode == 0 and "ok" in warm.stdout, warm.stderr
