"""The run folder: everything a training run leaves, and all that later commands read. This module
owns the format; every command and API function reads and writes a run folder through it.

    runs/<name>/
      config.json          model, training settings, data reference, versions, device
      model.safetensors    the weights after the last finished epoch
      history.csv          one row per epoch
      metrics.json         named sections (METRIC_SECTIONS) that commands add to
      checkpoint/last.safetensors   weights + optimizer + RNG state, for resume
      figures/*.png        (a map's coordinates beside it, .npy)   codings_<split>.npy
      samplers/<name>.safetensors   a density fitted on the codings (tensors + JSON settings)
      search.csv           scores_<data>.csv    pretrain/ (results.csv, summary.json, sweep.json)
      explore*.html        export/*.onnx        report.html

Nothing is pickled. A run folder from someone else is data, never a hazard: its config is checked
field by field, the model is built on the meta device and checked against the weights' header
before any memory is allocated, and every problem is one RunFolderError naming the file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import json
import platform
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from autoencode.data.types import DataRef
from autoencode.errors import AutoencodeError, ConfigError, FileFormatError, RunFolderError
from autoencode.io import (
    Locked,
    csv_text,
    file_lock,
    is_temporary,
    load_tensors,
    read_json,
    remove_stale_temporaries,
    save_tensors,
    shape_mismatch,
    tensor_header,
    write_json,
    write_text,
)
from autoencode.models import legacy, samplers
from autoencode.models.autoencoder import Autoencoder, ModelConfig, build_model, config_from_dict
from autoencode.training.config import TrainingConfig

FORMAT = "autoencode-run/2"
READABLE_FORMATS = ("autoencode-run/1", FORMAT)  # /1: data by name or path, metrics flat
CHECKPOINT = Path("checkpoint") / "last.safetensors"
SAMPLER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
WRITER_LOCK = ".writer"  # held by the one process that trains into the folder
METRICS_LOCK = ".metrics.lock"  # held while a command merges its section into metrics.json

# The sections of metrics.json, and what each holds. A command adds to its own section.
METRIC_SECTIONS = {
    "training": "the last finished epoch: epochs, loss, val_loss and each named term",
    "evaluation": "autoencode evaluate: reconstruction and codings scores on the test split",
    "maps": "autoencode map: seconds and trustworthiness of each map, and its coordinates' file "
    "(coords, coords_sha256), by <method>_<split>",
    "pretraining": "autoencode pretrain: test accuracies, by the number of labels",
    "scoring": "autoencode score: the last score's rule (by), k, fpr and threshold, which "
    "export --part scorer and serve take",
    "samplers": "autoencode fit-sampler: each sampler's kind, validation log-likelihood, "
    "settings chosen and seconds, by its name",
}


@dataclass
class RunConfig:
    """What ``config.json`` holds: what was trained, how, on what data, and where."""

    model: ModelConfig
    training: TrainingConfig
    data: DataRef
    preset: str | None = None
    runtime: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The preset's name, or what the model is without one."""
        return self.preset or self.model.description

    def to_dict(self) -> dict:
        return {"format": FORMAT, "preset": self.preset, "model": self.model.to_dict(),
                "training": self.training.to_dict(), "data": self.data.to_dict(),
                "runtime": self.runtime}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """From ``config.json``, every field checked; a ConfigError says which is wrong."""
        if data.get("format") not in READABLE_FORMATS:
            raise ConfigError(f"not an autoencode run config ({FORMAT})")
        preset, runtime = data.get("preset"), data.get("runtime", {})
        if preset is not None and not isinstance(preset, str):
            raise ConfigError(f"preset must be a string or null, got {preset!r}")
        if not isinstance(runtime, dict):
            raise ConfigError("runtime must be a JSON object")
        for part in ("model", "training", "data"):
            if part not in data:
                raise ConfigError(f"has no {part!r} section")
        model, training = (
            config_from_dict(data["model"]),
            TrainingConfig.from_dict(data["training"]),
        )
        if isinstance(data["model"], dict) and data["model"].get("kind") in legacy.KINDS:
            training.freeze = tuple(legacy.parameter_name(n) for n in training.freeze)
        return cls(model, training, DataRef.from_dict(data["data"]), preset, runtime)


