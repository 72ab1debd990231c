"""Key pairs: made 0600, never over a file, refused when others can read them."""
from __future__ import annotations

import os
import stat

import pytest

from scanner.evidence.keys import (KeyFileError, load_private_key, load_public_keys, load_trust,
                                   new_key_pair, short_fingerprint)
from tests.evidence.conftest import run


def test_new_key_pair_is_private_and_has_a_fingerprint(tmp_path):
    old = os.umask(0)            # even with no umask at all the key is 0600
    try:
        priv, pub, fp = new_key_pair(str(tmp_path / "p.key"), name="office probe")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    assert pub == str(tmp_path / "p.pub")
    assert fp.startswith("ed25519:SHA256:") and len(fp) == len("ed25519:SHA256:") + 43
    assert load_private_key(priv).fingerprint == fp
    [k] = load_public_keys(pub)
    assert k.fingerprint == fp and k.name == "office probe"
    short = short_fingerprint(fp)
    assert len(short.split()) == 4 and all(len(g) == 4 for g in short.split())


def test_cli_new_prints_fingerprint_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "k.key"
    r = run("keys", "new", "--out", str(out), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "ed25519:SHA256:" in r.output
    before = out.read_bytes()
    r = run("keys", "new", "--out", str(out))
    assert r.exit_code == 2 and "exists already" in r.output
    assert out.read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_private_key_readable_by_others_is_refused(keypair, mode):
    priv, _ = keypair
    os.chmod(priv, mode)
    with pytest.raises(KeyFileError, match="readable or writable by group or others"):
        load_private_key(str(priv))
    r = run("keys", "show", str(priv))
    assert r.exit_code == 2


def test_private_key_through_a_link_is_refused(keypair, tmp_path):
    link = tmp_path / "link.key"
    link.symlink_to(keypair[0])
    with pytest.raises(KeyFileError, match="symbolic link"):
        load_private_key(str(link))


@pytest.mark.parametrize("content, why", [
    (b"", "not a PEM private key"),
    (b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", "not a PEM"),
    (b"\x00\xff" * 100, "not a PEM"),
])
def test_bad_private_key_file(tmp_path, content, why):
    p = tmp_path / "bad.key"
    p.write_bytes(content)
    os.chmod(p, 0o600)
    with pytest.raises(KeyFileError, match=why):
        load_private_key(str(p))


def test_non_ed25519_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    p = tmp_path / "ec.key"
    p.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    os.chmod(p, 0o600)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_private_key(str(p))


def test_passphrase_key_gives_a_clear_error(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    p = tmp_path / "pw.key"
    p.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    os.chmod(p, 0o600)
    with pytest.raises(KeyFileError, match="passphrase"):
        load_private_key(str(p))


def test_huge_key_file_is_refused(tmp_path):
    p = tmp_path / "huge.pub"
    with open(p, "wb") as fh:
        fh.truncate(10 << 20)
    with pytest.raises(KeyFileError, match="larger than a key file"):
        load_public_keys(str(p))


@pytest.mark.parametrize("line, why", [
    ("ssh-ed25519 AAAA name", "not a public key line"),
    ("isoscan-ed25519 !!!notbase64", "not base64"),
    ("isoscan-ed25519 AAAA", "32 bytes"),
])
def test_bad_public_key_lines(tmp_path, line, why):
    p = tmp_path / "t.pub"
    p.write_text(f"# comment\n\n{line}\n")
    with pytest.raises(KeyFileError, match=why) as e:
        load_public_keys(str(p))
    assert "t.pub:3" in str(e.value)        # file:line


def test_trust_folder_and_private_key_in_trust(tmp_path, keypair):
    trust = load_trust(str(keypair[1].parent))
    assert len(trust) == 1
    (tmp_path / "oops.pub").write_bytes(keypair[0].read_bytes())
    with pytest.raises(KeyFileError, match="holds a private key"):
        load_trust(str(tmp_path))
