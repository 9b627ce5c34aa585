"""autoencode: learn compact codings of images with autoencoders, look inside them, use them.

The public API is re-exported here lazily, so that ``import autoencode`` (and the CLI's
``--help``) does not pay for importing torch.

>>> import autoencode as ae
>>> data = ae.load_dataset("fashion-mnist")
>>> run = ae.train("stacked", data, out="runs/stacked")
>>> images = run.reconstruct(data.valid.images[:5])
>>> xy = ae.map_codings(ae.embed(run, data.valid.images), "tsne")
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "AutoencodeError": "autoencode.errors",
    "DataError": "autoencode.errors",
    "ConfigError": "autoencode.errors",
    "RunFolderError": "autoencode.errors",
    "Dataset": "autoencode.data.datasets",
    "Split": "autoencode.data.datasets",
    "load_dataset": "autoencode.data.datasets",
    "read_idx": "autoencode.data.idx",
    "PRESETS": "autoencode.presets",
    "get_preset": "autoencode.presets",
    "build_model": "autoencode.models",
    "ModelConfig": "autoencode.models",
    "TrainingConfig": "autoencode.training.config",
    "Trainer": "autoencode.training.trainer",
    "train": "autoencode.api",
    "load_run": "autoencode.training.runfolder",
    "Run": "autoencode.training.runfolder",
    "summary": "autoencode.models.summary",
    "reconstruction_figure": "autoencode.figures",
    "image_grid_figure": "autoencode.figures",
    "strip_figure": "autoencode.figures",
    "map_figure": "autoencode.figures",
    "save_figure": "autoencode.figures",
    "history_figure": "autoencode.figures",
    "write_report": "autoencode.report",
    "export_onnx": "autoencode.export",
    "embed": "autoencode.analysis.embedding",
    "map_codings": "autoencode.analysis.embedding",
    "evaluate": "autoencode.analysis.evaluation",
    "pretrain": "autoencode.analysis.pretraining",
    "Classifier": "autoencode.models.classifier",
    "trustworthiness": "autoencode.analysis.metrics",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autoencode' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
