"""One scan from this host: inventory → static checks → vantage and plan
(the scope guard) → probes → live checks → bundle.

Order matters:
1. the inventory is loaded; INV-SCHEMA findings stop the scan (exit 2);
2. the vantage is found from this host's addresses: none in a declared
   segment means exit 2 before any probe is built (this refusal protects a
   machine's own network);
3. probes run as a list of steps (`STEPS`); a step that raises records its
   section as status "error" with the reason, and the scan goes on;
   `background` steps (passive listeners such as DHCP and RA) run beside
   the others and are joined at the end; `after` steps (identity) start in
   a thread of their own once the foreground steps are done, so the checks
   that do not read them are judged while they wait on the wire;
4. the positive control is judged from what the probes saw;
5. live checks run via the registry (a check that raises is an error finding);
6. the bundle (SPEC §5) is built.

Adding a probe is one line in STEPS.
"""
from __future__ import annotations

import datetime as _dt
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from scanner.judge.run import EXIT_BY_VERDICT, run_checks
from scanner.model import Finding, Status, error, pick, text
from scanner.scan.progress import Progress

SCHEMA = "isoscan.bundle/1"
TOKEN_ZONE = "canary.isoscan.invalid"


class ScanInputError(Exception):
    """Usage or input error: exit 2. `message` is a Text; `findings` may explain."""

    def __init__(self, message, findings=()):
        self.message = message
        self.findings = list(findings)
        super().__init__(pick(message, "en"))


@dataclass
class Context:
    inv: Any
    plan: Any
    obs: dict
    lang: str
    progress: Progress
    minter: Any = None
    scan_id: str = ""
    control_arp: list | None = None    # ARP control items, when the discovery step did them


@dataclass(frozen=True)
class Step:
    name: str                      # the observation section it writes
    run: Callable[[Context], dict]
    background: bool = False       # runs beside the other steps (passive listeners)
    after: bool = False            # starts when the foreground steps are done, runs beside judging
    raw: bool = True               # needs raw sockets
    writes: tuple[str, ...] = ()   # several sections: run() returns {section: {...}}

    @property
    def sections(self) -> tuple[str, ...]:
        return self.writes or (self.name,)


def _discovery(ctx):
    from scanner.probes import discovery
    return discovery.probe(ctx.plan)


def _discovery_forwarding(ctx):
    """Discovery with the forwarding probes overlapped: every host is probed
    the moment it answers ARP (one listener, one shared wait)."""
    from scanner.probes import discovery, forwarding
    try:
        items: list = []
        disc, fwd = forwarding.discover_and_probe(
            ctx.plan, lambda: discovery.probe(ctx.plan, confirm=False), minter=ctx.minter,
            zone=TOKEN_ZONE,
            control_out=items)
        ctx.control_arp = items
    except Exception as exc:
        why = _msg(exc, ctx.lang)
        try:   # discovery alone may still work; forwarding is then an error, never a pass
            disc = discovery.probe(ctx.plan)
        except Exception as exc2:
            disc = {"status": "error", "error": _msg(exc2, ctx.lang)}
        fwd = {"status": "error", "error": why}
    if fwd.get("status") == "ok" and disc.get("status") == "ok" and ctx.plan.networks6:
        _forwarding6(ctx, disc, fwd)
    return {"discovery": disc, "forwarding": fwd}


def _forwarding6(ctx, disc: dict, fwd: dict) -> None:
    """The IPv6 round of the forwarding probes (segments that declare IPv6):
    its records join fwd["probes"]; fwd["ipv6"] says how it went. A round
    that should have run and failed makes the whole section an error."""
    from scanner.probes import forwarding
    try:
        six = forwarding.probe6(ctx.plan, disc, minter=ctx.minter, zone=TOKEN_ZONE)
    except Exception as exc:
        why = _msg(exc, ctx.lang)
        fwd["ipv6"] = {"status": "error", "error": why}
        fwd.update(status="error", error=why)
        return
    fwd["probes"] = list(fwd.get("probes") or ()) + six.pop("probes")
    fwd["claims"] = list(fwd.get("claims") or ()) + six.pop("claims", [])
    fwd["claims_asked"] = (fwd.get("claims_asked") or 0) + six.pop("claims_asked", 0)
    fwd["sent"] = (fwd.get("sent") or 0) + six.get("sent", 0)
    fwd["ipv6"] = six


