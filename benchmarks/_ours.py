"""One training run of ours, timed, printing ``RESULT {json}`` like the Keras peer does.

Run by ``seed_vs_keras.py`` in a process of its own, so that its peak RSS is its own.
Usage: python _ours.py PRESET EPOCHS SEED [extra train() keyword JSON]   (EPOCHS 0: the preset's)
"""

import json
import resource
import sys
import tempfile
import time

import torch  # noqa: F401  imported before the clock starts, as the peer imports TensorFlow

import autoencode as ae

preset, epochs, seed = sys.argv[1], int(sys.argv[2]) or None, int(sys.argv[3])
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
t0 = time.perf_counter()
data = ae.load_dataset("fashion-mnist")
load_s = time.perf_counter() - t0
with tempfile.TemporaryDirectory() as out:
    t = time.perf_counter()
    run = ae.train(
        preset, data, out, epochs=epochs, seed=seed, progress=False, overwrite=True, **extra
    )
    fit_s = time.perf_counter() - t
last = run.history[-1]
result = {
    "preset": preset,
    "epochs": len(run.history),
    "seed": seed,
    "load_s": load_s,
    "fit_s": fit_s,
    "s_per_epoch": fit_s / len(run.history),
    "val_loss": last["val_loss"],
    "threads": run.config.runtime["threads"],
    "device": run.config.runtime["device"],
    "params": sum(p.numel() for p in run.model.parameters()),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "history": [{"val_loss": r["val_loss"], "seconds": r["seconds"]} for r in run.history],
}
print("RESULT " + json.dumps(result))
