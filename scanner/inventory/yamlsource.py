"""Reading one YAML file: fast parse for data, lazy positions for findings.

Two parsers, two jobs:

* `yaml_rs` (Rust, YAML 1.2) builds the Python data. It is fast, caps alias
  expansion (a billion-laughs file fails in milliseconds) and refuses duplicate
  keys. Its values are the only ones we use: PyYAML's YAML 1.1 resolver turns
  some MAC spellings into sexagesimal integers.
* PyYAML's C event parser (`yaml.parse(..., Loader=CSafeLoader)`) is run only
  when a finding of a file needs its line and column. It never builds values:
  it streams events and records the start marks of the paths asked for.

A path is a tuple of mapping keys and sequence indexes, e.g.
("devices", 3, "ip"); ending it with `KEY` asks for the key itself rather than
its value (where an unknown key is reported).

`LazyLocation` is a `model.Location` whose line and column are resolved on
first use, so loading a clean 100,000-device file never pays for positions.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable

import yaml
import yaml_rs

from scanner.model import Location

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
ALIAS_LIMITS = dict(max_total_replayed_events=200_000, max_replay_stack_depth=32)


@contextlib.contextmanager
def bulk():
    """No cyclic garbage collection while millions of acyclic objects are built.

    CPython's collector runs on allocation counts and walks the whole young
    and then old heap; building a 100,000-device model triggers it over and
    over for nothing (nothing we build is cyclic). Collected once at the end.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _KeyMarker:
    __slots__ = ()

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "KEY"


KEY = _KeyMarker()
"""Last element of a path that asks for a mapping key's own position."""


class InputError(Exception):
    """A path that does not exist or cannot be read (exit 2, one line)."""


@dataclass
class ParseProblem:
    """Why a file gave no usable data, and where (1-based)."""
    message: str
    line: int = 1
    column: int = 1


@dataclass
class Source:
    path: str          # as the user named it
    raw: bytes
    sha256: str
    text: str | None = None


