"""Signing keys: Ed25519 key pairs (the `cryptography` library), their files and
fingerprints, and the trusted public keys a verifier reads.

    priv, pub, fp = new_key_pair("probe-secret.key", name="secret-lan probe 1")
    key = load_private_key("probe-secret.key")      # KeyFileError if group/others can read it
    sig = key.sign(data)
    trust = load_trust("trusted-keys/")             # a folder of *.pub, or one file

Files:

* private key: PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), unencrypted, created
  with mode 0600 by os.open (O_CREAT|O_EXCL|O_NOFOLLOW: never over an existing
  file, never through a link, no moment at which another user could open it).
  Loading refuses a file that group or others may read or write, a link, and
  anything but a regular file.
* public key: one line, `isoscan-ed25519 <base64 of the 32-byte key> [name]`,
  beside the private key (probe-secret.key -> probe-secret.pub). A trust file
  holds any number of such lines; blank lines and lines starting with # are
  ignored. The name is the unit's name for the key (free text, one line).

Fingerprint: "ed25519:SHA256:" + unpadded base64 of sha256(the 32-byte public
key), as OpenSSH prints its own; short form: the first 16 hex digits of the
same digest in groups of four ("3f2a 9c01 77be 0d4e"), to read aloud or compare
on paper.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass

ALG = "ed25519"
PUBLIC_TAG = "isoscan-ed25519"
MAX_KEY_FILE = 64 * 1024          # a key file or trust file larger than this is not one
MAX_TRUST_KEYS = 10_000

_OPEN_NEW = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
_OPEN_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class KeyFileError(ValueError):
    """A key file that cannot be made, read or trusted; the message is one line."""


SM2_ALG = "sm2-sm3"
ALGS = (ALG, SM2_ALG)
TAGS = {ALG: PUBLIC_TAG, SM2_ALG: "isoscan-sm2"}
PREFIX = {ALG: "ed25519", SM2_ALG: "sm2"}


def fingerprint(raw_public: bytes, alg: str = ALG) -> str:
    """'<ed25519|sm2>:SHA256:' + unpadded base64 of sha256(the public key: the
    32 Ed25519 bytes, or an SM2 key's SubjectPublicKeyInfo DER)."""
    d = hashlib.sha256(raw_public).digest()
    return f"{PREFIX[alg]}:SHA256:" + base64.b64encode(d).decode("ascii").rstrip("=")


def short_fingerprint(fp: str) -> str:
    """'ed25519:SHA256:<b64>' -> '3f2a 9c01 77be 0d4e' (the digest's first 8 bytes in hex)."""
    try:
        b64 = fp.rsplit(":", 1)[1]
        d = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
    except (IndexError, binascii.Error, ValueError):
        return fp[:19]
    h = d[:8].hex()
    return " ".join(h[i:i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class PublicKey:
    raw: bytes                    # the 32-byte Ed25519 key, or an SM2 SubjectPublicKeyInfo (DER)
    name: str = ""                # the unit's name for it
    source: str = ""              # file:line it was read from
    alg: str = ALG                # ed25519 | sm2-sm3

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw, self.alg)

    @property
    def short(self) -> str:
        return short_fingerprint(self.fingerprint)

    def line(self) -> str:
        b64 = base64.b64encode(self.raw).decode("ascii")
        return f"{TAGS[self.alg]} {b64} {self.name}".rstrip()

    def verify(self, signature: bytes, data: bytes) -> bool:
        if self.alg == SM2_ALG:
            from scanner.evidence import sm2
            return sm2.verify(self.raw, signature, data)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
            return True
        except (InvalidSignature, ValueError):
            return False


class PrivateKey:
    """An Ed25519 private key read from a file with safe permissions."""

    def __init__(self, key, path: str = ""):
        from cryptography.hazmat.primitives import serialization
        self._key = key
        self.path = path
        raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        self.public = PublicKey(raw, "", path)

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    alg = ALG

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class Sm2PrivateKey:
    """An SM2 private key (signing with SM3 by OpenSSL: scanner/evidence/sm2.py)."""
    alg = SM2_ALG

    def __init__(self, pem: bytes, path: str = ""):
        from scanner.evidence import sm2
        self._pem = pem
        self.path = path
        try:
            self.public = PublicKey(sm2.public_der(pem), "", path, SM2_ALG)
        except sm2.Sm2Error as exc:
            raise KeyFileError(f"{path}: {exc}") from None

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    def sign(self, data: bytes) -> bytes:
        from scanner.evidence import sm2
        try:
            return sm2.sign(self._pem, data)
        except sm2.Sm2Error as exc:
            raise KeyFileError(f"{self.path}: {exc}") from None


def public_path_for(private_path: str) -> str:
    root, ext = os.path.splitext(private_path)
    return (root if ext == ".key" else private_path) + ".pub"


def new_key_pair(out: str, name: str | None = None, alg: str = ALG) -> tuple[str, str, str]:
    """Make a key pair: the private key at `out` (0600), the public key beside it.
    Returns (private path, public path, fingerprint). Never overwrites a file.
    `alg`: ed25519 (the default), or sm2-sm3 (by OpenSSL)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    if alg not in ALGS:
        raise KeyFileError(f"unknown key algorithm {alg!r} (ed25519 or sm2-sm3)")
    name = _one_line(name or "")
    pub_path = public_path_for(out)
    for p in (out, pub_path):
        if os.path.lexists(p):
            raise KeyFileError(f"{p}: exists already; a key is never overwritten "
                               "(move it away or choose another --out)")
    if alg == SM2_ALG:
        from scanner.evidence import sm2
        try:
            pem = sm2.new_private_pem()
            key = Sm2PrivateKey(pem, out)
        except sm2.Sm2Error as exc:
            raise KeyFileError(str(exc)) from None
    else:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        fd = os.open(out, _OPEN_NEW, 0o600)
    except OSError as exc:
        raise KeyFileError(f"{out}: cannot be created ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, 0o600)          # whatever the umask, never wider than 0600
        _write_all(fd, pem)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        os.unlink(out)
        raise KeyFileError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    os.close(fd)
    pub = key.public if alg == SM2_ALG else PrivateKey(key, out).public
    pub = PublicKey(pub.raw, name, pub_path, alg)
    try:
        fd = os.open(pub_path, _OPEN_NEW, 0o644)
        try:
            _write_all(fd, (pub.line() + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise KeyFileError(f"{pub_path}: cannot be created ({exc.strerror or exc}); "
                           f"the private key {out} was made") from None
    return out, pub_path, pub.fingerprint


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _one_line(s: str) -> str:
    return " ".join(str(s).split())[:200]


def _read_small(path: str, private: bool) -> bytes:
    try:
        fd = os.open(path, _OPEN_READ)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", 40):
            raise KeyFileError(f"{path}: is a symbolic link; give the key file itself") from None
        raise KeyFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{path}: not a regular file")
        if private and st.st_mode & 0o077:
            raise KeyFileError(
                f"{path}: the private key is readable or writable by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); refused: run chmod 600 {path}, "
                "and make a new key if others may have copied it")
        if st.st_size > MAX_KEY_FILE:
            raise KeyFileError(f"{path}: {st.st_size:,} bytes, larger than a key file can be")
        data = b""
        while len(data) <= MAX_KEY_FILE:
            chunk = os.read(fd, MAX_KEY_FILE + 1 - len(data))
            if not chunk:
                break
            data += chunk
        if len(data) > MAX_KEY_FILE:
            raise KeyFileError(f"{path}: larger than a key file can be")
        return data
    finally:
        os.close(fd)


def load_private_key(path: str) -> PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    data = _read_small(path, private=True)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"{path}: the key is protected by a passphrase, which isoscan "
                           "does not read; protect the file by its mode (0600) instead") from None
    except (ValueError, Exception) as exc:  # cryptography raises ValueError or UnsupportedAlgorithm
        if b"PRIVATE KEY" in data:          # an SM2 key: cryptography reads no SM2
            try:
                return Sm2PrivateKey(data, path)
            except KeyFileError:
                pass
        raise KeyFileError(f"{path}: not a PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key ({type(key).__name__}); "
                           "make one with `isoscan keys new`")
    return PrivateKey(key, path)


def parse_public_line(line: str, where: str) -> PublicKey:
    parts = line.split(None, 2)
    alg = next((a for a, tag in TAGS.items() if parts and parts[0] == tag), None)
    if len(parts) < 2 or alg is None:
        raise KeyFileError(f"{where}: not a public key line (expected "
                           f"'{PUBLIC_TAG} <base64> [name]' or 'isoscan-sm2 <base64> [name]')")
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{where}: the key is not base64") from None
    if alg == ALG and len(raw) != 32:
        raise KeyFileError(f"{where}: an Ed25519 public key has 32 bytes, this one {len(raw)}")
    if alg == SM2_ALG:
        from scanner.evidence.sm2 import is_sm2_public
        if not is_sm2_public(raw):
            raise KeyFileError(f"{where}: not an SM2 public key (SubjectPublicKeyInfo)")
    return PublicKey(raw, _one_line(parts[2]) if len(parts) > 2 else "", where, alg)


def load_public_keys(path: str) -> list[PublicKey]:
    data = _read_small(path, private=False)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not UTF-8 text, so not a public key file") from None
    if "PRIVATE KEY" in text:
        raise KeyFileError(f"{path}: holds a private key; trust only public keys (.pub)")
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        out.append(parse_public_line(s, f"{path}:{n}"))
    if not out:
        raise KeyFileError(f"{path}: holds no public key")
    return out


class Trust(dict):
    """fingerprint -> PublicKey: the keys a verifier trusts, with the unit's names."""

    def describe(self, fp: str) -> str:
        k = self.get(fp)
        return f"{fp} ({k.name})" if k is not None and k.name else fp


def load_trust(paths) -> Trust:
    """The trusted keys of a folder (every *.pub in it) or a file, or several."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    trust = Trust()
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            files = sorted(os.path.join(p, n) for n in os.listdir(p) if n.endswith(".pub"))
            if not files:
                raise KeyFileError(f"{p}: a folder without *.pub files")
        elif os.path.exists(p):
            files = [p]
        else:
            raise KeyFileError(f"{p}: no such file or folder")
        for f in files:
            for k in load_public_keys(f):
                old = trust.get(k.fingerprint)
                if old is not None and old.name and k.name and old.name != k.name:
                    raise KeyFileError(f"{k.source}: the key {k.fingerprint} is also in "
                                       f"{old.source} under another name ({old.name!r})")
                trust.setdefault(k.fingerprint, k)
                if len(trust) > MAX_TRUST_KEYS:
                    raise KeyFileError(f"{f}: more than {MAX_TRUST_KEYS} trusted keys")
    return trust
