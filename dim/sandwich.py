"""A sandwich on I(X; Z) for a stochastic encoder with a known p(z|x): ``estimate_mi_bounds``.

The encoder is a :class:`dim.StochasticEncoder` or any model with ``sample(x)`` and
``log_prob(z, x)`` (:class:`dim.stochastic.ConditionalDensity`); the marginal bounds below need the
closed-form Gaussian of a ``StochasticEncoder``, the others only the density.

Nothing is trained: the encoder's own densities give a lower bound (InfoNCE with the likelihood,
:func:`dim.upper_bounds.infonce_likelihood_bound`) and several upper bounds (leave-one-out,
CLUB, the variational marginal bound with a standard normal r and with the moment-matched
Gaussian r, cross-fitted on the other half of the rows). The rows are shuffled and cut into blocks of K; every code z_i ~ p(z|x_i) is
scored under every input of its block. Each bound is a mean of per-row terms, and its 95%
interval is a percentile bootstrap over rows (a row keeps the terms of its own block). The
interval covers sampling noise only; the bounds' own gaps (the lower one is at most log K, the
leave-one-out one is loose when K << e^I) are what the distance between lower and upper shows.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dim import upper_bounds as ub
from dim.bounds import NATS_PER_BIT
from dim.errors import ConfigError, DataError
from dim.stochastic import StochasticEncoder, require_conditional

__all__ = ["LOWER_BOUNDS", "UPPER_BOUNDS", "MIBounds", "estimate_mi_bounds"]

LOWER_BOUNDS = ("infonce_likelihood",)
UPPER_BOUNDS = ("leave_one_out", "club", "marginal_moment_matched", "marginal_standard_normal")


@dataclass
class MIBounds:
    """The result of :func:`estimate_mi_bounds`: lower <= I(X; Z) <= upper (in expectation), nats.

    lower_nats, lower_ci_nats: the lower bound (``lower_bound`` names it) and its 95% interval.
    upper_nats, upper_ci_nats: the smallest of the upper bounds (``upper_bound`` names it).
    bounds: every bound, {name: {"kind": "lower" | "upper", "nats", "ci_nats"}}.
    block_size: K, the codes each z_i is compared with; ceiling_nats = log K (the lower bound's).
    """

    lower_bound: str
    lower_nats: float
    lower_ci_nats: tuple[float, float]
    upper_bound: str
    upper_nats: float
    upper_ci_nats: tuple[float, float]
    bounds: dict[str, dict[str, Any]]
    block_size: int
    ceiling_nats: float
    rows: int
    samples: int
    bootstrap: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def lower_bits(self) -> float:
        return self.lower_nats / NATS_PER_BIT

    @property
    def upper_bits(self) -> float:
        return self.upper_nats / NATS_PER_BIT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary, bits included."""
        out = asdict(self)
        out["lower_ci_nats"], out["upper_ci_nats"] = list(self.lower_ci_nats), list(self.upper_ci_nats)
        out["lower_bits"], out["upper_bits"] = self.lower_bits, self.upper_bits
        out["lower_ci_bits"] = [v / NATS_PER_BIT for v in self.lower_ci_nats]
        out["upper_ci_bits"] = [v / NATS_PER_BIT for v in self.upper_ci_nats]
        return out


def _block_terms(log_p: Tensor) -> dict[str, Tensor]:
    """Per-row terms (K,) of the bounds that read a block's (K, K) log-density matrix."""
    return {
        "infonce_likelihood": ub.infonce_likelihood_bound(log_p, reduction="none"),
        "leave_one_out": ub.leave_one_out_upper_bound(log_p, reduction="none"),
        "club": ub.club_upper_bound(log_p, reduction="none"),
    }


def _marginal_terms(mean: Tensor, log_var: Tensor) -> dict[str, Tensor]:
    """Per-row KL(p(z|x_i) || r) (N,) for r = N(0, I) and for the moment-matched Gaussian r,
    cross-fitted: r is fitted on the odd rows for the even rows and vice versa, so the bound is
    not read on the rows that chose r (which would bias it low by O(D / N))."""
    cross_fitted = torch.empty(mean.shape[0])
    for target, source in ((slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))):
        marginal = ub.moment_matched_marginal(mean[source], log_var[source])
        cross_fitted[target] = ub.variational_marginal_upper_bound(mean[target], log_var[target], *marginal,
                                                                   reduction="none")  # fmt: skip
    return {
        "marginal_moment_matched": cross_fitted,
        "marginal_standard_normal": ub.variational_marginal_upper_bound(mean, log_var, reduction="none"),
    }


