"""Training in one call: a preset (or configs), a dataset, a run folder; and resuming one."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import torch

from autoencode.data.datasets import load_dataset
from autoencode.data.types import Dataset
from autoencode.errors import AutoencodeError, ConfigError, RunFolderError
from autoencode.models.autoencoder import ModelConfig, build_model, config_from_dict
from autoencode.models.legacy import note, weight_names, with_settings
from autoencode.presets import get_preset
from autoencode.run import Run
from autoencode.runfolder import RunConfig, RunFolder, RunWriter
from autoencode.training import distributed
from autoencode.training.callbacks import Callback
from autoencode.training.config import TrainingConfig
from autoencode.training.device import resolve_device
from autoencode.training.preemption import Every
from autoencode.training.setup import fit, make_trainer


def train(  # long: half of it is the signature and the docstring
    preset: str | None = "stacked",
    data: Dataset | str | Path | None = None,
    out: str | Path | None = None,
    *,
    model: ModelConfig | dict | None = None,
    training: TrainingConfig | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    data_dir: str | Path | None = None,
    train_size: int | None = None,
    valid_size: int | None = None,
    weights: dict[str, torch.Tensor] | None = None,
    callbacks: Sequence[Callback] = (),
    tensorboard: str | Path | None = None,
    mlflow: str | None = None,
    checkpoint_every: str | int | None = None,
    **overrides,
) -> Run:
    """Train a model and write its run folder; returns its :class:`Run` (the trained model).

    ``preset`` names the model and training settings (see ``autoencode.PRESETS``). ``model`` is
    a whole model config, or a dict of settings that change the preset's (``{"encoder.units":
    (200, 50)}``); ``training`` replaces the training settings, and keyword ``overrides``
    (``epochs=5``, ``lr=0.5``, ``optimizer="adam"``) change single ones. ``data`` is a Dataset, or
    a name or path for :func:`load_dataset`; ``train_size`` / ``valid_size`` keep only the first
    examples of those splits; ``weights`` (a state dict) replace the initial weights;
    ``callbacks`` see every step (``ae.Callback``); ``tensorboard``: a folder for TensorBoard's
    event files (``ae.TensorBoardLogger`` on the validation split); ``mlflow``: an MLflow tracking
    URI (``"sqlite:///mlflow.db"``) to record the run in (``ae.MLflowLogger``);
    ``checkpoint_every``: also write the resumable checkpoint inside epochs, every that many
    steps (``500``) or that long (``"10m"``). SIGTERM or SIGUSR1 during training writes one
    after the current step and raises ``ae.Preempted``; :func:`resume` goes on from there.

    >>> run = train("stacked", load_dataset("fashion-mnist"), "runs/stacked", epochs=10)
    """
    every = Every.parse(checkpoint_every)  # a malformed one is refused before anything is written
    data = _dataset(data, data_dir).subset(train_size, valid_size)
    model_config, training = resolve(preset, model, training, overrides, data.image_shape)
    if tensorboard is not None:
        from autoencode.training.tensorboard import TensorBoardLogger

        callbacks = [*callbacks, TensorBoardLogger(tensorboard, data.valid)]
    if mlflow is not None:
        from autoencode.training.mlflow_logger import MLflowLogger

        callbacks = [*callbacks, MLflowLogger(mlflow)]
    return _train(preset, model_config, training, data, out, device=device, threads=threads,
                  progress=progress, overwrite=overwrite, weights=weights,
                  callbacks=callbacks, checkpoint_every=every)  # fmt: skip


def resolve(preset: str | None, model: ModelConfig | dict | None,
            training: TrainingConfig | None, overrides: dict,
            image_shape: tuple[int, int, int]) -> tuple[ModelConfig, TrainingConfig]:  # fmt: skip
    """The model and training settings a call asks for, once: the preset's (or the defaults),
    changed by ``model``, ``training`` and ``overrides``; the model sized to the images."""
    chosen = get_preset(preset) if preset else None
    model_config = _model_config(chosen.model_for(image_shape) if chosen else None, model)
    training = (training or (chosen.training if chosen else TrainingConfig())).with_overrides(
        **overrides
    )
    if tuple(model_config.input_shape) != tuple(image_shape):
        model_config = dataclasses.replace(model_config, input_shape=tuple(image_shape))
    return model_config, training


def _dataset(data: Dataset | str | Path | None, data_dir) -> Dataset:
    if data is None:
        raise AutoencodeError("train() needs a dataset: {parameter}=load_dataset('fashion-mnist')",
                              parameter="data")  # fmt: skip
    return load_dataset(data, data_dir)


def _train(preset: str | None, model_config: ModelConfig, training: TrainingConfig,
           data: Dataset, out, *, device: str = "auto", threads: int | None = None,
           progress: bool = True, overwrite: bool = False, weights=None,
           callbacks: Sequence[Callback] = (), checkpoint_every: Every | None = None) -> Run:  # fmt: skip
    """Train resolved settings into a new run folder."""
    folder = RunFolder(out if out is not None else default_run_path(preset or model_config.kind))
    world, _ = distributed.join(resolve_device(device))
    # under torchrun, rank 0 alone touches the folder: it holds the writer's lock
    with folder.writer(new=True, overwrite=overwrite) if world.main else contextlib.nullcontext():
        distributed.barrier(world)
        config = RunConfig(model_config, training, data.ref, preset)
        torch.manual_seed(training.seed)  # the weights and any sampling; shuffling its own
        network = _with_weights(build_model(model_config), weights)
        return _fit(folder, config, network, data, device, threads, progress,
                    callbacks=callbacks, checkpoint_every=checkpoint_every)  # fmt: skip


def _with_weights(network, weights: dict[str, torch.Tensor] | None):
    """``network`` with the given initial weights (a state dict); ones that do not fit, an error."""
    if weights is not None:
        try:
            network.load_state_dict(weight_names(weights))  # an older VAE's too
        except RuntimeError as e:
            last = str(e).strip().splitlines()[-1].strip()
            raise ConfigError(f"{{parameter}} do not fit the model ({last})",
                              parameter="weights") from None  # fmt: skip
    return network


def _model_config(base: ModelConfig | None, model: ModelConfig | dict | None) -> ModelConfig:
    """The preset's model config, replaced by a whole config or changed by a dict of settings
    (a dotted key changes a setting of one part: ``{"objective.beta": 2}``; the older flat
    names, ``{"encoder_units": (200, 50)}``, still work: ``models.legacy``)."""
    if isinstance(model, ModelConfig):
        return model
    if base is None:
        if not isinstance(model, dict) or "kind" not in model:
            raise ConfigError("without a preset, {parameter} must be a model config "
                              "(or a dict with its kind)", parameter="model")  # fmt: skip
        return config_from_dict(model)
    try:
        return config_from_dict(with_settings(base.to_dict(), model or {}))
    except ConfigError as e:  # named as the user wrote it
        raise ConfigError(e.message + note(model or {}), e.parameter) from None


def resume(path: str | Path | Run, data: Dataset | str | Path | None = None, *,
           epochs: int | None = None, device: str = "auto", threads: int | None = None,
           progress: bool = True, data_dir: str | Path | None = None,
           checkpoint_every: str | int | None = None) -> Run:  # fmt: skip
    """Continue an interrupted run from its checkpoint (the last finished epoch, or the step
    inside an epoch where a signal stopped it) to ``epochs`` if given, on the data its config
    records unless ``data`` is given; the result is the uninterrupted run's."""
    every = Every.parse(checkpoint_every)
    folder = RunFolder(path.path if isinstance(path, Run) else path)
    with folder.writer() if distributed.main_from_env() else contextlib.nullcontext():
        return _resume(folder, data, epochs, device, threads, progress, data_dir, every)


