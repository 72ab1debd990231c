"""Atomic file writes: a reader sees the old file or the whole new one, never half.

The text goes to a temporary file in the destination's folder (same file
system, so the rename is atomic), optionally fsync'd, then renamed over the
destination. On any failure the temporary file is removed and the destination
is left as it was.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import sys
from typing import BinaryIO, Iterator

# as tempfile.mkstemp opens its file: new, never through a link, not inherited
_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
          | getattr(os, "O_CLOEXEC", 0))


def write_text_atomic(path: str | os.PathLike, text: str, *, mode: int = 0o666,
                      fsync: bool = True, prefix: str = ".isoscan-",
                      dash_is_stdout: bool = False) -> None:
    """Write `text` (UTF-8) to `path` atomically.

    mode: the new file's permissions before the umask, as open() applies them:
        0o666 (the default) gives what open(path, "w") would make; 0o600 what
        tempfile.mkstemp makes (private to the owner).
    fsync: flush the data to disk before the rename (a crash then leaves the
        old file or the whole new one).
    prefix: the temporary file's name begins with it (hidden, recognisable).
    dash_is_stdout: a path of '-' means standard output (written as is).
    """
    if dash_is_stdout and os.fspath(path) == "-":
        sys.stdout.write(text)
        return
    with open_atomic(path, mode=mode, fsync=fsync, prefix=prefix) as fh:
        fh.write(text.encode("utf-8"))


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, *, mode: int = 0o666, fsync: bool = True,
                prefix: str = ".isoscan-") -> Iterator[BinaryIO]:
    """A binary file to write `path` through: a fresh temporary file beside it
    (never through a link), renamed over `path` when the block ends, removed
    when it raises. For writers that stream (a zip file, say)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temp(folder, prefix, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _create_temp(folder: str, prefix: str, mode: int) -> tuple[int, str]:
    """A new file of a fresh name in `folder`, created with `mode` (the kernel
    applies the umask, as it does for open()); like tempfile.mkstemp, whose
    fixed 0o600 is not what a report to share wants."""
    for _ in range(100):
        name = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}.tmp")
        try:
            return os.open(name, _FLAGS, mode), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")
