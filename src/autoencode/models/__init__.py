"""Models: the contract (``base``), the layers, and one module per architecture."""

from autoencode.models import composed, conv, stacked, variational  # each registers its model
from autoencode.models.base import (
    MODELS,
    Autoencoder,
    ModelConfig,
    Output,
    build_model,
    config_from_dict,
)

__all__ = [
    "MODELS",
    "Autoencoder",
    "ModelConfig",
    "Output",
    "build_model",
    "composed",
    "config_from_dict",
    "conv",
    "stacked",
    "variational",
]
