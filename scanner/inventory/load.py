"""Loading inventories: files and folders -> one Inventory + INV-SCHEMA findings.

    result = load_inventory(["inventories/"])
    result.inventory      # Inventory | None (None only when nothing was usable)
    result.findings       # INV-SCHEMA findings, each with a location

A folder stands for every *.yaml / *.yml below it, sorted by path. A path that
does not exist or cannot be read raises InputError (the CLI exits 2 with its
one-line message). Everything wrong *inside* a file is a finding instead:
invalid YAML, an alias bomb, a file over the size cap, an unknown key, a wrong
type, a bad CIDR / IP / MAC, a reference to a segment or device no file declares.

Each file is parsed fast (yaml_rs) and checked (scanner.inventory.schema); positions
are looked up only for the findings that need them (scanner.inventory.yamlsource).
A top-level `lab:` section (lab files are an inventory plus a lab) is kept raw
in `inventory.extras["lab"]`, unchecked here; `locate()` gives the lab code
line and column for its own findings.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from scanner.model import (Finding, Inventory, Location, Organization, SourceFile,
                           Status, Text, text)
from scanner.inventory.schema import FileReader, FilePart, Problem
from scanner.inventory.yamlsource import (DEFAULT_MAX_BYTES, KEY, InputError, Locator, bulk,
                                decode, file_size, parse, read_source)

__all__ = ["InputError", "LoadResult", "load_inventory", "expand_paths", "locate", "KEY",
           "max_bytes_default"]

YAML_SUFFIXES = (".yaml", ".yml")


def max_bytes_default() -> int:
    """The size cap: ISOSCAN_MAX_INVENTORY_BYTES, else 64 MiB."""
    env = os.environ.get("ISOSCAN_MAX_INVENTORY_BYTES", "")
    return int(env) if env.isdigit() and int(env) > 0 else DEFAULT_MAX_BYTES


@dataclass
class LoadResult:
    inventory: Inventory | None
    findings: list[Finding] = field(default_factory=list)
    locators: dict[str, Locator] = field(default_factory=dict, repr=False)
    files: list[str] = field(default_factory=list)      # every file read, in order
    lab_files_left_out: list[str] = field(default_factory=list)   # see expand()
    # issue 26: how many of `findings` are problems of one top-level section
    # ("media": a malformed medium, which `isoscan host` reports and judges past)
    problem_sections: dict[str, int] = field(default_factory=dict)

    def locate(self, file: str, path: tuple) -> Location | None:
        """Line and column of a path in one of the loaded files."""
        loc = self.locators.get(file)
        return loc.location(tuple(path)) if loc is not None else None


def expand_paths(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Files named, and every inventory *.yaml / *.yml below folders named, in order."""
    return expand(paths)[0]


_LAB_SECTION = re.compile(rb"^lab[ \t]*:", re.M)


def is_lab_file(path: str) -> bool:
    """A lab file (an inventory plus a top-level `lab:` section) describes a
    test network, not a unit: a folder's inventory leaves it out."""
    try:
        with open(path, "rb") as fh:
            return _LAB_SECTION.search(fh.read()) is not None
    except OSError:
        return False


