"""Bundles -> one self-contained HTML compliance report.

    render_report(bundles, lang="zh-CN", canary_logs=None, bundle_digests=None) -> str

The page has no outside reference: CSS and the small paging script are read
from templates/ and inlined; a Content-Security-Policy admits only those two
blocks (by hash), so even a missed escape could not load or run anything.
Every value from a bundle or an inventory goes through Jinja2 autoescape;
table data for the pager is embedded as JSON with `script_json` (`<`, `>`,
`&`, `'`, U+2028, U+2029 escaped as \u003c ...) inside <script type="application/json"> and written
into the page by the script with textContent only.

Long tables stay usable: the first PAGE rows are in the HTML (they print and
read without the script), the rest is paged and filtered by the script.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Any, Mapping, Sequence

import jinja2

from scanner import __version__
from scanner.formats.text import visible
from scanner.model import LANGS, DEFAULT_LANG, pick
from scanner.packagedata import data_file
from scanner.report.merge import (SEVERITIES, SEVERITY_RANK, merge, norm_mac)
from scanner.report.strings import STRINGS
from scanner.report.since import since_context
from scanner.report.fixfirst import (classification_map, finding_tally, ordered_segments,
                                     segment_label)
from scanner.localtime import local_iso, unit_zone
from scanner.report.paths import for_reader
from scanner.report import topology
from scanner.waivers import report_section
PAGE = 200   # rows per table page (and rows written as HTML)

# One row per requirement of SPEC §1, with the checks behind it.
REQUIREMENTS = (
    ("physical", ("ISO-PHYSICAL", "ISO-BRIDGE", "XFER-ONEWAY")),
    ("logical", ("ISO-LOGICAL",)),
    ("ingress", ("ING-SINGLE", "INV-INGRESS")),
    ("registration", ("DEV-UNREGISTERED", "DEV-MISMATCH", "DEV-MISPLACED", "DEV-MISSING",
                      "DEV-CONFLICT", "INV-REGISTRATION")),
    ("inventory", ("INV-SCHEMA", "INV-OVERLAP", "INV-ADDRESS", "INV-DUPLICATE", "INV-BRIDGE",
                   "INV-INGRESS", "INV-REGISTRATION")),
    ("services", ("NET-DHCP", "NET-IPV6-RA")),
)

# failing checks drawn as red paths in the topology: check -> direction
BREACH_EDGES = {"ISO-PHYSICAL": "out", "ISO-BRIDGE": "out", "ING-SINGLE": "out",
                "ISO-LOGICAL": "in"}


# --------------------------------------------------------------------------
# check metadata and regulation references, in the report's language


@lru_cache(maxsize=1)
def _metas() -> dict:
    try:
        from scanner.judge.registry import load_checks
        out = {}
        reg = load_checks()
        for c in getattr(reg, "checks", reg):
            meta = getattr(c, "meta", c)
            if getattr(meta, "id", None):
                out[meta.id] = meta
        return out
    except Exception:   # registry not built, or a broken plugin: fall back to the bundle's text
        return {}


def check_title(check_id: str, lang: str) -> str:
    """The installed check's own title (its META), else its id."""
    return _from_text(getattr(_metas().get(check_id), "title", None), lang) or check_id


def _references(check_id: str, lang: str) -> list[str] | None:
    try:
        from scanner.judge.regulations import references
    except Exception:
        return None
    try:
        refs = references(check_id, lang)
    except Exception:
        return None
    if refs is None:
        return None
    return [r if isinstance(r, str) else str(r) for r in refs]


def _from_text(t: Any, lang: str) -> str | None:
    if isinstance(t, Mapping):
        return t.get(lang) or None
    return None


def localise(findings: list[dict], lang: str) -> None:
    """Titles, remediation and regulation in the report's language, where the
    check's metadata knows them; evidence stays as the probe stored it."""
    metas = _metas()
    refs_cache: dict[str, list[str] | None] = {}
    for f in findings:
        cid = f["check_id"]
        meta = metas.get(cid)
        title = _from_text(getattr(meta, "title", None), lang) or f["title"] or cid
        f["title"] = title
        rem = _from_text(getattr(meta, "remediation", None), lang)
        if rem:
            f["remediation"] = rem
        if cid not in refs_cache:
            refs_cache[cid] = _references(cid, lang)
        if refs_cache[cid] is not None:
            f["regulation"] = list(refs_cache[cid])


