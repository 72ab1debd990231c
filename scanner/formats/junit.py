"""`--format junit`: JUnit XML, one testcase per finding, for CI test tabs.

fail -> <failure>, error -> <error>, skipped -> <skipped/>, pass -> a bare
testcase. Characters XML 1.0 cannot carry are replaced, so hostile data never
makes the file unparsable.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from scanner.formats import sort_key
from scanner.model import pick

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _x(s: str) -> str:
    return _BAD_XML.sub("\ufffd", s)


def render(findings, lang, ctx) -> str:
    fs = sorted(findings, key=sort_key)
    n = {k: sum(1 for f in fs if f.status.value == k) for k in ("fail", "error", "skipped")}
    suites = ET.Element("testsuites", name="isoscan", tests=str(len(fs)),
                        failures=str(n["fail"]), errors=str(n["error"]), skipped=str(n["skipped"]))
    suite = ET.SubElement(suites, "testsuite", name="isoscan validate", tests=str(len(fs)),
                          failures=str(n["fail"]), errors=str(n["error"]), skipped=str(n["skipped"]))
    for f in fs:
        where = f" ({f.location})" if f.location else ""
        ev = "\n".join(pick(e, lang) for e in f.evidence)
        attrs = {"classname": f.check_id, "name": _x(pick(f.title, lang) + where)}
        if f.location:
            attrs["file"] = _x(f.location.file)
            attrs["line"] = str(f.location.line)
        case = ET.SubElement(suite, "testcase", attrs)
        msg = _x(ev.splitlines()[0] if ev else pick(f.title, lang))
        body = _x(ev + ("\n" + pick(f.remediation, lang) if f.remediation else ""))
        refs = ctx.regulation(f.check_id, lang) if f.status.value in ("fail", "error") else []
        if refs:
            body += "\n" + _x("\n".join(refs))
        if f.status.value == "fail":
            ET.SubElement(case, "failure", message=msg, type=f.severity.value).text = body
        elif f.status.value == "error":
            ET.SubElement(case, "error", message=msg, type=f.severity.value).text = body
        elif f.status.value == "skipped":
            ET.SubElement(case, "skipped", message=msg)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
