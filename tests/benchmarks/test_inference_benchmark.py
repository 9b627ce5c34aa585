"""benchmarks/inference.py in its smallest setting: 3,000 prepared 64×64 images through
``embed``, ``score`` and ``search`` as commands, and the exported encoder under onnxruntime."""

import json
import sys

import numpy as np
import torch

from conftest import benchmark_script


def test_the_inference_benchmark_runs_small(tmp_path, capsys):
    bench = benchmark_script("inference")
    out = tmp_path / "inference.json"
    results = bench.main(["--smoke", "--dir", str(tmp_path / "work"), "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    big = results["big"]
    assert big["n"] == 3000 and "fashion" not in results
    assert set(big["commands"]) == {"embed", "score", "search", "onnxruntime encoder"}
    for row in big["commands"].values():
        assert row["images"] == 3000 and row["seconds"] > 0 and row["peak_rss_mb"] > 50
    assert big["codings_dimensions"] == bench.SMALL_IMAGE_MODEL["codings"]
    assert big["max_abs_codings_difference"] < 1e-4  # the same codings, both ways
    codings = np.load(tmp_path / "work" / "big-conv-image-codings.npy")
    assert codings.shape == (3000, 64) and np.isfinite(codings).all()
    scores = (tmp_path / "work" / "scores.csv").read_text().splitlines()
    assert len(scores) == 3001 and scores[0].startswith("index,reconstruction,codings,score")
    assert "| 3,000 × 64×64 | conv-image small | embed | 3,000 |" in capsys.readouterr().out


def test_a_commands_peak_memory_is_its_own_not_this_processs(tmp_path):
    bench = benchmark_script("inference")
    held = torch.ones(50_000_000)  # this process holds 200 MB more than a bare Python
    bare = bench.measured([sys.executable, "-c", "pass"], tmp_path / "bare.log")
    big = bench.measured([sys.executable, "-c", "b = bytearray(300_000_000)"], tmp_path / "b.log")
    assert bare["peak_rss_mb"] < 60 and 290 < big["peak_rss_mb"] < 360 and held.sum() > 0