class RunFolder:
    """One run folder on disk: where each file is, and the only code that reads or writes them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- where things are -------------------------------------------------------------------
    config_file = property(lambda self: self.path / "config.json")
    weights_file = property(lambda self: self.path / "model.safetensors")
    history_file = property(lambda self: self.path / "history.csv")
    metrics_file = property(lambda self: self.path / "metrics.json")
    checkpoint_file = property(lambda self: self.path / CHECKPOINT)
    report_file = property(lambda self: self.path / "report.html")
    figures = property(lambda self: self.path / "figures")

    def figure(self, name: str) -> Path:
        return self.figures / f"{name}.png"

    def weights_sha256(self) -> str:
        """The SHA-256 of the weights: what a result computed from them is tied to."""
        import hashlib

        return hashlib.sha256(self.weights_file.read_bytes()).hexdigest()

    def export_file(self, part: str) -> Path:
        return self.path / "export" / f"{part}.onnx"

    def codings_file(self, split: str) -> Path:
        return self.path / f"codings_{split}.npy"

    def map_file(self, method: str, split: str) -> Path:
        """A map's figure; its coordinates are beside it, ``.npy`` for ``.png``."""
        return self.figure(f"map_{method}" + ("" if split == "valid" else f"_{split}"))

    def explore_file(self, split: str) -> Path:
        return self.path / ("explore.html" if split == "valid" else f"explore_{split}.html")

    def explore_pages(self) -> list[Path]:
        """The explorer pages written into the run folder, by name."""
        return sorted(self.path.glob("explore*.html"))

    search_file = property(lambda self: self.path / "search.csv")

    def scores_file(self, data: str) -> Path:
        return self.path / f"scores_{data}.csv"

    def sampler_file(self, name: str) -> Path:
        """Where the sampler called ``name`` is; a name that is not a plain file name (letters,
        digits, ``_ . -``, at most 64) is an AutoencodeError naming the sampler argument."""
        if not isinstance(name, str) or not SAMPLER_NAME.fullmatch(name):
            raise AutoencodeError(f"{{parameter}}: expected a sampler name of letters, digits, "
                                  f"'_', '.' or '-' (at most 64), got {name!r:.70}",
                                  parameter="sampler")  # fmt: skip
        return self.path / "samplers" / f"{name}.safetensors"

    def sampler_names(self) -> list[str]:
        """The samplers fitted on this run's codings, by name."""
        found = (p.stem for p in (self.path / "samplers").glob("*.safetensors"))
        return sorted(name for name in found if SAMPLER_NAME.fullmatch(name))

    def pretrain_file(self, name: str) -> Path:
        """A file of the label sweep: results.csv, summary.json or sweep.json."""
        return self.path / "pretrain" / name

    # -- creating -----------------------------------------------------------------------------
    def is_run(self) -> bool:
        return self.config_file.is_file()

    def create(self, overwrite: bool = False) -> None:
        """Make the folder, empty; an existing run is replaced only with ``overwrite``, and a
        folder that is not a run folder never is (the user's own files)."""
        with self.writer(new=True, overwrite=overwrite):
            pass

    @contextlib.contextmanager
    def writer(self, new: bool = False, overwrite: bool = False) -> Iterator[None]:
        """One writer at a time: an exclusive lock on the folder (``.writer``, released by the
        kernel if the process dies) while inside; a second writer is refused at once, naming
        the holder's pid. Readers take no lock. ``new``: the folder made (and emptied, with
        ``overwrite``) under the lock, as ``create``; else the folder must be there."""
        path = self.path
        if new:
            self._check_replaceable(overwrite)
        elif not path.is_dir():
            raise RunFolderError(f"{path}: not a run folder (no such directory)")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunFolderError(
                f"{path}: cannot create the run folder ({e.strerror or e})"
            ) from None
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(file_lock(path / WRITER_LOCK))
            except Locked as e:
                raise RunFolderError(f"{path}: process {e.pid or '?'} is writing this run; wait "
                                     "for it to end, or choose another folder") from None  # fmt: skip
            remove_stale_temporaries(path)
            if new:
                for entry in path.iterdir():  # all but the lock itself
                    if entry.name != WRITER_LOCK:
                        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            yield

    def _check_replaceable(self, overwrite: bool) -> None:
        path = self.path
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"{path}: exists and is not a folder")
        if path.is_dir() and any(not _leftover(e.name) for e in path.iterdir()):
            if not overwrite:
                raise RunFolderError(f"{path}: run folder exists; continue it with resume, "
                                     "or replace it with {parameter}", parameter="overwrite")  # fmt: skip
            if not self.is_run():
                raise RunFolderError(f"{path}: not a run folder (no config.json); "
                                     "{parameter} only replaces run folders", parameter="overwrite")  # fmt: skip

    # -- config -------------------------------------------------------------------------------
    def read_config(self) -> RunConfig:
        if not self.path.is_dir():
            raise RunFolderError(f"{self.path}: not a run folder (no such directory)")
        entries = [e.name for e in self.path.iterdir()]
        if WRITER_LOCK in entries and all(_leftover(name) for name in entries):
            raise RunFolderError(f"{self.path}: training stopped before it wrote its config; "
                                 "nothing to resume (train it again with --overwrite)")  # fmt: skip
        with _in_run_folder():
            data = read_json(self.config_file)
        try:
            return RunConfig.from_dict(data)
        except ConfigError as e:
            raise RunFolderError(f"{self.config_file}: {e}") from None

    def write_config(self, config: RunConfig) -> None:
        write_json(self.config_file, config.to_dict())

    # -- after each epoch ---------------------------------------------------------------------
    def save_epoch(self, weights: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                   meta: dict, history: list[dict]) -> None:  # fmt: skip
        """The weights, the resumable checkpoint, the history and the training metrics."""
        self.save_checkpoint(weights, state, meta)
        save_tensors(self.weights_file, weights, {"epoch": len(history)})
        write_text(self.history_file, csv_text(history))
        last = {k: v for k, v in history[-1].items() if k not in ("epoch", "seconds")}
        self.record("training", {"epochs": len(history), **last})

    def save_checkpoint(self, weights: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                        meta: dict) -> None:  # fmt: skip
        """The resumable checkpoint alone (written inside an epoch too): weights, optimizer,
        RNG states, and where training is."""
        checkpoint = {**state, **{f"model.{k}": v for k, v in weights.items()}}
        save_tensors(self.checkpoint_file, checkpoint, meta)

    def read_history(self) -> list[dict]:
        if not self.history_file.is_file():
            return []
        try:
            with open(self.history_file, newline="", encoding="utf-8") as f:
                rows = [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()}
                        for row in csv.DictReader(f)]  # fmt: skip
        except (ValueError, TypeError, UnicodeDecodeError, csv.Error) as e:
            raise RunFolderError(f"{self.history_file}: not a readable history ({e})") from None
        if [row.get("epoch") for row in rows] != list(range(1, len(rows) + 1)):
            raise RunFolderError(
                f"{self.history_file}: expected one row per epoch, numbered from 1"
            )
        return rows

    # -- samplers -----------------------------------------------------------------------------
    def save_sampler(self, name: str, sampler: torch.nn.Module, info: dict) -> Path:
        """A fitted sampler as one safetensors file (its settings and ``info`` in the header),
        and ``info`` in metrics.json's ``samplers`` section."""
        tensors, meta = samplers.state(sampler)
        path = save_tensors(self.sampler_file(name), tensors, {**meta, "fit": info})
        self.record("samplers", {**info, "file": str(path.relative_to(self.path))}, key=name)
        return path

    def load_sampler(self, name: str) -> tuple[torch.nn.Module, dict]:
        """A sampler saved by ``save_sampler``, and what its fit measured: its settings checked
        and its tensors' shapes checked against them before they are read."""
        path = self.sampler_file(name)
        if not path.is_file():
            have = ", ".join(self.sampler_names()) or "none"
            raise RunFolderError(f"{path}: no sampler {name!r} (this run has: {have}); fit one "
                                 "with autoencode fit-sampler")  # fmt: skip
        with _in_run_folder():
            shapes, meta = tensor_header(path)
            try:
                _, _, expected = samplers.expected_shapes(meta)
                if problem := shape_mismatch(shapes, expected):
                    raise RunFolderError(f"{path}: {problem}")
                tensors, _ = load_tensors(path, expected)
                sampler = samplers.from_state(tensors, meta)
            except ConfigError as e:
                raise RunFolderError(f"{path}: {e}") from None
        fit = meta.get("fit") if isinstance(meta.get("fit"), dict) else {}
        return sampler, fit

    # -- weights ------------------------------------------------------------------------------
    def load_model(self, config: RunConfig, device: str | torch.device = "cpu",
                   history: list[dict] | None = None) -> Autoencoder:  # fmt: skip
        """The trained model: built on the meta device, its shapes checked against the weights'
        header, then given memory on ``device`` and filled."""
        if not self.history_file.exists() and not self.weights_file.exists():
            self.check_started()  # stopped inside its first epoch
        model = self.build_model(config, device="meta")
        with _in_run_folder():
            shapes, meta = legacy_names(tensor_header(self.weights_file))
            self._check_whole(meta, self.read_history() if history is None else history)
            self._check_fits(self.weights_file, shapes, _shapes(model))
            weights, _ = legacy_names(load_tensors(self.weights_file))
        # the loaded tensors take the meta ones' places (to_empty would cost torch's symbolic
        # shapes, imported on first use: 0.7 s), then move to the device
        model.load_state_dict(weights, assign=True)
        return model.to(device).eval()

    def build_model(
        self, config: RunConfig, device: str | torch.device | None = None
    ) -> Autoencoder:
        """The model config.json describes, freshly built; over the size limits, or unable to
        take its own input shape, it is a RunFolderError naming config.json. A config that
        passed the whole check once is remembered (``_checked``) and later only counted."""
        verdict = _checked(config.model)
        known = verdict.is_file()
        try:
            model = build_model(config.model, device, checked=known)
        except ConfigError as e:
            raise RunFolderError(f"{self.config_file}: {e}") from None
        if not known:
            with contextlib.suppress(OSError):  # a cache that cannot be written costs time only
                verdict.parent.mkdir(parents=True, exist_ok=True)
                verdict.touch()
        return model

    def _check_whole(self, weights_meta: dict | None, history: list[dict]) -> None:
        """The weights and the history of one epoch: a process stopped between their writes
        leaves the weights an epoch ahead, which a resume puts right."""
        epoch = weights_meta.get("epoch") if isinstance(weights_meta, dict) else None
        if isinstance(epoch, int) and self.history_file.exists():
            rows = len(history)
            if epoch != rows:
                raise RunFolderError(
                    f"{self.path}: its epoch {max(epoch, rows)} was written only in part "
                    f"(model.safetensors holds epoch {epoch}, history.csv {rows} rows); "
                    f"continue with: autoencode train --resume {self.path}"
                )

    def check_started(self) -> None:
        """A run stopped inside its first epoch says what can be done: resume it from its
        checkpoint, or (stopped before the first one) train it again."""
        if self.checkpoint_file.exists():
            raise RunFolderError(f"{self.path}: no epoch finished yet, but it holds a checkpoint "
                                 f"(continue with: autoencode train --resume {self.path})")  # fmt: skip
        raise RunFolderError(f"{self.path}: training stopped before its first checkpoint; "
                             "nothing to resume (train it again with --overwrite)")  # fmt: skip

    def read_checkpoint(self, model: Autoencoder) -> tuple[dict[str, torch.Tensor], dict]:
        """The checkpoint's tensors and metadata, its model weights checked against ``model``."""
        with _in_run_folder():
            shapes, meta = legacy_names(tensor_header(self.checkpoint_file))
            weights = {k: v for k, v in shapes.items() if k.startswith("model.")}
            self._check_fits(self.checkpoint_file, weights, _shapes(model, "model."))
            if not isinstance(meta, dict) or not {"history", "optimizer"} <= set(meta):
                raise RunFolderError(f"{self.checkpoint_file}: has no trainer state")
            tensors, _ = legacy_names(load_tensors(self.checkpoint_file))
        return tensors, meta

    @staticmethod
    def _check_fits(path: Path, found: dict, expected: dict) -> None:
        if problem := shape_mismatch(found, expected):
            raise RunFolderError(f"{path}: does not fit config.json ({problem})")

    # -- metrics ------------------------------------------------------------------------------
    def read_metrics(self) -> dict[str, dict]:
        """metrics.json by section (a first-format file, with flat keys, is read into sections)."""
        if not self.metrics_file.is_file():
            return {}
        with _in_run_folder():
            metrics = read_json(self.metrics_file)
        if all(k in METRIC_SECTIONS and isinstance(v, dict) for k, v in metrics.items()):
            return metrics
        return _sections_from_flat(metrics)

    def record(self, section: str, values: dict, key: str | None = None) -> None:
        """Merge ``values`` into a section of metrics.json (under ``key`` in it, if given)."""
        if section not in METRIC_SECTIONS:
            raise ValueError(f"unknown metrics section {section!r}")  # a bug, not user input
        with file_lock(self.path / METRICS_LOCK, wait=True):  # two commands merging at once
            metrics = self.read_metrics()
            part = metrics.setdefault(section, {})
            if key is None:
                part.update(values)
            else:
                part[key] = values
            write_json(self.metrics_file, metrics)


