"""Generate a large, clean inventory for the validate benchmark.

    python3 bench/gen_inventory.py OUT.yaml [--segments 200] [--devices 100000]

Segments get /22 networks under 10.0.0.0/8 (half classified, the rest
non-classified behind one gateway, plus the internet); devices are spread
evenly, classified ones with asset tag and custodian, every tenth in the
long (interfaces) form. About 14 MB for the default sizes.
"""
from __future__ import annotations

import argparse


def generate(segments: int = 200, devices: int = 100_000) -> str:
    out = ["version: 1", "organization:", "  name: 基准测试单位", "  id: BENCH-1",
           "canaries:", "  - {name: canary, address: 203.0.113.10}", "segments:",
           "  - {name: internet, classification: internet, networks: [203.0.113.0/24]}"]
    kinds = []
    for i in range(segments):
        base = i * 4                          # /22 = 4 × /24
        net = f"10.{base // 256}.{base % 256}.0/22"
        if i % 2 == 0:
            out.append(f"  - {{name: seg-{i}, title: 涉密网段{i}, classification: classified, "
                       f"level: secret, networks: [{net}]}}")
            kinds.append("c")
        else:
            out.append(f"  - name: seg-{i}\n    classification: non-classified\n"
                       f"    networks: [{net}]\n    ingress: gw-0")
            kinds.append("n")
    out.append("devices:")
    out.append("  - name: gw-0\n    kind: gateway\n    interfaces:\n"
               "      - {segment: seg-1, ip: 10.0.4.1, mac: '02:ff:00:00:00:01'}\n"
               "      - {segment: internet, ip: 203.0.113.1}")
    per = -(-devices // segments)
    for n in range(devices):
        i = n % segments
        k = n // segments + 2                 # host number within the /22, from .2
        base = i * 4 + k // 256
        ip = f"10.{base // 256}.{base % 256}.{k % 256}"
        mac = f"02:{(n >> 24) & 255:02x}:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}:01"
        if kinds[i] == "c":
            extra = f"    asset_tag: BM-{n:07d}\n    custodian: 管理员{n % 97}\n"
        else:
            extra = ""
        if n % 10 == 0:
            out.append(f"  - name: host-{n}\n    kind: workstation\n{extra}    interfaces:\n"
                       f"      - {{segment: seg-{i}, ip: {ip}, mac: '{mac}'}}")
        else:
            out.append(f"  - name: host-{n}\n    kind: workstation\n{extra}"
                       f"    segment: seg-{i}\n    ip: {ip}\n    mac: {mac}")
    assert per <= 1000
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--devices", type=int, default=100_000)
    a = ap.parse_args()
    with open(a.out, "w", encoding="utf-8") as fh:
        fh.write(generate(a.segments, a.devices))


if __name__ == "__main__":
    main()
