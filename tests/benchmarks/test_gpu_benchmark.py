"""benchmarks/gpu.py with --device cpu --smoke: the script a lent GPU runs in one call, known to
run end to end (every preset, both precisions, a finite loss and a peak memory each)."""

import json
import math

from conftest import benchmark_script


def test_the_gpu_script_runs_on_the_cpu_small(tmp_path, capsys):
    bench = benchmark_script("gpu")
    out = tmp_path / "gpu.json"
    bench.main(["--device", "cpu", "--smoke", "--out", str(out),
                "--baseline", str(tmp_path / "none.json")])  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    expected = {(p, q) for p in [*bench.PRESETS, "conv-image"] for q in bench.PRECISIONS}
    assert {(r["preset"], r["precision"]) for r in rows} == expected
    for r in rows:
        assert r["device"] == "cpu" and r["s_per_epoch"] > 0 and r["peak_memory_mb"] > 0
        assert math.isfinite(r["val_loss"])
    assert "| `conv-image` | photos 16px | bf16 |" in capsys.readouterr().out
