"""A classifier on top of an encoder: the seed's phase 2 of unsupervised pretraining.

    input -> [encoder layers, copied from a trained autoencoder] -> dense -> softmax

It meets the trainer's contract (``forward`` returns named loss terms), taking labels as well.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from autoencode.models.autoencoder import Autoencoder
from autoencode.models.base import Output
from autoencode.models.layers import Dense


class Classifier(nn.Module):
    """``encoder`` (any module from images to codings) + a dense softmax layer."""

    takes_labels = True

    def __init__(self, encoder: nn.Module, input_shape: tuple[int, int, int], n_classes: int,
                 memory_format: torch.memory_format = torch.contiguous_format):  # fmt: skip
        super().__init__()
        self.encoder = encoder
        self.frozen = False
        self.memory_format = memory_format
        device = next(encoder.parameters()).device  # the encoder's own: CUDA, CPU, or meta
        with torch.no_grad():
            features = math.prod(encoder(torch.zeros(1, *input_shape, device=device)).shape[1:])
        # softmax is in the loss (cross-entropy on logits)
        self.head = Dense(features, n_classes).to(device)

    @classmethod
    def from_autoencoder(
        cls, model: Autoencoder, n_classes: int, pretrained: bool = True
    ) -> Classifier:
        """A copy of ``model``'s encoder layers (or the same layers freshly initialised) + a head."""
        encoder = copy.deepcopy(model.encoder_network())
        if not pretrained:
            for module in encoder.modules():
                if module is not encoder and hasattr(module, "reset_parameters"):
                    module.reset_parameters()
                    if hasattr(module, "activation"):  # our layers: Keras' initialisation again
                        from autoencode.models.layers import keras_init_

                        keras_init_(module)
        return cls(encoder, model.config.input_shape, n_classes, model.memory_format)

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Keep the encoder's weights as they are (and its layers in eval mode, so that no
        batch statistics or dropout change it either), or train them again."""
        self.frozen = frozen
        for p in self.encoder.parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        if self.frozen:
            self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Output:
        features = self.encoder(x).flatten(1)
        logits = self.head(features)
        losses = {} if labels is None else {"cross_entropy": F.cross_entropy(logits, labels)}
        return Output(logits, features, losses)
