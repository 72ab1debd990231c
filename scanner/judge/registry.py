"""Checks are plugins: entry points of group `isoscan.checks` -> check modules.

    reg = load_checks()                 # every installed check
    reg = load_checks(["INV-OVERLAP"])  # only these (UnknownCheck if one is not installed)
    reg.checks    # [Check(meta, evaluate, source)], sorted by id
    reg.problems  # error findings: a plugin that fails to import, lacks META or
                  # evaluate, declares another id than its entry point, or a duplicate id

A broken plugin is never silently skipped: its problem is an `error` finding,
which makes `validate` exit 1 and a scan `incomplete` at best. Built-in checks
are registered the same way (pyproject.toml), so a third-party package adds
checks by declaring its own entry points in the same group.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points as _entry_points
from typing import Any, Callable, Iterable, Sequence

from scanner.model import CheckMeta, Finding, Severity, Status, Text, text

GROUP = "isoscan.checks"

# The checks SPEC §4 names: each must be installed (pyproject.toml registers them)
BUILTIN = ("INV-SCHEMA", "INV-OVERLAP", "INV-ADDRESS", "INV-DUPLICATE", "INV-BRIDGE",
           "INV-INGRESS", "INV-REGISTRATION", "ISO-PHYSICAL", "ISO-BRIDGE", "ISO-LOGICAL",
           "ING-SINGLE", "DEV-UNREGISTERED", "DEV-MISMATCH", "DEV-MISPLACED", "DEV-MISSING",
           "NET-DHCP", "NET-IPV6-RA", "DEV-CONFLICT", "XFER-ONEWAY",
           "HOST-WIRELESS", "HOST-NIC", "HOST-FORWARD", "HOST-MEDIA", "HOST-EGRESS")


class UnknownCheck(Exception):
    """An id given with --checks that no installed check has (usage error, exit 2)."""


@dataclass(frozen=True)
class Check:
    meta: CheckMeta
    evaluate: Callable
    source: str            # entry point value, e.g. "checks.inv_overlap"

    @property
    def id(self) -> str:
        return self.meta.id


@dataclass
class Registry:
    checks: list[Check] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # SPEC check ids not installed

    def missing_problems(self, static_only: bool = False) -> list[Finding]:
        """An `error` for each SPEC check that is not installed (all of them,
        or only the static INV-* ones, which are what `validate` runs)."""
        return [_problem(cid, text(
            f"未安装检查 {cid}（入口点组 {GROUP} 中没有它；请重新安装 isoscan）",
            f"check {cid} is not installed (no entry point in group {GROUP}; reinstall isoscan)"))
            for cid in self.missing if not static_only or cid.startswith("INV-")]

    def get(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.meta.id == check_id), None)

    @property
    def static(self) -> list[Check]:
        return [c for c in self.checks if c.meta.static]

    def pairs(self) -> list[tuple[CheckMeta, Callable]]:
        """(meta, evaluate) pairs for scanner.judge.run.run_checks."""
        return [(c.meta, c.evaluate) for c in self.checks]


def _problem(check_id: str, msg: Text) -> Finding:
    return Finding(check_id=check_id, status=Status.ERROR, severity=Severity.HIGH,
                   title=text(f"检查插件 {check_id} 无法加载", f"check plugin {check_id} cannot be loaded"),
                   evidence=(msg,),
                   remediation=text("修复或卸载该检查插件；检查编号不得重复。",
                                    "Fix or uninstall the check plugin; check ids must be unique."))


def not_installed(check_id: str, consequence: Text) -> Finding:
    """An `error` of a check that is needed and not installed (never a silent skip)."""
    return _problem(check_id, text(
        f"未安装检查 {check_id}（入口点组 {GROUP} 中没有它；请重新安装 isoscan）：{consequence['zh-CN']}",
        f"check {check_id} is not installed (no entry point in group {GROUP}; reinstall "
        f"isoscan): {consequence['en']}"))


def installed_ids() -> set[str]:
    """The ids of the installed checks (their entry point names), without importing them."""
    return {ep.name.upper() for ep in _entry_points(group=GROUP)}


def parse_ids(value: str | None) -> list[str] | None:
    """'INV-OVERLAP, inv-address' -> ['INV-OVERLAP', 'INV-ADDRESS']; None for no value."""
    if value is None:
        return None
    ids = [p.strip().upper() for p in value.split(",") if p.strip()]
    return ids or None


def load_checks(ids: Sequence[str] | None = None, *,
                entry_points: Callable[[], Iterable[Any]] | None = None) -> Registry:
    """Import the checks of group isoscan.checks (only `ids` when given).

    `entry_points` replaces importlib.metadata discovery (tests): a callable
    returning objects with .name, .value and .load().
    """
    eps = list(entry_points() if entry_points is not None else _entry_points(group=GROUP))
    wanted = None if ids is None else [i.upper() for i in ids]
    names = {ep.name.upper() for ep in eps}
    if wanted is not None:
        unknown = [i for i in wanted if i not in names]
        if unknown:
            raise UnknownCheck(f"unknown check id(s): {', '.join(unknown)} "
                               f"(see `isoscan checks list`)")
    reg = Registry()
    by_id: dict[str, Check] = {}
    for ep in sorted(eps, key=lambda e: (e.name, e.value)):
        name = ep.name.upper()
        if wanted is not None and name not in wanted:
            continue
        try:
            mod = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # any import failure is loud, never a skip (SystemExit too)
            reg.problems.append(_problem(name, text(
                f"入口 {ep.value} 导入失败：{type(exc).__name__}: {exc}",
                f"entry point {ep.value} failed to import: {type(exc).__name__}: {exc}")))
            continue
        meta = getattr(mod, "META", None)
        evaluate = getattr(mod, "evaluate", None)
        if not _sound_meta(meta) or not callable(evaluate):
            reg.problems.append(_problem(name, text(
                f"{ep.value} 缺少 META（CheckMeta）或 evaluate()",
                f"{ep.value} lacks META (a CheckMeta) or evaluate()")))
            continue
        if meta.id.upper() != name:
            reg.problems.append(_problem(name, text(
                f"入口 {ep.name} 指向的检查声明编号为 {meta.id}",
                f"entry point {ep.name} loads a check whose META.id is {meta.id}")))
            continue
        if meta.id in by_id:
            reg.problems.append(_problem(meta.id, text(
                f"检查编号 {meta.id} 重复：{by_id[meta.id].source} 与 {ep.value}",
                f"duplicate check id {meta.id}: {by_id[meta.id].source} and {ep.value}")))
            continue
        by_id[meta.id] = Check(meta, evaluate, ep.value)
    if entry_points is None and wanted is None:
        # the checks the SPEC names: an uninstalled or half-installed copy must
        # not read as clean (see missing_problems; validate needs the INV-* ones)
        reg.missing = [cid for cid in BUILTIN if cid not in names]
    reg.checks = sorted(by_id.values(), key=lambda c: c.meta.id)
    return reg


def _sound_meta(meta: Any) -> bool:
    """A CheckMeta whose fields have the types the rest of isoscan relies on."""
    return (isinstance(meta, CheckMeta) and isinstance(meta.id, str) and bool(meta.id)
            and isinstance(meta.severity, Severity) and isinstance(meta.title, dict)
            and isinstance(meta.needs, tuple) and all(isinstance(n, str) for n in meta.needs)
            and isinstance(meta.remediation, dict))
