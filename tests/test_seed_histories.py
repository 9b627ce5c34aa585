"""The seed presets train as they did before the refactor of issue 8: the 3-epoch histories of
seed 42 on the real Fashion-MNIST, recorded before any change (``fixtures/seed_histories.json``),
are reproduced to 1e-6."""

import json
from pathlib import Path

import pytest

import autoencode as ae

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "seed_histories.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(RECORDED))
def test_seed_preset_history_is_unchanged(preset, fashion_mnist, tmp_path):
    run = ae.train(preset, fashion_mnist, tmp_path / preset, epochs=3, seed=42, progress=False)
    got = [{k: v for k, v in row.items() if k != "seconds"} for row in run.history]
    assert [sorted(row) for row in got] == [sorted(row) for row in RECORDED[preset]]
    for row, expected in zip(got, RECORDED[preset], strict=True):
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, abs=1e-6), (preset, row["epoch"], key)