def read_source(path: str | os.PathLike, limit: int | None = None) -> Source:
    """The bytes of one file (at most limit + 1 of them: a device or a pipe
    that never ends, such as /dev/zero, is cut there and found too large by
    the caller); InputError when it cannot be read."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(limit + 1) if limit is not None else fh.read()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory") from None
    except PermissionError:
        raise InputError(f"{p}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    return Source(p, raw, hashlib.sha256(raw).hexdigest())


def file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


_POS = re.compile(r"line (\d+), column (\d+)")


def decode(src: Source) -> ParseProblem | None:
    """Sets src.text; a problem when the bytes are not UTF-8."""
    raw = src.raw
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        src.text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = raw[:exc.start]
        line = head.count(b"\n") + 1
        col = exc.start - (head.rfind(b"\n") + 1) + 1
        return ParseProblem(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line, col)
    return None


def parse(text: str) -> tuple[Any, ParseProblem | None]:
    """(data, None) or (None, problem) for one YAML document."""
    try:
        data = yaml_rs.loads(text, parse_datetime=False,
                             alias_limits=yaml_rs.AliasLimits(**ALIAS_LIMITS),
                             duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error)
    except yaml_rs.YAMLDecodeError as exc:
        return None, _problem(text, str(exc))
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
        return None, ParseProblem(f"cannot be parsed as YAML ({type(exc).__name__})")
    if isinstance(data, list) and _second_document(text):
        line = _second_document(text)
        return None, ParseProblem("more than one YAML document in one file", line, 1)
    return data, None


def _second_document(text: str) -> int:
    seen = 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("---") and (len(line) == 3 or line[3] in " \t"):
            seen += 1
            if seen == 2 or (seen == 1 and n > 1 and _has_content_before(text, n)):
                return n
    return 0


def _has_content_before(text: str, lineno: int) -> bool:
    for line in text.splitlines()[:lineno - 1]:
        s = line.strip()
        if s and not s.startswith("#") and not s.startswith("%"):
            return True
    return False


def _problem(text: str, message: str) -> ParseProblem:
    lines = message.strip().splitlines()
    first = lines[0] if lines else "invalid YAML"
    reason = lines[-1].strip() if len(lines) > 1 else first
    m = _POS.search(first)
    line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
    if "tab" in reason:                       # point at the tab itself
        tab = _first_tab(text, line)
        if tab:
            line, col = tab
        reason = "tab character in indentation (YAML indents with spaces)" \
            if "indent" in reason or tab else reason
    if first.startswith("duplicate mapping key"):
        dup = _duplicate_key(text)
        if dup:
            line, col = dup
        return ParseProblem(first, line, col)
    if "alias" in first or "alias" in reason:
        return ParseProblem(f"YAML aliases expand too far (refused: {reason})", line, col)
    return ParseProblem(f"invalid YAML: {reason}" if m else f"invalid YAML: {first}",
                        line, col)


def _first_tab(text: str, from_line: int) -> tuple[int, int] | None:
    for n, line in enumerate(text.splitlines(), 1):
        if n < from_line:
            continue
        stripped = line.lstrip(" \t")
        lead = line[:len(line) - len(stripped)]
        if "\t" in lead:
            return n, lead.index("\t") + 1
        if n > from_line + 1:
            break
    return None


def _duplicate_key(text: str) -> tuple[int, int] | None:
    """Position of the second occurrence of a duplicated key (PyYAML nodes)."""
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None
    stack = [root]
    seen_nodes: set[int] = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in keys:
                        return k.start_mark.line + 1, k.start_mark.column + 1
                    keys.add(k.value)
                stack.append(v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


# --------------------------------------------------------------------------
# Positions

def marks(text: str, wanted: Iterable[tuple]) -> dict[tuple, tuple[int, int]]:
    """1-based (line, column) of each wanted path found in text's first document.

    One streaming pass of PyYAML's C parser; values are never constructed.
    """
    want = set(wanted)
    found: dict[tuple, tuple[int, int]] = {}
    if not want:
        return found
    prefixes = {p[:i] for p in want for i in range(len(p) + 1)}
    # frame: [is_map, path, expecting_key, current_key, index]
    stack: list[list] = []
    node_events = (yaml.ScalarEvent, yaml.MappingStartEvent,
                   yaml.SequenceStartEvent, yaml.AliasEvent)
    try:
        for ev in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                if not stack:
                    break
                continue
            if not isinstance(ev, node_events):
                continue
            pos = (ev.start_mark.line + 1, ev.start_mark.column + 1)
            path: tuple | None
            if not stack:
                path = ()
            else:
                top = stack[-1]
                parent = top[1]
                if top[0] and top[2]:                  # this node is a mapping key
                    top[2] = False
                    key = ev.value if isinstance(ev, yaml.ScalarEvent) else None
                    top[3] = key
                    if parent is not None and (parent + (key, KEY)) in want:
                        found[parent + (key, KEY)] = pos
                        if len(found) == len(want):
                            break
                    if isinstance(ev, yaml.MappingStartEvent):
                        stack.append([True, None, True, None, 0])
                    elif isinstance(ev, yaml.SequenceStartEvent):
                        stack.append([False, None, False, None, 0])
                    continue
                if top[0]:
                    top[2] = True
                    path = parent + (top[3],) if parent is not None else None
                else:
                    path = parent + (top[4],) if parent is not None else None
                    top[4] += 1
            if path is not None and path not in prefixes:
                path = None
            if path is not None and path in want:
                found[path] = pos
                if len(found) == len(want):
                    break
            if isinstance(ev, yaml.MappingStartEvent):
                stack.append([True, path, True, None, 0])
            elif isinstance(ev, yaml.SequenceStartEvent):
                stack.append([False, path, False, None, 0])
    except yaml.YAMLError:
        pass
    return found


class Locator:
    """Positions of paths in one file, looked up on demand.

    One pass over the file answers every path asked for at that moment:
    `prefetch()` the locations of all findings before reading any of them, so
    a 14 MB file with three findings is parsed for positions once, not three
    times. Creating a lazy location costs almost nothing.
    """

    def __init__(self, file: str, text: str | None):
        self.file = file
        self._text = text
        self._wanted: set[tuple] = set()
        self._found: dict[tuple, tuple[int, int]] = {}
        self._done: set[tuple] = set()

    def lazy(self, path: tuple) -> "LazyLocation":
        return LazyLocation(self, path)

    def want(self, path: tuple) -> None:
        if path not in self._done:
            self._wanted.add(path)

    def resolve(self, path: tuple) -> tuple[int, int]:
        if path not in self._done:
            self._wanted.add(path)
            batch = {p[:i] for p in self._wanted for i in range(len(p) + 1)} - self._done
            if self._text is not None:
                self._found.update(marks(self._text, batch))
            self._done |= batch
            self._wanted.clear()
        p = path
        while p:
            if p in self._found:
                return self._found[p]
            p = p[:-1]
        return self._found.get((), (1, 1))

    def location(self, path: tuple) -> Location:
        line, col = self.resolve(path)
        return Location(self.file, line, col)


def prefetch(locations: Iterable[Location | None]) -> None:
    """Ask for the positions of many lazy locations at once (one pass per file)."""
    for loc in locations:
        if isinstance(loc, LazyLocation):
            loc._locator.want(loc._path)


class LazyLocation(Location):
    """A Location whose line and column are looked up when first read."""

    def __init__(self, locator: Locator, path: tuple):  # noqa: D107 - not a dataclass init
        self.__dict__.update(file=locator.file, _locator=locator, _path=path)

    @property
    def line(self) -> int:       # type: ignore[override]
        return self._locator.resolve(self._path)[0]

    @property
    def column(self) -> int:     # type: ignore[override]
        return self._locator.resolve(self._path)[1]

    @property
    def path(self) -> tuple:
        return self._path

    def __reduce__(self):
        return (Location, (self.file, self.line, self.column))

    def __deepcopy__(self, memo):
        return Location(self.file, self.line, self.column)

    def __copy__(self):
        return Location(self.file, self.line, self.column)