def _as_rows(x: Any) -> Tensor:
    tensor = x.detach().cpu() if isinstance(x, Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(x)))
    if tensor.dim() == 0 or not tensor.is_floating_point():
        raise DataError(f"x must be a float array with one row per sample, got dtype {tensor.dtype}, "
                        f"shape {tuple(tensor.shape)}")  # fmt: skip
    if not torch.isfinite(tensor).all():
        raise DataError("x has NaN or inf values; remove or impute those rows first")
    return tensor.float()


@torch.no_grad()
def estimate_mi_bounds(
    encoder: nn.Module,
    x: Any,
    *,
    block_size: int = 1024,
    samples: int = 1,
    bootstrap: int = 200,
    seed: int = 0,
    chunk: int = 1024,
) -> MIBounds:
    """Lower and upper bounds on I(X; Z), Z ~ p(z|X), from the encoder's own density, in nats.

    Args:
        encoder: a :class:`dim.stochastic.StochasticEncoder` with noise "gaussian" or "additive",
            or any model with ``sample(x)`` and ``log_prob(z, x)``
            (:class:`dim.stochastic.ConditionalDensity`; its bounds are InfoNCE with the likelihood,
            leave-one-out and CLUB); a deterministic encoder, or propagated noise, raises
            :class:`DimError`.
        x: inputs (N, ...), numpy or tensor, N >= 2 * block_size is not required but N >= K.
        block_size: K; each code is scored under the K inputs of its block (lower bound <= log K;
            every bound tightens as K grows). K = min(block_size, N); leftover rows are dropped.
        samples: codes drawn per input (their terms are averaged per row).
        bootstrap: draws for the 95% intervals. seed: the row order and the codes.
    Returns:
        :class:`MIBounds`.
    """
    require_conditional(encoder)
    if block_size < 2 or samples < 1 or bootstrap < 1:
        raise ConfigError(f"block_size must be >= 2, samples and bootstrap >= 1; got {block_size}, {samples}, {bootstrap}")
    rows = _as_rows(x)
    expected = getattr(getattr(encoder, "encoder", None), "input_shape", None)
    if expected is not None and tuple(rows.shape[1:]) != tuple(expected):
        raise DataError(f"x has rows of shape {tuple(rows.shape[1:])} but the encoder takes {tuple(expected)}; "
                        "pass the inputs the encoder was trained on")  # fmt: skip
    n = rows.shape[0]
    if n < 2:
        raise DataError(f"x has {n} row{'' if n == 1 else 's'}; give at least 2 inputs (better: thousands)")
    started = time.perf_counter()
    if not isinstance(encoder, StochasticEncoder):
        terms, generator, used = _density_terms(encoder, rows, block_size, samples, seed, chunk)
        return _finish(terms, generator, used, min(block_size, n), n, samples, bootstrap, started)
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters(), torch.zeros(())).device
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    k = min(block_size, n)
    used = order[: (n // k) * k]
    params = [encoder.conditional(rows[used[i : i + chunk]].to(device)) for i in range(0, len(used), chunk)]
    mean = torch.cat([p.mean for p in params]).cpu()
    log_var = torch.cat([p.log_var for p in params]).cpu()
    encoder.train(was_training)
    terms: dict[str, list[Tensor]] = {name: [values] for name, values in _marginal_terms(mean, log_var).items()}
    for start in range(0, len(used), k):
        block_mean, block_log_var = mean[start : start + k], log_var[start : start + k]
        per_sample = []
        for _ in range(samples):
            noise = torch.randn(block_mean.shape, generator=generator)
            z = block_mean + torch.exp(0.5 * block_log_var) * noise
            per_sample.append(_block_terms(ub.gaussian_log_likelihoods(z, block_mean, block_log_var)))
        for name in per_sample[0]:
            terms.setdefault(name, []).append(torch.stack([s[name] for s in per_sample]).mean(0))
    return _finish(terms, generator, used, k, n, samples, bootstrap, started)


def _density_terms(model: Any, rows: Tensor, block_size: int, samples: int, seed: int,
                   chunk: int) -> tuple[dict[str, list[Tensor]], torch.Generator, Tensor]:  # fmt: skip
    """Per-row terms of the density bounds for a :class:`ConditionalDensity`: in each block of K
    rows, z_i ~ p(z|x_i) and the (K, K) matrix log p(z_i | x_j), one row of it per call of
    ``log_prob`` on K pairs (in chunks of ``chunk`` rows)."""
    n = rows.shape[0]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    k = min(block_size, n)
    used = order[: (n // k) * k]
    device = next(iter(getattr(model, "parameters", lambda: [])()), torch.zeros(())).device
    terms: dict[str, list[Tensor]] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(used), k):
            block = rows[used[start : start + k]].to(device)
            per_sample = []
            for _ in range(samples):
                z = model.sample(block)
                log_p = torch.stack([
                    torch.cat([model.log_prob(z[i].expand(len(block[c : c + chunk]), *z.shape[1:]),
                                              block[c : c + chunk]) for c in range(0, k, chunk)])
                    for i in range(k)
                ]).double().cpu()  # fmt: skip
                per_sample.append(_block_terms(log_p))
            for name in per_sample[0]:
                terms.setdefault(name, []).append(torch.stack([s[name] for s in per_sample]).mean(0))
    return terms, generator, used


def _finish(terms: dict[str, list[Tensor]], generator: torch.Generator, used: Tensor, k: int, n: int, samples: int,
            bootstrap: int, started: float) -> MIBounds:  # fmt: skip
    """Each bound's mean and bootstrap interval over the ``used`` rows (of ``n``; blocks of ``k``),
    resampled with ``generator``, and the sandwich they make."""
    stacked = {name: torch.cat(parts).double() for name, parts in terms.items()}
    draws = torch.randint(len(used), (bootstrap, len(used)), generator=generator)
    summary = {}
    for name, values in stacked.items():
        replicates = values[draws].mean(1).numpy()
        summary[name] = {"kind": "lower" if name in LOWER_BOUNDS else "upper", "nats": float(values.mean()),
                         "ci_nats": [float(np.percentile(replicates, 2.5)), float(np.percentile(replicates, 97.5))]}  # fmt: skip
    upper = min((name for name in UPPER_BOUNDS if name in summary), key=lambda name: summary[name]["nats"])
    lower = LOWER_BOUNDS[0]
    result = MIBounds(
        lower_bound=lower, lower_nats=summary[lower]["nats"], lower_ci_nats=tuple(summary[lower]["ci_nats"]),
        upper_bound=upper, upper_nats=summary[upper]["nats"], upper_ci_nats=tuple(summary[upper]["ci_nats"]),
        bounds=summary, block_size=k, ceiling_nats=math.log(k), rows=len(used), samples=samples,
        bootstrap=bootstrap, seconds=time.perf_counter() - started,
    )  # fmt: skip
    result.warnings = _warnings(result, n)
    return result


def _warnings(result: MIBounds, n: int) -> list[str]:
    out = []
    if result.lower_nats > result.ceiling_nats - 1.0:
        out.append(
            f"the lower bound {result.lower_nats:.2f} nats is within 1 nat of its ceiling log K = "
            f"{result.ceiling_nats:.2f}: I(X; Z) may be far above it; raise block_size (needs about e^I rows)"
        )
    if result.rows < n:
        left = n - result.rows
        out.append(f"{left} row{'' if left == 1 else 's'} left over after blocks of {result.block_size} "
                   f"{'was' if left == 1 else 'were'} not used")  # fmt: skip
    return out
