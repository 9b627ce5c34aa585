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

_EXPORTS = {  # public name: (module, name there)
    "AutoencodeError": ("autoencode.errors", "AutoencodeError"),
    "DataError": ("autoencode.errors", "DataError"),
    "ConfigError": ("autoencode.errors", "ConfigError"),
    "RunFolderError": ("autoencode.errors", "RunFolderError"),
    "Dataset": ("autoencode.data.types", "Dataset"),
    "Split": ("autoencode.data.types", "Split"),
    "DataRef": ("autoencode.data.types", "DataRef"),
    "load_dataset": ("autoencode.data.datasets", "load_dataset"),
    "prepare": ("autoencode.data.preparing", "prepare"),
    "load_prepared": ("autoencode.data.prepared", "load_prepared"),
    "dataset_places": ("autoencode.data.sources", "candidates"),
    "fetch_fashion_mnist": ("autoencode.data.sources", "locate_fashion_mnist"),
    "read_idx": ("autoencode.data.idx", "read_idx"),
    "PRESETS": ("autoencode.presets", "PRESETS"),
    "get_preset": ("autoencode.presets", "get_preset"),
    "build_model": ("autoencode.models", "build_model"),
    "ModelConfig": ("autoencode.models", "ModelConfig"),
    "TrainingConfig": ("autoencode.training.config", "TrainingConfig"),
    "Trainer": ("autoencode.training.trainer", "Trainer"),
    "Callback": ("autoencode.training.callbacks", "Callback"),
    "Preempted": ("autoencode.training.preemption", "Preempted"),
    "TensorBoardLogger": ("autoencode.training.tensorboard", "TensorBoardLogger"),
    "MLflowLogger": ("autoencode.training.mlflow_logger", "MLflowLogger"),
    "train": ("autoencode.commands.train", "train"),
    "resume": ("autoencode.commands.train", "resume"),
    "train_greedy": ("autoencode.commands.train", "train_greedy"),
    "load_run": ("autoencode.run", "load_run"),
    "Run": ("autoencode.run", "Run"),
    "RunFolder": ("autoencode.runfolder", "RunFolder"),
    "summary": ("autoencode.commands.summary", "summary"),
    "save_reconstructions": ("autoencode.commands.reconstruct", "save_reconstructions"),
    "save_samples": ("autoencode.commands.generate", "save_samples"),
    "fit_sampler": ("autoencode.commands.fit_sampler", "fit_sampler"),
    "save_interpolation": ("autoencode.commands.interpolate", "save_interpolation"),
    "save_codings": ("autoencode.commands.embed", "save_codings"),
    "save_map": ("autoencode.commands.map", "save_map"),
    "reconstruction_figure": ("autoencode.figures", "reconstruction_figure"),
    "image_grid_figure": ("autoencode.figures", "image_grid_figure"),
    "strip_figure": ("autoencode.figures", "strip_figure"),
    "map_figure": ("autoencode.figures", "map_figure"),
    "save_figure": ("autoencode.figures", "save_figure"),
    "history_figure": ("autoencode.figures", "history_figure"),
    "write_report": ("autoencode.commands.report", "write_report"),
    "compare": ("autoencode.commands.compare", "compare"),
    "tune": ("autoencode.commands.tune", "tune"),
    "zoo": ("autoencode.commands.zoo", "zoo"),
    "explore": ("autoencode.commands.explore", "explore"),
    "save_search": ("autoencode.commands.search", "save_search"),
    "save_scores": ("autoencode.commands.score", "save_scores"),
    "nearest": ("autoencode.analysis.neighbours", "nearest"),
    "fit_scorer": ("autoencode.analysis.anomaly", "fit_scorer"),
    "precision_at_k": ("autoencode.analysis.search", "precision_at_k"),
    "export_onnx": ("autoencode.commands.export", "export_onnx"),
    "serve": ("autoencode.commands.serve", "serve"),
    "service_app": ("autoencode.commands.serve", "build"),
    "embed": ("autoencode.analysis.embedding", "embed"),
    "map_codings": ("autoencode.analysis.embedding", "map_codings"),
    "evaluate": ("autoencode.commands.evaluate", "evaluate"),
    "pretrain": ("autoencode.commands.pretrain", "pretrain"),
    "SweepSettings": ("autoencode.analysis.pretraining", "SweepSettings"),
    "Classifier": ("autoencode.models.classifier", "Classifier"),
    "trustworthiness": ("autoencode.analysis.metrics", "trustworthiness"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autoencode' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
