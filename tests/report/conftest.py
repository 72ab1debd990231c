"""Shared helpers of the report tests: fixture bundles, a small HTML reader,
and headless Chromium on local files only (no network)."""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ("secret-lan", "office-lan", "internet")


def load_bundles() -> list[dict]:
    return [json.loads((FIXTURES / f"{n}.json").read_text("utf-8")) for n in NAMES]


@pytest.fixture
def bundles():
    return copy.deepcopy(_CACHE.setdefault("b", load_bundles()))


_CACHE: dict = {}


@pytest.fixture(scope="session")
def inventory():
    from scanner.inventory.load import load_inventory
    return load_inventory([str(FIXTURES / "inventory.yaml")]).inventory


class Page(HTMLParser):
    """Collects tags, ids and the text of the document (script bodies apart)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.ids: dict[str, str] = {}
        self.text_parts: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self._open: list[tuple[str, str | None]] = []
        self._texts: dict[str, list[str]] = {}
        self._script: tuple[dict, list] | None = None
        self.feed(html)
        self.text = " ".join(self.text_parts)

    VOID = {"meta", "br", "input", "img", "hr", "link", "col", "area", "base", "wbr", "source"}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in ("script", "style"):
            self._script = (a, [])
        if tag in self.VOID:
            return
        self._open.append((tag, a.get("id")))
        if a.get("id"):
            self._texts[a["id"]] = []

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._script is not None:
            if tag == "script":
                self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)
            return
        self.text_parts.append(data)
        for _, i in self._open:
            if i:
                self._texts[i].append(data)

    def id_text(self, id_: str) -> str:
        return re.sub(r"\s+", " ", "".join(self._texts[id_])).strip()


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


def require_chromium() -> str:
    """The browser, else skip -- except under CI (env CI set), where the browser tests must run."""
    exe = chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing, and CI must run the browser tests "
                        "(./scripts/setup --tests installs it where the distribution has it)")
        pytest.skip("chromium is not installed (./scripts/setup --tests installs it where the "
                    "distribution has a real package)")
    return exe


def run_chromium(html_path: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    exe = require_chromium()
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, *CHROME_FLAGS, f"--user-data-dir={profile}", *args,
                               html_path.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