def _forwarding(ctx):
    from scanner.probes import forwarding
    disc = ctx.obs.get("discovery") or {}
    if disc.get("status") != "ok":
        raise RuntimeError("discovery did not run: no host to probe through")
    fwd = forwarding.probe(ctx.plan, disc.get("hosts", []), minter=ctx.minter, zone=TOKEN_ZONE)
    if ctx.plan.networks6:
        _forwarding6(ctx, disc, fwd)
    return fwd


def _egress(ctx):
    from scanner.probes import egress, egress_l2
    if egress_l2.wanted(ctx.plan):     # a host on several segments: this one's own way out
        return egress_l2.probe(ctx.plan, minter=ctx.minter, zone=TOKEN_ZONE)
    return egress.probe(ctx.plan, minter=ctx.minter, zone=TOKEN_ZONE)


def _inbound(ctx):
    from scanner.probes import inbound
    return inbound.probe(ctx.plan)


def _identity(ctx):
    """Issue 13: what the stations discovery found say they are (after it)."""
    from scanner.probes import identity
    return identity.probe(ctx.plan, ctx.obs.get("discovery") or {})


# The passive listeners run beside the active steps (about 3 s of those on a
# /24), so their windows cost little wall time.
# DHCP keeps its own 4 s window: dnsmasq ping-checks an address (about 3 s)
# before its first offer of it.
RA_WAIT = 2.5


def _transfer_in(ctx):
    from scanner.probes import transfer
    return transfer.probe(ctx.inv, ctx.plan)


def _dhcp(ctx):
    from scanner.probes import dhcp
    return dhcp.probe(ctx.plan.vantage.interface)


def _ra(ctx):
    from scanner.probes import ra
    return ra.probe(ctx.plan.vantage.interface, wait=RA_WAIT)


def _ra_passive_start(ctx, todo):
    """Issue 7: a passive RA listener from before the first probe to after the
    last, for unsolicited (and rogue) adverts; folded into "ra" at the end."""
    if not any(s.name == "ra" for s in todo) or not (ctx.obs.get("privileges") or {}).get("ok"):
        return None
    from scanner.probes import ra
    return ra.start_passive(ctx.plan.vantage.interface)


def _ra_passive_finish(ctx, handle) -> None:
    if handle is None:
        return
    from scanner.probes import ra
    if isinstance(ctx.obs.get("ra"), dict):
        ctx.obs["ra"] = ra.merge(ctx.obs["ra"], handle)
    else:
        handle.stop()


STEPS: list[Step] = [
    Step("dhcp", _dhcp, background=True),
    Step("ra", _ra, background=True),
    Step("egress", _egress, background=True),      # own stack: independent of the L2 probes
    Step("discovery", _discovery_forwarding, writes=("discovery", "forwarding")),
    Step("inbound", _inbound, raw=False),   # not-run off the internet; checks privileges itself
    Step("identity", _identity, after=True),   # the stations discovery found: who they say they are
    # the high side of a declared one-way transfer listens for the low side's probes
    Step("transfer_in", _transfer_in, background=True),
]


def _msg(exc: BaseException, lang: str) -> str:
    m = getattr(exc, "message", None)
    if isinstance(m, dict):
        return pick(m, lang)
    return f"{type(exc).__name__}: {exc}"


def _norm_errors(section: dict, lang: str) -> dict:
    """Observation errors are plain strings in the scan's language."""
    if isinstance(section, dict) and isinstance(section.get("error"), dict):
        section = dict(section, error=pick(section["error"], lang))
    return section


