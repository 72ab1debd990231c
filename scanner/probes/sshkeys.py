"""SSH host keys read with OpenSSH's own `ssh-keyscan` (Debian's openssh-client).

Why ssh-keyscan (issue 24): it speaks every key exchange and host key type a
current OpenSSH speaks -- the curve25519, ECDH and DH groups, ed25519, ECDSA,
RSA with SHA-2 -- and so reads dropbear (routers, embedded boards,
appliances), Cisco and Windows' OpenSSH alike, where nmap's ssh-hostkey
script read no key at all from Debian's dropbear 2022.83. It scans all its
hosts at once (one process, non-blocking connections) and gives up on a
host `timeout` seconds after it last said anything. It is asked for ed25519,
then ECDSA, then RSA, each of the hosts that gave none yet: one connection a
host in the usual case. bench/identity_bench.py --readers measures it against
nmap's script.

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


def _keyscan(ips: list[str], port: int, typ: str, timeout: float) -> tuple[str, str]:
    argv = [KEYSCAN, "-T", f"{timeout:g}", "-p", str(port), "-t", typ, "-f", "-"]
    # bound: each host may take the timeout once, all of them in parallel
    try:
        r = subprocess.run(argv, input="\n".join(ips) + "\n", capture_output=True, text=True,
                           errors="replace", timeout=timeout * 2 + 10)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(text(f"ssh-keyscan 超时（{exc.timeout:g} 秒）",
                              f"ssh-keyscan did not finish within {exc.timeout:g} s"))
    except OSError as exc:
        raise ProbeError(text(f"ssh-keyscan 无法运行：{exc}", f"ssh-keyscan cannot run: {exc}"))
    # exit 1 only says some host gave no key: that is reported host by host
    return r.stdout[:OUTPUT_MAX], r.stderr[:OUTPUT_MAX]


def scan(ips: list[str], port: int, timeout: float = TIMEOUT_S) -> tuple[dict, dict]:
    """({ip: [(type, blob)]}, {ip: reason}) for the stations with `port` open.

    One connection a host in the usual case: ed25519 first; the hosts that
    gave none are asked for ECDSA, then those for RSA (ssh-keyscan opens one
    connection per key type it asks for: asking all three of every host
    tripled the handshakes, bench/identity_bench.py --readers). The key a
    host gives is the same on each of its cards (one server, one preference
    order here), which is what joins them."""
    if not ips:
        return {}, {}
    if not shutil.which(KEYSCAN):
        raise ProbeError(text("未找到 ssh-keyscan（openssh-client），无法读取 SSH 主机密钥",
                              "ssh-keyscan (openssh-client) not found: SSH host keys cannot be read"))
    keys: dict[str, list] = {}
    said: dict[str, str] = {}
    errs: dict[str, str] = {}
    left = list(ips)
    for typ in TYPES.split(","):
        if not left:
            break
        out, err = _keyscan(left, port, typ, timeout)
        got = {ip: k for ip, k in parse(out, port).items() if ip in set(left)}
        keys.update(got)
        for ip, b in banners(err).items():
            said.setdefault(ip, b)
        for ip, e in errors(err, left).items():
            errs.setdefault(ip, e)
        # a host that sent no SSH banner at all is not asked again (a silent
        # or non-SSH port would only cost the timeout twice more)
        left = [ip for ip in left if ip not in got and ip in said]
    return keys, unread_reasons(ips, keys, said, errs, timeout)


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