def _checked(model: ModelConfig) -> Path:
    """Where the user cache remembers that a model config passed ``base.check_cost``: a file
    named by the SHA-256 of the config, the limits and the library's version (only a pass is
    remembered; a config that fails is checked, and refused, every time)."""
    from autoencode import __version__
    from autoencode.data.sources import cache_root
    from autoencode.models.base import MAX_ACTIVATIONS, MAX_PARAMETERS

    key = json.dumps([model.to_dict(), MAX_PARAMETERS, MAX_ACTIVATIONS, __version__, torch.__version__],
                     sort_keys=True)  # fmt: skip
    return cache_root() / "checked-models" / hashlib.sha256(key.encode()).hexdigest()


def _leftover(name: str) -> bool:
    """The lock, or a temporary file of a write: what a training killed at once leaves."""
    return name == WRITER_LOCK or is_temporary(name)


def legacy_names(read: tuple[dict, dict | None]) -> tuple[dict, dict | None]:
    """A weights file's tensors (or their shapes) and metadata, named as today's models name
    them (the older kinds' variational layers: ``models.legacy``)."""
    return legacy.weight_names(read[0]), read[1]


def _shapes(model: torch.nn.Module, prefix: str = "") -> dict[str, tuple[int, ...]]:
    return {prefix + k: tuple(v.shape) for k, v in model.state_dict().items()}