def run_step(step: Step, ctx: Context) -> dict:
    """{section: data} for the step's sections; failures become status error."""
    ctx.progress.start(step.name)
    priv = ctx.obs.get("privileges") or {}
    if step.raw and not priv.get("ok"):
        err = {"status": "error", "error": priv.get("error") or "no privileges"}
        out = {n: dict(err) for n in step.sections}
    else:
        try:
            got = step.run(ctx)
            out = got if step.writes else {step.name: got}
        except Exception as exc:  # a probe's failure is its section's error, never a pass
            out = {n: {"status": "error", "error": _msg(exc, ctx.lang)} for n in step.sections}
        for n in step.sections:
            sec = out.get(n)
            if not isinstance(sec, dict) or "status" not in sec:
                out[n] = {"status": "error", "error": f"probe {n} returned no section"}
    out = {n: _norm_errors(sec, ctx.lang) for n, sec in out.items()}
    for n, sec in out.items():
        detail = sec.get("error")
        if sec.get("status") == "ok":
            k = next((len(sec[k]) for k in ("hosts", "probes", "offers", "adverts", "identities")
                      if isinstance(sec.get(k), list)), None)
            detail = None if k is None else f"{k}"
        ctx.progress.done(n if len(out) > 1 else step.name, sec.get("status", "error"), detail)
    return out


def needed_sections(checks) -> set[str]:
    out: set[str] = set()
    for c in checks:
        out.update(c.meta.needs)
    return out


