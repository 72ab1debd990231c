"""The PDF of a report: headless Chromium's print-to-PDF (docs/evidence.md, "Evidence for
inspectors", says why Chromium and not WeasyPrint).

The page is printed from a private temporary folder, with a fresh profile,
no network (every fetch the page could make is already refused by its CSP,
and Chromium's own background traffic is switched off by the flags), A4 by
the report's @page rules, page numbers and the running title in the page
margins, and the print footer (report sha256, signer fingerprints) on every
page. Only `report --pdf` needs Chromium; scan and validate never import this.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-quic", "--disable-extensions", "--no-default-browser-check",
         "--hide-scrollbars", "--no-pdf-header-footer", "--virtual-time-budget=5000"]
TIMEOUT = 300


class PdfError(Exception):
    """No PDF was made; the message is one line and says why."""


def chromium() -> str | None:
    env = os.environ.get("ISOSCAN_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def html_to_pdf(html: str, out: str) -> bytes:
    """Print `html` to the PDF `out` (written atomically); returns its bytes."""
    exe = chromium()
    if exe is None:
        raise PdfError("--pdf needs Chromium (apt-get install chromium, or set "
                       "ISOSCAN_CHROMIUM); the HTML report was written")
    with tempfile.TemporaryDirectory(prefix="isoscan-pdf-") as tmp:
        page = os.path.join(tmp, "report.html")
        with open(page, "w", encoding="utf-8") as fh:
            fh.write(html)
        target = os.path.join(tmp, "report.pdf")
        profile = os.path.join(tmp, "profile")
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={target}",
               "file://" + page]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                               stdin=subprocess.DEVNULL, env={**os.environ, "HOME": tmp})
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish the PDF in {TIMEOUT} s") from None
        except OSError as exc:
            raise PdfError(f"Chromium cannot be started ({exc.strerror or exc})") from None
        try:
            with open(target, "rb") as fh:
                data = fh.read()
        except OSError:
            tail = " ".join((r.stderr or "").strip().splitlines()[-3:])[:400]
            raise PdfError(f"Chromium made no PDF (exit {r.returncode}): {tail}") from None
    if not data.startswith(b"%PDF"):
        raise PdfError("Chromium wrote something that is not a PDF")
    from scanner.atomicio import _create_temp   # same folder, then renamed: never half a PDF
    folder = os.path.dirname(os.path.abspath(out))
    fd, tmpname = _create_temp(folder, ".isoscan-pdf-", 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmpname, out)
    except BaseException:
        try:
            os.unlink(tmpname)
        except OSError:
            pass
        raise
    return data
