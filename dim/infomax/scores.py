"""Deep InfoMax's scores and the bounds read from them (Hjelm et al., ICLR 2019), built on the
bounds of :mod:`dim.bounds`.

Scores follow one layout. ``queries`` (N, Q, U) are Q query vectors per image (Q = 1 for the
global code; Q = locations of a coarser map for AMDIM's local<->local prediction) and
``keys`` (N, U, L) are L location vectors per image. The score of query q of image i
against location l of image j is their dot product ("encode-and-dot", one matmul):

    S[i, q, j, l] = <queries[i, q], keys[j, :, l]>

Positives: j = i (each query against the L locations of its own image).
Negatives: j != i (the (N - 1) L locations of the other images), shared by every
location of a query — which is what lets InfoNCE compute their log-sum-exp once per query
(:func:`dim.bounds.infonce_shared_negatives`) instead of once per (query, location).

* global DIM: code vs. an encoding of the whole local map, scored N x N;
* local DIM: code vs. every location of every image;
* prior matching: an adversarial discriminator between codes and samples of a prior.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from dim import bounds, objectives

__all__ = ["clip_scores", "infomax_bound", "infomax_readout", "infomax_scores", "local_infonce_reference",
           "negative_log_mean_exp"]


def infomax_scores(
    queries: Tensor, keys: Tensor, locations: int | None = None, generator=None, temperature: float | None = None
) -> Tensor:
    """S (N, Q, N, L') = queries (N, Q, U) . keys (N, U, L), as one matmul, in float32.

    locations: score a random subset of L' of the L locations (the same subset for every
    image), or all when None. Scores are divided by sqrt(U) to keep them O(1) at any width;
    with ``temperature`` t, queries and keys are L2-normalised along U first and the scores
    are cosines / t (SimCLR's form), within [-1 / t, 1 / t].
    """
    if locations is not None and locations < keys.shape[2]:
        chosen = torch.randperm(keys.shape[2], generator=generator, device="cpu")[:locations].to(keys.device)
        keys = keys[:, :, chosen]
    n, q, u = queries.shape
    # float32 even under autocast: float16 scores overflow (> 65504) once an unbounded estimator
    # such as DV lets them drift, and the bounds need them exact anyway
    with torch.autocast(queries.device.type, enabled=False):
        queries, keys = queries.float(), keys.float()
        if temperature is not None:
            queries, keys = F.normalize(queries, dim=2), F.normalize(keys, dim=1)
        scores = torch.einsum("iqu,jul->iqjl", queries, keys)
        return scores / (temperature if temperature is not None else math.sqrt(u))


def infomax_bound(
    scores: Tensor,
    estimator: str,
    moving_average: bounds.MINEMovingAverage | None = None,
    clip: float = bounds.SMILE_TAU,
) -> Tensor:
    """The training objective (to maximise) of ``estimator`` for S (N, Q, N, L).

    The estimator's fast path on this layout where it has one (jsd: every score that is not a
    positive is a negative, read without gathering them; infonce: each positive against the
    (N - 1) L negatives of its query, shared); otherwise every positive against the pool of
    all negatives (:func:`dim.bounds.query_split`, flattened by the bound).
    """
    entry = objectives.estimator(estimator, "DIM")
    if entry.infomax is not None:
        return entry.infomax(scores)
    positive, negative = bounds.query_split(scores)
    return entry.objective(positive, negative, clip=clip, moving_average=moving_average)


def negative_log_mean_exp(scores: Tensor) -> Tensor:
    """Each query's log-mean-exp over its negatives: (N, Q) from S (N, Q, N, L), float32.

    m[i, q] = log( 1 / ((N - 1) L) * sum_{j != i} sum_l exp S[i, q, j, l] ),
    reduced over the L locations first (N, Q, N), so that the own image (j = i) is masked on
    that L times smaller tensor: no (N Q) x (N - 1) L tensor of negatives is gathered.
    """
    n, _, _, l = scores.shape
    per_image = bounds.logsumexp(scores.float(), dim=3)  # (N, Q, N): log sum_l exp S[i, q, j, l]
    own = torch.eye(n, dtype=torch.bool, device=scores.device).unsqueeze(1)  # (N, 1, N): j == i
    return bounds.logsumexp(per_image.masked_fill(own, float("-inf")), dim=2) - math.log((n - 1) * l)


@torch.no_grad()
def infomax_readout(scores: Tensor, estimator: str) -> Tensor:
    """An MI reading in nats for logging: the estimator's readout when it is a lower bound, else
    its companion bound (InfoNCE for infonce, NWJ for nwj, DV for the others; JSD is never
    reported as nats: a JSD-trained critic is read through DV).

    InfoNCE is the estimator's own training value (:func:`infomax_bound`). DV and NWJ read the
    negatives only through E_q[exp T]; as every query has the same (N - 1) L negatives,
    E_q[exp T] = mean_{i,q} exp m[i, q] with m = :func:`negative_log_mean_exp`, so the bounds
    applied to the N Q values m give their value over all N Q (N - 1) L negatives, at the
    cost of one pass over S (as the pooled JSD objective), without gathering the negatives.
    """
    scores = scores.float()
    name = objectives.lower_bound_readout(objectives.estimator(estimator, "DIM").name)
    if name == "infonce":
        return infomax_bound(scores, "infonce")
    positive = scores.diagonal(dim1=0, dim2=2)  # (Q, L, N): S[i, q, i, l]
    return objectives.readout_value(name, positive, negative_log_mean_exp(scores))


def local_infonce_reference(scores: Tensor) -> Tensor:
    """InfoNCE for S (N, Q, N, L) written straight from the formula, materialising for every
    positive (i, q, l) its own row [S_iqil, S_iqjl' for all j, l'] with the self pairs (j = i)
    set to -inf, so that they drop out of the softmax: an (N Q) x L x (1 + N L) tensor. The
    original DIM code (rdevon/DIM, ``nce_loss``) builds a tensor of the same shape but sets the
    self pairs to the score -10 instead, so each of its rows keeps L terms e^-10 in the
    denominator; it also adds no log((N - 1) L + 1), reporting the loss rather than the bound.
    The reference that :func:`infomax_bound` (estimator "infonce") is tested and benchmarked against."""
    n, q, _, l = scores.shape
    flat = scores.reshape(n * q, n, l).float()
    positive = flat[torch.arange(n * q), torch.arange(n).repeat_interleave(q)]  # (NQ, L)
    own = torch.zeros(n * q, n, l, dtype=torch.bool, device=scores.device)
    own[torch.arange(n * q), torch.arange(n).repeat_interleave(q)] = True
    candidates = flat.masked_fill(own, float("-inf")).reshape(n * q, 1, n * l).expand(n * q, l, n * l)
    rows = torch.cat([positive.unsqueeze(-1), candidates], dim=-1)  # (NQ, L, 1 + NL)
    log_softmax = positive - torch.logsumexp(rows, dim=-1)
    return log_softmax.mean() + math.log((n - 1) * l + 1)


def clip_scores(scores: Tensor, clip: float | None) -> Tensor:
    """AMDIM's soft clipping: c * tanh(s / c) (identity when clip is None)."""
    return scores if clip is None else clip * torch.tanh(scores / clip)
