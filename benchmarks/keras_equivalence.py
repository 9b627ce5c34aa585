"""Step-for-step equivalence with the seed's Keras stacked autoencoder.

Keras builds the seed's model (its own Glorot initialisation, seed 1) and trains it 3 epochs
without shuffling; ours starts from those same weights and sees the batches in the same order.
If the two implementations are the same algorithm, the per-epoch losses agree to float32
rounding. Run with the Keras peer's venv (see ../shared/peers/README.md):

    python benchmarks/keras_equivalence.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

KERAS_SIDE = r"""
import json, sys, numpy as np, tensorflow as tf
tf.keras.utils.set_random_seed(1)
(X, _), _ = tf.keras.datasets.fashion_mnist.load_data()
X_valid, X_train = X[:5000] / 255.0, X[5000:] / 255.0
encoder = tf.keras.models.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(100, activation="selu"), tf.keras.layers.Dense(30, activation="selu")])
decoder = tf.keras.models.Sequential([tf.keras.layers.Dense(100, input_shape=(30,)),
    tf.keras.layers.Dense(28 * 28, activation="sigmoid"), tf.keras.layers.Reshape((28, 28))])
model = tf.keras.models.Sequential([encoder, decoder])
model.compile(loss=tf.keras.losses.BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(learning_rate=1.5))
np.savez(sys.argv[1], *model.get_weights())
h = model.fit(X_train, X_train, epochs=3, shuffle=False, validation_data=(X_valid, X_valid), verbose=0)
print("RESULT " + json.dumps(h.history))
"""


def main() -> None:
    import autoencode as ae
    from autoencode.training import trainer as trainer_module
    from autoencode.training.setup import fit, make_trainer

    python = os.path.expanduser("~/.venvs/keras-peer/bin/python")
    with tempfile.TemporaryDirectory() as tmp:
        init = Path(tmp) / "init.npz"
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
        proc = subprocess.run(
            [python, "-c", KERAS_SIDE, str(init)], capture_output=True, text=True, env=env
        )
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if not line:
            sys.exit(proc.stderr[-2000:])
        keras = json.loads(line[0][7:])
        weights = np.load(init)
        model = ae.build_model(ae.get_preset("stacked").model)
        with torch.no_grad():  # Keras kernels are (in, out); torch's weights (out, in)
            for i, p in enumerate(model.parameters()):
                w = weights[f"arr_{i}"]
                p.copy_(torch.from_numpy(np.ascontiguousarray(w.T if w.ndim == 2 else w)))
    data = ae.load_dataset("fashion-mnist")
    trainer, placement = make_trainer(model, ae.TrainingConfig(epochs=3), "cpu", progress=False)
    trainer_module.torch.randperm = lambda n, generator=None: torch.arange(
        n
    )  # Keras' shuffle=False
    history = fit(trainer, placement, data.train, data.valid)
    rows = [{"epoch": i + 1, "keras_loss": keras["loss"][i], "ours_loss": h["loss"],
             "keras_val_loss": keras["val_loss"][i], "ours_val_loss": h["val_loss"]}
            for i, h in enumerate(history)]  # fmt: skip
    worst = max(abs(r["keras_loss"] - r["ours_loss"]) for r in rows)
    report = {"epochs": rows, "max_abs_train_loss_difference": worst}
    out = Path(__file__).parent / "results" / "keras_equivalence.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
