"""Load: 50 probes push 20 bundles each at once; every bundle is stored once,
none is lost; the p95 latency is recorded (tests/serve/screenshots/load.json
beside the screenshots, and printed)."""
from __future__ import annotations

import json
import sys

from servelib import REPO, SCREENSHOTS

sys.path.insert(0, str(REPO / "bench"))


def test_fifty_probes_twenty_bundles_each(tmp_path, capsys):
    import serve_bench
    res = serve_bench.run(50, 20, None, tmp_path)
    assert res["errors"] == 0, res["first_error"]
    assert res["stored"] == res["bundles"] == 1000
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "load.json").write_text(json.dumps(res, indent=1))
    with capsys.disabled():
        print(f"\n50x20 pushes: {res['rate_per_s']}/s, p95 {res['p95_ms']} ms")
