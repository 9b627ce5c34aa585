"""``autoencode tune``: a search over a preset's settings with Optuna (the optional ``optuna``).

Each trial is an ordinary run folder (``OUT/trial-0000``, ...). The study lives in
``OUT/study.sqlite``, so a tune that was killed goes on where it stopped: a trial that was
running then is marked failed and its folder removed, and only the trials still wanted run.
Trials are pruned on their validation loss (Optuna's median pruner, through a trainer callback).
At the end: ``OUT/tune.json`` (the best settings and value, every trial, the parameters'
importances) and ``OUT/compare.html`` of the finished trials.

A parameter is ``NAME=SPEC``: NAME a training setting (``lr``, ``batch_size``, ...), a model
setting (``encoder.units``, ``objective.beta``, or an older alias), or ``coding_size`` (the
codings' width: a dense encoder's last layer, a variational objective's codings); SPEC one of
``log:LOW:HIGH`` and ``float:LOW:HIGH`` (a real number), ``int:LOW:HIGH``, ``choice:A,B,...``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from pathlib import Path

from autoencode.data.datasets import load_dataset
from autoencode.errors import AutoencodeError, ConfigError
from autoencode.io import write_json
from autoencode.training.config import TrainingConfig

KINDS = ("log", "float", "int", "choice")


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched setting: its name and how Optuna draws it."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    @classmethod
    def parse(cls, text: str) -> Param:
        """``NAME=KIND:...``; a malformed one is a ConfigError saying what was expected."""
        name, _, spec = text.partition("=")
        kind, _, rest = spec.partition(":")
        expected = (f"{{parameter}}: expected NAME=log:LOW:HIGH, float:LOW:HIGH, int:LOW:HIGH or "
                    f"choice:A,B,..., got {text!r}")  # fmt: skip
        if not name or kind not in KINDS or not rest:
            raise ConfigError(expected, parameter="params")
        if kind == "choice":
            return cls(name, kind, choices=tuple(_scalar(v) for v in rest.split(",")))
        try:
            low, high = (float(v) for v in rest.split(":"))
        except ValueError:
            raise ConfigError(expected, parameter="params") from None
        if not low < high or (kind == "log" and low <= 0) or (kind == "int" and low != int(low)):
            raise ConfigError(f"{{parameter}}: {text!r} needs LOW < HIGH (> 0 for log, whole "
                              "numbers for int)", parameter="params")  # fmt: skip
        return cls(name, kind, low, high)

    def suggest(self, trial):
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")


def _scalar(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class Pruning:
    """A trainer callback: report each epoch's validation loss to the trial, stop when pruned."""

    def __init__(self, trial):
        self.trial, self.pruned = trial, False

    def on_epoch_end(self, trainer, row: dict) -> None:
        self.trial.report(row.get("val_loss", row["loss"]), row["epoch"])
        if self.trial.should_prune():
            self.pruned = trainer.stop = True


def tune(preset: str, data, out: str | Path | None = None, *, trials: int = 20,
         params=(), seed: int = 42, data_dir=None, device: str = "auto",
         progress: bool = False, **overrides) -> dict:  # fmt: skip
    """Search ``params`` (``Param``s or their ``NAME=SPEC`` texts) for the lowest validation
    loss of ``preset`` on ``data`` in ``trials`` trials (those finished in ``out`` count);
    ``overrides`` fix other training settings (``epochs=2``). Returns what ``tune.json`` holds."""
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial: our one line, no trace
    from autoencode.commands.compare import compare
    from autoencode.commands.train import train

    space = [p if isinstance(p, Param) else Param.parse(p) for p in params]
    if not space:
        raise ConfigError("{parameter}: name at least one setting to search", parameter="params")
    data = load_dataset(data if data is not None else "fashion-mnist", data_dir)
    for param in space:  # every name checked before any trial trains
        _settings(preset, param.name, _example(param), data.image_shape)
    out = Path(out) if out is not None else Path("runs") / f"tune-{preset}"
    out.mkdir(parents=True, exist_ok=True)
    study = _study(optuna, out, seed)

    def objective(trial) -> float:
        folder = out / f"trial-{trial.number:04d}"
        model, training = {}, dict(overrides)
        for param in space:
            m, t = _settings(preset, param.name, param.suggest(trial), data.image_shape)
            model |= m
            training |= t
        pruning = Pruning(trial)
        run = train(preset, data, folder, model=model, progress=progress, overwrite=True,
                    device=device, callbacks=[pruning], **training)  # fmt: skip
        if pruning.pruned:
            raise optuna.TrialPruned()
        return run.history[-1].get("val_loss", run.history[-1]["loss"])

    done = [t for t in study.trials if t.state.is_finished() and t.state.name != "FAIL"]
    if len(done) < trials:
        study.optimize(objective, n_trials=trials - len(done))
    return _finish(optuna, study, out, preset, compare)


