"""SSH host keys read with OpenSSH's own `ssh-keyscan` (Debian's openssh-client).

Why ssh-keyscan (issue 24): it speaks every key exchange and host key type a
current OpenSSH speaks -- the curve25519, ECDH and DH groups, ed25519, ECDSA,
RSA with SHA-2 -- and so reads dropbear (routers, embedded boards,
appliances), Cisco and Windows' OpenSSH alike, where nmap's ssh-hostkey
script read no key at all from Debian's dropbear 2022.83. It scans all its
hosts at once (one process, non-blocking connections, one per key type a
host) and gives up on a host `timeout` seconds after it last said anything.
bench/identity_bench.py measures it against nmap's script.

Only stations whose SSH port the identity step's nmap run found open are
asked (silent stations cost nothing here). ssh-keyscan cannot bind a device:
the stations are on the vantage's own link, reached by the connected route
of the vantage's interface (scanner/probes/identity.py).

Pure parts (`parse`, `unread_reasons`) are tested without a network.
"""
from __future__ import annotations

import shutil
import subprocess

from scanner import identity as I
from scanner.model import text
from scanner.probes.wire import ProbeError

KEYSCAN = "ssh-keyscan"
TYPES = "ed25519,ecdsa,rsa"
TIMEOUT_S = 5               # per host, since it last said anything
OUTPUT_MAX = 4 * 2**20      # a /20 of answering stations stays far below
KEYS_MAX = 8                # host keys kept per port


def _host(token: str) -> tuple[str, int | None]:
    """('10.0.0.5', 2222) from '[10.0.0.5]:2222'; ('10.0.0.5', None) from '10.0.0.5'."""
    if token.startswith("[") and "]:" in token:
        h, _, p = token[1:].partition("]:")
        return h, int(p) if p.isdigit() else None
    return token, None


def parse(stdout: str, port: int) -> dict[str, list[tuple[str, str]]]:
    """{ip: [(key type, base64 blob), ...]} from ssh-keyscan's output (pure)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for line in stdout.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 3:
            continue
        ip, p = _host(parts[0])
        if p not in (None, port):
            continue
        keys = out.setdefault(ip, [])
        if len(keys) < KEYS_MAX and (parts[1], parts[2]) not in keys:
            keys.append((parts[1], parts[2]))
    return out


def banners(stderr: str) -> dict[str, str]:
    """{ip: the SSH banner it sent} from ssh-keyscan's '# ip:port banner' lines."""
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        if not line.startswith("# "):
            continue
        where, _, banner = line[2:].partition(" ")
        ip = where.rsplit(":", 1)[0]
        out.setdefault(ip, I.bounded(banner, 120) or "")
    return out


def errors(stderr: str, ips) -> dict[str, str]:
    """{ip: the first error ssh-keyscan said of it} ('read (10.0.0.5): Connection reset')."""
    wanted = set(ips)
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        if line.startswith("# "):
            continue
        for tok in line.replace("(", " ").replace(")", " ").replace("`", " ").replace("'", " ").split():
            ip = tok.strip("[]:,")
            if ip in wanted and ip not in out:
                out[ip] = I.bounded(line.strip(), 200) or ""
    return out


def unread_reasons(ips, keys: dict, said: dict[str, str], errs: dict[str, str],
                   timeout: float) -> dict[str, str]:
    """{ip: why no host key was read} for the open SSH ports that gave none (pure)."""
    out = {}
    for ip in ips:
        if keys.get(ip):
            continue
        if ip in said:
            why = f"answered SSH ({said[ip]}) but no host key could be read"
            out[ip] = why + (f": {errs[ip]}" if ip in errs else
                             " (no common key exchange or host key type, or it closed the connection)")
        elif ip in errs:
            out[ip] = f"port open but no SSH banner: {errs[ip]}"
        else:
            out[ip] = f"port open but no SSH banner within {timeout:g} s"
    return out


def scan(ips: list[str], port: int, timeout: float = TIMEOUT_S) -> tuple[dict, dict]:
    """({ip: [(type, blob)]}, {ip: reason}) for the stations with `port` open:
    every host key type each offers, and why none was read where none was."""
    if not ips:
        return {}, {}
    if not shutil.which(KEYSCAN):
        raise ProbeError(text("未找到 ssh-keyscan（openssh-client），无法读取 SSH 主机密钥",
                              "ssh-keyscan (openssh-client) not found: SSH host keys cannot be read"))
    argv = [KEYSCAN, "-T", f"{timeout:g}", "-p", str(port), "-t", TYPES, "-f", "-"]
    # bound: every host's every type may take the timeout once, all in parallel
    try:
        r = subprocess.run(argv, input="\n".join(ips) + "\n", capture_output=True, text=True,
                           errors="replace", timeout=timeout * 4 + 10)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(text(f"ssh-keyscan 超时（{exc.timeout:g} 秒）",
                              f"ssh-keyscan did not finish within {exc.timeout:g} s"))
    except OSError as exc:
        raise ProbeError(text(f"ssh-keyscan 无法运行：{exc}", f"ssh-keyscan cannot run: {exc}"))
    out, err = r.stdout[:OUTPUT_MAX], r.stderr[:OUTPUT_MAX]
    # exit 1 only says some host gave no key: that is reported host by host below
    keys = parse(out, port)
    keys = {ip: k for ip, k in keys.items() if ip in set(ips)}
    return keys, unread_reasons(ips, keys, banners(err), errors(err, ips), timeout)


def records(keys: dict, macs: dict, port: int, time: str | None = None) -> list[dict]:
    """Identity records (kind ssh-host-key) of the keys read; the fingerprint
    is OpenSSH's SHA256 form, computed here from the blob."""
    out = []
    for ip, pairs in sorted(keys.items()):
        for typ, blob in pairs:
            fp = I.ssh_fingerprint(blob)
            if fp is None:
                continue
            r = I.record(ip, macs.get(ip), I.SSH_KEY, fp, detail=I.bounded(typ, 40),
                         port=port, time=time)
            if r:
                out.append(r)
    return out
