"""systemd units for the daily loop (pure: the texts; the command writes them).

    units = probe_units(ProbeService(inventory=[...], db=..., alert=..., output_dir=...))
    units = console_units(ConsoleService(db=..., host=..., port=...))
    # {"isoscan-scan.service": "...", "isoscan-scan.timer": "..."}

Least privilege: the scan runs as the service user (default `isoscan`), not
root, with only CAP_NET_RAW and CAP_NET_ADMIN (ambient, and the bounding set
holds nothing else); nmap is told it may use raw sockets (NMAP_PRIVILEGED=1).
The file system is read-only to it except its state folder /var/lib/isoscan
(0700) and the bundle folder; UMask=0077, so the bundles, the store and the
outbox it writes are 0600. The console runs with no capability at all.

The timer: OnCalendar (default 02:30 every night), Persistent=true (a night
the host was off runs at boot), RandomizedDelaySec (default 30 min: the
probes of a unit do not all hit the store and the mail relay in one second).

Exit status 1 (non-compliant) is a verdict, not a broken run: it is a
SuccessExitStatus, so `systemctl --failed` lists only runs that could not be
done (2, input) or judged (3, incomplete). The alerts tell of the verdict.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

SCAN = "isoscan-scan"
CONSOLE = "isoscan-console"
STATE = "/var/lib/isoscan"

_HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
SystemCallArchitectures=native
UMask=0077
StateDirectory=isoscan
StateDirectoryMode=0700
"""


def _q(args) -> str:
    """A command line as systemd reads it (shell-like quoting; '%' doubled,
    systemd's specifier escape)."""
    return " ".join(shlex.quote(str(a)).replace("%", "%%") for a in args)


@dataclass
class ProbeService:
    inventory: list[str]
    db: str = f"{STATE}/isoscan.db"
    alert: str | None = None
    output_dir: str = f"{STATE}/bundles"
    on_calendar: str = "*-*-* 02:30:00"
    randomized_delay: str = "30min"
    user: str = "isoscan"
    isoscan: str = "/usr/local/bin/isoscan"
    lang: str = "zh-CN"
    extra: list[str] = field(default_factory=list)     # more `isoscan scan` options


@dataclass
class ConsoleService:
    db: str = f"{STATE}/isoscan.db"
    host: str = "127.0.0.1"
    port: int = 8080
    config: str | None = None
    spool: str | None = None
    user: str = "isoscan"
    isoscan: str = "/usr/local/bin/isoscan"


def _writable(paths) -> str:
    """ReadWritePaths for folders outside the state folder (a store file: its folder)."""
    import os
    out = []
    for p in paths:
        if not p or "://" in p:
            continue
        p = os.path.abspath(p)
        if p == STATE or p.startswith(STATE + "/"):
            continue
        out.append(p)
    return "".join(f"ReadWritePaths={_q([p])}\n" for p in dict.fromkeys(out))


def _store_folder(db: str) -> str | None:
    import os
    if "://" in db and not db.startswith("sqlite:///"):
        return None
    path = db[len("sqlite:///"):] if db.startswith("sqlite:///") else db
    return os.path.dirname(os.path.abspath(path))


def probe_units(s: ProbeService) -> dict[str, str]:
    argv = [s.isoscan, "scan", "-q", "--lang", s.lang,
            *[a for i in s.inventory for a in ("-i", i)],
            "--db", s.db, "--output-dir", s.output_dir,
            *(["--alert", s.alert] if s.alert else []), *s.extra]
    service = f"""\
[Unit]
Description=isoscan nightly scan of this probe's segment (isoscan 每夜扫描)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
User={s.user}
Group={s.user}
ExecStart={_q(argv)}
# 1 is a verdict (non-compliant), not a failed run; 2 and 3 are
SuccessExitStatus=1
Environment=NMAP_PRIVILEGED=1
AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN
CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK AF_PACKET
{_HARDENING}{_writable([s.output_dir, _store_folder(s.db)])}TimeoutStartSec=3h
Nice=10
"""
    timer = f"""\
[Unit]
Description=isoscan nightly scan timer (isoscan 每夜扫描定时器)

[Timer]
OnCalendar={s.on_calendar}
Persistent=true
RandomizedDelaySec={s.randomized_delay}

[Install]
WantedBy=timers.target
"""
    return {f"{SCAN}.service": service, f"{SCAN}.timer": timer}


def console_units(s: ConsoleService) -> dict[str, str]:
    argv = [s.isoscan, "serve", "--db", s.db, "--host", s.host, "--port", str(s.port),
            *(["--config", s.config] if s.config else []),
            *(["--spool", s.spool] if s.spool else [])]
    service = f"""\
[Unit]
Description=isoscan console of the unit (isoscan 单位检查控制台)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={s.user}
Group={s.user}
ExecStart={_q(argv)}
Restart=on-failure
RestartSec=5s
AmbientCapabilities=
CapabilityBoundingSet={"CAP_NET_BIND_SERVICE" if s.port < 1024 else ""}
{"AmbientCapabilities=CAP_NET_BIND_SERVICE" + chr(10) if s.port < 1024 else ""}\
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
{_HARDENING}{_writable([_store_folder(s.db), s.spool])}
[Install]
WantedBy=multi-user.target
"""
    return {f"{CONSOLE}.service": service}