@dataclass
class ScanResult:
    exit_code: int
    bundle: dict | None = None
    findings: list[Finding] = field(default_factory=list)
    timezone: str | None = None      # the inventory's organization.timezone (what people read)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def scan(paths, *, checks: list[str] | None = None, lang: str = "zh-CN",
         segment: str | None = None, interface: str | None = None,
         progress: Progress | None = None, steps: list[Step] | None = None,
         inbound: str = "auto", strict: bool = False,
         full_sweep_max_age: int = 30, inbound_rate: int = 5000) -> ScanResult:
    """Run one scan; ScanInputError for exit 2 (before anything is sent)."""
    from scanner.inventory.load import InputError, load_inventory
    from scanner.scan.plan import ScopeError, build_plan
    from scanner.judge.registry import UnknownCheck, load_checks
    from scanner.scan.vantage import VantageError, find_vantage

    progress = progress or Progress(quiet=True, lang=lang)
    started = _now()
    # 1. inventory
    try:
        loaded = load_inventory(paths)
    except InputError as exc:
        raise ScanInputError(text(f"清单无法读取：{exc}", f"inventory cannot be read: {exc}"))
    schema = [f for f in loaded.findings if f.status == Status.FAIL]
    if loaded.inventory is None or schema:
        raise ScanInputError(text("清单不符合格式（INV-SCHEMA），扫描未开始",
                                  "the inventory does not follow the schema (INV-SCHEMA): scan not started"),
                             loaded.findings)
    inv = loaded.inventory
    # 2. checks
    try:
        registry = load_checks(checks)
    except UnknownCheck as exc:
        raise ScanInputError(text(f"未知的检查编号：{exc}", str(exc)))
    # 3. vantage and plan: the scope guard, before any probe
    try:
        vantage = find_vantage(inv, segment=segment, interface=interface)
        plan = build_plan(inv, vantage, inbound_mode=inbound, inbound_rate=inbound_rate)
    except VantageError as exc:
        raise ScanInputError(exc.message)
    except ScopeError as exc:
        raise ScanInputError(text(f"范围保护：{exc}", f"scope guard: {exc}"))
    progress.note(text(f"位置：网段 {vantage.segment}，接口 {vantage.interface}，地址 {vantage.ip}",
                       f"vantage: segment {vantage.segment}, interface {vantage.interface}, address {vantage.ip}"))

    findings: list[Finding] = list(loaded.findings) + list(registry.problems)
    if checks is None:
        findings += registry.missing_problems()     # a half-installed copy is not clean
    static = [c for c in registry.checks if c.meta.static]
    live = [c for c in registry.checks if not c.meta.static]
    static_done: list[Finding] = []
    early = None
    plain_ready = None

    def _static():   # pure; runs while the probes wait on the wire
        if not static_done:
            static_done.extend(run_checks([(c.meta, c.evaluate) for c in static], inv, {}))

    # 4. probes
    from scanner.canary import tokens
    from scanner.probes import wire
    from scanner.probes.control import evaluate as control_evaluate, safe_arp_items
    scan_id = str(uuid.uuid4())
    key = tokens.new_key()
    obs: dict[str, Any] = {"vantage": vantage.to_json(), "plan": plan.to_json(),
                           "canary_key": tokens.key_to_json(key),
                           # how the results are judged: ISO-LOGICAL's full-sweep rule
                           "policy": {"strict": bool(strict),
                                      "full_sweep_max_age_days": int(full_sweep_max_age),
                                      "as_of": started}}
    obs["privileges"] = _norm_errors(wire.privileges(), lang)
    ctx = Context(inv, plan, obs, lang, progress,
                  minter=tokens.TokenMinter(scan_id, vantage.segment, key), scan_id=scan_id)
    wanted = needed_sections(live) if checks is not None else None
    todo = [s for s in (steps if steps is not None else STEPS)
            if wanted is None or set(s.sections) & wanted
            or ("egress" in s.sections and plan.classification == "non-classified")]
    if live:
        passive_box: dict = {}
        # the passive RA listener opens (and imports scapy's IPv6) beside the probes
        tp = threading.Thread(target=lambda: passive_box.update(h=_ra_passive_start(ctx, todo)),
                              name="isoscan-ra-passive", daemon=True)
        tp.start()
        running: list[tuple[Step, threading.Thread]] = []

        def beside(s: Step) -> None:
            t = threading.Thread(target=lambda: obs.update(run_step(s, ctx)),
                                 name=f"isoscan-{s.name}", daemon=True)
            t.start()
            running.append((s, t))
        for s in todo:
            if s.background:
                beside(s)
        control: dict = {}
        for s in todo:
            if not (s.background or s.after):
                obs.update(run_step(s, ctx))
        for s in todo:
            if s.after:
                beside(s)
        # the ARP control: done by the discovery step on its own sockets, else here
        if ctx.control_arp is not None and obs["privileges"].get("ok"):
            control["r"] = (ctx.control_arp, None)
        else:
            progress.start("control")
            control["r"] = safe_arp_items(plan) if obs["privileges"].get("ok") else \
                ([], obs["privileges"].get("error"))
        progress.done("control", "ok" if any(i["ok"] for i in control["r"][0]) else "error")
        _static()
        arp, arp_err = control.get("r") or ([], text("正向对照未完成", "the positive control did not finish"))
        # while the listeners' windows run out: judge what is already final
        early = _judge_early(live, inv, obs, running, any(s.name == "ra" for s in todo),
                             lambda: _norm_errors(control_evaluate(plan, obs, arp, arp_err), lang))
        if early is not None:      # the big final sections' plain copies, while waiting
            from scanner import bundle as _bundle
            plain_ready = _bundle.plain_sections(obs, [n for s in todo
                                                       if not (s.background or s.after)
                                                       for n in s.sections])
        for _, t in running:
            t.join()
        tp.join()
        if "identity" in obs and "dhcp" in obs:     # the DUIDs the DHCP window heard
            from scanner import identity as _identity
            obs["identity"] = _identity.with_duids(obs["identity"], obs["dhcp"],
                                                   obs.get("discovery"))
        _ra_passive_finish(ctx, passive_box.get("h"))
        obs["controls"] = _norm_errors(control_evaluate(plan, obs, arp, arp_err), lang)
        # where the time went: each step's start and length, in seconds from the command's start
        obs["timings"] = {"clock": "seconds from the start of the scan, monotonic",
                          "steps": dict(sorted(progress.timings.items(),
                                               key=lambda x: x[1]["start"]))}
        if not obs["controls"]["ok"]:
            progress.note(text(f"正向对照失败：{obs['controls']['error']}",
                               f"positive control failed: {obs['controls']['error']}"))
    # 5. live checks (after the static ones)
    _static()
    findings += static_done
    if live and early is not None and early[0] == obs.get("controls"):
        done = early[1]
        for c in live:
            findings += done[c.meta.id] if c.meta.id in done else \
                run_checks([(c.meta, c.evaluate)], inv, obs)
    else:
        findings += run_checks([(c.meta, c.evaluate) for c in live], inv, obs)
    if checks is not None:
        findings += not_selected(registry, load_checks(), inv, obs)
    finished = _now()
    bundle = build(inv, vantage, obs, findings, lang, scan_id, started, finished, plain_ready)
    return ScanResult(EXIT_BY_VERDICT[bundle["summary"]["verdict"]], bundle, findings,
                      getattr(inv.organization, "timezone", None))