def _resume(folder: RunFolder, data, epochs, device, threads, progress, data_dir, every) -> Run:
    config = folder.read_config()
    if epochs is not None:
        config.training = config.training.with_overrides(epochs=epochs)
    data = load_dataset(data if data is not None else config.data, data_dir)
    data = data.subset(config.data.train_size, config.data.valid_size)  # the sizes it trained on
    if not folder.checkpoint_file.exists() and not folder.history_file.exists():
        folder.check_started()
    model = folder.build_model(config)
    tensors, meta = folder.read_checkpoint(model)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    return _fit(folder, config, model, data, device, threads, progress, (tensors, meta),
                checkpoint_every=every)  # fmt: skip


def _fit(folder: RunFolder, config: RunConfig, model, data: Dataset, device, threads, progress,
         state=None, callbacks: Sequence[Callback] = (),
         checkpoint_every: Every | None = None) -> Run:  # fmt: skip
    trainer, placement = make_trainer(model, config.training, device, threads, progress,
                                      [RunWriter(folder, config), *callbacks])  # fmt: skip
    trainer.run_path = folder.path
    if state is not None:
        try:
            trainer.load_state(*state)
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            raise RunFolderError(
                f"{folder.checkpoint_file}: does not fit config.json ({e})"
            ) from None
    trainer.checkpoint_every = checkpoint_every
    with trainer.stop_request.handling():  # SIGTERM / SIGUSR1: a checkpoint, then Preempted
        history = fit(trainer, placement, data.train, data.valid)
    # the trained model itself, laid out as a loaded one is (its outputs are load_run's)
    model.zero_grad(set_to_none=True)
    model = model.eval().requires_grad_(True).to(memory_format=model.memory_format)
    return Run(folder.path, config, model, [dict(row) for row in history])