@contextlib.contextmanager
def _in_run_folder():
    """A file of the run folder that cannot be read is a RunFolderError (the CLI's exit 2)."""
    try:
        yield
    except RunFolderError:
        raise
    except FileFormatError as e:
        raise RunFolderError(str(e)) from None


def _sections_from_flat(metrics: dict) -> dict[str, dict]:
    """The first format's keys (``loss``, ``map_tsne_valid``, ``pretraining_500``, ...) by section."""
    sections: dict[str, dict] = {}
    for key, value in metrics.items():
        if key == "evaluation" and isinstance(value, dict):
            sections["evaluation"] = value
        elif key.startswith("map_"):
            sections.setdefault("maps", {})[key.removeprefix("map_")] = value
        elif key.startswith("pretraining_"):
            sections.setdefault("pretraining", {})[key.removeprefix("pretraining_")] = value
        else:
            sections.setdefault("training", {})[key] = value
    return sections


class RunWriter:
    """A trainer callback: the config when training starts, then after each epoch the weights,
    checkpoint, history and training metrics (on the process that writes)."""

    def __init__(self, folder: RunFolder, config: RunConfig):
        self.folder, self.config = folder, config

    def on_fit_start(self, trainer) -> None:
        self.config.runtime = runtime_info(
            trainer.device, torch.get_num_threads(), trainer.world.size
        )
        self.folder.write_config(self.config)

    def on_epoch_end(self, trainer, row: dict) -> None:
        state, meta = trainer.state()
        self.folder.save_epoch(trainer.model.state_dict(), state, meta, trainer.history)

    def on_checkpoint(self, trainer, tensors: dict, position: dict) -> None:
        """A checkpoint inside an epoch: the folder's finished epochs stay as they are."""
        state, meta = trainer.state()
        self.folder.save_checkpoint(trainer.model.state_dict(), {**state, **tensors},
                                    {**meta, "position": position})  # fmt: skip


def runtime_info(device: torch.device, threads: int, processes: int) -> dict:
    from autoencode import __version__

    return {
        "device": str(device), "threads": threads, "processes": processes,
        "autoencode": __version__, "torch": torch.__version__, "python": platform.python_version(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
