"""A trainer callback that records a run in MLflow's tracking store (the optional ``mlflow-skinny``
package, with SQLAlchemy for a ``sqlite:///`` store).

params      the model and training settings as dotted names (``training.lr``, ``model.encoder.units``)
metrics     every named loss term after each epoch (step = the epoch), ``lr`` and ``seconds``;
            ``step/<term>`` the running means every ``every`` steps
artifacts   the run folder once training ends (weights, config, history)
status      FINISHED, FAILED, or KILLED after Ctrl-C or SIGTERM

mlflow ui --backend-store-uri sqlite:///mlflow.db
"""

from __future__ import annotations

import time
from pathlib import Path

from autoencode.errors import AutoencodeError
from autoencode.training.preemption import Preempted
from autoencode.training.tracking import StepLogger, run_settings

PARAM_LENGTH = 6000  # MLflow's limit on a parameter's value
BATCH = 100  # MLflow takes at most 100 parameters in one call


class MLflowLogger(StepLogger):
    """Records training in the MLflow tracking store at ``tracking_uri`` (``sqlite:///mlflow.db``, a
    server's URL; None: MLflow's own default) under ``experiment``; the run folder being trained
    is logged as its artifacts. A new experiment of a ``sqlite:///`` store keeps its artifacts
    in ``mlartifacts/`` beside the database file."""

    def __init__(self, tracking_uri: str | None = None, experiment: str = "autoencode", *,
                 run_name: str | None = None, every: int = 50):  # fmt: skip
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.every = every
        self.client, self.run_id = None, None

    def on_fit_start(self, trainer) -> None:
        try:
            from mlflow import MlflowClient
        except ImportError:
            raise AutoencodeError("the MLflow logger needs the mlflow-skinny package: "
                                  "pip install 'autoencode[mlflow]'") from None  # fmt: skip
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        name = self.run_name or (trainer.run_path.name if trainer.run_path else None)
        run = self.client.create_run(self._experiment_id(), run_name=name,
                                     tags=self._tags(trainer))  # fmt: skip
        self.run_id = run.info.run_id
        self._log(params=self._params(trainer))

    def log_steps(self, trainer, values: dict, step: int) -> None:
        self._log(metrics={f"step/{name}": value for name, value in values.items()}, step=step)

    def on_epoch_end(self, trainer, row: dict) -> None:
        values = {name: value for name, value in row.items() if name != "epoch"}
        values["lr"] = trainer.optimizer.param_groups[0]["lr"]
        self._log(metrics=values, step=row["epoch"])

    def on_fit_end(self, trainer) -> None:
        if trainer.run_path is not None and Path(trainer.run_path).is_dir():
            self.client.log_artifacts(self.run_id, str(trainer.run_path))
        self.client.set_terminated(self.run_id, "FINISHED")

    def on_exception(self, trainer, error: BaseException) -> None:
        if self.run_id is not None:
            stopped = isinstance(error, (KeyboardInterrupt, Preempted))
            status = "KILLED" if stopped else "FAILED"
            self.client.set_terminated(self.run_id, status)

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        uri, location = self.tracking_uri or "", None
        if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
            database = Path(uri.removeprefix("sqlite:///")).resolve()
            location = (database.parent / "mlartifacts").as_uri()
        return self.client.create_experiment(self.experiment, artifact_location=location)

    @staticmethod
    def _tags(trainer) -> dict:
        tags = {"autoencode.device": str(trainer.device)}
        if trainer.run_path is not None:
            tags["autoencode.run_folder"] = str(Path(trainer.run_path).resolve())
        return tags

    @staticmethod
    def _params(trainer) -> dict:
        return {name: str(value)[:PARAM_LENGTH] for name, value in run_settings(trainer).items()}

    def _log(self, *, params: dict | None = None, metrics: dict | None = None, step: int = 0):
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        params = [Param(k, v) for k, v in (params or {}).items()]
        metrics = [Metric(k, float(v), now, step) for k, v in (metrics or {}).items()]
        for start in range(0, max(len(params), len(metrics)), BATCH):  # MLflow's limits a call
            self.client.log_batch(self.run_id, metrics=metrics[start : start + BATCH],
                                  params=params[start : start + BATCH])  # fmt: skip
