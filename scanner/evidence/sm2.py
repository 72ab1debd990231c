"""SM2 signatures over SM3 digests (GB/T 32918, GB/T 32905), for units whose
policy asks for the national algorithms: by OpenSSL 3 (its `openssl` binary,
whose SM2 and SM3 are part of the library every Debian release ships and
maintains), as `cryptography` exposes SM3 but not SM2 signing.

Keys and signatures never touch a path another process could swap: the PEM,
the public key and the signature are handed to openssl through pipes
(/dev/fd/N), the message on standard input. The signer's distinguishing ID is
GM/T 0009's default, 1234567812345678, named explicitly so that signatures
verify with other SM2 implementations.
"""
from __future__ import annotations

import os
import shutil
import subprocess

ALG = "sm2-sm3"
DISTID = "1234567812345678"
# the SM2 curve's OID 1.2.156.10197.1.301, DER-encoded, inside a SubjectPublicKeyInfo
SM2_OID = bytes.fromhex("06082a811ccf5501822d")
TIMEOUT = 20


class Sm2Error(ValueError):
    """SM2 cannot be used here, or a key is not an SM2 key; one line."""


def _openssl() -> str:
    exe = shutil.which("openssl")
    if exe is None:
        raise Sm2Error("SM2 needs OpenSSL 3's openssl binary (apt-get install openssl)")
    return exe


def _run(args: list[str], stdin: bytes, fds: dict[str, bytes] | None = None) -> subprocess.CompletedProcess:
    """openssl `args` with each {name: bytes} of `fds` readable at /dev/fd/N
    (the name in args replaced by that path)."""
    fds = fds or {}
    pipes, keep, argv = [], [], [_openssl()]
    try:
        paths = {}
        for name, data in fds.items():
            r, w = os.pipe()
            pipes.append((r, w))
            if len(data) > 60_000:
                raise Sm2Error(f"{name}: too large for a key or signature")
            os.write(w, data)
            os.close(w)
            keep.append(r)
            paths[name] = f"/dev/fd/{r}"
        argv += [paths.get(a, a) for a in args]
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT,
                              pass_fds=keep, check=False)
    except subprocess.TimeoutExpired:
        raise Sm2Error("openssl did not answer in time") from None
    finally:
        for r, _w in pipes:
            try:
                os.close(r)
            except OSError:
                pass


def new_private_pem() -> bytes:
    r = _run(["genpkey", "-algorithm", "SM2"], b"")
    if r.returncode != 0 or b"PRIVATE KEY" not in r.stdout:
        raise Sm2Error("openssl could not make an SM2 key: "
                       + r.stderr.decode("utf-8", "replace").strip()[:200])
    return r.stdout


def public_der(private_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo (DER) of an SM2 private key; Sm2Error if it is none."""
    r = _run(["pkey", "-in", "KEY", "-pubout", "-outform", "DER"], b"", {"KEY": private_pem})
    if r.returncode != 0 or not is_sm2_public(r.stdout):
        raise Sm2Error("not an SM2 private key")
    return r.stdout


def is_sm2_public(der: bytes) -> bool:
    return 60 <= len(der) <= 200 and SM2_OID in der


def sign(private_pem: bytes, data: bytes) -> bytes:
    r = _run(["pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", "KEY",
              "-pkeyopt", f"distid:{DISTID}"], data, {"KEY": private_pem})
    if r.returncode != 0 or not r.stdout:
        raise Sm2Error("openssl could not sign with the SM2 key: "
                       + r.stderr.decode("utf-8", "replace").strip()[:200])
    return r.stdout


def verify(public: bytes, signature: bytes, data: bytes) -> bool:
    if not is_sm2_public(public) or not 8 <= len(signature) <= 80:
        return False
    try:
        r = _run(["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-keyform", "DER",
                  "-inkey", "PUB", "-sigfile", "SIG", "-pkeyopt", f"distid:{DISTID}"], data,
                 {"PUB": public, "SIG": signature})
    except Sm2Error:
        return False
    return r.returncode == 0 and b"Signature Verified Successfully" in r.stdout
