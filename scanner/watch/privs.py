"""Dropping privileges once the sockets are open.

The watch needs CAP_NET_RAW to open its capture and send sockets; it needs
nothing after that, except to open a capture socket again when an interface
that went away comes back. So, after the sockets are open:

* with `--user NAME`: supplementary groups cleared, setgid/setuid to NAME
  (its primary group), keeping only CAP_NET_RAW (PR_SET_KEEPCAPS, then
  capset);
* without: the process stays uid 0 but keeps only CAP_NET_RAW: no
  CAP_DAC_OVERRIDE, CAP_SYS_ADMIN, CAP_NET_ADMIN ... (a root without
  capabilities can still write the root-owned store it opened);
* in both cases every other capability leaves the bounding set and
  PR_SET_NO_NEW_PRIVS is set, so nothing it executes can get them back.

`--keep-no-caps` drops CAP_NET_RAW too (a lost interface then stays an
error event until the watch is restarted).
"""
from __future__ import annotations

import ctypes
import os

CAP_NET_RAW = 13
CAP_SETPCAP = 8
PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_SET_NO_NEW_PRIVS = 38
_V3 = 0x20080522


class PrivError(Exception):
    pass


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40


def _capset(keep: int) -> None:
    libc = _libc()
    hdr = _Header(_V3, 0)
    data = (_Data * 2)()
    for i in range(2):
        word = (keep >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = word
        data[i].inheritable = 0
    if libc.capset(ctypes.byref(hdr), data) != 0:
        e = ctypes.get_errno()
        raise PrivError(f"capset failed: {os.strerror(e)}")


def drop(user: str | None = None, keep_raw: bool = True) -> str:
    """Drop what is not needed; returns what was done (for the log)."""
    libc = _libc()
    keep = (1 << CAP_NET_RAW) if keep_raw else 0
    if os.geteuid() != 0:
        if user and _passwd(user).pw_uid != os.geteuid():
            raise PrivError(f"--user {user}: only a watch started as root can switch users "
                            f"(this one runs as uid {os.geteuid()})")
        _capset(keep & _status()["CapEff"])
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise PrivError("prctl(PR_SET_NO_NEW_PRIVS) failed")
        return f"uid {os.geteuid()}: capabilities limited to {'CAP_NET_RAW' if keep else 'none'}"
    for cap in range(_last_cap() + 1):          # needs CAP_SETPCAP: before anything else
        if not (keep >> cap) & 1:
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    done = "uid 0"
    if user:
        import grp
        pw = _passwd(user)
        if libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
            raise PrivError("prctl(PR_SET_KEEPCAPS) failed")
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
        done = f"user {user} (uid {pw.pw_uid}, group {grp.getgrgid(pw.pw_gid).gr_name})"
    _capset(keep)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise PrivError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    _verify(keep)
    return f"{done}, capabilities: {'CAP_NET_RAW only' if keep else 'none'}"


def _passwd(user: str):
    import pwd
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise PrivError(f"no such user {user!r} (--user)") from None


def _verify(keep: int) -> None:
    """Never run with more than it says: what the kernel reports, read back
    (a status that cannot be read is a failure, not an empty set)."""
    status = _status()
    for fld in ("CapEff", "CapPrm", "CapBnd"):
        left = status[fld] & ~keep
        if left:
            raise PrivError(f"capabilities {left:#x} are still in {fld} after dropping them "
                            "(no CAP_SETPCAP to empty the bounding set?)")
    if status.get("NoNewPrivs") != 1:
        raise PrivError("no_new_privs is not set after setting it")


def _status() -> dict[str, int]:
    """CapEff, CapPrm, CapBnd (and NoNewPrivs) of this process, from /proc/self/status."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("CapEff", "CapPrm", "CapBnd"):
                    out[name] = int(value.split()[0], 16)
                elif name == "NoNewPrivs":
                    out[name] = int(value.split()[0])
    except (OSError, ValueError, IndexError) as exc:
        raise PrivError(f"/proc/self/status cannot be read to confirm the drop: {exc}") from None
    missing = {"CapEff", "CapPrm", "CapBnd"} - set(out)
    if missing:
        raise PrivError(f"/proc/self/status has no {', '.join(sorted(missing))}: the drop "
                        "cannot be confirmed")
    return out