def merge_report(bundles: Sequence[Mapping], lang: str = DEFAULT_LANG,
                 canary_logs: Sequence[Any] | None = None,
                 bundle_digests: Sequence[str | None] | None = None,
                 inventory: Any = None) -> dict:
    """The merged, localised bundle (what `isoscan report --json` writes)."""
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    if not bundles:     # no scan is no evidence: never a "compliant" page
        raise ValueError("no result bundle to report on")
    m = merge(bundles, bundle_digests, inventory=inventory, canary_logs=canary_logs,
              tool={"name": "isoscan", "version": __version__}, lang=lang)
    if canary_logs:
        # issue 8: per vantage, what the outside saw, by exit address
        from scanner.judge.crossbundle.canary import outside_view
        m["observations"]["outside"] = outside_view(
            bundles, canary_logs, inventory if inventory is not None else m.get("inventory_view"))
    given = getattr(inventory, "sha256", None)
    if given:
        m["inventory"]["given_sha256"] = given
    localise(m["findings"], lang)
    return m


# --------------------------------------------------------------------------
# rendering


@lru_cache(maxsize=None)
def _resource(name: str) -> str:
    path = data_file("scanner.templates", "templates", name)
    if path is None:
        raise FileNotFoundError(f"report template {name} is missing from this isoscan "
                                "(source tree templates/, installed scanner/templates/)")
    return path.read_text("utf-8")


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda n: _resource(n)),
        autoescape=True, undefined=jinja2.StrictUndefined, finalize=_shown,
        trim_blocks=True, lstrip_blocks=True)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": True, "separators": (",", ":"),
                                         "sort_keys": False}
    env.filters["script_json"] = script_json
    env.filters["tokens"] = tokens
    return env


def _shown(value: Any) -> Any:
    """Every string printed into the page: control characters and bidi overrides
    (an RTL override reorders an address as an inspector reads it) shown as
    \\uXXXX. Our own markup (the inline CSS and script) passes as it is."""
    if isinstance(value, str) and not isinstance(value, jinja2.utils.markupsafe.Markup):
        return visible(value)
    return value


def _shown_data(data: Any) -> Any:
    """_shown, through the table data the pager writes into the page."""
    if isinstance(data, str):
        return visible(data)
    if isinstance(data, list):
        return [_shown_data(x) for x in data]
    if isinstance(data, dict):
        return {k: _shown_data(v) for k, v in data.items()}
    return data


# an identifier a browser would break after its '-' or '/' (an asset tag BM-2026-0100,
# a host ws-001, 8291/tcp, a time 2026-12-08T02:30:00+08:00, an SSH banner): kept on one
# line; longer runs than a line can hold stay breakable
# (a token starts only where a run of its characters starts, and its quantifiers are
# possessive: linear in the cell's length, whatever the cell holds)
_TOKEN = re.compile(r"(?<![A-Za-z0-9._:+@])[A-Za-z0-9][A-Za-z0-9._:+@]*+(?:[-/][A-Za-z0-9._:+@]++)++")
_TOKEN_MAX = 64


def _tok(m: "re.Match") -> str:
    t = m.group()
    return t if len(t) > _TOKEN_MAX else '<span class="tok">' + t + "</span>"


def tokens(value: Any) -> "jinja2.utils.markupsafe.Markup":
    """A cell's text, escaped, with each identifier in a <span class="tok"> that
    never breaks (report.css); everything else wraps as text does. The escaped
    text is searched: an entity (&lt; &#39;) holds no '-' or '/' and ends in ';',
    so no token starts or ends inside one."""
    Markup = jinja2.utils.markupsafe.Markup
    if isinstance(value, Markup):
        return value
    esc = jinja2.utils.markupsafe.escape(visible(value) if isinstance(value, str) else str(value))
    if "-" not in esc and "/" not in esc:
        return esc
    return Markup(_TOKEN.sub(_tok, str(esc)))


_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                   ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def script_json(data: Any) -> "jinja2.utils.markupsafe.Markup":
    """JSON that is inert inside <script type="application/json">: like Jinja's
    tojson (no `<`, `>`, `&`, `'` left), plus U+2028/2029, but keeping other
    non-ASCII text as UTF-8 (a zh-CN table is half the size of its \\u form)."""
    out = json.dumps(_shown_data(data), ensure_ascii=False, separators=(",", ":"))
    for ch, esc in _SCRIPT_ESCAPES:     # str.replace is C-fast on megabytes; translate is not
        out = out.replace(ch, esc)
    return jinja2.utils.markupsafe.Markup(out)