def _judge_early(live, inv, obs: dict, running, ra_pending: bool, controls):
    """(controls, {check id: findings}) for the live checks whose sections
    are all final while background listeners (DHCP, RA) still wait: the
    checks are pure functions of inventory + observations, so a check judged
    now on a copy says what it would say at the end. The copy carries the
    controls as they stand; the caller keeps these findings only when the
    controls evaluated at the end are the same, else judges again.
    None when nothing is pending (all is judged at the end as before)."""
    pending = {n for s, t in running if t.is_alive() for n in s.sections}
    if ra_pending:
        pending.add("ra")          # the passive RA listener folds into it at the end
    if not pending:
        return None
    snap = dict(obs)
    snap["controls"] = controls()
    ready = [c for c in live if not set(c.meta.needs) & pending]
    return snap["controls"], {c.meta.id: run_checks([(c.meta, c.evaluate)], inv, snap)
                              for c in ready}


def not_selected(selected, everything, inv, obs) -> list[Finding]:
    """A scan limited with --checks judged part of the rules: every other check
    that applies from this vantage is an `error` ("not run"), so the verdict
    can be non-compliant or incomplete, never compliant on a part of the rules.
    A check that would only have said `skipped` from here stays skipped."""
    chosen = {c.meta.id for c in selected.checks}
    out: list[Finding] = []
    for c in everything.checks:
        if c.meta.id in chosen:
            continue
        said = run_checks([(c.meta, c.evaluate)], inv, {} if c.meta.static else obs)
        if said and all(f.status == Status.SKIPPED for f in said):
            out += said
        else:
            out.append(error(c.meta, text(f"未运行：扫描以 --checks 限定为 {', '.join(sorted(chosen))}",
                                          f"not run: the scan was limited with --checks to "
                                          f"{', '.join(sorted(chosen))}")))
    return out


class BundleError(ScanInputError):
    """The bundle could not be built (a bug, or data it cannot hold): the scan
    fails with exit 2 and the reason. There is one way to build a bundle;
    a thinner one written by hand would be a quietly different result."""


def build(inv, vantage, obs, findings, lang, scan_id, started, finished, plain_ready=None) -> dict:
    """The SPEC §5 bundle (scanner.bundle.build_bundle), or BundleError."""
    from scanner import bundle as _b
    try:
        return _b.build_bundle(inventory=inv, vantage=vantage.to_json(), observations=obs,
                               findings=findings, lang=lang, scan_id=scan_id,
                               started_at=started, finished_at=finished,
                               plain_ready=plain_ready or None)
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise BundleError(text(f"结果包无法生成（{why}）：扫描失败，没有结果",
                               f"the result bundle could not be built ({why}): the scan failed, "
                               "there is no result")) from exc
