"""Samplers: densities over a trained model's codings, fitted after training, that draw new ones.

A sampler turns any autoencoder into a generator (Ghosh et al. 2020: a deterministic autoencoder
with a density fitted on its codings generates as well as a VAE): decode what it draws. Each is
a small module with ``sample`` (codings, in the model's codings shape) and ``log_prob``, and a
state that is tensors plus JSON settings (``state`` / ``from_state``), so the run folder keeps
it in one safetensors file, never a pickle.

- ``gmm``: a Gaussian mixture with full covariances (weights, means and Cholesky factors);
- ``flow``: a masked autoregressive flow (zuko's MAF) on the standardised codings;
- ``codes``: for a vector-quantised model, an autoregressive prior over its grid of code indices
  (a small causal transformer, as the VQ-VAE's PixelCNN prior), which makes ``vq`` generate.

The objective's own prior (a VAE's N(0, I)) is the ``prior`` sampler and needs no file.
Settings read from a file are checked (``SETTINGS``) before anything is built, and the tensors'
shapes follow from them alone, so a hostile file is refused before it is read.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from autoencode.errors import ConfigError

MAX_COMPONENTS = 1000
MAX_DIMS = 1 << 12  # a flow or a full covariance over more codings than this is not a sampler
MAX_GRID = 1024  # positions of a code grid
MAX_FLOW_WEIGHTS = 1 << 25


def _int(settings: dict, name: str, low: int, high: int) -> int:
    value = settings.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"sampler setting {name!r} must be an integer in {low}..{high}, "
                          f"got {value!r}")  # fmt: skip
    return value


@contextlib.contextmanager
def _seeded(generator: torch.Generator | None):
    """Torch's global RNG seeded from ``generator`` and restored after (zuko's flows draw from
    the global RNG): the same generator, the same samples."""
    with torch.random.fork_rng(devices=[]):
        if generator is not None:
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        yield


class GaussianMixture(nn.Module):
    """``components`` Gaussians with full covariances over ``dims`` codings."""

    kind = "gmm"
    on_meta = True  # built on the meta device to learn its tensors' shapes

    def __init__(self, components: int, dims: int):
        super().__init__()
        self.register_buffer("weights", torch.full((components,), 1 / components))
        self.register_buffer("means", torch.zeros(components, dims))
        self.register_buffer("cholesky", torch.eye(dims).repeat(components, 1, 1))

    @property
    def settings(self) -> dict:
        return {"components": len(self.weights), "dims": self.means.shape[1]}

    @classmethod
    def build(cls, settings: dict) -> GaussianMixture:
        return cls(_int(settings, "components", 1, MAX_COMPONENTS),
                   _int(settings, "dims", 1, MAX_DIMS))  # fmt: skip

    def check(self) -> None:
        """Finite weights that sum to 1, and Cholesky factors that are lower-triangular with a
        positive diagonal; anything else is a ConfigError."""
        w, L = self.weights, self.cholesky
        if not (torch.isfinite(w).all() and (w >= 0).all() and abs(float(w.sum()) - 1) < 1e-3):
            raise ConfigError("gmm weights must be finite, non-negative and sum to 1")
        if not (torch.isfinite(self.means).all() and torch.isfinite(L).all()):
            raise ConfigError("gmm means and Cholesky factors must be finite")
        diagonal = torch.diagonal(L, dim1=-2, dim2=-1)
        if not ((diagonal > 0).all() and torch.equal(L, torch.tril(L))):
            raise ConfigError(
                "gmm Cholesky factors must be lower-triangular, positive on the diagonal"
            )

    def _components(self) -> torch.distributions.MultivariateNormal:
        return torch.distributions.MultivariateNormal(self.means, scale_tril=self.cholesky)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        per = self._components().log_prob(z.flatten(1)[:, None, :])  # (N, K)
        return torch.logsumexp(per + self.weights.clamp_min(1e-30).log(), dim=1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        pick = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], 1, generator=generator)
        return self.means[pick] + (self.cholesky[pick] @ eps)[..., 0]


class Flow(nn.Module):
    """A masked autoregressive flow (zuko's MAF: ``transforms`` affine layers, each a MADE of two
    ``hidden``-unit layers) on the codings standardised by ``shift`` and ``scale``."""

    kind = "flow"
    on_meta = False  # zuko builds its masks with an operator the meta device lacks

    def __init__(self, dims: int, transforms: int = 5, hidden: int = 128):
        super().__init__()
        try:
            import zuko
        except ImportError:
            raise ConfigError(
                "the flow sampler needs zuko: pip install 'autoencode[flow]'"
            ) from None

        self.transforms, self.hidden = transforms, hidden
        self.flow = zuko.flows.MAF(dims, transforms=transforms, hidden_features=[hidden] * 2)
        self.register_buffer("shift", torch.zeros(dims))
        self.register_buffer("scale", torch.ones(dims))

    @property
    def settings(self) -> dict:
        return {"dims": len(self.shift), "transforms": self.transforms, "hidden": self.hidden}

    @classmethod
    def build(cls, settings: dict) -> Flow:
        dims, transforms = _int(settings, "dims", 1, MAX_DIMS), _int(settings, "transforms", 1, 32)
        hidden = _int(settings, "hidden", 1, 4096)
        weights = transforms * (dims * hidden + hidden * hidden + hidden * 2 * dims)
        if weights > MAX_FLOW_WEIGHTS:  # zuko's flows cannot be built on the meta device
            raise ConfigError(
                f"a flow of {weights:,} weights is over the {MAX_FLOW_WEIGHTS:,} allowed"
            )
        return cls(dims, transforms, hidden)

    def check(self) -> None:
        if not all(torch.isfinite(t).all() for t in self.state_dict().values()):
            raise ConfigError("flow weights must be finite")
        if not (self.scale > 0).all():
            raise ConfigError("flow scale must be positive")

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        u = (z.flatten(1) - self.shift) / self.scale
        return self.flow().log_prob(u) - self.scale.log().sum()

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with _seeded(generator):
            u = self.flow().sample((n,))
        return u * self.scale + self.shift


class CodePrior(nn.Module):
    """An autoregressive prior over a VQ model's ``positions`` code indices (raster order): a
    causal transformer of ``layers`` layers of ``width`` units predicts each index from those
    before it. ``sample`` returns indices ``(n, positions)``; the run looks them up in its
    codebook."""

    kind = "codes"
    on_meta = True

    def __init__(self, codebook: int, positions: int, width: int = 128, layers: int = 2):
        super().__init__()
        self.codebook, self.positions, self.width, self.layers = codebook, positions, width, layers
        self.embed = nn.Embedding(codebook + 1, width)  # the last index: the start token
        self.position = nn.Parameter(torch.zeros(positions, width))
        layer = nn.TransformerEncoderLayer(width, nhead=4 if width % 4 == 0 else 1,
                                           dim_feedforward=2 * width, dropout=0.1,
                                           batch_first=True, norm_first=True)  # fmt: skip
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(width, codebook)
        self.register_buffer("mask", torch.triu(torch.full((positions, positions), -math.inf), 1),
                             persistent=False)  # fmt: skip

    @property
    def settings(self) -> dict:
        return {"codebook": self.codebook, "positions": self.positions, "width": self.width,
                "layers": self.layers}  # fmt: skip

    @classmethod
    def build(cls, settings: dict) -> CodePrior:
        return cls(_int(settings, "codebook", 2, 1 << 16), _int(settings, "positions", 1, MAX_GRID),
                   _int(settings, "width", 4, 1024), _int(settings, "layers", 1, 16))  # fmt: skip

    def check(self) -> None:
        if not all(torch.isfinite(t).all() for t in self.state_dict().values()):
            raise ConfigError("code prior weights must be finite")

    def logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Each position's logits over the codebook, from the codes before it: ``(N, P, K)``."""
        start = torch.full_like(codes[:, :1], self.codebook)
        tokens = torch.cat([start, codes[:, :-1]], 1)
        n = tokens.shape[1]
        h = self.embed(tokens) + self.position[:n]
        return self.out(self.body(h, mask=self.mask[:n, :n], is_causal=True))

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        logp = self.logits(codes).log_softmax(-1)
        return logp.gather(-1, codes[..., None])[..., 0].sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        codes = torch.zeros(n, self.positions, dtype=torch.long)
        for i in range(self.positions):  # one pass per position (what follows i is not seen)
            probs = self.logits(codes[:, : i + 1])[:, i].softmax(-1)
            codes[:, i] = torch.multinomial(probs, 1, generator=generator)[:, 0]
        return codes


