"""Topology picture for the report: a layout computed here, drawn by the
template as inline SVG (so every name goes through Jinja's autoescape).

Rows, top to bottom: the internet (declared internet segments, or one
synthetic "outside" node), the declared ingress gateways, non-classified
segments (and segments of unknown classification), classified segments.
Edges: declared ingress (grey), declared one-way transfers (dashed blue),
breach paths from failing findings (red).
"""
from __future__ import annotations

from typing import Mapping, Sequence

BOX_W, BOX_H, GAP_X, GAP_Y = 180, 58, 28, 46
GW_W, GW_H = 130, 34
PER_LINE = 6
MARGIN = 20
LABEL_MAX = 22
MAX_LINES = 4
MAX_INLINE = 4      # breach paths labelled in place; more are numbered

OUTSIDE = "\u0000outside"   # id of the synthetic internet node (never a segment name)


def _clip(s: str, n: int = LABEL_MAX) -> str:
    return s if len(s) <= n else s[:n - 1] + "\u2026"


def layout(segments: Sequence[Mapping], ingress: Sequence[tuple[str, str]],
           transfers: Sequence[Mapping], breaches: Sequence[Mapping],
           flagged: Mapping[str, int], outside_label: str) -> dict:
    """segments: [{name, classification, level, title}];
    ingress: [(segment, gateway device)]; transfers: [{device, from, to}];
    breaches: [{from, to (segment name or None for the internet), check, label}];
    flagged: segment -> number of failing findings."""
    internet = [s for s in segments if s.get("classification") == "internet"]
    classified = [s for s in segments if s.get("classification") == "classified"]
    middle = [s for s in segments if s not in internet and s not in classified]

    nodes: dict[str, dict] = {}
    rows: list[tuple[list, int, int, int]] = []      # (items, w, h, shift)

    def add_rows(items, w=BOX_W, h=BOX_H, shift=0):
        for start in range(0, len(items), PER_LINE):
            rows.append((items[start:start + PER_LINE], w, h, shift))

    def seg_item(s):
        n = flagged.get(s["name"], 0)
        cls = (s.get("classification") or "unknown").replace("-", "")
        if cls not in ("classified", "nonclassified", "internet"):
            cls = "unknown"
        cls = "seg " + cls + (" flagged" if n else "")
        sub = s.get("sub") or " ".join(x for x in (s.get("classification") or "?", s.get("level") or "") if x)
        title = s["name"] + (f" — {s['title']}" if s.get("title") else "")
        return (s["name"], s["name"], sub, cls, title)

    if internet:
        add_rows([seg_item(s) for s in internet])
    else:
        add_rows([(OUTSIDE, outside_label, "", "seg internet", outside_label)])
    outside_id = internet[0]["name"] if internet else OUTSIDE
    gateways = list(dict.fromkeys(g for _, g in ingress if g))
    add_rows([("gw:" + g, g, "", "gw", g) for g in gateways], GW_W, GW_H)
    add_rows([seg_item(s) for s in middle])
    # classified segments sit off-centre, so paths from them to the internet
    # pass beside the non-classified boxes instead of through them
    add_rows([seg_item(s) for s in classified], shift=(BOX_W + GAP_X) // 2 if middle else 0)

    step = BOX_W + GAP_X
    inner = max(len(items) * step - GAP_X + shift for items, _, _, shift in rows)
    left_room, right_room = 140, 440          # labels of transfers (left), breaches (right)
    width = MARGIN + left_room + inner + right_room
    y = MARGIN
    for items, w, h, shift in rows:
        row_w = len(items) * step - GAP_X
        x0 = MARGIN + left_room + (inner - row_w) // 2 + shift // 2
        for i, (nid, label, sub, cls, title) in enumerate(items):
            nodes[nid] = {"id": nid, "x": x0 + i * step + (BOX_W - w) // 2, "y": y, "w": w, "h": h,
                          "cls": cls, "label": _clip(label), "sub": _clip(sub or "", 28),
                          "title": title}
        y += h + GAP_Y
    height = y - GAP_Y + MARGIN + 40

    edges: list[dict] = []
    pair_count: dict[tuple, int] = {}

    def edge(a, b, cls, lines):
        na, nb = nodes.get(a), nodes.get(b)
        if na is None or nb is None or a == b:
            return
        k = (tuple(sorted((a, b))), cls)
        n = pair_count[k] = pair_count.get(k, 0) + 1
        if na["y"] > nb["y"]:
            na, nb = nb, na
        x1, y1 = na["x"] + na["w"] / 2, na["y"] + na["h"]
        x2, y2 = nb["x"] + nb["w"] / 2, nb["y"]
        anchor = "start"
        if na["y"] == nb["y"]:                 # same row: arc below the boxes
            left, right = (na, nb) if na["x"] < nb["x"] else (nb, na)
            x1, y1 = left["x"] + left["w"] / 2, left["y"] + left["h"]
            x2, y2 = right["x"] + right["w"] / 2, right["y"] + right["h"]
            cx, cy = (x1 + x2) / 2, y1 + 40 + 20 * n
            anchor = "middle"
        else:
            # breach paths bow out to the right (further when they skip a row),
            # transfers to the left, so they cross no box between and hide no label
            far = (y2 - y1) > BOX_H + 2 * GAP_Y
            if cls == "breach":
                off = (BOX_W * 1.6 if far else 190) + 40 * (n - 1)
            elif cls == "transfer":
                off = -(120 + 30 * (n - 1))
                anchor = "end"
            else:
                off = 0
            cx = (x1 + x2) / 2 + off
            cy = (y1 + y2) / 2
        # the apex of the quadratic curve
        ax, ay = (x1 + 2 * cx + x2) / 4, (y1 + 2 * cy + y2) / 4
        lines = [ln for ln in lines if ln]
        shown = [_clip(ln, 34) for ln in lines[:MAX_LINES]]
        if len(lines) > MAX_LINES:
            shown.append(f"+{len(lines) - MAX_LINES}")
        dx = {"start": 6, "end": -6, "middle": 0}[anchor]
        ly0 = ay + (14 if anchor == "middle" else 4) - 7 * (len(shown) - 1)
        edges.append({"d": f"M{x1:.0f} {y1:.0f} Q{cx:.0f} {cy:.0f} {x2:.0f} {y2:.0f}",
                      "cls": cls, "title": "\n".join(lines), "anchor": anchor,
                      "lines": [{"x": round(ax + dx), "y": round(ly0 + 14 * i), "text": t}
                                for i, t in enumerate(shown)]})

    for seg, gw in ingress:
        edge(seg, "gw:" + gw, "ingress", [])
    for gw in gateways:
        edge("gw:" + gw, outside_id, "ingress", [])
    for t in transfers:
        edge(t.get("from"), t.get("to"), "transfer", [t.get("device") or ""])
    grouped: dict[tuple, list] = {}
    for br in breaches:
        grouped.setdefault((br["from"], br.get("to") or outside_id), []).append(
            br.get("label") or br["check"])
    # few paths: labelled in place; many: numbered, listed in `paths` below the picture
    inline = len(grouped) <= MAX_INLINE
    paths = []
    for num, ((a_, b_), labels) in enumerate(grouped.items(), 1):
        to_label = nodes[b_]["title"] if b_ in nodes else b_
        paths.append({"num": num, "from": a_, "to": to_label, "labels": labels})
        edge(a_, b_, "breach", labels if inline else [f"[{num}]"])

    return {"width": int(width), "height": int(max(height, BOX_H + 2 * MARGIN)),
            "nodes": list(nodes.values()), "edges": edges, "paths": paths}
