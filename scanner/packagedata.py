"""Data files that live outside scanner/ in the source tree and install into it.

pyproject maps templates/ to scanner/templates and inventories/lab/ to scanner/labs.
Code run from a source tree (tests, `python3 -m scanner.cli` in a clone) reads that
tree's own copy; an installed isoscan reads its package data. The source tree wins,
so a clone never reads the files of some other installed isoscan (an editable install
of another clone maps scanner.templates to that clone).
"""
from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

SOURCE_TREE = Path(__file__).resolve().parent.parent


def _in_source_tree() -> bool:
    return (SOURCE_TREE / "pyproject.toml").is_file() and (SOURCE_TREE / "scanner").is_dir()


def data_file(package: str, source_folder: str, name: str) -> Path | None:
    """The file `name` of `package` (installed) or of `source_folder` (source tree);
    None when neither has it."""
    if _in_source_tree():
        p = SOURCE_TREE / source_folder / name
        return p if p.is_file() else None
    try:
        res = importlib.resources.files(package).joinpath(name)
    except ModuleNotFoundError:
        return None
    # a real file: the lab hands its path to other processes
    return Path(res) if isinstance(res, os.PathLike) and Path(res).is_file() else None