def expand(paths: Sequence[str | os.PathLike]) -> tuple[list[str], list[str]]:
    """(files to read, lab files left out of named folders).

    A folder is one unit's inventory: every *.yaml / *.yml below it except lab
    files, which are read only when named as files (`isoscan lab up`, or
    `isoscan validate inventories/lab/demo.yaml`).
    """
    if not paths:
        raise InputError("no inventory path given")
    out: list[str] = []
    left_out: list[str] = []
    seen: set[str] = set()
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            try:
                found = sorted(str(f) for f in Path(p).rglob("*")
                               if f.suffix.lower() in YAML_SUFFIXES and f.is_file())
            except OSError as exc:
                raise InputError(f"{p}: cannot be read ({exc.strerror or exc})") from None
            labs = [f for f in found if is_lab_file(f)]
            left_out += labs
            found = [f for f in found if f not in labs]
            if not found:
                raise InputError(f"{p}: no inventory *.yaml or *.yml files in this folder"
                                 + (" (only lab files: name them as files)" if labs else ""))
        elif os.path.exists(p):
            found = [p]
        else:
            raise InputError(f"{p}: no such file or folder")
        for f in found:
            key = os.path.realpath(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out, left_out


def load_inventory(paths: Sequence[str | os.PathLike], *,
                   max_bytes: int | None = None) -> LoadResult:
    """Load and merge inventory files (see the module docstring)."""
    with bulk():
        return _load(paths, max_bytes)


def _load(paths, max_bytes) -> LoadResult:
    from scanner.inventory.schema_check import META as SCHEMA   # INV-SCHEMA owns these findings

    cap = max_bytes if max_bytes is not None else max_bytes_default()
    files, labs = expand(paths)
    findings: list[Finding] = []
    locators: dict[str, Locator] = {}
    parts: list[tuple[str, FilePart, Locator]] = []
    sources: list[SourceFile] = []
    digest = hashlib.sha256()
    sections: dict[str, int] = {}

    def problem(loc: Location, msg: Text) -> None:
        findings.append(Finding(
            check_id=SCHEMA.id, status=Status.FAIL, severity=SCHEMA.severity,
            title=SCHEMA.title, evidence=(msg,), location=loc,
            remediation=SCHEMA.remediation))

    def too_large(f: str, size: str) -> None:
        problem(Location(f, 1, 1), text(
            f"文件过大：{size} 字节，上限 {cap} 字节（ISOSCAN_MAX_INVENTORY_BYTES）",
            f"file too large: {size} bytes, the limit is {cap} "
            "(ISOSCAN_MAX_INVENTORY_BYTES)"))

    for f in files:
        size = file_size(f)
        if size > cap:
            too_large(f, str(size))
            continue
        src = read_source(f, limit=cap)    # stat says 0 for a pipe or a device
        if len(src.raw) > cap:
            too_large(f, f"> {cap}")
            continue
        digest.update(src.raw)
        sources.append(SourceFile(f, src.sha256))
        bad = decode(src)
        locator = Locator(f, src.text)
        locators[f] = locator
        if bad is None:
            data, bad = parse(src.text)
        if bad is not None:
            problem(Location(f, bad.line, bad.column),
                    text(f"YAML 无法解析：{bad.message}", bad.message))
            continue
        src.raw = b""          # the text is kept (for positions), the bytes are not
        if data is None:
            problem(Location(f, 1, 1), text("文件为空（应为以 version: 1 开头的映射）",
                                            "the file is empty (expected a mapping with version: 1)"))
            continue
        try:
            part = FileReader(locator.lazy).read(data)
        except Exception as exc:  # fail closed: an input we did not foresee is a finding
            problem(Location(f, 1, 1), text(
                f"无法按清单格式读取（{type(exc).__name__}）", f"cannot be read as an inventory "
                f"({type(exc).__name__}: {str(exc)[:100]})"))
            continue
        for p in part.problems:
            problem(locator.lazy(p.path), _named(data, p.path, p.message))
            top = p.path[0] if p.path and isinstance(p.path[0], str) else ""
            sections[top] = sections.get(top, 0) + 1
        parts.append((f, part, locator))

    if not parts:
        return LoadResult(None, findings, locators, files, labs)
    before = len(findings)
    inv = _merge(parts, sources, digest.hexdigest(), problem)
    if len(findings) > before:
        sections[""] = sections.get("", 0) + len(findings) - before
    return LoadResult(inv, findings, locators, files, labs, sections)


_OWNERS = {"segments": ("网段", "segment"), "devices": ("设备", "device"),
           "canaries": ("外部探针", "canary")}


def _named(data, path: tuple, message):
    """The message with the segment, device or canary it is in named first
    ('segment secret-lan: ...'), unless it names it already or has no name."""
    if len(path) < 2 or path[0] not in _OWNERS or not isinstance(path[1], int) \
            or not isinstance(data, dict):
        return message
    items = data.get(path[0])
    item = items[path[1]] if isinstance(items, list) and 0 <= path[1] < len(items) else None
    name = item.get("name") if isinstance(item, dict) else None
    if not isinstance(name, str) or not name.strip() or not isinstance(message, dict):
        return message
    zh, en = _OWNERS[path[0]]
    if name in str(message.get("en", "")):
        return message
    return text(f"{zh} {name}：{message.get('zh-CN', '')}", f"{en} {name}: {message.get('en', '')}")


def _merge(parts, sources, sha256, problem) -> Inventory:
    organization: Organization | None = None
    org_file = None
    segments, devices, canaries, transfers, media = [], [], [], [], []
    extras: dict = {}
    for f, part, locator in parts:
        if part.organization is not None:
            if organization is None:
                organization, org_file = part.organization, f
            elif part.organization != organization:
                problem(locator.lazy(part.organization_path + ("name",)), text(
                    f"组织与 {org_file} 中声明的不一致（{part.organization.name} ≠ {organization.name}）",
                    f"organization differs from the one declared in {org_file} "
                    f"({part.organization.name} != {organization.name})"))
        segments.extend(part.segments)
        devices.extend(part.devices)
        canaries.extend(part.canaries)
        transfers.extend(part.transfers)
        media.extend(part.media)
        for k, v in part.extras.items():
            extras.setdefault(k, v)
    if organization is None:
        f, _, locator = parts[0]
        problem(locator.lazy(()), text("任何文件都未声明 'organization'（name 必填）",
                                       "no file declares the 'organization' (with its name)"))
        organization = Organization(name="")

    # references across files: checked against every name declared anywhere
    # (also elements left out for their own problems, so one typo is one finding)
    names = {"segment": {s.name for s in segments}, "device": {d.name for d in devices}}
    for f, part, locator in parts:
        names["segment"].update(_declared(part, "segment"))
        names["device"].update(_declared(part, "device"))
    for f, part, locator in parts:
        for ref in part.refs:
            if ref.name not in names[ref.kind]:
                _unknown_ref(problem, locator, ref, names[ref.kind])

    known_segments = {s.name for s in segments}
    devices = [d if all(i.segment in known_segments for i in d.interfaces)
               else _only_known_segments(d, known_segments) for d in devices]
    known_devices = {d.name for d in devices}
    transfers = [t for t in transfers if t.device in known_devices
                 and t.from_segment in known_segments and t.to_segment in known_segments]
    return Inventory(organization=organization, segments=tuple(segments),
                     devices=tuple(devices), canaries=tuple(canaries),
                     transfers=tuple(transfers), files=tuple(sources), sha256=sha256,
                     media=tuple(media),
                     extras=extras)


def _declared(part: FilePart, kind: str) -> set[str]:
    # names of elements dropped for other problems still count as declared
    return part.declared[kind]


def _only_known_segments(d, known):
    from dataclasses import replace
    return replace(d, interfaces=tuple(i for i in d.interfaces if i.segment in known))


def _unknown_ref(problem, locator, ref, declared) -> None:
    import difflib
    close = difflib.get_close_matches(ref.name, sorted(declared), n=1, cutoff=0.6)
    noun_zh, noun_en = ("网段", "segment") if ref.kind == "segment" else ("设备", "device")
    hint_zh = f"（是否应为 '{close[0]}'？）" if close else ""
    hint_en = f" (did you mean '{close[0]}'?)" if close else ""
    problem(locator.lazy(ref.path), text(
        f"{ref.what()['zh-CN']}引用了未声明的{noun_zh} '{ref.name}'{hint_zh}",
        f"{ref.what()['en']} names the {noun_en} '{ref.name}', which no file declares{hint_en}"))


def locate(file: str | os.PathLike, path: Sequence) -> Location | None:
    """Line and column (1-based) of a path like ("lab", "faults", 2, "ip") in a file.

    Ends in yamlsource.KEY to get a key's own position. Falls back to the
    nearest enclosing element that exists; None when the file cannot be read.
    """
    f = os.fspath(file)
    try:
        src = read_source(f)
    except InputError:
        return None
    if decode(src) is not None:
        return None
    return Locator(f, src.text).location(tuple(path))
