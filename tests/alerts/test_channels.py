"""Each channel against a real receiver on loopback: what arrives, byte for byte
where the format is fixed (RFC 5424, RFC 6587 octet counting, the webhook's
HMAC), and that a receiver that is down is a ChannelError, never a silent loss."""
from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re

import pytest

from scanner.alerts import payload
from scanner.alerts.mail import MailChannel
from scanner.alerts.rules import Alert
from scanner.alerts.errors import ChannelError
from scanner.alerts.syslog import SyslogChannel
from scanner.alerts.webhook import WebhookChannel

from tests.alerts.conftest import free_port, wait_for

# RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
RFC5424 = re.compile(rb'<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[.*?[^\\]\]|-)(?: (.*))?\Z', re.S)


def alert(key="new-finding:fp1:scan-2", sev="high", seg='office-lan', check="DEV-UNREGISTERED"):
    return Alert(kind="new-finding", key=key, severity=sev, segment=seg,
                 title={"zh-CN": "新发现：DEV-UNREGISTERED 发现未登记设备",
                        "en": "new finding: DEV-UNREGISTERED Unregistered device"},
                 text={"zh-CN": "DEV-UNREGISTERED（高）在网段 office-lan 上新出现失败：10.20.0.99",
                       "en": "DEV-UNREGISTERED (high) newly fails on segment office-lan: 10.20.0.99"},
                 time="2026-12-02T03:00:00Z", fingerprint="fp1", check=check,
                 subject={"ip": "10.20.0.99", "mac": None, "device": None})


def parse5424(raw: bytes):
    m = RFC5424.match(raw)
    assert m, raw
    pri, ts, host, app, procid, msgid, sd, msg = m.groups()
    return {"pri": int(pri), "ts": ts.decode(), "host": host.decode(), "app": app.decode(),
            "msgid": msgid.decode(), "sd": sd.decode(), "msg": msg}


@pytest.mark.parametrize("transport", ["udp", "tcp", "unix"])
def test_syslog_rfc5424_over_each_transport(receivers, tmp_path, transport):
    path = str(tmp_path / "log.sock")
    r = receivers(transport, **({"path": path} if transport == "unix" else {}))
    ch = SyslogChannel("siem", transport=transport, port=r.port or 514, path=path,
                       hostname="probe-01", lang="zh-CN")
    odd = alert(key='new-finding:a"b]c\\d:scan-2', sev="critical")
    ch.send([alert(), odd])
    assert wait_for(lambda: len(r.messages) == 2)
    first, second = (parse5424(m) for m in r.messages)
    assert first["pri"] == 16 * 8 + 3                      # local0, err (high)
    assert second["pri"] == 16 * 8 + 2                     # crit
    assert first["ts"] == "2026-12-02T03:00:00Z" and first["host"] == "probe-01"
    assert first["app"] == "isoscan" and first["msgid"] == "new-finding"
    assert first["sd"].startswith("[isoscan@32473 kind=\"new-finding\" key=\"new-finding:fp1:scan-2\"")
    assert 'segment="office-lan"' in first["sd"] and 'check="DEV-UNREGISTERED"' in first["sd"]
    assert first["msg"] == ("\ufeff" + "DEV-UNREGISTERED（高）在网段 office-lan 上新出现失败："
                            "10.20.0.99").encode("utf-8")
    # RFC 5424 §6.3.3: '"', '\' and ']' escaped inside a PARAM-VALUE
    assert 'key="new-finding:a\\"b\\]c\\\\d:scan-2"' in second["sd"]


def test_syslog_tcp_frames_by_octet_counting(receivers):
    r = receivers("tcp")
    SyslogChannel("siem", transport="tcp", port=r.port, hostname="h").send([alert()] * 3)
    assert wait_for(lambda: len(r.messages) == 3)
    assert all(m.startswith(b"<131>1 ") for m in r.messages)   # each frame is one whole message


@pytest.mark.parametrize("transport", ["udp", "tcp", "unix"])
def test_syslog_receiver_down_is_an_error(tmp_path, transport):
    ch = SyslogChannel("siem", transport=transport, port=free_port(), timeout=2,
                       path=str(tmp_path / "nobody.sock"))
    with pytest.raises(ChannelError, match="syslog"):
        ch.send([alert()])


def test_webhook_body_and_signature(receivers):
    r = receivers("webhook")
    secret = b"s3cret-\xe5\xaf\x86"
    WebhookChannel("hook", r.url, secret=secret).send([alert(), alert(key="k2", sev="low")])
    [req] = r.requests
    body = req["body"]
    assert req["headers"]["Content-Type"] == "application/json; charset=utf-8"
    expect = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    assert req["headers"]["X-Isoscan-Signature"] == expect
    assert payload.verify(secret, body, req["headers"]["X-Isoscan-Signature"])
    assert not payload.verify(b"other", body, req["headers"]["X-Isoscan-Signature"])
    doc = json.loads(body)
    assert doc["schema"] == "isoscan.alerts/1"
    assert [a["key"] for a in doc["alerts"]] == ["new-finding:fp1:scan-2", "k2"]
    a = doc["alerts"][0]
    assert a["title"]["zh-CN"] == "新发现：DEV-UNREGISTERED 发现未登记设备"
    assert a["subject"]["ip"] == "10.20.0.99" and a["severity"] == "high"
    assert set(a) == {"kind", "key", "severity", "segment", "title", "text", "time",
                      "fingerprint", "check", "subject", "details"}


