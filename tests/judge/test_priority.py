"""The one ranking of what to fix first, and the 'where' of a finding."""
from scanner.judge.priority import fix_first, segment_order, where
from scanner.model import Subject

CLASS = {"secret-lan": "classified", "office-lan": "non-classified", "internet": "internet"}


def f(check, sev, seg, status="fail", **subject):
    return {"check_id": check, "severity": sev, "segment": seg, "status": status,
            "subject": {"ip": None, "mac": None, "device": None, **subject}}


def test_severity_then_classification_then_new():
    fs = [f("ISO-LOGICAL", "high", "internet", ip="203.0.113.1", ports=["8291/tcp"]),
          f("ISO-BRIDGE", "critical", "office-lan", device="pc-2"),
          f("ISO-BRIDGE", "critical", "secret-lan", device="pc-1"),
          f("DEV-MISSING", "high", "secret-lan", device="pc-3"),
          f("ISO-PHYSICAL", "critical", "secret-lan", status="error"),
          f("INV-ADDRESS", "low", "secret-lan", status="pass")]
    ranked = fix_first(fs, CLASS.get)
    assert [(x["check_id"], x["segment"], x["status"]) for x in ranked] == [
        ("ISO-BRIDGE", "secret-lan", "fail"), ("ISO-PHYSICAL", "secret-lan", "error"),
        ("ISO-BRIDGE", "office-lan", "fail"), ("DEV-MISSING", "secret-lan", "fail"),
        ("ISO-LOGICAL", "internet", "fail")]
    new = fs[3]
    ranked = fix_first(fs[3:4] + [f("DEV-MISSING", "high", "secret-lan", device="pc-0")], CLASS.get,
                       is_new=lambda x: x is new)
    assert ranked[0] is new


def test_segments_classified_first():
    segs = [("internet", "internet"), ("office-lan", "non-classified"), ("secret-lan", "classified")]
    assert [name for name, _ in sorted(segs, key=lambda p: segment_order(p[1], p[0]))] == [
        "secret-lan", "office-lan", "internet"]


def test_where_names_port_and_destination():
    assert where(f("ISO-LOGICAL", "high", "internet", device="gw-01", ip="203.0.113.1",
                   ports=["2222/tcp", "8291/tcp"])) == "gw-01 203.0.113.1 2222/tcp, 8291/tcp"
    assert where(f("ISO-PHYSICAL", "critical", "secret-lan", ip="10.1.0.7",
                   destination="198.51.100.7:443/tcp")) == "10.1.0.7 -> 198.51.100.7:443/tcp"
    assert where({"check_id": "X", "subject": None}) == ""


def test_subject_json_keeps_old_shape_and_reads_new():
    assert Subject(ip="10.0.0.1").to_json() == {"ip": "10.0.0.1", "mac": None, "device": None}
    s = Subject(ip="10.0.0.1", ports=("22/tcp",), destination="1.2.3.4:80/tcp")
    assert Subject.from_json(s.to_json()) == s
    assert Subject.from_json({"ip": 5, "ports": "x"}) == Subject()
