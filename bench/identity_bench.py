#!/usr/bin/env python3
"""Benchmark (issue 13): what the identity step adds to a whole `isoscan scan`
of a classified /24 with 200 stations, 50 of them running a real sshd (each its
own host key) and 20 a TLS server; and how long the report takes to join the
identities of 1,000 bundles.

The bench lab is scan_bench.py's (two namespaces of our own, prefix
isoscan-p4b-, never linked to the root namespace, torn down at the end, also
on error), plus 50 sshd processes (Debian's openssh-server, ListenAddress one
station's address each, no PAM, host keys in a temporary folder) and one
Python TLS server on 20 stations' port 443, all in the hosts' namespace and
killed by pid at the end.

Each round runs the whole scan twice: as shipped, and with the identity step
left out of engine.STEPS; the difference is what the identity step adds (its
own duration, from the bundle, is printed beside it: it runs while the DHCP
and RA listening windows run out, so most of it is hidden).

Usage (root): python3 bench/identity_bench.py [--rounds 3] [--join-only] [--readers]

--readers (issue 24): the SSH host key readers alone, side by side: OpenSSH's
ssh-keyscan (as the identity step now runs it) against nmap's ssh-hostkey
script (as it ran), on 200 answering stations (sshd with ed25519, ECDSA and
RSA keys) and on the same 200 silent (TCP 22 dropped).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import timed  # noqa: E402 (bench/ is on sys.path)
from scan_bench import build, inventory, sh  # noqa: E402

SSHD_HOSTS = 50
TLS_HOSTS = 20
WITHOUT_IDENTITY = ("from scanner.scan import engine; "
                    "engine.STEPS[:] = [s for s in engine.STEPS if s.name != 'identity']; "
                    "from scanner.cli import main; main()")
TLS_SERVER = r"""
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
def serve(s):
    while True:
        c, _ = s.accept()
        try:
            ctx.wrap_socket(c, server_side=True).close()
        except Exception:
            c.close()
socks = []
for ip in sys.argv[3:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, 443)); s.listen(64); socks.append(s)
for s in socks:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def station(i: int) -> str:
    return f"10.99.0.{10 + i}"


