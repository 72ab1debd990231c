"""The working direction of a declared one-way transfer, checked across bundles.

The high side's scan listens for tokened probes that the low side's scan sent
through the transfer device (scanner/probes/transfer.py). The high side reads
a token without the sender's key, so its XFER-ONEWAY pass ("the declared
direction works") rests on a token it could not authenticate. `isoscan report`
holds both bundles: every arrival is verified here with the canary key of the
low-side bundle of the same scan (its scan tag and segment tag):

* verified: the XFER-ONEWAY finding says so and which scan sent it;
* a low-side bundle of that segment is among the inputs and no key of theirs
  verifies the token: the arrival proves nothing (a replayed or forged packet,
  or a scan that is not among the inputs), and the pass becomes the notice
  "declared direction unproven" (severity info), as when nothing arrived;
* no low-side bundle among the inputs: the pass stands, and says the token
  was not verified.

Pure: merged findings and the sources' observations in, findings changed in place.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from scanner.canary import tokens
from scanner.model import text


def _low_sides(sources: Sequence[Mapping]) -> dict[str, list[tuple[Mapping, bytes]]]:
    """segment tag (hex) -> [(source, canary key)] of every source that can verify."""
    out: dict[str, list] = {}
    for s in sources:
        seg = (s.get("vantage") or {}).get("segment")
        key = tokens.key_from_json((s.get("observations") or {}).get("canary_key"))
        if isinstance(seg, str) and key:
            out.setdefault(tokens.tag(seg).hex(), []).append((s, key))
    return out


def _verdict(arrival: Mapping, lows: dict) -> tuple[str, Mapping | None]:
    """("verified", low source) | ("refuted", None) | ("unverifiable", None)."""
    cands = lows.get(str(arrival.get("token_segment_tag") or ""))
    if not cands:
        return "unverifiable", None
    for s, key in cands:
        info = tokens.verify(arrival.get("token"), key)
        if info is not None and info.names(str(s.get("scan_id") or ""), s["vantage"]["segment"]):
            return "verified", s
    return "refuted", None


def check_arrivals(findings: list[dict], sources: Sequence[Mapping],
                   inv: Mapping | None, lang: str) -> None:
    """Verify the transfer arrivals each high-side XFER-ONEWAY pass rests on."""
    transfers = {t.get("device"): t for t in (inv or {}).get("transfers", []) if isinstance(t, Mapping)}
    if not transfers:
        return
    lows = _low_sides(sources)
    by_segment = {}
    for s in sources:
        seg = (s.get("vantage") or {}).get("segment")
        arrivals = ((s.get("observations") or {}).get("transfer_in") or {}).get("arrivals") or ()
        if isinstance(seg, str):
            by_segment.setdefault(seg, []).extend(a for a in arrivals if isinstance(a, Mapping))
    for f in findings:
        if f.get("check_id") != "XFER-ONEWAY" or f.get("status") != "pass":
            continue
        t = transfers.get((f.get("subject") or {}).get("device"))
        if t is None or t.get("to") != f.get("segment"):
            continue
        want = tokens.tag(str(t.get("from"))).hex()
        arrived = [a for a in by_segment.get(f.get("segment"), ())
                   if a.get("token_segment_tag") == want]
        if not arrived:
            continue
        results = [(_verdict(a, lows), a) for a in arrived]
        good = [(low, a) for (v, low), a in results if v == "verified"]
        if good:
            low, a = good[0]
            _say(f, lang, text(
                f"到达的令牌已用低密级一侧扫描（{low.get('label')}，{low.get('scan_id')}）的密钥验证",
                f"the arrival's token verifies with the key of the low side's scan "
                f"({low.get('label')}, {low.get('scan_id')})"))
        elif all(v == "unverifiable" for (v, _), _a in results):
            _say(f, lang, text(
                f"到达的令牌未经验证：报告的输入中没有 {t.get('from')} 一侧的扫描结果",
                f"the arrival's token is not verified: no bundle of {t.get('from')} is among "
                f"the report's inputs"))
        else:
            f["status"] = "fail"
            f["severity"] = "info"
            _say(f, lang, text(
                f"声明方向（{t.get('from')} → {t.get('to')}）可用性未获证明：到达的令牌无法用 "
                f"{t.get('from')} 一侧任何扫描的密钥验证（重放或伪造的数据包，或发送它的扫描不在输入中）",
                f"the declared direction ({t.get('from')} -> {t.get('to')}) is unproven: the "
                f"arrival's token does not verify with the key of any scan of {t.get('from')} "
                f"(a replayed or forged packet, or the scan that sent it is not among the inputs)"))


def _say(f: dict, lang: str, line: Mapping) -> None:
    shown = line.get(lang) or line.get("en")
    if shown not in f["evidence"]:
        f["evidence"].append(shown)