def _csp_hash(s: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode()


def render_report(bundles: list[dict], lang: str = "zh-CN",
                  canary_logs: list | None = None,
                  bundle_digests: list[str] | None = None, *,
                  inventory: Any = None, merged: dict | None = None,
                  extend: Any = None, since_later: bool = False) -> str:
    """One self-contained HTML report from one or more bundles.

    `inventory` (an Inventory or a SPEC §2 dict) is optional: with it the
    device reconciliation is computed from registration; without it (and
    without one embedded in a bundle) it is read from the DEV-* findings.
    `merged` is merge_report()'s result, when the caller already has it.
    `extend(ctx)` adds the context of other modules' partials (scanner/evidence:
    signatures, the inspection record, printing) before the page is rendered.
    `since_later`: the page leaves a slot where the changes since the last
    scan go, for fill_since() (the page is rendered while the store is read).
    """
    if merged is None:
        merged = merge_report(bundles, lang, canary_logs, bundle_digests, inventory)
    ctx = build_context(merged, lang)
    if extend is not None:
        extend(ctx)
    css = _resource("report.css") + _resource("evidence.css") + ctx.pop("extra_css", "")
    js = _resource("report.js")
    ctx["css"], ctx["js"] = jinja2.utils.markupsafe.Markup(css), jinja2.utils.markupsafe.Markup(js)
    ctx["csp"] = (f"default-src 'none'; style-src '{_csp_hash(css)}'; "
                  f"script-src '{_csp_hash(js)}'; img-src data:; base-uri 'none'; form-action 'none'")
    if since_later:
        _env().get_template("_since.html.j2")      # compiled now, filled in when the store answers
    ctx["since_html"] = SINCE_SLOT if since_later else _since_html(merged, lang)
    # what is new is known only once the store answers: the ranked list waits for it too
    ctx["fixfirst_html"] = FIXFIRST_SLOT if since_later else _fixfirst_html(merged, lang)
    return _env().get_template("report.html.j2").render(ctx)


# where the changes since the last scan go in a page rendered before they are known;
# data cannot forge it: every value is escaped ("<" never reaches the page as is)
SINCE_SLOT = jinja2.utils.markupsafe.Markup("<!--isoscan:since-last-scan-->")
FIXFIRST_SLOT = jinja2.utils.markupsafe.Markup("<!--isoscan:fix-first-->")


def _fixfirst_html(merged: Mapping, lang: str):
    """The ranked list of what to fix first (scanner/report/fixfirst.py)."""
    from scanner.report.fixfirst import fix_first_view
    S = _T(STRINGS[lang])
    return jinja2.utils.markupsafe.Markup(
        _env().get_template("_fixfirst.html.j2").render(t=S, ff=fix_first_view(merged, S)))


def _since_html(merged: Mapping, lang: str):
    """The changes-since section (issue 14), empty without --db/--previous."""
    S = _T(STRINGS[lang])
    since = since_context(merged, S, lang)
    if since is None:
        return ""
    return jinja2.utils.markupsafe.Markup(
        _env().get_template("_since.html.j2").render(t=S, since=since))


def fill_since(page: str, merged: Mapping, lang: str) -> str:
    """The page render_report(..., since_later=True) made, with the changes
    since the last scan (merged["since_last"]) in their slot."""
    if page.count(SINCE_SLOT) != 1 or page.count(FIXFIRST_SLOT) != 1:
        raise ValueError("the report page has no single slot for the changes since the last scan")
    page = page.replace(SINCE_SLOT, _since_html(merged, lang), 1)
    return page.replace(FIXFIRST_SLOT, _fixfirst_html(merged, lang), 1)


class _T(dict):
    """The catalogue for one language: a missing key is an error, not a blank."""
    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise jinja2.UndefinedError(f"report string {k!r} missing") from None


def _table(tid: str, columns: list[str], rows: list[list], empty: str = "") -> dict:
    """rows: [css-class, cell, cell, ...]; a cell is a str (newlines kept)."""
    return {"id": tid, "columns": columns, "rows": rows[:PAGE], "total": len(rows),
            "data": rows if len(rows) > PAGE else None, "page": PAGE, "empty": empty}


def _subject_cell(f: Mapping) -> str:
    s = f["subject"]
    parts = [x for x in (s.get("device"), s.get("ip"), s.get("mac")) if x]
    loc = f.get("location")
    if loc and loc.get("file"):
        parts.append(f"{loc['file']}:{loc.get('line') or '?'}:{loc.get('column') or '?'}")
    return "\n".join(parts) or "—"


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(items) if items else "—"


def build_context(m: Mapping, lang: str) -> dict:
    S = _T(STRINGS[lang])
    findings = [f for f in m["findings"] if not f.get("waiver")]   # waived: their own section
    inv = m.get("inventory_view")
    sources = m["sources"]
    sev_label = {s: S["sev_" + s] for s in SEVERITIES}
    status_label = {s: S["status_" + s] for s in ("pass", "fail", "error", "skipped")}
    dash = "—"

    # ---- header
    zone = unit_zone(m.get("timezone"))          # every time a person reads: the unit's zone
    org = m.get("organization") or (inv or {}).get("organization")
    versions = sorted({f"{s['tool'].get('name') or 'isoscan'} {s['tool'].get('version') or '?'}"
                       for s in sources})
    vantages = [[("" if s["sha256"] else "warn"),
                 s["vantage"].get("segment") or dash, s["vantage"].get("interface") or dash,
                 s["vantage"].get("ip") or dash, s["vantage"].get("mac") or dash,
                 s["scan_id"] or dash, _span(s["started_at"], s["finished_at"], zone),
                 ] for s in sources]
    # the digests in a table of their own: a 64-digit digest beside six columns would
    # have to break mid-token on an A4 page
    digests = [[("" if s["sha256"] else "warn"), s["scan_id"] or dash,
                s["sha256"] or S.unknown_digest] for s in sources]
    inv_shas = m["inventory"].get("sha256s") or []
    file_shas = {x["path"]: x["sha256"] for x in m["inventory"].get("sources") or []}

    # ---- verdict and counts
    verdict = m["summary"]["verdict"]
    by_sev = {s: Counter() for s in SEVERITIES}
    for f in findings:
        by_sev[f["severity"]][f["status"]] += 1
    count_rows = [{"sev": s, "label": sev_label[s], **{k: by_sev[s][k] for k in status_label}}
                  for s in SEVERITIES]
    totals = m["summary"]["counts"]

    # ---- requirements
    by_check: dict[str, list] = defaultdict(list)
    for f in findings:
        by_check[f["check_id"]].append(f)
    known = {c for _, cs in REQUIREMENTS for c in cs}
    reqs = []
    for key, checks in REQUIREMENTS:
        reqs.append(_requirement(S, key, checks, by_check))
        if key == "logical":
            note = inbound_coverage_note(sources, lang, m.get("judging"), zone)
            reqs[-1]["note"] = local_times([note], zone)[0] if note else note
    others = sorted(set(by_check) - known)
    if others:
        reqs.append(_requirement(S, "other", tuple(others), by_check))
    titles = {cid: fs[0]["title"] for cid, fs in by_check.items()}
    for r in reqs:
        for c in r["checks"]:
            c["title"] = titles.get(c["id"]) or check_title(c["id"], lang)

    # ---- findings by segment and severity (failures; info failures are notices)
    fails = [f for f in findings if f["status"] == "fail"]
    seg_class = classification_map(m)
    seg_groups: dict[str, list] = defaultdict(list)
    for f in fails:
        seg_groups[f["segment"] or ""].append(f)
    cols = [S.col_check, S.col_subject, S.col_finding, S.col_evidence, S.col_regulation,
            S.col_remediation, S.col_vantages]
    groups = []
    n = 0
    for seg in ordered_segments(seg_groups, m):      # classified, non-classified, internet
        fs = seg_groups[seg]
        sevs = []
        for sev in SEVERITIES:
            sf = [f for f in fs if f["severity"] == sev]
            if not sf:
                continue
            sf.sort(key=lambda f: (f["check_id"], f["subject"].get("ip") or "",
                                   f["subject"].get("mac") or ""))
            n += 1
            rows = [["sev-" + sev, f["check_id"], _subject_cell(f), f["title"],
                     _bullets(local_times(f["evidence"], zone)), _bullets(f["regulation"]),
                     f["remediation"] or dash, _bullets(f["vantages"])] for f in sf]
            sevs.append({"sev": sev, "label": sev_label[sev], "count": len(sf),
                         "table": _table(f"f{n}", cols, rows)})
        groups.append({"segment": seg or S.no_segment, "count": len(fs), "severities": sevs,
                       "class_label": segment_label(seg, seg_class.get(seg), S).replace(seg, "", 1)
                       if seg else "",
                       "worst": sevs[0]["sev"] if sevs else "info"})

    # ---- errors: never hidden
    errs = sorted((f for f in findings if f["status"] == "error"),
                  key=lambda f: (SEVERITY_RANK[f["severity"]], f["check_id"], f["segment"] or ""))
    err_table = _table("errors", [S.col_check, S.col_segment, S.col_subject, S.col_finding,
                                  S.col_why, S.col_vantages],
                       [["sev-" + f["severity"], f["check_id"], f["segment"] or dash,
                         _subject_cell(f), f["title"], _bullets(local_times(f["evidence"], zone)),
                         _bullets(f["vantages"])] for f in errs])

    # ---- passes and skips: a count per check, detail collapsed
    pass_rows = []
    for cid in sorted(by_check):
        c = Counter(f["status"] for f in by_check[cid])
        if c["pass"] or c["skipped"]:
            pass_rows.append({"id": cid, "title": titles[cid], "pass": c["pass"],
                              "skipped": c["skipped"]})

    def quiet_rows(status: str) -> list[list]:
        """The findings of a status, by check and segment: evidence, vantages."""
        return [["", f["check_id"], f["segment"] or dash, _subject_cell(f),
                 _bullets(local_times(f["evidence"], zone)), _bullets(f["vantages"])]
                for f in sorted((f for f in findings if f["status"] == status),
                                key=lambda f: (f["check_id"], f["segment"] or ""))]

    skip_table = _table("skipped", [S.col_check, S.col_segment, S.col_subject, S.col_why,
                                    S.col_vantages], quiet_rows("skipped"))
    pass_table = _table("passed", [S.col_check, S.col_segment, S.col_subject, S.col_evidence,
                                   S.col_vantages], quiet_rows("pass"))

    # ---- device reconciliation
    recon = reconcile(m, S)

    # ---- topology
    topo = _topology(m, S, fails)

    # ---- canary (issue 8): what the outside saw, by vantage and exit address
    canary = _canary(m, S, zone)

    # ---- device identities (issue 13): templates/_identities.html.j2
    from scanner.judge.crossbundle.identities import view as identity_view
    idv = identity_view(m, lang)
    idv["table"] = _table("identities", idv.pop("columns"), idv.pop("rows"))

    merged_inventories = len(inv_shas) > 1
    given = m["inventory"].get("given_sha256")
    inventory_differs = bool(given and inv_shas and given not in inv_shas)
    return {
        "lang": lang, "t": S, "verdict": verdict, "verdict_label": S["verdict_" + verdict.replace("-", "_")],
        "org": org, "span": _span(m.get("started_at"), m.get("finished_at"), zone),
        "versions": versions, "report_version": __version__,
        "inventory_files": [(for_reader(f), file_shas.get(f))
                            for f in m["inventory"].get("files") or []],
        "inventory_shas": inv_shas,
        "merged_inventories": merged_inventories, "inventory_differs": inventory_differs,
        "given_sha": given,
        "vantages": _table("vantages", [S.col_segment, S.col_interface, S.col_ip, S.col_mac,
                                        S.col_scan_id, S.col_time],
                           vantages),
        "digests": _table("digests", [S.col_scan_id, S.col_bundle_sha], digests),
        "count_rows": count_rows, "totals": totals, "status_label": status_label,
        "requirements": reqs, "groups": groups, "fail_total": len(fails),
        "tally": finding_tally(m), "zone": zone,
        "errors": err_table, "pass_rows": pass_rows, "skip_table": skip_table,
        "pass_table": pass_table, "recon": recon, "topo": topo, "canary": canary,
        "has_inventory": inv is not None, "identities": idv,
        "waived": report_section(m, lang, _table),
    }


_UTC_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\b")


def local_times(items: Sequence[str], zone=None) -> list[str]:
    """Evidence as the check wrote it, but every UTC time in it ('...T00:49:51Z',
    '....439Z') shown in the unit's zone with its offset: the same instant as a
    person there reads it (the bundle and --json keep the UTC text)."""
    z = zone or unit_zone()
    return [_UTC_TIME.sub(lambda m: local_iso(m.group(), z), x) if isinstance(x, str) and "Z" in x
            else x for x in items]


def _span(a, b, zone=None) -> str:
    """'from – to' in the unit's zone (ISO 8601 with its offset)."""
    a, b = (local_iso(x, zone or unit_zone()) if x else x for x in (a, b))
    if a and b:
        return f"{a} – {b}"
    return a or b or "—"


def inbound_coverage_note(sources: Sequence[Mapping], lang: str,
                          policy: Mapping | None = None, zone=None) -> str | None:
    """What the internet vantages tested, in words, with the age of the last
    full port sweep (or that none was run), judged by the report's own policy
    (`policy`, as `isoscan report` judged the findings) or else the newest
    scan's: the logical-isolation row says no more than was tested."""
    from scanner.judge.sweep import full_sweep_problem
    covs = []
    for s in sources:
        obs = s.get("observations") if isinstance(s.get("observations"), Mapping) else {}
        inbound = obs.get("inbound")
        cov = inbound.get("coverage") if isinstance(inbound, Mapping) else None
        if isinstance(cov, Mapping):
            own = obs.get("policy") if isinstance(obs.get("policy"), Mapping) else {}
            covs.append((cov, own))
    if not covs:
        return None
    newest, own = max(covs, key=lambda c: str(c[0].get("started_at") or ""))
    if policy is None:       # a single scan's report: its own policy and its own sweep
        policy = own
    said, warning = full_sweep_problem(newest, policy)
    addrs = list(dict.fromkeys(str(a) for c, _ in covs for a in (*(c.get("public") or ()),
                                                              *(c.get("routed") or ()))))
    shown = ", ".join(addrs[:8]) + (f", … (+{len(addrs) - 8})" if len(addrs) > 8 else "")
    full = newest.get("mode") == "full"
    when = local_iso(newest.get("started_at"), zone or unit_zone()) if newest.get("started_at") else None
    if lang == "zh-CN":
        head = (f"互联网侧于 {when or '?'} 自 {newest.get('from') or '?'} 探测了 "
                f"{len(addrs)} 个地址（{shown or '—'}）：" + ("全部 TCP 端口" if full else "常用端口与已声明端口"))
    else:
        head = (f"probed from the internet at {when or '?'} from "
                f"{newest.get('from') or '?'}: {len(addrs)} addresses ({shown or '-'}), "
                + ("every TCP port" if full else "the top ports and the declared ones"))
    tail = [pick(x, lang) for x in (said, warning) if x is not None]
    return ("；" if lang == "zh-CN" else "; ").join([head, *tail])


def _requirement(S, key, checks, by_check) -> dict:
    items = []
    statuses = Counter()
    info_fail = False
    for cid in checks:
        fs = by_check.get(cid, [])
        c = Counter(f["status"] for f in fs)
        items.append({"id": cid, "pass": c["pass"], "fail": c["fail"], "error": c["error"],
                      "skipped": c["skipped"], "title": ""})
        for f in fs:
            if f["status"] == "fail" and f["severity"] == "info":
                info_fail = True
            else:
                statuses[f["status"]] += 1
    if statuses["fail"]:
        st = "fail"
    elif statuses["error"]:
        st = "error"
    elif info_fail:
        st = "notice"
    elif statuses["pass"]:
        st = "pass"
    else:
        st = "notrun"
    return {"key": key, "label": S["req_" + key], "status": st,
            "status_label": S["req_status_" + st], "checks": items, "note": None}


# --------------------------------------------------------------------------
# device reconciliation

RECON_ORDER = ("unregistered", "misplaced", "mismatch", "missing", "notobserved", "seen")


def reconcile(m: Mapping, S) -> list[dict]:
    inv = m.get("inventory_view")
    sources = m["sources"]
    dash = "—"
    hosts_by_seg: dict[str, dict] = defaultdict(dict)     # seg -> (ip, mac) -> vantage labels
    six_by_seg: dict[str, dict] = defaultdict(dict)      # the same for IPv6 neighbours
    observed: set[str] = set()
    own: dict[tuple, str] = {}     # a vantage never sees itself in its own sweep: it is there
    for s in sources:
        v = s["vantage"]
        for key in ((v.get("segment"), "ip", v.get("ip")), (v.get("segment"), "mac", norm_mac(v.get("mac")))):
            if key[0] and key[2]:
                own.setdefault(key, s["label"])
    for s in sources:
        seg = s["vantage"].get("segment")
        disc = s["observations"].get("discovery")
        if not seg or not isinstance(disc, Mapping):
            continue
        if disc.get("status") == "ok":
            observed.add(seg)
        for key, into in (("hosts", hosts_by_seg), ("neighbours6", six_by_seg)):
            for h in disc.get(key) or []:
                if isinstance(h, Mapping):
                    ip = h.get("ip") if isinstance(h.get("ip"), str) else None
                    mac = norm_mac(h.get("mac"))
                    into[seg].setdefault((ip, mac), []).append(s["label"])
    # An IPv6 neighbour is a row of its own only when its MAC answered no ARP on
    # that segment (an IPv6-only station); a registered MAC is known whatever its
    # link-local or autoconfigured address.
    six_only: dict[str, dict] = defaultdict(dict)
    for seg, six in six_by_seg.items():
        macs4 = {mac for _, mac in hosts_by_seg.get(seg, {})}
        for (ip, mac), labs in six.items():
            if mac is None or mac not in macs4:
                six_only[seg].setdefault(mac, (ip, labs))

    per_seg: dict[str, list] = defaultdict(list)
    if inv is not None:
        segs = [n for n, s in inv["segments"].items() if s.get("classification") != "internet"]
        by_ip_g, by_mac_g = {}, {}
        reg: dict[str, list] = defaultdict(list)
        for d in inv["devices"]:
            for i in d["interfaces"]:
                reg[i["segment"]].append((d, i))
                if i["ip"]:
                    by_ip_g.setdefault(i["ip"], (d, i))
                if i["mac"]:
                    by_mac_g.setdefault(i["mac"], (d, i))
        for seg in list(segs) + sorted(set(hosts_by_seg) - set(segs)):
            if (inv["segments"].get(seg) or {}).get("classification") == "internet":
                continue
            by_ip = {i["ip"]: (d, i) for d, i in reg.get(seg, []) if i["ip"]}
            by_mac = {i["mac"]: (d, i) for d, i in reg.get(seg, []) if i["mac"]}
            matched = set()
            for (ip, mac), labs in hosts_by_seg.get(seg, {}).items():
                r = by_ip.get(ip) if ip else None
                rm = by_mac.get(mac) if mac else None
                if r and (not mac or not r[1]["mac"] or r[1]["mac"] == mac):
                    st, d, i = "seen", r[0], r[1]
                elif r or rm:
                    st, (d, i) = "mismatch", (r or rm)
                elif (ip and ip in by_ip_g) or (mac and mac in by_mac_g):
                    st, (d, i) = "misplaced", (by_mac_g.get(mac) or by_ip_g.get(ip))
                else:
                    st, d, i = "unregistered", None, None
                if i is not None:
                    matched.add(id(i))
                per_seg[seg].append(_recon_row(st, d, i, ip, mac, labs))
            for mac, (ip, labs) in six_only.get(seg, {}).items():
                if mac in by_mac:
                    st, (d, i) = "seen", by_mac[mac]
                elif ip in by_ip:
                    st, (d, i) = "mismatch", by_ip[ip]
                elif mac in by_mac_g or ip in by_ip_g:
                    st, (d, i) = "misplaced", (by_mac_g.get(mac) or by_ip_g.get(ip))
                else:
                    st, d, i = "unregistered", None, None
                if i is not None:
                    matched.add(id(i))
                per_seg[seg].append(_recon_row(st, d, i, ip, mac, labs))
            for d, i in reg.get(seg, []):
                if id(i) not in matched:
                    me = own.get((seg, "ip", i["ip"])) or own.get((seg, "mac", i["mac"]))
                    if me:          # the probe's own host: present, by its own scan
                        per_seg[seg].append(_recon_row("seen", d, i, i["ip"], i["mac"], [me]))
                        continue
                    per_seg[seg].append(_recon_row("missing" if seg in observed else "notobserved",
                                                   d, i, None, None, []))
    else:
        flagged: dict[tuple, str] = {}
        for f in m["findings"]:
            st = {"DEV-UNREGISTERED": "unregistered", "DEV-MISMATCH": "mismatch",
                  "DEV-MISPLACED": "misplaced", "DEV-MISSING": "missing"}.get(f["check_id"])
            if st and f["status"] == "fail":
                seg = f["segment"] or ""
                s = f["subject"]
                if st == "missing":
                    per_seg[seg].append(_recon_row(st, {"name": s.get("device")},
                                                   {"ip": s.get("ip"), "mac": s.get("mac")},
                                                   None, None, f["vantages"]))
                else:
                    flagged[(seg, s.get("ip"), s.get("mac"))] = st
                    flagged.setdefault((seg, s.get("ip"), None), st)
                    flagged.setdefault((seg, None, s.get("mac")), st)
        for seg in set(hosts_by_seg) | set(six_only):
            seen_here = list(hosts_by_seg.get(seg, {}).items()) + [
                ((ip, mac), labs) for mac, (ip, labs) in six_only.get(seg, {}).items()]
            for (ip, mac), labs in seen_here:
                st = flagged.get((seg, ip, mac)) or flagged.get((seg, ip, None)) or \
                    flagged.get((seg, None, mac)) or "seen"
                per_seg[seg].append(_recon_row(st, None, None, ip, mac, labs))

    out = []
    cols = [S.col_recon_status, S.col_device, S.col_kind, S.col_asset_tag, S.col_custodian,
            S.col_reg_ip, S.col_reg_mac, S.col_seen_ip, S.col_seen_mac, S.col_vantages]
    rank = {k: i for i, k in enumerate(RECON_ORDER)}
    for n, seg in enumerate(sorted(per_seg)):
        rows = per_seg[seg]
        rows.sort(key=lambda r: (rank[r[0]], r[1] or "", r[5] or "", r[7] or ""))
        c = Counter(r[0] for r in rows)
        for r in rows:          # the inventory's kind, in the report's language
            if r[2] and ("kind_" + r[2]) in S:
                r[2] = S["kind_" + r[2]]
        table_rows = [["recon-" + r[0], S["recon_" + r[0]]] + [x or dash for x in r[1:-1]]
                      + [_bullets(r[-1])] for r in rows]
        out.append({"segment": seg or S.no_segment, "observed": seg in observed,
                    "counts": [{"key": k, "label": S["recon_" + k], "n": c[k]}
                               for k in RECON_ORDER if c[k]],
                    "table": _table(f"r{n}", cols, table_rows)})
    return out


def _recon_row(st, d, i, ip, mac, labs):
    d = d or {}
    i = i or {}
    return [st, d.get("name"), d.get("kind"), d.get("asset_tag"), d.get("custodian"),
            i.get("ip"), i.get("mac"), ip, mac, labs]


# --------------------------------------------------------------------------
# topology and canary


def _topology(m: Mapping, S, fails: list[dict]) -> dict:
    inv = m.get("inventory_view")
    segs: dict[str, dict] = {}
    if inv is not None:
        for name, s in inv["segments"].items():
            segs[name] = dict(s)
    for s in m["sources"]:
        seg = s["vantage"].get("segment")
        if seg and seg not in segs:
            segs[seg] = {"name": seg, "classification": None}
    for f in fails:
        if f["segment"] and f["segment"] not in segs:
            segs[f["segment"]] = {"name": f["segment"], "classification": None}
    for s in segs.values():
        cls = s.get("classification")
        key = "cls_" + (cls or "unknown").replace("-", "_")
        parts = [S[key] if key in S else S.cls_unknown]
        if s.get("level") and ("level_" + s["level"]) in S:
            parts.append(S["level_" + s["level"]])
        s["sub"] = " · ".join(parts)
    ingress = []
    transfers = []
    if inv is not None:
        for name, s in inv["segments"].items():
            if s.get("ingress"):
                ingress.append((name, s["ingress"]))
        transfers = [t for t in inv["transfers"] if t.get("from") in segs and t.get("to") in segs]
    flagged = Counter(f["segment"] for f in fails if f["severity"] != "info" and f["segment"])
    breaches = {}
    for f in fails:
        if f["severity"] == "info" or not f["segment"]:
            continue
        direction = BREACH_EDGES.get(f["check_id"])
        if direction is None:
            continue
        to = f.get("peer_segment")
        key = (f["segment"], to, f["check_id"])
        who = f["subject"].get("device") or f["subject"].get("ip") or f["subject"].get("mac") or ""
        if key in breaches:
            breaches[key]["n"] += 1
            continue
        breaches[key] = {"from": f["segment"], "to": to, "check": f["check_id"], "who": who, "n": 1}
    blist = []
    for b in breaches.values():
        label = b["check"] + (f" {b['who']}" if b["who"] else "")
        if b["n"] > 1:
            label += f" (+{b['n'] - 1})"
        blist.append({**b, "label": label})
    lay = topology.layout(sorted(segs.values(), key=lambda s: s["name"]), ingress, transfers,
                          blist, flagged, S.topo_outside)
    lay["breaches"] = len(blist)
    return lay


def _canary(m: Mapping, S, zone=None) -> dict | None:
    """The "what the outside saw" section: per vantage, arrivals by exit address."""
    obs = m.get("observations") or {}
    view = obs.get("outside")
    if isinstance(view, Mapping):
        dash = "—"
        logs = _table("canary-logs", [S.col_canary, S.col_addresses, S.col_time, S.col_arrivals,
                                      S.col_unmatched],
                      [["" if lg.get("complete") else "warn", lg.get("name") or dash,
                        ", ".join(lg.get("addresses") or []) or dash,
                        _span(lg.get("started_at"), lg.get("finished_at"), zone),
                        str(lg.get("arrivals", 0)) + ("" if lg.get("complete") else " " + S.canary_incomplete),
                        str(lg.get("unmatched", 0))] for lg in view.get("logs") or []])
        vants = []
        for n, v in enumerate(view.get("vantages") or []):
            rows = []
            for r in v.get("rows") or []:
                ing = r.get("is_ingress")
                rows.append(["breach" if ing is False else "",
                             r.get("exit") or dash,
                             S.yes if ing else (S.no if ing is False else dash),
                             str(r.get("arrivals", 0)),
                             ", ".join(f"{k} ×{c}" for k, c in sorted((r.get("probes") or {}).items())),
                             _bullets([S.canary_direct if v == "direct" else v
                                       for v in r.get("via") or []]),
                             S.match_verified if r.get("match") == "verified" else S.match_port])
            vants.append({"label": v.get("label") or dash, "segment": v.get("segment") or dash,
                          "tagged": v.get("tagged"),
                          "table": _table(f"o{n}", [S.col_exit, S.col_is_ingress, S.col_arrivals,
                                                    S.col_probes, S.col_via, S.col_match], rows,
                                          S.canary_nothing)})
        return {"logs": logs, "vantages": vants}
    c = obs.get("canary") or {}
    if c.get("status") != "ok":
        return None
    by: dict[tuple, Counter] = defaultdict(Counter)
    for a in c.get("arrivals") or []:
        by[(a.get("vantage") or S.canary_unattributed, a.get("src") or "—")][
            f"{a.get('proto') or '?'}/{a.get('port') or '-'}"] += a.get("count") or 1
    rows = [["", v, src, str(sum(cnt.values())),
             ", ".join(f"{k} ×{n}" for k, n in sorted(cnt.items()))]
            for (v, src), cnt in sorted(by.items())]
    return {"table": _table("canary", [S.col_vantage, S.col_exit, S.col_arrivals, S.col_probes],
                            rows)}
