"""Fitting a sampler (``models.samplers``) on a run's codings of the training split, chosen and
stopped on the validation split's likelihood.

- ``gmm``: scikit-learn's EM (full covariances) on the standardised codings, the result mapped
  back; without ``components``, each of ``GMM_CANDIDATES`` is fitted (on a subset) and the one
  with the highest validation likelihood refitted on a larger one.
- ``flow`` and ``codes``: Adam on the negative log-likelihood, in minibatches, until the
  validation likelihood has not improved for ``patience`` epochs (halving the rate at each);
  the best epoch's state kept.

The same codings and seed give the same sampler.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from autoencode.errors import AutoencodeError
from autoencode.models.samplers import CodePrior, Flow, GaussianMixture

GMM_CANDIDATES = (1, 2, 5, 10, 20, 50, 100)
SEARCH_SIZE = 10_000  # training codings each candidate number of components is fitted on ...
FIT_SIZE = 20_000  # ... and the chosen one (EM's full covariances cost N·K·d² an iteration)
KINDS = ("gmm", "flow", "codes")
# at most this many epochs (the validation likelihood stops them sooner): on 55,000 codings and
# 2 cores a flow's epoch takes about 1 s, the code prior's (a transformer) about 5 s
MAX_EPOCHS = {"flow": 60, "codes": 15}


def fit_gmm(train: np.ndarray, valid: np.ndarray, components: int | None = None,
            seed: int = 0) -> tuple[GaussianMixture, dict]:  # fmt: skip
    """A full-covariance mixture on flat codings ``(N, d)``; ``components`` chosen on ``valid``
    when not given (each candidate fitted on at most ``SEARCH_SIZE`` of the training codings, the
    chosen one then on at most ``FIT_SIZE``: a random subset, the same for a seed). Returns the
    sampler and what was measured (validation nats per image)."""
    if components is not None and not 1 <= components <= min(len(train), FIT_SIZE):
        raise AutoencodeError(f"{{parameter}}: expected 1 to {min(len(train), FIT_SIZE)} (the "
                              f"codings it is fitted on), got {components}",
                              parameter="components")  # fmt: skip
    shift, scale = train.mean(0), np.maximum(train.std(0), 1e-6)
    t, v = (train - shift) / scale, (valid - shift) / scale
    jacobian = float(np.log(scale).sum())  # the likelihood back on the codings' own scale
    tried = {}
    order = np.random.default_rng(seed).permutation(len(t))
    if components is None:
        search = t[order[:SEARCH_SIZE]]
        candidates = [k for k in GMM_CANDIDATES if k * 10 <= len(search)] or [1]
        for k in candidates:
            tried[str(k)] = float(_em(search, k, seed).score(v)) - jacobian
        components = int(max(tried, key=tried.get))
    em = _em(t[order[:FIT_SIZE]], components, seed)
    gmm = GaussianMixture(em.n_components, t.shape[1])
    L = np.linalg.cholesky(em.covariances_)  # (K, d, d), of the standardised codings
    gmm.weights.copy_(torch.from_numpy(em.weights_ / em.weights_.sum()))
    gmm.means.copy_(torch.from_numpy(em.means_ * scale + shift))
    gmm.cholesky.copy_(torch.from_numpy(scale[:, None] * L))
    return gmm, {"components": em.n_components, "valid_log_likelihood": float(em.score(v)) - jacobian,
                 "candidates": tried, "fitted_on": min(len(t), FIT_SIZE)}  # fmt: skip


def _em(x: np.ndarray, components: int, seed: int):
    from sklearn.mixture import GaussianMixture as EM

    em = EM(components, covariance_type="full", reg_covar=1e-4, max_iter=200, random_state=seed)
    return em.fit(x)


def fit_flow(train: np.ndarray, valid: np.ndarray, *, transforms: int = 5, hidden: int = 128,
             seed: int = 0, **options) -> tuple[Flow, dict]:  # fmt: skip
    """A masked autoregressive flow on flat codings ``(N, d)``, standardised first."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        flow = Flow(train.shape[1], transforms, hidden)
    flow.shift.copy_(torch.from_numpy(train.mean(0)))
    flow.scale.copy_(torch.from_numpy(np.maximum(train.std(0), 1e-6)))
    info = _minimise(flow, torch.from_numpy(train), torch.from_numpy(valid), seed, **options)
    return flow, info


