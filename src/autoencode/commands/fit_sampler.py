"""``autoencode fit-sampler``: a density fitted on a run's codings, so that any run generates."""

from __future__ import annotations

from pathlib import Path

from autoencode.analysis import samplers
from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError
from autoencode.run import Run, load_run
from autoencode.runfolder import SAMPLER_NAME


def fit_sampler(run: Run | str | Path, sampler: str = "gmm", *, name: str | None = None,
                components: int | None = None, data: Dataset | str | None = None,
                seed: int = 0, data_dir=None) -> dict:  # fmt: skip
    """Fit a sampler of kind ``sampler`` (``gmm``, ``flow``, or ``codes`` for a VQ model) on the
    codings of the run's training split, choosing and stopping on its validation split, and save
    it as RUN/samplers/<name>.safetensors (``name`` defaults to the kind). Returns what the fit
    measured: the validation log-likelihood in nats per image, the settings it chose, seconds."""
    run = load_run(run)
    name = name or sampler
    if not isinstance(name, str) or not SAMPLER_NAME.fullmatch(name) or name == "prior":
        raise AutoencodeError(f"{{parameter}}: expected a name of letters, digits, '_', '.' or "
                              f"'-' (at most 64) other than 'prior' (the objective's own), got "
                              f"{name!r:.70}", parameter="name")  # fmt: skip
    if sampler not in samplers.KINDS:
        raise AutoencodeError(f"{{parameter}}: expected one of {', '.join(samplers.KINDS)}, "
                              f"got {sampler!r}", parameter="sampler")  # fmt: skip
    dataset = run.load_dataset(data_dir, data=data)
    if dataset.valid is None or len(dataset.valid) == 0:
        raise AutoencodeError(f"dataset {dataset.name!r} has no validation split to choose the "
                              "sampler on")  # fmt: skip
    train = run.fitting_codings(dataset.train.images, sampler)
    valid = run.fitting_codings(dataset.valid.images, sampler)
    codebook = len(run.model.head.vectors) if sampler == "codes" else None
    fitted, info = samplers.fit(sampler, train, valid, codebook=codebook, components=components,
                                seed=seed)  # fmt: skip
    info = {"fitted_on": len(train), **info, "seed": seed}
    with run.folder.writer():
        path = run.folder.save_sampler(name, fitted, info)
    return {"name": name, "file": str(path), **info}
