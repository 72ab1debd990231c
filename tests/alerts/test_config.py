"""alerts.yaml: every error says file:line:column; secrets are never printed."""
from __future__ import annotations

import pytest

from scanner.alerts.config import ConfigError, load_config

GOOD = """version: 1
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/x", secret_file: s.txt}
"""


def cfg(tmp_path, text, secret="top-secret-value\n"):
    (tmp_path / "s.txt").write_text(secret)
    p = tmp_path / "alerts.yaml"
    p.write_text(text, "utf-8")
    return str(p)


def err(tmp_path, text, **kw):
    with pytest.raises(ConfigError) as e:
        load_config(cfg(tmp_path, text, **kw))
    return str(e.value)


def test_a_good_config(tmp_path):
    c = load_config(cfg(tmp_path, GOOD + "vantages:\n  - {segment: office-lan, every: 26h}\n"))
    [hook] = c.channels
    assert hook.secret == b"top-secret-value" and c.lang == "zh-CN"
    assert "top-secret" not in repr(hook) and "top-secret" not in repr(c)
    assert c.vantages[0].every_s == 26 * 3600 and c.min_severity == "low"


@pytest.mark.parametrize("text, where, what", [
    ("version: 1\nchannels:\n  - {name: x, type: pager}\n", ":3:21:", "type must be one of"),
    ("version: 1\nchannels:\n  - name: x\n    type: syslog\n    colour: red\n", ":5:5:", "unknown key 'colour'"),
    ("version: 1\nchannels:\n  - name: x\n    type: syslog\n    port: 70000\n", ":5:11:", "integer from 1 to 65535"),
    ("version: 1\nchannels:\n  - name: x\n    type: syslog\n    transport: sctp\n", ":5:16:", "udp, tcp or unix"),
    ("version: 1\nchannels:\n  - name: x\n    type: webhook\n    url: ftp://a\n", ":5:10:", "http:// or https://"),
    ("version: 1\nchannels:\n  - name: x\n    type: webhook\n    url: http://a\n", ":3:5:", "missing secret or secret_file"),
    ("version: 1\nchannels:\n  - name: x\n    type: webhook\n    url: 'http://u:pw@a/'\n", ":5:10:", "must not carry user:password@"),
    ("version: 1\nchannels:\n  - name: x\n    type: email\n    host: h\n    from: a\n    to: []\n", ":7:9:", "at least one recipient"),
    ("version: 1\nchannels:\n  - name: x\n    type: email\n    host: h\n    from: a\n    to: b\n    starttls: no\n", ":8:15:", "true or false"),
    ("version: 2\nchannels: []\n", ":1:10:", "version must be 1"),
    ("version: 1\nchannels: []\n", ":2:11:", "at least one channel"),
    ("version: 1\nvantages:\n  - {segment: a, every: soon}\nchannels: [{name: a, type: syslog}]\n", ":3:25:", "duration"),
    ("version: 1\nchannels:\n  - {name: a, type: syslog}\n  - {name: a, type: syslog}\n", ":4:12:", "used twice"),
    ("version: 1\nversion: 1\n", ":2:1:", "duplicate"),
    ("version: 1\nchannels:\n\t- x\n", ":3:1:", "tab"),
    ("- just\n- a list\n", ":1:1:", "must be a mapping"),
    ("", ":1:1:", "must be a mapping"),
])
def test_errors_say_where(tmp_path, text, where, what):
    msg = err(tmp_path, text)
    assert msg.startswith(str(tmp_path / "alerts.yaml") + where), msg
    assert what in msg


def test_an_alias_bomb_is_refused_fast(tmp_path):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))
    assert "alias" in err(tmp_path, "version: 1\n" + bomb)


def test_not_utf8(tmp_path):
    p = tmp_path / "alerts.yaml"
    p.write_bytes(b"version: 1\nchannels: \xff\n")
    with pytest.raises(ConfigError, match=r"alerts.yaml:2:11: not UTF-8"):
        load_config(str(p))


def test_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(str(tmp_path / "nope.yaml"))


def test_secrets_never_in_errors(tmp_path):
    # an inline secret of a wrong type: the message names the key, not the value
    msg = err(tmp_path, "version: 1\nchannels:\n  - {name: x, type: webhook, url: 'http://a', "
                        "secret: [hunter2-pw]}\n")
    assert "hunter2" not in msg and "must be a non-empty string" in msg
    msg = err(tmp_path, "version: 1\nchannels:\n  - {name: x, type: webhook, url: 'http://a', "
                        "secret_file: missing.txt}\n")
    assert "cannot read secret_file" in msg
    msg = err(tmp_path, GOOD, secret="")
    assert "is empty" in msg
    msg = err(tmp_path, GOOD.replace("secret_file: s.txt", "secret_file: s.txt, secret: pw-zz"))
    assert "not both" in msg and "pw-zz" not in msg
