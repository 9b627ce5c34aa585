"""The codings' report card: reconstruction quality, and how well simple classifiers read the codings.

k-NN (k = 5) and a linear probe (multinomial logistic regression) are trained on the train split's
codings and scored on the test split; the same two on PCA with as many components, and on raw
pixels, are the baselines that codings must beat to be worth having. Trustworthiness (k = 10)
says how faithfully a 2-D map keeps each point's neighbours.
"""

from __future__ import annotations

import numpy as np
import torch


def reconstruction_metrics(images: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
    """BCE and MSE averaged over pixels, and PSNR (dB) averaged over images; pixels in [0, 1]."""
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    r = torch.from_numpy(reconstructions.reshape(len(images), -1).astype(np.float32))
    r_clipped = r.clamp(1e-7, 1 - 1e-7)  # Keras' clipping: a pixel at exactly 0 or 1 stays finite
    bce = -(x * r_clipped.log() + (1 - x) * (1 - r_clipped).log()).mean()
    per_image_mse = ((x - r) ** 2).mean(dim=1)
    psnr = 10 * torch.log10(1.0 / per_image_mse.clamp_min(1e-10))
    return {"bce": float(bce), "mse": float(per_image_mse.mean()), "psnr": float(psnr.mean())}


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = 5, chunk: int = 1000) -> float:
    """k-nearest-neighbour (Euclidean, majority vote) accuracy, computed in chunks with torch."""
    from autoencode.analysis.neighbours import nearest

    labels = np.asarray(train_y)
    n_classes = int(max(labels.max(), np.max(test_y))) + 1
    found, _ = nearest(test_x, train_x, k, query_chunk=chunk)
    votes = np.zeros((len(test_x), n_classes))
    np.add.at(votes, (np.arange(len(test_x))[:, None], labels[found]), 1)
    return float((votes.argmax(1) == np.asarray(test_y)).mean())


def linear_probe_accuracy(train_x, train_y, test_x, test_y, l2: float = 1e-4, iters: int = 200,
                          seed: int = 0) -> float:  # fmt: skip
    """Multinomial logistic regression on standardised features (L-BFGS, full batch)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(train_x, dtype=np.float32))
    std = x.std(0) if len(x) > 1 else torch.ones(x.shape[1])  # one example has no spread
    mean, std = x.mean(0), std.clamp_min(1e-6)
    x = (x - mean) / std
    y = torch.from_numpy(np.asarray(train_y, dtype=np.int64))
    n_classes = int(max(y.max(), int(np.max(test_y)))) + 1
    linear = torch.nn.Linear(x.shape[1], n_classes)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=iters, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-6, tolerance_change=1e-9)  # fmt: skip

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), y) + l2 * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        t = (torch.from_numpy(np.ascontiguousarray(test_x, dtype=np.float32)) - mean) / std
        return float((linear(t).argmax(1).numpy() == np.asarray(test_y)).mean())


def pca_features(train_x: np.ndarray, test_x: np.ndarray, n_components: int):
    """Train and test projected on the train split's first principal components."""
    train = torch.from_numpy(np.ascontiguousarray(train_x, dtype=np.float32))
    mean = train.mean(0)
    _, _, v = torch.linalg.svd(train - mean, full_matrices=False)
    basis = v[:n_components].T
    test = torch.from_numpy(np.ascontiguousarray(test_x, dtype=np.float32))
    return ((train - mean) @ basis).numpy(), ((test - mean) @ basis).numpy()


def trustworthiness(high: np.ndarray, low: np.ndarray, k: int = 10, sample: int | None = None,
                    seed: int = 0, chunk: int = 500) -> float:  # fmt: skip
    """Trustworthiness of ``low`` (the map) with respect to ``high`` (the codings), as in
    scikit-learn's ``trustworthiness`` (Venna & Kaski), with ranks over all points.

    ``sample`` scores only that many random points (each against every point): an unbiased
    estimate for data too large to score whole (70,000 points).
    """
    n = len(high)
    if not 0 < k < n / 2:
        raise ValueError(f"trustworthiness needs k < n / 2, got k={k} for {n} points")
    # float64: in float32 the matrix-product distances break near-ties one way or the other
    # with the thread count, and a rank (so the score) with them
    hi = torch.from_numpy(np.ascontiguousarray(high.reshape(n, -1), dtype=np.float64))
    lo = torch.from_numpy(np.ascontiguousarray(low, dtype=np.float64))
    rows = np.arange(n)
    if sample is not None and sample < n:
        rows = np.random.default_rng(seed).choice(n, sample, replace=False)
    penalty = 0.0
    for s in range(0, len(rows), chunk):
        idx = torch.from_numpy(rows[s : s + chunk])
        d_hi = torch.cdist(hi[idx], hi)
        d_lo = torch.cdist(lo[idx], lo)
        d_hi[torch.arange(len(idx)), idx] = float("inf")  # a point is not its own neighbour
        d_lo[torch.arange(len(idx)), idx] = float("inf")
        near_lo = d_lo.topk(k, dim=1, largest=False).indices  # (b, k)
        target = d_hi.gather(1, near_lo)  # (b, k): high-dim distance to each map neighbour
        # its rank among all high-dim distances from the same point (1 = nearest)
        ranks = torch.stack([(d_hi < target[:, j, None]).sum(1) + 1 for j in range(k)], dim=1)
        penalty += float((ranks - k).clamp_min(0).sum())
    m = len(rows)
    return 1.0 - penalty * 2.0 / (m * k * (2.0 * n - 3.0 * k - 1.0))
