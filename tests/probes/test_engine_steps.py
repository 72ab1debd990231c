"""The engine without a network: input errors exit 2 before any probe, a
probe that raises is its section's error (never a pass), exit codes."""
import textwrap

import pytest
from click.testing import CliRunner

from scanner.scan import engine
from scanner.scan.vantage import LocalInterface

INV = textwrap.dedent("""\
    version: 1
    organization: {name: 测试单位}
    canaries:
      - {name: canary, address: 203.0.113.10}
    segments:
      - {name: secret-lan, classification: classified, level: secret, networks: [10.10.0.0/24]}
      - {name: internet, classification: internet, networks: [203.0.113.0/24]}
    devices:
      - {name: probe-s, kind: probe, asset_tag: A1, custodian: X, segment: secret-lan, ip: 10.10.0.5, mac: "02:00:00:00:0a:05"}
      - {name: ws-1, kind: workstation, asset_tag: A2, custodian: Y, segment: secret-lan, ip: 10.10.0.11, mac: "02:00:00:00:0a:0b"}
""")


@pytest.fixture
def inv_file(tmp_path):
    p = tmp_path / "unit.yaml"
    p.write_text(INV, encoding="utf-8")
    return str(p)


@pytest.fixture
def no_wire(monkeypatch):
    """Any attempt to touch the wire fails the test."""
    def boom(*a, **k):
        raise AssertionError("a probe ran")
    from scanner.probes import control, discovery, egress, forwarding, inbound
    for mod, name in ((discovery, "probe"), (forwarding, "probe"), (forwarding, "discover_and_probe"),
                      (egress, "probe"), (inbound, "probe"), (control, "arp_items")):
        monkeypatch.setattr(mod, name, boom)
    return boom


def _ifaces(ip, name="lo", mac="02:00:00:00:0a:05"):
    return [LocalInterface(name=name, mac=mac, up=True, ipv4=(ip,))]


