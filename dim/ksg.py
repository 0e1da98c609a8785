"""The Kraskov-Stögbauer-Grassberger k-nearest-neighbour MI estimator (KSG, estimator 1).

    I(X; Y) ≈ ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩

where ε_i is the max-norm distance from sample i to its k-th neighbour in the joint space and
n_x(i), n_y(i) count the other samples strictly within ε_i in each marginal space (Kraskov et
al., Phys. Rev. E 69, 2004). Non-parametric and nearly unbiased in low dimension; in high
dimension or at high MI it under-estimates strongly (the neighbourhoods stop being local),
which is why it is the baseline the neural estimators are measured against.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def ksg_mi(x: np.ndarray, y: np.ndarray, k: int = 3, workers: int = -1) -> float:
    """KSG estimate of I(X; Y) in nats. x (N, Dx) or (N,), y (N, Dy) or (N,), paired rows."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows and y has {len(y)}; pass paired rows")
    n = len(x)
    if n <= k:
        raise ValueError(f"KSG needs more than k={k} samples, got {n}")
    joint = np.hstack([x, y])
    # k + 1 neighbours: the first is the point itself
    distances, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=workers)
    radius = np.nextafter(distances[:, -1], 0)  # strictly inside ε_i
    n_x = cKDTree(x).query_ball_point(x, radius, p=np.inf, return_length=True, workers=workers) - 1
    n_y = cKDTree(y).query_ball_point(y, radius, p=np.inf, return_length=True, workers=workers) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))