def fit_code_prior(train: np.ndarray, valid: np.ndarray, codebook: int, *, width: int = 64,
                   layers: int = 2, seed: int = 0, **options) -> tuple[CodePrior, dict]:  # fmt: skip
    """An autoregressive prior over grids of code indices ``(N, positions)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        prior = CodePrior(codebook, train.shape[1], width, layers)
    info = _minimise(prior, torch.from_numpy(train), torch.from_numpy(valid), seed, **options)
    return prior, info


def _minimise(model: nn.Module, train: torch.Tensor, valid: torch.Tensor, seed: int, *,
              epochs: int = 100, patience: int = 4, batch_size: int = 1024,
              lr: float = 3e-3) -> dict:  # fmt: skip
    """Adam on −log p of ``train`` until ``valid``'s has not risen for ``patience`` epochs (the
    rate halved at each epoch that did not improve it); the best epoch's weights are loaded back. Returns the validation log-likelihood (nats per item)
    and the epochs run."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    best, best_state, since, epoch = -float("inf"), None, 0, 0
    with torch.random.fork_rng(devices=[]):  # dropout draws from the global RNG
        torch.manual_seed(seed)
        for epoch in range(1, epochs + 1):  # noqa: B007 (the last epoch is reported)
            model.train()
            for batch in torch.randperm(len(train), generator=order).split(batch_size):
                loss = -model.log_prob(train[batch]).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            score = _mean_log_prob(model.eval(), valid)
            if score > best:
                best, best_state, since = score, copy.deepcopy(model.state_dict()), 0
            elif (since := since + 1) >= patience:
                break
            else:  # a step back: the rate halved
                for group in optimizer.param_groups:
                    group["lr"] /= 2
    if best_state is None:
        raise AutoencodeError("the sampler's validation likelihood never became finite: the "
                              "codings may hold NaN or infinite values")  # fmt: skip
    model.load_state_dict(best_state)
    return {"valid_log_likelihood": best, "epochs": epoch}


@torch.no_grad()
def _mean_log_prob(model: nn.Module, x: torch.Tensor, chunk: int = 4096) -> float:
    total = sum(float(model.log_prob(part).sum()) for part in x.split(chunk))
    return total / len(x) if np.isfinite(total) else -float("inf")


def fit(kind: str, train: np.ndarray, valid: np.ndarray, *, codebook: int | None = None,
        components: int | None = None, seed: int = 0) -> tuple[nn.Module, dict]:  # fmt: skip
    """A sampler of ``kind`` fitted on ``train`` codings (flat float32, or code indices for
    ``codes``), with what was measured, the seconds it took included."""
    if kind not in KINDS:
        raise AutoencodeError(f"{{parameter}}: expected one of {', '.join(KINDS)}, got {kind!r}",
                              parameter="sampler")  # fmt: skip
    start = time.perf_counter()
    if kind == "gmm":
        sampler, info = fit_gmm(train, valid, components, seed)
    elif kind == "flow":
        sampler, info = fit_flow(train.astype(np.float32), valid.astype(np.float32), seed=seed,
                                 epochs=MAX_EPOCHS["flow"])  # fmt: skip
    else:
        sampler, info = fit_code_prior(
            train, valid, codebook, seed=seed, epochs=MAX_EPOCHS["codes"]
        )
    return sampler, {"kind": kind, **info, "seconds": round(time.perf_counter() - start, 2)}