def test_schema_error_exits_2_before_anything(tmp_path, no_wire):
    from scanner.commands.scan import scan
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsegments: [\n", encoding="utf-8")
    r = CliRunner().invoke(scan, ["-i", str(bad), "--lang", "en"])
    assert r.exit_code == 2, r.output
    assert "INV-SCHEMA" in r.output


def test_missing_file_and_unknown_check_exit_2(tmp_path, inv_file, no_wire):
    from scanner.commands.scan import scan
    r = CliRunner().invoke(scan, ["-i", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2
    r = CliRunner().invoke(scan, ["-i", inv_file, "--checks", "NO-SUCH-CHECK"])
    assert r.exit_code == 2


def test_out_of_scope_host_exits_2_before_any_probe(inv_file, monkeypatch, no_wire):
    from scanner.commands.scan import scan
    monkeypatch.setattr("scanner.scan.vantage.local_interfaces", lambda: _ifaces("192.168.1.7"))
    r = CliRunner().invoke(scan, ["-i", inv_file, "--lang", "en"])
    assert r.exit_code == 2, r.output
    assert "refusing to scan" in r.output


def _fake_scan(monkeypatch, inv_file, steps, control_ok=True):
    from scanner.probes import control, wire
    monkeypatch.setattr("scanner.scan.vantage.local_interfaces", lambda: _ifaces("10.10.0.5"))
    monkeypatch.setattr(wire, "privileges", lambda: {"ok": True, "error": None})
    items = [{"kind": "arp", "target": "10.10.0.11", "device": "ws-1", "ok": control_ok,
              "macs": ["02:00:00:00:0a:0b"] if control_ok else [], "detail": "fake"}]
    monkeypatch.setattr(control, "safe_arp_items", lambda plan: (items, None))
    return engine.scan([inv_file], lang="en", steps=steps)


def _clean_sections(ctx):
    return {
        "discovery": {"status": "ok", "error": None, "method": "fake", "every_mac": True,
                      "hosts": [{"ip": "10.10.0.11", "mac": "02:00:00:00:0a:0b", "via": "arp"}]},
        "forwarding": {"status": "ok", "error": None, "probes": [
            {"via_ip": "10.10.0.11", "via_mac": "02:00:00:00:0a:0b", "dst": "203.0.113.10",
             "dst_kind": "canary", "dst_segment": "internet", "proto": "icmp", "port": None,
             "ttl": ttl, "result": "none", "responder_ip": None, "responder_mac": None,
             "hop2": None, "token": None} for ttl in (1, 64)]},
    }


def _egress(ctx):
    return {"status": "ok", "error": None, "probes": [
        {"dst": "203.0.113.10", "dst_kind": "canary", "dst_segment": "internet", "proto": "icmp",
         "port": None, "result": "unreachable", "responder_ip": None, "first_hop": None, "token": None}]}


def _empty(name):
    return lambda ctx: ({"status": "ok", "error": None, "offers": []} if name == "dhcp"
                        else {"status": "ok", "error": None, "adverts": []})


def test_fake_clean_scan_is_compliant(inv_file, monkeypatch, no_wire):
    steps = [engine.Step("egress", _egress), engine.Step("dhcp", _empty("dhcp")),
             engine.Step("ra", _empty("ra")),
             engine.Step("discovery", _clean_sections, writes=("discovery", "forwarding"))]
    res = _fake_scan(monkeypatch, inv_file, steps)
    b = res.bundle
    assert b["vantage"]["segment"] == "secret-lan"
    assert b["observations"]["controls"]["ok"], b["observations"]["controls"]
    bad = [(f["check_id"], f["status"], f["evidence"]) for f in b["findings"] if f["status"] in ("fail", "error")]
    assert bad == []
    assert res.exit_code == 0


def test_a_probe_that_raises_is_an_error_never_a_pass(inv_file, monkeypatch, no_wire):
    def broken(ctx):
        raise OSError("the wire is gone")
    steps = [engine.Step("egress", _egress), engine.Step("dhcp", _empty("dhcp")),
             engine.Step("ra", _empty("ra")),
             engine.Step("discovery", broken, writes=("discovery", "forwarding"))]
    res = _fake_scan(monkeypatch, inv_file, steps)
    obs = res.bundle["observations"]
    assert obs["discovery"]["status"] == "error" and "the wire is gone" in obs["discovery"]["error"]
    assert obs["forwarding"]["status"] == "error"
    assert res.exit_code == 3
    from scanner.judge.registry import load_checks
    readers = {c.meta.id for c in load_checks().checks
               if {"discovery", "forwarding"} & set(c.meta.needs)}
    assert {"ISO-BRIDGE", "DEV-UNREGISTERED", "DEV-MISSING"} <= readers
    passing = {f["check_id"] for f in res.bundle["findings"] if f["status"] == "pass"}
    assert not passing & readers


def test_failed_control_is_incomplete(inv_file, monkeypatch, no_wire):
    steps = [engine.Step("egress", _egress), engine.Step("dhcp", _empty("dhcp")),
             engine.Step("ra", _empty("ra")),
             engine.Step("discovery", _clean_sections, writes=("discovery", "forwarding"))]
    res = _fake_scan(monkeypatch, inv_file, steps, control_ok=False)
    assert not res.bundle["observations"]["controls"]["ok"]
    assert res.exit_code == 3


def test_run_step_without_privileges():
    from scanner.scan.progress import Progress
    ctx = engine.Context(None, None, {"privileges": {"ok": False, "error": "no CAP_NET_RAW"}}, "en",
                         Progress(quiet=True))
    out = engine.run_step(engine.Step("discovery", lambda c: 1 / 0, writes=("discovery", "forwarding")), ctx)
    assert out == {"discovery": {"status": "error", "error": "no CAP_NET_RAW"},
                   "forwarding": {"status": "error", "error": "no CAP_NET_RAW"}}


def _slow_dhcp(gate):
    def run(ctx):
        gate.wait(5)
        return {"status": "ok", "error": None, "offers": []}
    return run


def _findings(res):
    return [(f["check_id"], f["status"], f["evidence"]) for f in res.bundle["findings"]]


def test_checks_judged_while_a_listener_waits_say_what_they_say_at_the_end(
        inv_file, monkeypatch, no_wire):
    """Live checks whose sections are final are judged while DHCP still
    listens; the findings (and their order) are those of judging at the end."""
    import threading
    from scanner.judge import run as judge
    calls = []
    real = engine.run_checks

    def spy(checks, inv, obs):
        checks = list(checks)
        calls.append(([m.id for m, _ in checks], "dhcp" in obs))
        return real(checks, inv, obs)
    def steps():
        gate = threading.Event()

        def discovery_then_open(ctx):
            out = _clean_sections(ctx)
            threading.Timer(0.3, gate.set).start()     # DHCP ends after the judging began
            return out
        return [engine.Step("egress", _egress),
                engine.Step("dhcp", _slow_dhcp(gate), background=True),
                engine.Step("ra", _empty("ra")),
                engine.Step("discovery", discovery_then_open, writes=("discovery", "forwarding"))]

    def comparable(res):     # the passive RA listener's seconds are timing, not judging
        return [(c, st, ev if c != "NET-IPV6-RA" else None) for c, st, ev in _findings(res)]
    with monkeypatch.context() as m:        # everything judged at the end, as before
        m.setattr(engine, "_judge_early", lambda *a, **k: None)
        want = comparable(_fake_scan(monkeypatch, inv_file, steps()))
    monkeypatch.setattr(engine, "run_checks", spy)
    res = _fake_scan(monkeypatch, inv_file, steps())
    assert comparable(res) == want
    early = [ids for ids, has_dhcp in calls if not has_dhcp and ids and ids[0] != "INV-SCHEMA"]
    assert ["ISO-BRIDGE"] in early and ["NET-DHCP"] not in early
    assert judge.verdict(res.findings) == "compliant"


def test_checks_are_judged_again_when_the_control_changed_meanwhile(inv_file, monkeypatch, no_wire):
    """The controls are evaluated again at the end: when they differ from
    the ones the early judging saw, every live check is judged again."""
    import threading
    from scanner.probes import control
    gate = threading.Event()
    real = control.evaluate
    seen = []

    def flaky(plan, obs, arp, err):
        out = real(plan, obs, arp, err)
        seen.append(out["ok"])
        if len(seen) == 1:                     # the early look: the interface was down
            out = dict(out, ok=False, error={"zh-CN": "接口未启用", "en": "interface is down"})
        return out
    monkeypatch.setattr(control, "evaluate", flaky)

    def discovery_then_open(ctx):
        out = _clean_sections(ctx)
        threading.Timer(0.3, gate.set).start()
        return out
    steps = [engine.Step("egress", _egress), engine.Step("dhcp", _slow_dhcp(gate), background=True),
             engine.Step("ra", _empty("ra")),
             engine.Step("discovery", discovery_then_open, writes=("discovery", "forwarding"))]
    res = _fake_scan(monkeypatch, inv_file, steps)
    assert len(seen) == 2
    assert res.bundle["observations"]["controls"]["ok"]
    bad = [(f["check_id"], f["status"]) for f in res.bundle["findings"] if f["status"] in ("fail", "error")]
    assert bad == [] and res.exit_code == 0


def test_an_after_step_starts_when_the_foreground_is_done_and_every_step_is_timed(
        inv_file, monkeypatch, no_wire):
    """`after` steps (identity) start once discovery has written its sections;
    observations.timings gives each step's start and length from the scan's start."""
    import time
    seen = {}

    def discovery(ctx):
        time.sleep(0.05)
        return _clean_sections(ctx)

    def identity(ctx):
        seen["discovery"] = ctx.obs.get("discovery", {}).get("status")
        return {"status": "ok", "error": None, "identities": [], "clones": []}
    steps = [engine.Step("egress", _egress), engine.Step("dhcp", _empty("dhcp")),
             engine.Step("ra", _empty("ra")),
             engine.Step("discovery", discovery, writes=("discovery", "forwarding")),
             engine.Step("identity", identity, after=True)]
    res = _fake_scan(monkeypatch, inv_file, steps)
    assert seen == {"discovery": "ok"} and res.exit_code == 0
    t = res.bundle["observations"]["timings"]["steps"]
    assert {"egress", "dhcp", "ra", "discovery", "identity"} <= set(t)
    assert t["discovery"]["seconds"] >= 0.05
    assert t["identity"]["start"] >= t["discovery"]["start"] + t["discovery"]["seconds"] - 0.001
    assert list(t) == sorted(t, key=lambda k: t[k]["start"])
