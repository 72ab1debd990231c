"""ssh-keyscan's output and errors, read without a network (scanner/probes/sshkeys.py)."""
from scanner.probes import identity, sshkeys

OUT = """[10.40.0.70]:2222 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCx
[10.40.0.70]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHm=
[10.40.0.70]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINiAmbzdGlEzLoWXegGQ5XfJ00XV7Y+8dm+3bcDjBv+m
[10.40.0.99]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINiAmbzdGlEzLoWXegGQ5XfJ00XV7Y+8dm+3bcDjBv+m
# a comment
garbage
"""
ERR = """# 10.40.0.70:2222 SSH-2.0-dropbear_2022.83
# 10.40.0.71:2222 SSH-2.0-Hostile\x1b[31m
read (10.40.0.72): Connection reset by peer
"""


def test_keys_of_the_asked_port_only():
    got = sshkeys.parse(OUT, 2222)
    assert list(got) == ["10.40.0.70"]
    assert [t for t, _ in got["10.40.0.70"]] == ["ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519"]
    assert sshkeys.parse("10.1.1.1 ssh-ed25519 AAAA\n", 22) == {"10.1.1.1": [("ssh-ed25519", "AAAA")]}


def test_every_open_port_without_a_key_has_its_reason():
    ips = ["10.40.0.70", "10.40.0.71", "10.40.0.72", "10.40.0.73"]
    keys = sshkeys.parse(OUT, 2222)
    why = sshkeys.unread_reasons(ips, keys, sshkeys.banners(ERR), sshkeys.errors(ERR, ips), 5)
    assert set(why) == {"10.40.0.71", "10.40.0.72", "10.40.0.73"}
    assert why["10.40.0.71"].startswith("answered SSH (SSH-2.0-Hostile")
    assert "Connection reset" in why["10.40.0.72"]
    assert why["10.40.0.73"] == "port open but no SSH banner within 5 s"


def test_records_and_the_tls_ports_that_said_nothing():
    keys = sshkeys.parse(OUT, 2222)
    recs = sshkeys.records(keys, {"10.40.0.70": "02:bb:00:00:00:70"}, 2222, "t")
    assert {r["detail"] for r in recs} == {"ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519"}
    assert all(r["value"].startswith("SHA256:") and r["port"] == 2222 for r in recs)
    opened = {"10.40.0.70": {2222, 443}, "10.40.0.71": {443}}
    fake = lambda ips, port: (keys, {"10.40.0.71": "x"}) if port == 2222 else ({}, {})  # noqa: E731
    got, unread = identity.host_keys(opened, (22, 2222), {"10.40.0.70": None}, "t", scan=fake)
    assert len(got) == 3 and unread == [{"ip": "10.40.0.71", "mac": None, "port": 2222,
                                         "proto": "ssh", "reason": "x"}]
    tls = identity.tls_unread(opened, (443,), [], {})
    assert [(u["ip"], u["port"], u["proto"]) for u in tls] == [("10.40.0.70", 443, "tls"),
                                                               ("10.40.0.71", 443, "tls")]