def default_run_path(name: str) -> Path:
    return Path("runs") / f"{name}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def train_greedy(preset: str | None = "stacked", data: Dataset | str | Path | None = None,
                 out: str | Path | None = None, *, model: ModelConfig | dict | None = None,
                 training: TrainingConfig | None = None, **options) -> Run:  # fmt: skip
    """Greedy layer-wise training of a dense autoencoder, one layer pair at a time (Hands-On
    ML's "training one autoencoder at a time", on the images throughout).

    Phase 1 trains the outermost encoder layer with the decoder's output layer; each next phase
    adds the next pair inside them and trains it with the layers of earlier phases frozen; the
    last phase is the whole model, written to ``out`` (its config lists the frozen parameters,
    so a resume keeps them frozen; train the run further without ``freeze`` to fine-tune).
    Every phase trains ``epochs`` epochs. Other arguments as :func:`train`.
    """
    import tempfile

    if distributed.world_size_from_env() > 1:  # each rank would train its phases elsewhere
        raise ConfigError("greedy layer-wise training runs in one process, not under torchrun")
    data = _dataset(data, options.pop("data_dir", None))  # once, not once a phase
    data = data.subset(options.pop("train_size", None), options.pop("valid_size", None))
    fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    overrides = {k: options.pop(k) for k in list(options) if k in fields}
    if unknown := set(options) - {"device", "threads", "progress", "overwrite"}:
        raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
    full, base = resolve(preset, model, training, overrides, data.image_shape)  # base.seed draws
    out = Path(out) if out is not None else default_run_path(preset or full.kind)  # every phase
    RunFolder(out).create(options.get("overwrite", False))  # before any phase trains
    phases, run, done = greedy_phases(full), None, []
    with tempfile.TemporaryDirectory() as tmp:
        for i, config in enumerate(phases, 1):
            torch.manual_seed(base.seed)
            fresh = build_model(config)  # the layers of the phase before copied in and frozen
            frozen = _copy_trained_layers(run.model, fresh) if run is not None else ()
            where = out if i == len(phases) else Path(tmp) / f"phase-{i}"
            run = _train(preset, config, base.with_overrides(freeze=frozen), data, where,
                         weights=fresh.state_dict(), **options)  # fmt: skip
            done.append({"phase": i, "frozen": list(frozen), **run.history[-1]})
    run.folder.record("training", {"greedy_phases": done})
    return run


def greedy_phases(config: ModelConfig) -> list[ModelConfig]:
    """The model of each phase: the first k encoder layers and their mirror in the decoder."""
    from autoencode.models.parts import DenseDecoder, DenseEncoder

    encoder, decoder = config.encoder, config.decoder
    units = encoder.units if isinstance(encoder, DenseEncoder) else ()
    if (isinstance(decoder, DenseDecoder) and not decoder.tied and units
            and tuple(decoder.units) == tuple(reversed(units[:-1]))):  # fmt: skip
        return [dataclasses.replace(config, encoder=_phase_encoder(encoder, k, len(units)),
                                    decoder=dataclasses.replace(decoder, units=tuple(reversed(units[: k - 1]))))
                for k in range(1, len(units) + 1)]  # fmt: skip
    raise ConfigError("greedy layer-wise training needs a dense encoder and an untied dense "
                      "decoder that mirrors it (decoder units = encoder units reversed, "
                      "without the codings)")  # fmt: skip


def _phase_encoder(encoder, k: int, layers: int):
    """The first ``k`` encoder layers; the codings' own activation only on the last phase's."""
    coding_activation = encoder.coding_activation if k == layers else None
    return dataclasses.replace(
        encoder, units=encoder.units[:k], coding_activation=coding_activation
    )


def _copy_trained_layers(trained, model) -> tuple[str, ...]:
    """Copy a phase's dense layers into the next phase's model (the encoder's from the input
    side, the decoder's from the output side); returns the names of the copied parameters."""
    from autoencode.models.layers import Dense

    def dense(part):
        return [m for m in part.modules() if isinstance(m, Dense)]

    names = {id(p): n for n, p in model.named_parameters()}
    pairs = list(zip(dense(trained.encoder), dense(model.encoder), strict=False))
    old, new = dense(trained.decoder), dense(model.decoder)
    pairs += list(zip(old, new[len(new) - len(old) :], strict=True))
    copied = []
    with torch.no_grad():
        for source, target in pairs:
            for p_source, p_target in zip(source.parameters(), target.parameters(), strict=True):
                p_target.copy_(p_source)
                copied.append(names[id(p_target)])
    return tuple(copied)
