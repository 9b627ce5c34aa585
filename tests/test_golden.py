"""The seed presets train as they always have, on any machine.

A float32 history is a CPU's rounding as much as the code's: torch's kernels differ by instruction
set, and SGD at lr 1.5 amplifies the difference (0.312383 against 0.312228 after one epoch on
another machine). So the pin is a short run in float64 on one thread, on synthetic images that
every machine makes alike (numpy's generator), compared to ``RTOL``. Measured on torch 2.13: with
another instruction set forced (``ATEN_CPU_CAPABILITY=default``, the farthest from AVX-512) the
runs differ by at most 3e-9 (stacked), 6e-10 (conv) and 8e-7 (VAE); a 1% change of the learning
rate or of the initial weights' scale moves them by 8e-4 or more
(``test_the_golden_comparison_notices_a_one_percent_change``). The steps are few because the
seed's SGD at lr 1.5 is chaotic on the conv model: after 32 steps the instruction sets differ by
4e-5 there.

Record again, after a change that is meant to change training, with
``python tests/test_golden.py --record``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import autoencode as ae
from autoencode.data.types import Split
from autoencode.models import build_model
from autoencode.training.setup import fit, make_trainer
from conftest import synthetic_images

RECORDED = Path(__file__).parent / "fixtures" / "golden_histories.json"
PRESETS = ("stacked", "conv", "vae")
# preset: (batches an epoch, epochs)
STEPS = {"stacked": (8, 2), "conv": (8, 1), "vae": (8, 1)}
RTOL = 1e-5


def golden_history(preset: str, lr_scale: float = 1.0, init_scale: float = 1.0) -> list[dict]:
    """``STEPS`` of ``preset`` in float64 on one thread, on synthetic training images (128 more
    for validation), with the preset's own batch size, optimizer and initialisation (seed 42)."""
    chosen = ae.get_preset(preset)
    batches, epochs = STEPS[preset]
    images, _ = synthetic_images(batches * chosen.training.batch_size + 128, seed=7)
    training = chosen.training.with_overrides(epochs=epochs, lr=chosen.training.lr * lr_scale)
    torch.manual_seed(training.seed)  # as ae.train draws the initial weights
    model = build_model(chosen.model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(init_scale)
    trainer, placement = make_trainer(model.double(), training, "cpu", threads=1, progress=False)
    history = fit(trainer, placement, Split(images[128:]), Split(images[:128]))
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def differences(got: list[dict], expected: list[dict]) -> list[str]:
    """Each value of ``got`` that is not ``expected``'s to ``RTOL``, as a line."""
    if [sorted(r) for r in got] != [sorted(r) for r in expected]:
        return [f"columns {[sorted(r) for r in got]} != {[sorted(r) for r in expected]}"]
    return [f"epoch {row['epoch']} {key}: {row[key]!r} != {value!r}"
            for row, want in zip(got, expected, strict=True) for key, value in want.items()
            if row[key] != pytest.approx(value, rel=RTOL, abs=0)]  # fmt: skip


@pytest.mark.parametrize("preset", PRESETS)
def test_seed_preset_trains_as_recorded(preset):
    recorded = json.loads(RECORDED.read_text())[preset]
    assert differences(golden_history(preset), recorded) == []


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("change", [{"lr_scale": 1.01}, {"init_scale": 1.01}])
def test_the_golden_comparison_notices_a_one_percent_change(preset, change):
    recorded = json.loads(RECORDED.read_text())[preset]
    assert differences(golden_history(preset, **change), recorded) != []


if __name__ == "__main__":  # python tests/test_golden.py [--record]
    histories = {preset: golden_history(preset) for preset in PRESETS}
    if "--record" in sys.argv:
        RECORDED.write_text(json.dumps(histories, indent=1) + "\n")
    print(json.dumps(histories))