def test_webhook_retries_with_backoff_on_5xx_then_succeeds(receivers):
    r = receivers("webhook", statuses=[503, 502])
    waits = []
    WebhookChannel("hook", r.url, secret=b"k", retries=3, backoff=0.5).send(
        [alert()], sleep=waits.append)
    assert len(r.requests) == 3 and waits == [0.5, 1.0]
    assert len({x["body"] for x in r.requests}) == 1          # the same signed body each time


def test_webhook_4xx_fails_at_once(receivers):
    r = receivers("webhook", statuses=[401])
    with pytest.raises(ChannelError, match="HTTP 401"):
        WebhookChannel("hook", r.url, secret=b"k", retries=3).send([alert()], sleep=lambda s: None)
    assert len(r.requests) == 1


def test_webhook_down_fails_after_its_retries():
    waits = []
    ch = WebhookChannel("hook", f"http://127.0.0.1:{free_port()}/x", secret=b"k", retries=2,
                        backoff=0.1, timeout=2)
    with pytest.raises(ChannelError, match="3 attempts"):
        ch.send([alert()], sleep=waits.append)
    assert waits == [0.1, 0.2]
    assert "k" not in repr(ch).split("secret")[-1][:5] and "secret=" not in repr(ch)


def test_email_over_starttls(receivers):
    smtp = receivers("smtp", tls=True)
    ch = MailChannel("mail", "127.0.0.1", smtp.port, sender="isoscan@unit.example",
                     to=["soc@unit.example", "admin@unit.example"], cafile=smtp.cafile, lang="en")
    ch.send([alert(), alert(key="k2", sev="critical")])
    [m] = smtp.messages
    assert m["tls"] is True
    assert m["from"] == "isoscan@unit.example"
    assert m["to"] == ["soc@unit.example", "admin@unit.example"]
    msg = email.message_from_bytes(m["data"], policy=email.policy.default)
    assert msg["Subject"].strip() == "[isoscan] 2 alerts: new finding: DEV-UNREGISTERED Unregistered device"
    body = msg.get_content()
    assert body.index("[critical]") < body.index("[high]")      # the worst first
    assert "key: new-finding:fp1:scan-2" in body and "key: k2" in body


def test_email_refuses_a_server_without_starttls(receivers):
    smtp = receivers("smtp")                                  # plain: offers no STARTTLS
    ch = MailChannel("mail", "127.0.0.1", smtp.port, sender="a@b", to=["c@d"])
    with pytest.raises(ChannelError, match="no STARTTLS"):
        ch.send([alert()])
    assert smtp.messages == []


def test_email_without_starttls_when_configured_so(receivers):
    smtp = receivers("smtp")
    MailChannel("mail", "127.0.0.1", smtp.port, sender="a@b", to=["c@d"], starttls=False,
                lang="zh-CN").send([alert()])
    [m] = smtp.messages
    msg = email.message_from_bytes(m["data"], policy=email.policy.default)
    assert msg["Subject"].strip() == "[isoscan] 1 条告警：新发现：DEV-UNREGISTERED 发现未登记设备"
    assert "10.20.0.99" in msg.get_content()


def test_email_server_down_is_an_error():
    with pytest.raises(ChannelError, match="e-mail"):
        MailChannel("mail", "127.0.0.1", free_port(), sender="a@b", to=["c@d"], timeout=2).send([alert()])


def test_the_webhook_body_follows_the_spec_schema(receivers):
    """docs/SPEC.md §6 carries the JSON Schema of the body; the code follows it."""
    import jsonschema
    from pathlib import Path
    spec = (Path(__file__).parents[2] / "docs" / "SPEC.md").read_text("utf-8")
    sec = spec[spec.index("## 6. Alerts"):]
    block = sec[sec.index("```json") + 7:]
    schema = json.loads(block[:block.index("```")])
    r = receivers("webhook")
    silent = Alert(kind="vantage-silent", key="vantage-silent:dmz:never", severity="high",
                   segment="dmz", title={"zh-CN": "探针沉默：dmz", "en": "vantage silent: dmz"},
                   text={"zh-CN": "t", "en": "t"}, time="2026-12-02T03:00:00Z",
                   details={"last_report": "never", "expected_every_s": 3600})
    WebhookChannel("hook", r.url, secret=b"k").send([alert(), silent])
    jsonschema.validate(json.loads(r.requests[0]["body"]), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema": "isoscan.alerts/1", "sent_at": "x", "source": {"host": "h", "tool": {}},
                             "alerts": [{**alert().to_json(), "extra": 1}]}, schema)


def test_webhook_errors_do_not_print_tokens_of_the_url():
    ch = WebhookChannel("hook", f"http://user:pw-123@127.0.0.1:{free_port()}/p?token=tk-456#f",
                        secret=b"k", retries=0, timeout=2)
    with pytest.raises(ChannelError) as e:
        ch.send([alert()])
    assert "pw-123" not in str(e.value) and "tk-456" not in str(e.value)
    assert str(e.value).startswith("webhook http://127.0.0.1:")
