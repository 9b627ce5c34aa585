"""Named, documented configurations. The seed's exact ones come first and are never changed.

A preset is a model config plus training settings; every field can be overridden when training.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from autoencode.errors import ConfigError
from autoencode.models.autoencoder import ModelConfig
from autoencode.training.config import TrainingConfig

# The seed's three models as parts: the same layers, built in the same order (Keras' names and
# initialisation; 163,814, 46,529 and 269,504 parameters on 28×28 images).
STACKED = ModelConfig(
    encoder={"kind": "dense", "units": [100, 30]},
    decoder={"kind": "dense", "units": [100], "activation": "linear"},
)
CONV = ModelConfig(encoder={"kind": "conv", "filters": [16, 32, 64]}, decoder={"kind": "conv"})
VAE_ENCODER = {"kind": "dense", "units": [150, 100]}
VAE_DECODER = {"kind": "dense", "units": [100, 150], "activation": "selu"}
VAE = ModelConfig(
    encoder=VAE_ENCODER, decoder=VAE_DECODER, objective={"kind": "variational", "codings": 10}
)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: ModelConfig  # for its input_shape; a sized preset's is what ``sized`` makes of it
    training: TrainingConfig
    # a preset whose layers follow the image: its model for an image shape
    sized: Callable[[tuple[int, int, int]], ModelConfig] | None = None

    def model_for(self, image_shape: tuple[int, int, int]) -> ModelConfig:
        """The preset's model for images of ``image_shape`` ``(C, H, W)``."""
        if self.sized is not None:
            return self.sized(tuple(image_shape))
        return dataclasses.replace(self.model, input_shape=tuple(image_shape))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "stacked",
            "The seed's stacked autoencoder: 784→100→30 (SELU) | 30→100 (linear)→784 (sigmoid); "
            "BCE, SGD lr 1.5, batch 32, 10 epochs.",
            STACKED,
            TrainingConfig(epochs=10, batch_size=32, optimizer="sgd", lr=1.5),
        ),
        Preset(
            "conv",
            "The seed's convolutional autoencoder: Conv2D 16/32/64 (SELU) + max-pool to 3×3×64 | "
            "Conv2DTranspose 32/16/1. The seed gives no training settings: the stacked AE's "
            "(BCE, SGD lr 1.5, batch 32), for 5 epochs.",
            CONV,
            TrainingConfig(epochs=5, batch_size=32, optimizer="sgd", lr=1.5),
        ),
        Preset(
            "vae",
            "The seed's variational autoencoder: 784→150→100 (SELU)→10-d Gaussian codings | "
            "10→100→150→784 (sigmoid); BCE + KL/784, RMSprop (Keras' lr 1e-3, rho 0.9, eps 1e-7), "
            "batch 128, 50 epochs.",
            VAE,
            TrainingConfig(
                epochs=50,
                batch_size=128,
                optimizer="rmsprop",
                lr=1e-3,
                optimizer_options={"rho": 0.9, "eps": 1e-7},
            ),
        ),
    ]
}

# Beyond the seed: the family of its source book's chapter (Hands-On ML, 3rd ed., ch. 17), each a
# composition of parts. The dense ones train as the seed's stacked AE does and
# the variational ones as its VAE, so each differs from its seed model in one respect.
SEED_SGD = TrainingConfig(epochs=10, batch_size=32, optimizer="sgd", lr=1.5)
SEED_RMSPROP = PRESETS["vae"].training
DENSE = {"kind": "dense", "units": [100, 30]}
DENSE_DECODER = {"kind": "dense", "units": [100], "activation": "selu"}
SPARSE = {"kind": "dense", "units": [100, 300], "coding_activation": "sigmoid"}


def _of_parts(name: str, description: str, encoder: dict, decoder: dict, objective: dict,
              training: TrainingConfig) -> Preset:  # fmt: skip
    config = ModelConfig(encoder=encoder, decoder=decoder, objective=objective)
    return Preset(name, description, config, training)


