"""The lab: real test networks of Linux network namespaces, beside the flow (the
scanner never imports it; commands, the demo and tests do). May import inventory/,
model/ and below.

    from scanner import lab
    demo = lab.up("inventories/lab/demo.yaml")            # every fault
    clean = lab.up("inventories/lab/demo.yaml", faults=[], name="clean1")
    demo.exec("probe-office", ["isoscan", "scan", "-i", *demo.files])
    demo.down()                                           # or lab.down("demo")

`up` tears down whatever it built when anything fails and raises LabError.
`down(name=None)` is idempotent; with no name it removes every lab in state.
"""
from __future__ import annotations

import os
import re
from typing import Sequence

from scanner.lab.errors import LabError
from scanner.lab.lab import Lab, LabFault, LabHost, LabLeg, attach

__all__ = ["up", "down", "status", "attach", "load", "Lab", "LabError", "LabHost",
           "LabLeg", "LabFault"]

_LAB_KEY = re.compile(r"^lab\s*:", re.M)


def _paths(path_or_paths) -> list[str]:
    if isinstance(path_or_paths, (str, os.PathLike)):
        return [os.fspath(path_or_paths)]
    return [os.fspath(p) for p in path_or_paths]


def _lab_file(files: Sequence[str]) -> str | None:
    for f in files:
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                if _LAB_KEY.search(fh.read()):
                    return f
        except OSError:
            continue
    return None


def load(path_or_paths):
    """(Inventory, LabSpec, files) of a lab file; LabError when it cannot be used.

    A lab file with INV-SCHEMA findings is refused, the findings listed with
    file:line:col.
    """
    from scanner.inventory.load import InputError, expand_paths, load_inventory
    from scanner.lab.labfile import parse_lab
    from scanner.model import Status, pick

    paths = _paths(path_or_paths)
    try:
        result = load_inventory(paths)
        files = expand_paths(paths)
    except InputError as exc:
        raise LabError(str(exc)) from None
    schema = [f for f in result.findings if f.check_id == "INV-SCHEMA" and f.status == Status.FAIL]
    if schema or result.inventory is None:
        lines = []
        for f in schema:
            loc = f.location
            where = str(loc) if loc else "?"
            lines.append(f"{where}: INV-SCHEMA " + "; ".join(pick(e, "en") for e in f.evidence))
        raise LabError("the lab file is not a valid inventory / 实验网文件不是有效清单:\n  "
                       + "\n  ".join(lines or ["no usable inventory"]))
    inv = result.inventory
    spec = parse_lab(inv.extras.get("lab"), _lab_file(files))
    return inv, spec, [os.path.abspath(f) for f in files]


def up(path_or_paths, faults: Sequence[str] | None = None, name: str | None = None) -> Lab:
    """Build the lab of a lab file. faults: None = all, [] = a clean lab, or ids.

    name overrides `lab.name` (two copies of one file can then run at once).
    """
    from scanner.lab.build import build
    from scanner.lab.labfile import NAME_RE
    from scanner.lab.plan import plan
    from scanner.lab.state import run_root

    if name is not None and not NAME_RE.match(name):
        raise LabError(f"lab name {name!r}: expected [a-z0-9-], at most 20 characters"
                       " / 实验网名称无效")
    inv, spec, files = load(path_or_paths)
    topo = plan(inv, spec, name=name, faults=faults, run_root=run_root())
    st = build(topo, files, spec.file)
    return Lab(st)


def down(name: str | None = None) -> list[str]:
    """Tear down lab `name` (or every lab in state). Idempotent. Returns names removed."""
    from scanner.lab.teardown import down as _down
    return _down(name)


def status() -> list[dict]:
    """One summary per lab recorded in state."""
    from scanner.lab import netns, state
    present = set(netns.list_netns())
    out = []
    for n in state.names():
        st = state.load(n) or {"name": n, "namespaces": [], "procs": [], "hosts": {},
                               "faults": [], "status": "broken"}
        out.append({
            "name": n, "status": st.get("status"), "prefix": st.get("prefix"),
            "files": st.get("files", []),
            "hosts": len(st.get("hosts", {})),
            "namespaces": len(st.get("namespaces", [])),
            "namespaces_present": sum(1 for x in st.get("namespaces", []) if x in present),
            "processes": len(st.get("procs", [])),
            "processes_alive": sum(1 for r in st.get("procs", []) if state.alive(r)),
            "faults": [f["id"] for f in st.get("faults", [])],
            "timings": st.get("timings", {}),
        })
    return out