def start_services(ns: str, tmp: str) -> list[subprocess.Popen]:
    procs = []
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    for i in range(1, SSHD_HOSTS + 1):
        key = os.path.join(tmp, f"key{i}")
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", "-h", key,
             "-o", f"ListenAddress={station(i)}", "-o", f"PidFile={key}.pid", "-o", "UsePAM=no",
             "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
             "-o", "MaxStartups=100", "-o", "LogLevel=ERROR"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    cert, pkey = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-subj", "/CN=bench.invalid", "-days", "1", "-keyout", pkey, "-out", cert)
    tls_ips = [station(i) for i in range(SSHD_HOSTS + 1, SSHD_HOSTS + TLS_HOSTS + 1)]
    tls = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", TLS_SERVER, cert, pkey,
                            *tls_ips], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, start_new_session=True)
    procs.append(tls)
    if tls.stdout.readline().strip() != "ready":
        raise RuntimeError("TLS server did not start")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(
            os.path.exists(os.path.join(tmp, f"key{i}.pid")) for i in range(1, SSHD_HOSTS + 1)):
        time.sleep(0.05)
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def join_bench(n_bundles: int = 1000, per: int = 20) -> float:
    """Seconds to merge n_bundles bundles of `per` identities each (pure)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from scanner import identity as I
    from scanner.report.merge import SCHEMA, merge
    bundles = []
    for b in range(n_bundles):
        seg = "secret-lan" if b % 2 == 0 else "office-lan"
        recs = [I.record(f"10.{b // 250}.{b % 250}.{j}", f"02:{b >> 8:02x}:{b & 255:02x}:00:00:{j:02x}",
                         I.SSH_KEY, "SHA256:%043d" % (b * per + j), time="t") for j in range(per)]
        bundles.append({"schema": SCHEMA, "scan_id": str(b), "findings": [],
                        "vantage": {"segment": seg, "ip": f"10.0.{b >> 8}.{b & 255}"},
                        "observations": {"discovery": {"status": "ok", "hosts": []},
                                         "identity": {"status": "ok", "identities": recs}}})
    # one dual-homed host among them, so the join has something to say
    bundles[1]["observations"]["identity"]["identities"].append(
        dict(bundles[0]["observations"]["identity"]["identities"][0], ip="10.40.0.66"))
    inv = {"segments": [{"name": "secret-lan", "classification": "classified", "level": "secret",
                         "networks": ["10.0.0.0/8"]},
                        {"name": "office-lan", "classification": "non-classified",
                         "networks": ["172.16.0.0/12"]}], "devices": []}
    t = time.perf_counter()
    m = merge(bundles, inventory=inv, lang="en")
    took = time.perf_counter() - t
    found = [f for f in m["findings"] if f["check_id"] == "ISO-BRIDGE"]
    print(f"join: {n_bundles} bundles x {per} identities merged in {took:.2f} s "
          f"({len(found)} ISO-BRIDGE) (target < 5 s)")
    return took


READERS_HOSTS = 200
PER_SSHD = 16               # sshd's ListenAddress limit (MAX_LISTEN_SOCKS)


def readers_bench(rounds: int) -> None:
    """Issue 24: the SSH host key readers side by side on 200 answering
    stations (13 sshd, 16 addresses each, ed25519 + ECDSA + RSA keys) and on
    the same 200 silent (TCP 22 dropped): OpenSSH's ssh-keyscan, as the
    identity step runs it, against nmap's ssh-hostkey script, as it ran."""
    from scanner.probes import identity as ident
    from scanner.probes.sshkeys import TYPES
    tag = secrets.token_hex(3)
    tmp = tempfile.mkdtemp(prefix="isoscan-idbench-")
    p = h = None
    procs: list = []
    ips = [station(i) for i in range(1, READERS_HOSTS + 1)]
    try:
        p, h = build(tag, READERS_HOSTS)
        sh("ip", "-n", h, "route", "add", "10.99.0.5/32", "dev", "mv1")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        keys = []
        for t in ("ed25519", "ecdsa", "rsa"):
            k = os.path.join(tmp, f"key-{t}")
            sh("ssh-keygen", "-q", "-t", t, "-N", "", "-f", k)
            keys += ["-h", k]
        for g in range(0, len(ips), PER_SSHD):
            pid = os.path.join(tmp, f"sshd{g}.pid")
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", h, "/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", *keys,
                 *sum((["-o", f"ListenAddress={ip}"] for ip in ips[g:g + PER_SSHD]), []),
                 "-o", f"PidFile={pid}", "-o", "UsePAM=no", "-o", "PasswordAuthentication=no",
                 "-o", "KbdInteractiveAuthentication=no", "-o", "MaxStartups=200",
                 "-o", "LogLevel=ERROR"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(
                os.path.exists(os.path.join(tmp, f"sshd{g}.pid")) for g in range(0, len(ips), PER_SSHD)):
            time.sleep(0.05)
        stdin = "\n".join(ips) + "\n"
        keyscan = ["ip", "netns", "exec", p, "ssh-keyscan", "-T", "5", "-t", TYPES, "-f", "-"]
        # as the identity step runs it: ed25519, then ECDSA, then RSA of those that gave none
        staged = ["ip", "netns", "exec", p, sys.executable, "-c",
                  "import sys; from scanner.probes.sshkeys import scan; "
                  "k, _ = scan(sys.stdin.read().split(), 22); "
                  "print(sum(len(v) for v in k.values()))"]
        nmap = ["ip", "netns", "exec", p, "nmap", "-sS", *ident.NMAP_ARGS.split(),
                "--script-timeout", ident.SCRIPT_TIMEOUT, "-e", "p0", "-p", "22",
                "--script", "ssh-hostkey", "-oX", "-", *ips]
        for state in ("answering", "silent"):
            if state == "silent":
                sh("ip", "netns", "exec", h, "iptables", "-I", "INPUT", "-p", "tcp", "--dport", "22",
                   "-j", "DROP")
            res = {"ssh-keyscan in turn (isoscan)": [], "ssh-keyscan": [], "nmap ssh-hostkey": []}
            got = {}
            for _ in range(rounds):
                t = time.perf_counter()
                r = subprocess.run(staged, input=stdin, capture_output=True, text=True,
                                   cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
                res["ssh-keyscan in turn (isoscan)"].append(time.perf_counter() - t)
                got["ssh-keyscan in turn (isoscan)"] = int((r.stdout.strip() or "0").split()[-1])
                t = time.perf_counter()
                r = subprocess.run(keyscan, input=stdin, capture_output=True, text=True)
                res["ssh-keyscan"].append(time.perf_counter() - t)
                got["ssh-keyscan"] = sum(1 for x in r.stdout.splitlines() if x and x[0] != "#")
                t = time.perf_counter()
                r = subprocess.run(nmap, capture_output=True, text=True)
                res["nmap ssh-hostkey"].append(time.perf_counter() - t)
                got["nmap ssh-hostkey"] = r.stdout.count('<elem key="fingerprint">')
            print(f"readers, {len(ips)} {state} stations: " + "; ".join(
                f"{k} {statistics.median(v):.2f} s ({got[k]} keys)" for k, v in res.items()))
    finally:
        stop(procs)
        for ns in (p, h):
            if ns:
                sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--join-only", action="store_true")
    ap.add_argument("--readers", action="store_true",
                    help="only the SSH key readers side by side (issue 24)")
    a = ap.parse_args()
    if a.readers:
        if os.geteuid() != 0:
            sys.exit("identity_bench: needs root (network namespaces)")
        readers_bench(a.rounds)
        return
    join_bench()
    if a.join_only:
        return
    if os.geteuid() != 0:
        sys.exit("identity_bench: needs root (network namespaces)")
    if not shutil.which("/usr/sbin/sshd") or not shutil.which("openssl"):
        sys.exit("identity_bench: needs /usr/sbin/sshd (openssh-server) and openssl")
    tag = secrets.token_hex(3)
    inv = inventory(200)
    out = inv.replace(".yaml", ".json")
    tmp = tempfile.mkdtemp(prefix="isoscan-idbench-")
    p = h = None
    procs: list = []
    try:
        p, h = build(tag, 200)
        # scan_bench's stations answer ARP only; here they answer TCP too, back out of one
        # macvlan (the probe sees one MAC for the replies: nmap does not mind)
        sh("ip", "-n", h, "route", "add", "10.99.0.5/32", "dev", "mv1")
        procs = start_services(h, tmp)
        times = {"with": [], "without": [], "step": []}
        for r in range(a.rounds):
            line = [f"round {r + 1}:"]
            for label, argv in (("without", [sys.executable, "-c", WITHOUT_IDENTITY]),
                                ("with", [sys.executable, "-m", "scanner.cli"])):
                d, res = timed(["ip", "netns", "exec", p, *argv, "scan", "-i", inv, "-o", out,
                                "-q", "--lang", "en"])
                b = json.load(open(out, encoding="utf-8"))
                times[label].append(d)
                extra = ""
                if label == "with":
                    sec = b["observations"]["identity"]
                    kinds = {}
                    for x in sec["identities"]:
                        kinds[x["kind"]] = kinds.get(x["kind"], 0) + 1
                    step = sec["seconds"]
                    times["step"].append(step)
                    extra = f", identity step {step:.2f} s, {kinds}"
                line.append(f"{label} identity {d:.2f} s (exit {res.returncode}, "
                            f"{b['summary']['verdict']}{extra})")
            print(" ".join(line))
        w, wo = statistics.median(times["with"]), statistics.median(times["without"])
        print(f"median: whole scan {w:.2f} s with the identity step, {wo:.2f} s without: "
              f"+{w - wo:.2f} s (target <= 3 s); the step itself "
              f"{statistics.median(times['step']):.2f} s")
    finally:
        stop(procs)
        for ns in (p, h):
            if ns:
                sh("ip", "netns", "del", ns, check=False)
        for f in (inv, out):
            if os.path.exists(f):
                os.unlink(f)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
