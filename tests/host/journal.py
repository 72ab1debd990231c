"""A real journal directory, written by systemd-journald itself.

journald runs in a private mount namespace (`unshare -m`) whose
/run/systemd, /run/log, /var/log/journal and /etc/systemd/journald.conf are bind
mounts of temporary folders: it reads nothing of this machine's kernel log
(ReadKMsg=no), forwards nothing, and writes only into the folder given.
The messages are sent to journald's native socket (one datagram each, with
SYSLOG_IDENTIFIER=kernel, as the kernel's would read: systemd-cat's stream
lost lines under load); the journal's files are journald's own binary format.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

JOURNALD = "/lib/systemd/systemd-journald"

SCRIPT = r"""
set -e
mount --bind "$T/run" /run/systemd 2>/dev/null || { mkdir -p /run/systemd; mount --bind "$T/run" /run/systemd; }
mkdir -p "$T/runlog"
mount --bind "$T/runlog" /run/log 2>/dev/null || { mkdir -p /run/log; mount --bind "$T/runlog" /run/log; }
mkdir -p /var/log/journal /etc/systemd
mount --bind "$OUT" /var/log/journal
touch /etc/systemd/journald.conf
mount --bind "$T/journald.conf" /etc/systemd/journald.conf
mkdir -p /run/systemd/journal
"$JOURNALD" &
JP=$!
i=0
while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect("/run/systemd/journal/socket")
for line in open(sys.argv[1], encoding="utf-8"):
    s.send(b"SYSLOG_IDENTIFIER=kernel\nMESSAGE=" + line.rstrip("\n").encode() + b"\n")
' "$T/messages"
journalctl --flush >/dev/null 2>&1 || true
journalctl --sync >/dev/null 2>&1 || true
sleep 0.3
kill $JP
wait $JP || true
"""

CONF = """[Journal]
Storage=persistent
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
Audit=no
RateLimitIntervalSec=0
RateLimitBurst=0
"""


def available() -> str | None:
    """None when a journal can be written here, else why not."""
    for tool in ("unshare", "journalctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists(JOURNALD):
        return f"{JOURNALD} is not installed"
    if os.geteuid() != 0:
        return "needs root (a private mount namespace)"
    return None


def write_journal(out: Path, messages: list[str], work: Path) -> Path:
    """Journal files under `out` (a var/log/journal) holding `messages`."""
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / "run").mkdir(exist_ok=True)
    (work / "journald.conf").write_text(CONF)
    (work / "messages").write_text("".join(m + "\n" for m in messages))
    env = dict(os.environ, T=str(work), OUT=str(out), JOURNALD=JOURNALD, PY=sys.executable)
    subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", SCRIPT],
                   env=env, check=True, timeout=30, capture_output=True)
    files = list(out.rglob("*.journal"))
    if not files:
        raise RuntimeError(f"journald wrote no journal file under {out}")
    return out
