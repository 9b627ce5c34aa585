"""benchmarks/roofline.py in its smallest setting (tiny peak sizes, 3 timed steps, the stacked
and conv presets): FLOPs counted as the layers say, the profile's shares a whole, the table."""

import json

import pytest

from conftest import benchmark_script

# The stacked AE's four dense layers, 784→100→30 | 30→100→784: multiply-adds per image of one
# forward pass (FlopCounterMode counts 2 FLOPs a multiply-add, for addmm and mm; the biases,
# activations and the loss count nothing).
LAYERS = [(784, 100), (100, 30), (30, 100), (100, 784)]
FORWARD = 2 * sum(i * o for i, o in LAYERS)  # 2 × 162,800
# Backward: every layer's weight gradient (one mm each: as much as its forward) and the input
# gradient of every layer but the first (the images do not require grad, so autograd skips
# that mm): 2 × 162,800 + 2 × (3,000 + 3,000 + 78,400), not the rule of thumb's 2 × forward.
BACKWARD = FORWARD + 2 * sum(i * o for i, o in LAYERS[1:])
STACKED_PER_IMAGE = FORWARD + BACKWARD  # 820,000 (the rule of thumb's 3 × forward: 976,800)


def test_the_roofline_benchmark_runs_small(tmp_path, capsys):
    bench = benchmark_script("roofline")
    out = tmp_path / "roofline.json"
    report = bench.main(["--smoke", "--out", str(out)])
    saved = json.loads(out.read_text())
    rows = {r["preset"]: r for r in saved["table"]}
    assert set(rows) == {"stacked", "conv"} and report["table"][0]["preset"] == "stacked"
    peak = saved["peak"]
    assert peak["peak_gflops"] > 0 and saved["machine"]["torch"]
    for p in peak["at_threads"].values():
        assert p["mm"]["gflops"] > 0 and p["conv"]["gflops"] > 0 and p["copy"]["gbps"] > 0
        # the matrix product looked at again before each preset; the peak is the best look
        assert len(p["mm_glimpses"]) == 2
        assert p["peak_gflops"] == max(p["mm"]["gflops"], p["conv"]["gflops"], *p["mm_glimpses"])
    assert str(peak["threads"]) in peak["at_threads"]

    stacked, conv = rows["stacked"], rows["conv"]
    assert abs(stacked["flops"]["per_image"] / STACKED_PER_IMAGE - 1) < 0.10
    assert abs(stacked["flops"]["forward_per_image"] / FORWARD - 1) < 0.10
    assert conv["flops"]["per_image"] > stacked["flops"]["per_image"] > 0
    assert any("conv" in op for op in conv["flops"]["by_op"])
    for row in rows.values():
        assert 0 < row["step_ms_best"] <= row["step_ms"] and row["share_of_peak"] > 0
        # the rate is the best step's: FLOPs over its time, as a share of the best peak
        achieved = row["flops"]["step"] / (row["step_ms_best"] / 1e3) / 1e9
        assert abs(row["achieved_gflops"] / achieved - 1) < 1e-9
        assert abs(row["share_of_peak"] * peak["peak_gflops"] / achieved - 1) < 1e-9
        assert str(row["threads"]) in peak["at_threads"] and row["batch"] == 32
        shares = row["profile"]["shares"]
        assert set(shares) == set(bench.CATEGORIES)
        assert all(0 <= s <= 1 for s in shares.values())
        assert abs(sum(shares.values()) - 1) < 0.02
        assert shares["flop_ops"] > 0 and shares["optimizer"] > 0
        assert row["profile"]["overhead_us_per_step"] >= 0 and len(row["profile"]["top_ops"]) == 5
        assert row["spread"]["achieved_gflops"] == 0  # one repetition
        assert row["quiet_windows"] in (0, 1) and row["repeats"] == 1
        assert row["best_seen_twice"] is False  # one window cannot show its best twice
    # the core probe before every preset: a 1 MiB copy's GB/s, the run's best written
    probes = [r["core_gbps"] for r in saved["runs"][0]["rows"]]
    assert all(g > 0 for g in probes) and saved["core_gbps"] == max(probes)
    assert "against" not in saved
    printed = capsys.readouterr().out
    assert "| preset | batch | threads | MFLOP/image |" in printed
    assert "| `stacked` | 32 | " in printed and "| `conv` | 32 | " in printed


def test_a_second_run_is_compared_with_the_first(tmp_path, capsys):
    bench = benchmark_script("roofline")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    bench.main(["--smoke", "--out", str(first)])
    report = bench.main(["--smoke", "--against", str(first), "--out", str(second)])
    before = {r["preset"]: r["share_of_peak"] for r in json.loads(first.read_text())["table"]}
    against = json.loads(second.read_text())["against"]
    assert against["file"] == str(first) and set(against["shares"]) == {"stacked", "conv"}
    for row in report["table"]:
        pair = against["shares"][row["preset"]]
        assert pair["previous"] == before[row["preset"]] and pair["now"] == row["share_of_peak"]
        low, high = sorted((pair["previous"], pair["now"]))
        assert abs(pair["apart"] - (high / low - 1)) < 1e-12
    assert against["most_apart"] == max(v["apart"] for v in against["shares"].values())
    assert f"Against {first}: stacked " in capsys.readouterr().out


def test_against_a_file_that_is_not_a_result_is_one_line(tmp_path, capsys):
    bench = benchmark_script("roofline")
    bad = tmp_path / "notes.json"
    bad.write_text("[1, 2]")
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as exit:
        bench.main(["--smoke", "--against", str(bad), "--out", str(out)])
    assert exit.value.code == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(f"--against {bad}: not a result of this script (no table)")