def _optuna():
    try:
        import optuna
    except ImportError:
        raise AutoencodeError("autoencode tune needs the optuna package: pip install optuna "
                              "(the [tune] extra)") from None  # fmt: skip
    return optuna


def _example(param: Param):
    return param.choices[0] if param.kind == "choice" else (
        int(param.low) if param.kind == "int" else param.low)  # fmt: skip


def _settings(preset: str, name: str, value, image_shape) -> tuple[dict, dict]:
    """A parameter's value as ``train``'s ``model`` settings and training settings."""
    from autoencode.commands.train import resolve

    if name in {f.name for f in dataclasses.fields(TrainingConfig)}:
        TrainingConfig().with_overrides(**{name: value})  # a wrong type is a ConfigError now
        return {}, {name: value}
    if name == "coding_size":
        model, _ = resolve(preset, None, None, {}, image_shape)
        if getattr(model.objective, "codings", None) is not None:  # its own codings layer
            return {"objective.codings": value}, {}
        if model.encoder.kind != "dense":
            raise ConfigError(f"{{parameter}}: coding_size needs a dense encoder or an objective "
                              f"with a codings setting; {preset} has neither", parameter="params")  # fmt: skip
        return {"encoder.units": [*model.encoder.units[:-1], value]}, {}
    try:
        resolve(preset, {name: value}, None, {}, image_shape)
    except ConfigError as e:
        raise ConfigError(f"{{parameter}}: {name!r} is no setting {preset} can search "
                          f"({e})", parameter="params") from None  # fmt: skip
    return {name: value}, {}


def _study(optuna, out: Path, seed: int):
    """The study in ``out/study.sqlite``, made or continued; a trial that was running when the
    tune was killed is marked failed, and its half-written folder removed."""
    path = out / "study.sqlite"
    if path.exists() and not _is_study(path):
        raise AutoencodeError(f"{path}: not an Optuna study; remove it or choose another "
                              "{parameter}", parameter="out")  # fmt: skip
    try:
        storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
        study = optuna.create_study(study_name="autoencode", storage=storage,
                                    load_if_exists=True, direction="minimize",
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=3))  # fmt: skip
    except Exception as e:  # SQLAlchemy's and Optuna's errors alike: a file that is not a study
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise AutoencodeError(f"{path}: not an Optuna study ({first})") from None
    # a tune run again draws on from where it was, not the first trials' settings again
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    for trial in study.trials:
        if trial.state.name == "RUNNING":
            # _trial_id: the storage's key of a trial (Optuna offers no public one)
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            shutil.rmtree(out / f"trial-{trial.number:04d}", ignore_errors=True)
    return study


def _is_study(path: Path) -> bool:
    """An SQLite file with Optuna's tables in it."""
    import sqlite3

    if path.read_bytes()[:16] != b"SQLite format 3\x00":
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        return False
    return {"studies", "trials"} <= tables


def _finish(optuna, study, out: Path, preset: str, compare) -> dict:
    finished = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not finished:
        raise AutoencodeError(f"{out}: no trial finished; try other ranges or more trials")
    best = study.best_trial
    try:
        importances = optuna.importance.get_param_importances(study) if len(finished) > 1 else {}
    except (ValueError, RuntimeError):  # one value for every trial: nothing to attribute
        importances = {}
    result = {
        "preset": preset, "best": {"trial": best.number, "value": best.value, "params": best.params,
                                   "run": str(out / f"trial-{best.number:04d}")},
        "trials": [{"trial": t.number, "state": t.state.name.lower(), "value": t.value,
                    "params": t.params} for t in study.trials],
        "pruned": sum(t.state.name == "PRUNED" for t in study.trials),
        "importances": dict(importances),
    }  # fmt: skip
    if len(finished) > 1:
        runs = [out / f"trial-{t.number:04d}" for t in finished]
        result["compare"] = str(compare(runs, out / "compare.html").path)
    write_json(out / "tune.json", result)
    return result
