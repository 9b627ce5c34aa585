"""``autoencode summary``: the seed's ``model.summary()`` table."""

from __future__ import annotations

from autoencode.run import load_run


def summary(target) -> str:
    """The seed's ``model.summary()`` table of a model, a preset (by name), a Run or a run folder."""
    from torch import nn

    from autoencode.models.autoencoder import build_model
    from autoencode.models.summary import summary as model_summary
    from autoencode.presets import PRESETS, get_preset

    if isinstance(target, nn.Module):
        return model_summary(target)
    if isinstance(target, str) and target in PRESETS:
        return model_summary(build_model(get_preset(target).model))
    return model_summary(load_run(target).model)
