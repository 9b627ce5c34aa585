"""The model kinds before every model was an autoencoder of parts, and their setting names.

Run folders written before issue 19 name a kind of their own (``stacked``, ``conv``, ``vae``) with
flat settings (``encoder_units``, ``filters``, ``hidden``, ...). Each kind is a configuration of
parts; its settings are aliases of part settings, which ``--model encoder_units=200,50`` and
``train(model={"kl_weight": ...})`` may still use. The weights keep their names, but for the
variational layers, which moved under ``head``.
"""

from __future__ import annotations

from autoencode.errors import ConfigError

KINDS = {  # an older kind: the parts it was, with its defaults
    "stacked": {"encoder": {"kind": "dense", "units": [100, 30]},
                "decoder": {"kind": "dense", "units": [100], "activation": "linear"},
                "objective": {"kind": "reconstruction"}},
    "conv": {"encoder": {"kind": "conv"}, "decoder": {"kind": "conv"},
             "objective": {"kind": "reconstruction"}},
    "vae": {"encoder": {"kind": "dense", "units": [150, 100]},
            "decoder": {"kind": "dense", "units": [100, 150], "activation": "selu"},
            "objective": {"kind": "variational", "codings": 10}},
}  # fmt: skip

# an older setting: the part settings it sets (the decoder mirrors a VAE's hidden layers)
ALIASES = {
    "encoder_units": ("encoder.units",),
    "decoder_units": ("decoder.units",),
    "decoder_activation": ("decoder.activation",),
    "filters": ("encoder.filters",),
    "kernel_size": ("encoder.kernel_size", "decoder.kernel_size"),
    "hidden": ("encoder.units", "decoder.units reversed"),
    "codings": ("objective.codings",),
    "kl_weight": ("objective.beta",),
}


def translate(data: dict) -> dict:
    """A model config's dict in today's form; one of an older kind is translated."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        return data
    config = {"kind": "autoencoder", **{k: dict(v) for k, v in KINDS[kind].items()}}
    settings = {k: v for k, v in data.items() if k != "kind"}
    if "input_shape" in settings:
        config["input_shape"] = settings.pop("input_shape")
    return with_settings(config, settings, f"{kind} model")


def with_settings(config: dict, settings: dict, what: str = "model") -> dict:
    """``config`` (a model config's dict) with ``settings`` changed: a dotted name sets a setting
    of one part (``objective.beta``), an older name its part settings (``encoder_units``).
    ``activation`` sets the encoder's and the decoder's, but for a model of the stacked kind
    (dense → dense, reconstruction), whose decoder has its own (``decoder_activation``)."""
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    ordered = sorted(settings.items(), key=lambda kv: kv[0] != "activation")  # activation first
    for key, value in ordered:
        key = str(key)
        if key == "activation":
            targets = {"encoder.activation": value}
            if not _stacked(config):
                targets["decoder.activation"] = value
        elif key in ALIASES:
            targets = {path.split()[0]: _reversed(value, key) if path.endswith(" reversed")
                       else value for path in ALIASES[key]}  # fmt: skip
        else:
            targets = {key: value}
        for path, item in targets.items():
            _set(config, path, item, what)
    return config


def _stacked(config: dict) -> bool:
    kinds = [
        part.get("kind") if isinstance(part, dict) else None
        for part in (config.get("encoder"), config.get("decoder"), config.get("objective"))
    ]
    return kinds == ["dense", "dense", "reconstruction"]


def note(settings: dict) -> str:
    """What the older setting names among ``settings`` stand for, for an error message."""
    said = [f"{k} is {' and '.join(p.split()[0] for p in ALIASES[k])}"
            for k in settings if k in ALIASES]  # fmt: skip
    return f" ({'; '.join(said)})" if said else ""


def _reversed(value, key: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key} must be a list of integers, got {value!r}"[:200])
    return list(reversed(value))


def _set(config: dict, path: str, value, what: str) -> None:
    *parents, name = path.split(".")
    place = config
    for parent in parents:
        if not isinstance(place.get(parent), dict):
            raise ConfigError(f"{{parameter}}: {path!r} names no setting of the {what}",
                              parameter="model")  # fmt: skip
        place = place[parent]
    place[name] = value


def parameter_name(name: str) -> str:
    """A parameter's (or its prefix's) name as today's models name it: the older variational
    layers (``mean``, ``log_var``, also behind a checkpoint's ``model.``) are under ``head``."""
    prefix, rest = ("model.", name[6:]) if name.startswith("model.") else ("", name)
    if rest in ("mean", "log_var") or rest.startswith(("mean.", "log_var.")):
        rest = "head." + rest
    return prefix + rest


def weight_names(tensors: dict) -> dict:
    """Tensors (or their shapes) by today's parameter names."""
    return {parameter_name(name): value for name, value in tensors.items()}
