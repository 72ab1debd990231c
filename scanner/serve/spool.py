"""The spool folder: bundles that arrive as files (one-way transfer, media).

    DIR/            the probes' files arrive here
    DIR/.work/      a file being ingested (claimed by an atomic rename)
    DIR/done/       stored (or stored already), with NAME.reason.txt for the latter
    DIR/rejected/   refused, with NAME.reason.txt saying why

A file is picked up only when it is complete: a regular file (not a link, not
a folder) whose name does not begin with '.' and does not end in .part or
.tmp, whose size and mtime did not change between two looks, and that nobody
wrote to in the last `settle` seconds. A writer that copies as NAME.part (or
.NAME) and renames when done is picked up at the next look after the rename.
Claiming is a rename into .work/, so two pollers never read one file; a file
left in .work/ by a crash is taken up again on start (ingest is idempotent).
Nothing is deleted: every file ends in done/ or rejected/.

A file that cannot be read (permissions) is moved to rejected/ with its
reason; one that vanished under us (another poller took it) is passed by.
Neither stops the console from starting: recover() reports each file and
goes on. Moves never overwrite (a link, then an unlink), so two pollers
racing for a name in done/ both keep their file.
"""
from __future__ import annotations

import os
import stat
import threading
import time

from scanner.serve.intake import Refused, cap, commit, prepare

SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
WORK, DONE, REJECTED = ".work", "done", "rejected"
NAME_MAX = 200


class SpoolError(RuntimeError):
    pass


def ensure(root: str) -> None:
    try:
        for d in (WORK, DONE, REJECTED):
            os.makedirs(os.path.join(root, d), mode=0o750, exist_ok=True)
    except OSError as exc:
        raise SpoolError(f"spool {root}: cannot make its folders ({exc.strerror or exc})") from None


def _candidate(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(SKIP_SUFFIXES) \
        and not name.endswith(".reason.txt")


def _free_name(folder: str, name: str) -> str:
    base = name[:NAME_MAX]
    cand, n = base, 0
    while os.path.lexists(os.path.join(folder, cand)) or \
            os.path.lexists(os.path.join(folder, cand + ".reason.txt")):
        n += 1
        cand = f"{base}.{n}"
    return cand


def _move(path: str, folder: str, name: str) -> str:
    """Move `path` into `folder` under a free name, never over another file
    (link then unlink: a name taken meanwhile is an error, and the next is tried)."""
    for _ in range(1000):
        final = _free_name(folder, name)
        try:
            os.link(path, os.path.join(folder, final))
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno in (1, 18, 38, 95):   # EPERM/EXDEV/ENOSYS/EOPNOTSUPP: no hard links
                os.rename(path, os.path.join(folder, final))
                return final
            raise
        try:
            os.unlink(path)
        except FileNotFoundError:             # another poller moved the same file first
            os.unlink(os.path.join(folder, final))
            raise
        return final
    raise OSError(f"no free name for {name} in {folder}")


def _write_reason(folder: str, name: str, text: str) -> None:
    tmp = os.path.join(folder, f".{name}.reason.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text.rstrip("\n") + "\n")
    os.replace(tmp, os.path.join(folder, name + ".reason.txt"))


class Spool:
    def __init__(self, root: str, store, cfg, trust, on_result=None):
        self.root, self.store, self.cfg, self.trust = root, store, cfg, trust
        self.on_result = on_result             # (name, outcome, detail) -> None (the audit log)
        self._seen: dict[str, tuple] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        ensure(root)

    # ------------------------------------------------------------------ one pass
    def ready(self, now: float | None = None, *, once: bool = False) -> list[str]:
        """The names complete enough to claim (see the module doc)."""
        now = time.time() if now is None else now
        out, seen = [], {}
        try:
            entries = list(os.scandir(self.root))
        except OSError as exc:
            raise SpoolError(f"spool {self.root}: cannot be listed ({exc.strerror or exc})") from None
        for e in entries:
            if not _candidate(e.name):
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            sig = (st.st_size, st.st_mtime_ns, st.st_ino)
            seen[e.name] = sig
            settled = now - st.st_mtime >= self.cfg.spool_settle_seconds
            if settled and (once or self._seen.get(e.name) == sig):
                out.append(e.name)
        self._seen = seen
        return sorted(out)

    def poll(self, *, once: bool = False) -> list[tuple[str, str, str]]:
        results = []
        for name in self.ready(once=once):
            r = self.take(name)
            if r is not None:
                results.append(r)
        return results

    def recover(self) -> list[tuple[str, str, str]]:
        """Every file a crash left in .work/, taken up again; a file that fails
        is reported (on_result) and the rest go on: start-up never stops here."""
        work = os.path.join(self.root, WORK)
        try:
            names = sorted(os.listdir(work))
        except OSError as exc:
            self._note("-", "error", f"{work}: cannot be listed ({exc.strerror or exc})")
            return []
        out = []
        for n in names:
            if n.startswith("."):
                continue
            try:
                r = self._process(n)
            except Exception as exc:     # the store is down: the file stays claimed for the next start
                r = (n, "error", f"{type(exc).__name__}: {exc}")
            if r is not None:
                out.append(r)
        return out

    def _note(self, name, outcome, detail):
        if self.on_result:
            self.on_result(name, outcome, detail)

    def take(self, name: str):
        src = os.path.join(self.root, name)
        dst = os.path.join(self.root, WORK, name)
        if os.path.lexists(dst):
            return None
        try:
            os.rename(src, dst)                  # the claim: atomic, only one poller wins
        except FileNotFoundError:
            return None
        return self._process(name)

    def _process(self, name: str):
        path = os.path.join(self.root, WORK, name)
        label = "spool:" + name
        try:
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                return None                     # another poller took it meanwhile
            if not stat.S_ISREG(st.st_mode):
                raise Refused(400, f"{label}: not a regular file (a link or device is never followed)")
            if st.st_size > cap(self.cfg):
                raise Refused(413, f"{label}: larger than {cap(self.cfg):,} bytes; nothing stored")
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as fh:
                    raw = fh.read(cap(self.cfg) + 1)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise Refused(403, f"{label}: cannot be read ({exc.strerror or exc}); "
                                   "nothing stored") from None
            p = prepare(raw, label, self.cfg, self.trust)
            res = commit(self.store, p, self.trust)
            outcome, detail, folder = "stored", f"stored as {res['kind']} {res['scan_id']}", DONE
        except Refused as exc:
            if exc.extra.get("already_stored"):
                outcome, detail, folder = "already", exc.reason, DONE
            else:
                outcome, detail, folder = "rejected", f"{exc.status}: {exc.reason}", REJECTED
        except Exception as exc:     # the store is down: leave it claimed, try again on start
            if self.on_result:
                self.on_result(name, "error", f"{type(exc).__name__}: {exc}")
            raise
        target = os.path.join(self.root, folder)
        try:
            final = _move(path, target, name)
        except FileNotFoundError:
            return None                         # another poller moved it
        except OSError as exc:
            detail += f" (it could not be moved to {folder}/: {exc.strerror or exc})"
            self._note(name, "error", detail)
            return (name, "error", detail)
        if folder == REJECTED or outcome == "already":
            try:
                _write_reason(target, final, detail)
            except OSError as exc:
                detail += f" (no reason file: {exc.strerror or exc})"
        self._note(name, outcome, detail)
        return (name, outcome, detail)

    # ------------------------------------------------------------------ the thread
    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._run, name="isoscan-spool", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:      # keep polling; the audit log has what failed
                if self.on_result:
                    self.on_result("-", "error", f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.cfg.spool_poll_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
