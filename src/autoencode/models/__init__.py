"""Models: the contract (``base``), layers, parts (encoders, decoders, objectives) and the one
model they make (``autoencoder``); ``legacy`` reads the kinds of older run folders."""

from autoencode.models.autoencoder import Autoencoder, ModelConfig, build_model, config_from_dict
from autoencode.models.base import Output

__all__ = ["Autoencoder", "ModelConfig", "Output", "build_model", "config_from_dict"]
