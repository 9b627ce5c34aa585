"""benchmarks/generation.py in its smallest setting (tiny synthetic data, 1 epoch, 2 seeds): the
whole path the README's generation table comes from, every row of its plan present and scored."""

import json
from pathlib import Path

import numpy as np

from conftest import benchmark_script


def test_the_generation_benchmark_runs_small(tmp_path, capsys):
    bench = benchmark_script("generation")
    out = tmp_path / "generation.json"
    report = bench.main(["--smoke", "--out", str(out)])
    saved = json.loads(out.read_text())
    expected = {(p, s) for p, samplers in bench.SMOKE_PLAN for s in samplers}
    assert {(c["preset"], c["sampler"]) for c in saved["table"]} == expected
    assert len(saved["rows"]) == 2 * len(expected)  # two seeds
    for cell in saved["table"]:
        fd = cell["frechet_distance"]
        assert cell["seeds"] == 2 and np.isfinite(fd["median"]) and fd["low"] <= fd["high"]
    fits = [r["fit"] for r in saved["rows"] if r["sampler"] == "gmm" and r["preset"] == "vae"]
    assert fits[0]["candidates"] and not fits[1]["candidates"]  # chosen once, kept
    assert fits[0]["components"] == fits[1]["components"]
    assert Path(report["figure"]).stat().st_size > 5000
    printed = capsys.readouterr().out
    assert "| `vq` | codes |" in printed and "| floor: test against train |" in printed
