"""A fresh Debian root folder (debootstrap minbase), and commands run inside it as root.

    base = DebianRoot.bootstrap(tmp / "base")          # ~40-60 s for bookworm
    root = base.copy_to(tmp / "a")                     # a second fresh machine in seconds
    root.connect()                                     # apt and pip reach what the host reaches
    with root.mounted():                               # /proc /sys /dev /run; always unmounted
        r = root.run("cd /root/isoscan && ./scripts/setup")
        r = root.run("./install.sh", network=False)    # a network namespace with only lo

Facts this is built around (measured on these machines):
- `ip netns exec` inside a chroot fails with `"mount --make-rslave /" failed: Invalid
  argument` unless the root folder is a mount point: it is bind-mounted onto itself
  (and made private, so nothing mounted inside reaches the host's mount table).
- The lab keeps /run/netns and /run/isoscan-lab inside the root's own /run (a tmpfs):
  what `ip netns list` says inside the root is that root's, never the host's.
- The registries are reached through a TLS-inspecting proxy: the host's extra CA
  certificates, apt sources and proxy settings and pip's configuration are copied in.
- Unmounting is recursive, falls back to lazy, and is verified; a folder that still has
  a mount under it is never deleted (a bind-mounted /dev would be the host's).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

MIRROR = os.environ.get("ISOSCAN_TEST_MIRROR", "http://deb.debian.org/debian")
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class DebianRoot:
    def __init__(self, path: Path, suite: str = "bookworm"):
        self.path = Path(path).resolve()
        self.suite = suite

    # ---- making one ----------------------------------------------------------------
    @classmethod
    def bootstrap(cls, path: Path, suite: str = "bookworm", log: Path | None = None) -> "DebianRoot":
        path.mkdir(parents=True, exist_ok=True)
        with open(log or os.devnull, "w") as out:
            subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,ca-certificates",
                            suite, str(path), MIRROR],
                           stdout=out, stderr=subprocess.STDOUT, check=True, timeout=900)
        return cls(path, suite)

    def copy_to(self, path: Path) -> "DebianRoot":
        subprocess.run(["cp", "-a", str(self.path), str(path)], check=True)
        return DebianRoot(path, self.suite)

    def connect(self) -> None:
        """Let apt and pip inside reach exactly what the host reaches."""
        cas = Path("/usr/local/share/ca-certificates")
        if cas.is_dir():
            dest = self.file("/usr/local/share/ca-certificates")
            dest.mkdir(parents=True, exist_ok=True)
            for ca in cas.iterdir():
                if ca.is_file():
                    shutil.copy2(ca, dest / ca.name)
        host_sources = [p for p in [Path("/etc/apt/sources.list")] if p.is_file() and p.stat().st_size]
        host_sources += sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
        host_sources += sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
        if host_sources and _host_codename() == self.suite:     # else debootstrap's own stay
            self.file("/etc/apt/sources.list").unlink(missing_ok=True)
            for s in host_sources:
                shutil.copy2(s, self.file(str(s)))
        for conf in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
            text = conf.read_text(errors="replace") if conf.is_file() else ""
            if "Acquire::" in text:          # proxies, Check-Valid-Until and the like
                shutil.copy2(conf, self.file(str(conf)))
        if Path("/etc/pip.conf").is_file():
            shutil.copy2("/etc/pip.conf", self.file("/etc/pip.conf"))
        if Path("/etc/xdg/pip").is_dir():
            shutil.copytree("/etc/xdg/pip", self.file("/etc/xdg/pip"), dirs_exist_ok=True)
        if Path("/etc/resolv.conf").is_file():
            shutil.copy2("/etc/resolv.conf", self.file("/etc/resolv.conf"), follow_symlinks=True)
        subprocess.run(["chroot", str(self.path), "update-ca-certificates"],
                       env=self.env(), check=True, capture_output=True, timeout=120)

    # ---- paths, environment ---------------------------------------------------------------
    def file(self, inside: str) -> Path:
        """The host path of a path inside the root."""
        return self.path / inside.lstrip("/")

    def env(self) -> dict[str, str]:
        """A login-like environment, plus the host's PIP_* settings that make sense inside."""
        env = {"PATH": ROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}
        for k, v in os.environ.items():
            if k.startswith("PIP_") and not (v.startswith("/") and not self.file(v).exists()):
                env[k] = v
        return env

    # ---- mounts ----------------------------------------------------------------------------
    def mounts_below(self) -> list[str]:
        """Mount points at or under this root, from the kernel's table (deepest last)."""
        out = []
        prefix = str(self.path)
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                out.append(point)
        return out

    def nsfs_mounts(self) -> list[str]:
        """Network namespaces pinned inside this root (`ip netns add` bind mounts)."""
        prefix = str(self.path)
        return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                if " - nsfs " in line and line.split()[4].startswith(prefix + "/")]

    @contextlib.contextmanager
    def mounted(self):
        p = str(self.path)
        try:
            for cmd in (["mount", "--bind", p, p], ["mount", "--make-private", p],
                        ["mount", "-t", "proc", "proc", f"{p}/proc"],
                        ["mount", "-t", "sysfs", "sysfs", f"{p}/sys"],
                        ["mount", "--rbind", "/dev", f"{p}/dev"],
                        ["mount", "--make-rslave", f"{p}/dev"],
                        ["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", f"{p}/run"]):
                subprocess.run(cmd, check=True, capture_output=True)
            yield self
        finally:
            self.unmount()

    def unmount(self) -> None:
        p = str(self.path)
        if self.mounts_below():
            r = subprocess.run(["umount", "-R", p], capture_output=True, text=True)
            if r.returncode != 0 or self.mounts_below():
                subprocess.run(["umount", "-R", "-l", p], capture_output=True, text=True)
        left = self.mounts_below()
        assert not left, f"still mounted after umount -R -l: {left}"

    def remove(self) -> None:
        """Delete the folder, only when nothing is mounted under it."""
        if self.path.exists() and not self.mounts_below():
            subprocess.run(["rm", "-rf", "--one-file-system", str(self.path)], check=False)

    # ---- running --------------------------------------------------------------------------------
    def run(self, script: str, *, network: bool = True, timeout: int = 1800,
            log: Path | None = None) -> subprocess.CompletedProcess:
        """`/bin/sh -c script` inside the root, as root. network=False: inside a fresh network
        namespace that has only `lo` (unshare -n, inside the chroot)."""
        argv = ["chroot", p := str(self.path)]
        argv += ["/bin/sh", "-c", script] if network else ["unshare", "--net", "/bin/sh", "-c", script]
        r = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=p)
        if log is not None:
            log.write_text(f"$ {script}\n--- exit {r.returncode}\n--- stdout\n{r.stdout}\n"
                           f"--- stderr\n{r.stderr}\n", encoding="utf-8")
        return r


def _host_codename() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None