PRESETS.update({p.name: p for p in [
    _of_parts("denoising", "Denoising: the stacked AE (SELU decoder) fed images with Gaussian "
              "noise (σ 0.2) in training, scored on the clean ones; SGD lr 1.5, 10 epochs.",
              DENSE, DENSE_DECODER, {"kind": "denoising", "noise": 0.2}, SEED_SGD),
    _of_parts("sparse-l1", "Sparse (L1): 784→100→300 sigmoid codings, + 1e-3 × their mean "
              "absolute value, so few are active; SGD lr 1.5, 10 epochs.",
              SPARSE, DENSE_DECODER, {"kind": "sparse_l1", "weight": 1e-3}, SEED_SGD),
    _of_parts("sparse-kl", "Sparse (KL): 784→100→300 sigmoid codings, + 0.05 × KL(0.1 ‖ each "
              "coding's mean activation): codings active 10% of the time; SGD lr 1.5, 10 epochs.",
              SPARSE, DENSE_DECODER, {"kind": "sparse_kl", "target": 0.1, "weight": 0.05}, SEED_SGD),
    _of_parts("tied", "Tied weights: the stacked AE whose decoder uses the encoder's weights "
              "transposed (half the weights, 82,414 parameters); SGD lr 1.5, 10 epochs.",
              DENSE, {"kind": "dense", "units": [100], "activation": "selu", "tied": True},
              {"kind": "reconstruction"}, SEED_SGD),
    _of_parts("beta-vae", "β-VAE: the seed's VAE with the KL term weighted 4×: smoother, more "
              "disentangled codings, blurrier reconstructions; RMSprop, batch 128, 50 epochs.",
              VAE_ENCODER, VAE_DECODER, {"kind": "variational", "codings": 10, "beta": 4.0},
              SEED_RMSPROP),
    _of_parts("conv-vae", "Convolutional VAE: the seed's conv encoder (16/32/64) to 10-d "
              "Gaussian codings, a dense layer back to 3×3×64 and its conv decoder; "
              "RMSprop, batch 128, 30 epochs.",
              {"kind": "conv"}, {"kind": "conv"}, {"kind": "variational", "codings": 10},
              TrainingConfig(**{**SEED_RMSPROP.to_dict(), "epochs": 30})),
    _of_parts("vq", "Vector-quantised: the seed's conv encoder, each of its 3×3 positions "
              "snapped to the nearest of 64 learned 64-d vectors (commitment 0.25), its conv "
              "decoder; discrete codings, no sampling without a prior; Adam lr 1e-3, batch 128, "
              "10 epochs.",
              {"kind": "conv"}, {"kind": "conv"}, {"kind": "vq", "codebook_size": 64},
              TrainingConfig(epochs=10, batch_size=128, optimizer="adam", lr=1e-3)),
]})  # fmt: skip

# Every autoencoder generates (issue 21): a deterministic one through a density fitted on its
# codings after training (RAE), one whose codings are pulled to a prior as a whole (WAE), and a
# tighter bound than the VAE's (IWAE). Each is conv-vae (or, `rae`, the seed's VAE) with its
# objective changed alone: the same layers, 10 codings, the same training.
CONV_VAE_TRAINING = PRESETS["conv-vae"].training
PRESETS.update({p.name: p for p in [
    _of_parts("rae", "Regularised AE (Ghosh et al. 2020, RAE-L2): the seed's VAE layers, "
              "deterministic: 784→150→100 (SELU)→10 codings | 10→100→150→784; BCE + 1e-4 × "
              "½‖z‖² + 1e-5 × the decoder's squared weights; generates through a sampler fitted "
              "on its codings (fit-sampler); RMSprop, batch 128, 50 epochs.",
              VAE_ENCODER, VAE_DECODER, {"kind": "rae", "codings": 10}, SEED_RMSPROP),
    _of_parts("conv-rae", "Convolutional RAE (RAE-L2): conv-vae's layers with 10 deterministic "
              "codings, + 1e-4 × ½‖z‖² + 1e-5 × the decoder's squared weights in place of the "
              "KL term; generates through a sampler fitted on its codings (fit-sampler); "
              "RMSprop, batch 128, 30 epochs.",
              {"kind": "conv"}, {"kind": "conv"}, {"kind": "rae", "codings": 10},
              CONV_VAE_TRAINING),
    _of_parts("conv-wae", "Convolutional WAE-MMD (Tolstikhin et al. 2018): conv-vae's layers "
              "with 10 deterministic codings, + 1 × the MMD (inverse multiquadric kernel) "
              "between the batch's codings and as many N(0, I) draws, so its prior generates; "
              "RMSprop, batch 128, 30 epochs.",
              {"kind": "conv"}, {"kind": "conv"}, {"kind": "wae", "codings": 10},
              CONV_VAE_TRAINING),
    _of_parts("conv-iwae", "Convolutional IWAE (Burda et al. 2016): conv-vae's layers and 10-d "
              "Gaussian codings, trained on the importance-weighted bound of 5 samples per image "
              "(tighter than the VAE's); RMSprop, batch 128, 30 epochs.",
              {"kind": "conv"}, {"kind": "conv"}, {"kind": "iwae", "codings": 10, "samples": 5},
              CONV_VAE_TRAINING),
]})  # fmt: skip


