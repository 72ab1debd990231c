"""File paths as a person reads them: never an install path.

    for_reader("/opt/isoscan/venv/lib/python3.11/site-packages/scanner/labs/demo.yaml")
        -> 'isoscan:scanner/labs/demo.yaml'
    for_reader("/etc/isoscan/inventory.yaml") -> '/etc/isoscan/inventory.yaml'

A file that ships inside isoscan (the demo lab, the clause mapping) is named by
where it is in the package, the same on every machine; the unit's own files
keep the path it gave them.
"""
from __future__ import annotations

import os
import sys
import sysconfig


def _install_roots() -> list[str]:
    roots = {sysconfig.get_paths().get(k) for k in ("purelib", "platlib")}
    roots.add(os.path.join(sys.prefix, "lib"))
    return sorted((os.path.realpath(r) for r in roots if r), key=len, reverse=True)


def for_reader(path: str) -> str:
    """`path`, or 'isoscan:<package path>' when it lies inside the installed packages."""
    if not isinstance(path, str) or not os.path.isabs(path):
        return path
    real = os.path.realpath(path)
    for root in _install_roots():
        if real.startswith(root + os.sep):
            rel = os.path.relpath(real, root)
            parts = rel.split(os.sep)
            if "site-packages" in parts:            # <prefix>/lib/pythonX.Y/site-packages/...
                parts = parts[parts.index("site-packages") + 1:]
            return "isoscan:" + "/".join(parts)
    return path
