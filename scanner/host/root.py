"""A read-only view of a filesystem root ("/" or --root DIR).

Everything under the root is opened for reading only; nothing is ever
created, changed or deleted there. Symlinks are resolved inside the root:
sysfs's links are relative ("../../devices/pci0000:00/..."); an absolute
target (a mounted disk of another computer) is taken under the root again,
never on this machine's own tree.
"""
from __future__ import annotations

import os
import posixpath
import stat

READ_CAP = 1 << 20        # one sysfs or /etc file: 1 MiB at most


class Root:
    def __init__(self, path: str = "/"):
        self.path = os.path.abspath(path)

    @property
    def is_live(self) -> bool:
        return self.path == "/"

    def abs(self, rel: str) -> str:
        return os.path.join(self.path, rel.lstrip("/"))

    def resolve(self, rel: str, hops: int = 40) -> str | None:
        """The root-relative path `rel` names once every symlink is followed
        inside the root; None for a loop or a link that leaves nothing."""
        parts = [p for p in rel.strip("/").split("/") if p and p != "."]
        done: list[str] = []
        while parts:
            p = parts.pop(0)
            if p == "..":
                if done:
                    done.pop()
                continue
            here = "/".join(done + [p])
            full = self.abs(here)
            if os.path.islink(full):
                hops -= 1
                if hops < 0:
                    return None
                try:
                    target = os.readlink(full)
                except OSError:
                    return None
                if target.startswith("/"):
                    done = []
                    parts = [x for x in target.strip("/").split("/") if x] + parts
                else:
                    parts = [x for x in target.split("/") if x] + parts
                continue
            done.append(p)
        return "/".join(done)

    def exists(self, rel: str) -> bool:
        r = self.resolve(rel)
        return r is not None and os.path.exists(self.abs(r))

    def isdir(self, rel: str) -> bool:
        r = self.resolve(rel)
        return r is not None and os.path.isdir(self.abs(r))

    def listdir(self, rel: str) -> list[str]:
        r = self.resolve(rel)
        if r is None:
            return []
        try:
            return sorted(os.listdir(self.abs(r)))
        except OSError:
            return []

    def read(self, rel: str, cap: int = READ_CAP) -> str | None:
        """The file's text (stripped), or None when it cannot be read."""
        raw = self.read_bytes(rel, cap)
        return None if raw is None else raw.decode("utf-8", "replace").strip()

    def read_bytes(self, rel: str, cap: int = READ_CAP) -> bytes | None:
        r = self.resolve(rel)
        if r is None:
            return None
        try:   # O_NONBLOCK: a FIFO on a hostile disk must not hang the read
            fd = os.open(self.abs(r), os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            with os.fdopen(fd, "rb", closefd=False) as fh:
                return fh.read(cap)
        except OSError:
            return None
        finally:
            os.close(fd)

    def link_name(self, rel: str) -> str | None:
        """The last component of the path a symlink leads to (a driver's or
        subsystem's name), or None when there is no such link."""
        r = self.resolve(rel)
        return posixpath.basename(r) if r and os.path.exists(self.abs(r)) else None


def uevent(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out