CONV_STRIDED = ModelConfig(
    encoder={"kind": "conv", "filters": [16, 32, 64], "downsample": "stride"},
    decoder={"kind": "conv"},
)

# Fast: the seed's quality in a fraction of its time (benchmarks/time_to_quality.py measures it
# against the seed's Keras code). Adam on torch's one-cycle schedule, larger batches; the seed's
# layers, except the stacked decoder's hidden layer, which is SELU instead of linear.
PRESETS.update({p.name: p for p in [
    Preset("stacked-fast", "Fast stacked: the seed's stacked AE with a SELU decoder hidden layer; "
           "Adam, one-cycle schedule to lr 1e-2, batch 128, 2 epochs: the seed's 10-epoch "
           "validation loss in a tenth of Keras' time.",
           ModelConfig(encoder=STACKED.encoder, decoder=DENSE_DECODER),
           TrainingConfig(epochs=2, batch_size=128, optimizer="adam", lr=1e-2, schedule="onecycle")),
    Preset("conv-fast", "Fast conv: the seed's convolutional AE with stride-2 convolutions in "
           "place of its max-pools (a quarter of the encoder's work, the same layers and "
           "sizes); Adam, one-cycle schedule to lr 3e-2, batch 128, 1 epoch: the seed's "
           "5-epoch validation loss in a tenth of Keras' time.",
           CONV_STRIDED,
           TrainingConfig(epochs=1, batch_size=128, optimizer="adam", lr=3e-2, schedule="onecycle")),
    Preset("vae-fast", "Fast VAE: the seed's variational AE; Adam, one-cycle schedule to lr 7e-3, "
           "batch 256, 10 epochs: the seed's 50-epoch validation loss in a tenth of Keras' "
           "time.",
           VAE,
           TrainingConfig(epochs=10, batch_size=256, optimizer="adam", lr=7e-3, schedule="onecycle")),
]})  # fmt: skip


def image_model(image_shape: tuple[int, int, int], width: int = 32, most: int = 256,
                codings: int = 256) -> ModelConfig:  # fmt: skip
    """A convolutional autoencoder whose stages follow the image: stride-2 convolutions (3×3,
    SELU) halve it until its shorter side is 4 or less (28 and 32 px: 3 stages, 64: 4, 128: 5),
    channels doubling from ``width`` up to ``most``; a dense layer to ``codings`` flat codings,
    and the mirror image back up (transposed convolutions, the last to the image's channels);
    MSE, the loss PSNR measures."""
    stages = max(1, math.ceil(math.log2(min(image_shape[1:]) / 4)))
    filters = [min(width << i, most) for i in range(stages)]
    encoder = {"kind": "conv", "filters": filters, "downsample": "stride", "codings": codings}
    return ModelConfig(input_shape=image_shape, encoder=encoder, decoder={"kind": "conv"},
                       objective={"kind": "reconstruction", "loss": "mse"})  # fmt: skip


# For the images users bring (colour photos of 32 to 128 pixels): the model is sized when the
# data is known; benchmarks/image_presets.py measures it at 32, 64 and 128 px.
PRESETS["conv-image"] = Preset(
    "conv-image",
    "Conv autoencoder sized to the images: stride-2 3×3 convolutions (SELU) down to about 4×4, "
    "channels doubling from 32 up to 256, 256 dense codings, transposed convolutions back; "
    "MSE, Adam, one-cycle schedule to lr 2e-3, batch 64, 10 epochs.",
    image_model((3, 64, 64)),
    TrainingConfig(epochs=10, batch_size=64, optimizer="adam", lr=2e-3, schedule="onecycle"),
    sized=image_model,
)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is a ConfigError listing the known ones."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