SAMPLERS: dict[str, type[nn.Module]] = {s.kind: s for s in (GaussianMixture, Flow, CodePrior)}
FORMAT = "autoencode-sampler/1"


def _saved(sampler: nn.Module) -> dict[str, torch.Tensor]:
    """The float tensors of a sampler's state: the rest (a flow's orders and masks) follow from
    its settings and are built again."""
    return {k: v for k, v in sampler.state_dict().items() if v.is_floating_point()}


def state(sampler: nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    """A sampler as float32 tensors and JSON: what ``from_state`` reads back."""
    return _saved(sampler), {"format": FORMAT, "kind": sampler.kind,
                             "settings": sampler.settings}  # fmt: skip


def expected_shapes(meta) -> tuple[type[nn.Module], dict, dict[str, tuple[int, ...]]]:
    """From a sampler file's JSON alone: its class, its settings and the shape of every tensor
    it must hold (built on the meta device where the class allows: nothing allocated)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"not an autoencode sampler ({FORMAT})")
    kind, settings = meta.get("kind"), meta.get("settings")
    if not isinstance(kind, str) or kind not in SAMPLERS:
        raise ConfigError(
            f"unknown sampler kind {kind!r:.40}: expected one of {', '.join(SAMPLERS)}"
        )
    if not isinstance(settings, dict):
        raise ConfigError("sampler settings must be a JSON object")
    with torch.device("meta" if SAMPLERS[kind].on_meta else "cpu"):  # Flow bounds its own size
        probe = SAMPLERS[kind].build(settings)
    return SAMPLERS[kind], settings, {k: tuple(v.shape) for k, v in _saved(probe).items()}


def from_state(tensors: dict[str, torch.Tensor], meta) -> nn.Module:
    """The inverse of ``state``: settings, shapes and values checked (a ConfigError says what)."""
    cls, settings, shapes = expected_shapes(meta)
    if {k: tuple(v.shape) for k, v in tensors.items()} != shapes:
        raise ConfigError("sampler tensors do not match its settings")
    sampler = cls.build(settings)
    sampler.load_state_dict({**sampler.state_dict(), **{k: v.float() for k, v in tensors.items()}})
    sampler.check()
    return sampler.eval()
