"""The layer contract (docs/architecture.md): every import points down.

An AST walk rather than an import-linter contract, because it needs nothing
installed, sees the imports inside functions as well as at the top (isoscan
imports lazily for start-up time), and can also test what import-linter
cannot: that no `except ImportError` hides the project's own modules.

Layers, highest first; a module belongs to the longest prefix that names it,
and may import its own layer and any layer below it. A package (`scanner.canary`)
names only its `__init__` and what no longer prefix names; `scanner` names only
scanner/__init__.py, so a new package must be placed here before its tests pass.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS: list[tuple[str, ...]] = [
    ("scanner.cli", "scanner.commands"),                    # click adapters: import anything
    ("scanner.demo", "scanner.service",
     "scanner.host.watch"),                                  # the bundled lab; systemd units; the
                                                             # host watch (host checks + alerts)
    ("scanner.lab",),                                        # beside the flow: the scanner never knows it
    ("scanner.serve",),                                      # the console
    ("scanner.report", "scanner.alerts", "scanner.evidence", "scanner.formats",
     "scanner.waivers"),                                     # what people read and receive
    ("scanner.store",),                                      # SQLAlchemy Core: history, stations
    ("scanner.scan", "scanner.canary.listen",
     "scanner.host", "scanner.watch"),                       # the vantages' step runners
    ("scanner.judge", "scanner.bundle"),                     # registry, run, gate, crossbundle/
    ("scanner.probes",),                                     # the wire
    ("scanner.scan.plan", "scanner.scan.vantage", "scanner.canary.tokens",
     "scanner.canary.dns"),                                  # what may be probed; wire formats
    ("scanner.documents", "scanner.observations", "scanner.inventory",
     "scanner.yamlconfig"),                                  # documents and their readers
    ("scanner.model", "scanner.identity", "scanner.localtime", "scanner.langs",
     "scanner.atomicio", "scanner.packagedata", "scanner.canary",
     "scanner"),                                             # plain data and helpers
]

# Known upward imports, each with why it is still there; this list only shrinks.
KNOWN: dict[tuple[str, str], str] = {
    ("scanner.identity", "scanner.formats.text"):
        "clean() (terminal-safe text) belongs below formats/; move it to model/",
}

# `except ImportError` around an import of our own code: none but these.
IMPORT_GUARDS_KNOWN: dict[str, str] = {}


@functools.lru_cache(maxsize=None)
def _all_modules() -> tuple:
    return tuple(_walk())


def _modules():
    return _all_modules()


def _walk():
    for path in sorted((ROOT / "scanner").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _layer(module: str) -> int:
    best, rank = -1, None
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            covers = module == p or (module.startswith(p + ".") and p != "scanner")
            if covers and len(p) > best:
                best, rank = len(p), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


@functools.lru_cache(maxsize=None)
def _nodes(path: Path) -> tuple:
    return tuple(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


def _imports(path: Path):
    """(imported module, line) for every absolute import of scanner/checks."""
    for node in _nodes(path):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                # `from scanner.canary import tokens` imports the submodule
                yield f"{node.module}.{a.name}", node.lineno
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            yield "__import__", node.lineno


@functools.lru_cache(maxsize=None)
def _module_names() -> frozenset:
    return frozenset(m for m, _ in _modules())


def _target(name: str) -> str:
    """The module a dotted import name refers to (a name in a module: the module)."""
    mods = _module_names()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name


def test_every_module_is_in_a_layer():
    for module, _ in _modules():
        _layer(module)


def test_imports_point_down():
    wrong = []
    for module, path in _modules():
        mine = _layer(module)
        for name, line in _imports(path):
            if not name.startswith("scanner."):
                continue
            target = _target(name)
            if not target or _layer(target) >= mine or (module, target) in KNOWN:
                continue
            if target.startswith(module + "."):        # a package's own submodules
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target}, a higher layer")
    assert not wrong, "\n".join(wrong)


def test_nothing_but_the_command_line_imports_commands():
    wrong = []
    for module, path in _modules():
        for name, line in _imports(path):
            if not (name == "scanner.commands" or name.startswith("scanner.commands.")):
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.startswith("scanner.commands."):
                # commands import the shared options, never each other
                if _target(name) not in ("scanner.commands", "scanner.commands.common"):
                    wrong.append(f"{where}: {module} imports another command ({name})")
            elif module != "scanner.cli":
                wrong.append(f"{where}: {module} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_core_never_imports_a_plugin():
    wrong = [f"{path.relative_to(ROOT)}:{line}: {module} imports {name}"
             for module, path in _modules() for name, line in _imports(path)
             if name == "checks" or name.startswith("checks.") or name == "__import__"]
    assert not wrong, "\n".join(wrong)


def _guarded_imports(path: Path):
    for node in _nodes(path):
        if not isinstance(node, ast.Try):
            continue
        names = set()
        for h in node.handlers:
            t = h.type
            for e in (t.elts if isinstance(t, ast.Tuple) else [t]):
                names.add(getattr(e, "id", None))
        if not names & {"ImportError", "ModuleNotFoundError"}:
            continue
        for stmt in node.body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module and \
                        sub.module.split(".")[0] in ("scanner", "checks"):
                    yield sub.module, sub.lineno
                elif isinstance(sub, ast.Import) and any(
                        a.name.split(".")[0] in ("scanner", "checks") for a in sub.names):
                    yield sub.names[0].name, sub.lineno


def test_no_import_guard_hides_our_own_code():
    """`except ImportError` is for optional third-party packages (scapy, argon2,
    SQLAlchemy), never around isoscan's own modules: a broken module must be loud."""
    wrong = [f"{path.relative_to(ROOT)}:{line}: `except ImportError` around {name}"
             for module, path in _modules() if module not in IMPORT_GUARDS_KNOWN
             for name, line in _guarded_imports(path)]
    assert not wrong, "\n".join(wrong)


def test_the_known_exceptions_are_still_needed():
    """An exception that no longer occurs is taken off the list (it only shrinks)."""
    seen = {(module, _target(name)) for module, path in _modules()
            for name, _ in _imports(path) if name.startswith("scanner.")}
    assert not [k for k in KNOWN if k not in seen], "stale entries in KNOWN"
    guarded = {module for module, path in _modules() if any(True for _ in _guarded_imports(path))}
    assert not [m for m in IMPORT_GUARDS_KNOWN if m not in guarded], "stale IMPORT_GUARDS_KNOWN"
