"""Variational bounds on mutual information, as pure functions of critic scores.

Score layout (one convention for every bound in ``dim``)
---------------------------------------------------------
A critic T turns a batch of pairs into a score matrix ``scores`` of shape (N, M),
N <= M, with ``scores[i, j] = T(x_i, y_j)``. The diagonal ``scores[i, i]`` holds the N
positive pairs (samples of the joint p(x, y)); every off-diagonal entry is a negative
pair (a sample of the product of marginals p(x)p(y)).

* InfoNCE reads each row with its own diagonal: one positive against M - 1 negatives.
* DV, MINE, NWJ, JSD and SMILE read the diagonal as N positives and the N(M - 1)
  off-diagonal entries as negatives.

Every bound also accepts the two kinds of scores given apart,
``positive`` (any shape, flattened) and ``negative`` (any shape, flattened), for
critics that score sampled negatives (e.g. shuffled pairs) instead of a full matrix.

All values are in nats, computed in float32 (also under autocast) with
``logsumexp``/``softplus`` forms, so extreme finite scores give finite values.

Known limits (Poole et al., 2019; McAllester & Stratos, 2020; Song & Ermon, 2020):
any of these lower bounds needs a number of samples exponential in the MI to be tight.
In practice, estimates above ``log(negatives per positive) - 1`` should not be trusted.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = [
    "NATS_PER_BIT",
    "MINE_ALPHA",
    "NWJ_MAX_EXPONENT",
    "SMILE_TAU",
    "diagonal_split",
    "dv_bound",
    "infonce_bound",
    "infonce_rows",
    "infonce_shared_negatives",
    "jsd_objective",
    "jsd_objective_pooled",
    "log_mean_exp",
    "logsumexp",
    "mine_bound",
    "nwj_bound",
    "query_split",
    "smile_bound",
    "smile_value",
]

NATS_PER_BIT = math.log(2.0)  # one bit is log 2 nats
SMILE_TAU = 5.0  # SMILE's clip tau, the authors' default (Song & Ermon, 2020)
MINE_ALPHA = 0.01  # the rate of MINE's moving average of E_q[e^T] (Belghazi et al., 2018)
# exp(80) ~ 5.5e34 < float32 max (3.4e38): the NWJ partition term saturates here, where
# the bound is already ~ -1e34, so a diverged critic gives a huge finite loss, not inf.
NWJ_MAX_EXPONENT = 80.0


def _as_float32(t: Tensor) -> Tensor:
    return t.float() if t.dtype != torch.float32 else t


def _check_layout(scores: Tensor) -> None:
    """A one-line error unless ``scores`` is (N, M), N <= M, M >= 2, positives on the diagonal."""
    if scores.dim() != 2:
        raise ValueError(
            f"scores must be a 2-D (N, M) matrix with positives on the diagonal, got shape {tuple(scores.shape)}"
        )
    n, m = scores.shape
    if n > m:
        raise ValueError(f"scores has N={n} rows but only M={m} columns; the layout needs N <= M")
    if m < 2:
        raise ValueError("scores needs at least 2 columns, so that every row has a negative pair")


def diagonal_split(scores: Tensor) -> tuple[Tensor, Tensor]:
    """Split a score matrix into positives and per-row negatives.

    scores: (N, M) with N <= M; the diagonal holds the positive pairs.
    Returns ``positive`` (N,) = diag(scores) and ``negative`` (N, M - 1), row i holding
    the off-diagonal scores of row i; both float32.
    """
    _check_layout(scores)
    n, m = scores.shape
    scores = _as_float32(scores)
    # Row-major, the diagonal sits every M + 1 entries; the M entries strictly between two
    # consecutive diagonal entries, then the M - N entries after the last one, are the
    # off-diagonal entries in row order. Slicing a strided view avoids the boolean-mask
    # gather (nonzero + index), which cost more than the critic's own matmuls on small batches.
    flat = scores.reshape(-1)
    between = flat[1 : 1 + (n - 1) * (m + 1)].view(n - 1, m + 1)[:, :m].reshape(-1)
    negative = torch.cat([between, flat[(n - 1) * (m + 1) + 1 :]]).view(n, m - 1)
    return scores.diagonal(), negative


def query_split(scores: Tensor) -> tuple[Tensor, Tensor]:
    """Split Deep InfoMax's scores S (N, Q, N, L) (query q of image i against location l of
    image j) into positives (N*Q, L) (j = i) and negatives (N*Q, (N-1)*L) (j != i)."""
    n, q, _, l = scores.shape
    own = torch.eye(n, dtype=torch.bool, device=scores.device)  # (i, j): j == i
    positive = scores.permute(0, 2, 1, 3)[own]  # (N, Q, L)
    negative = scores.permute(0, 2, 1, 3)[~own].reshape(n, n - 1, q, l).permute(0, 2, 1, 3)  # (N, Q, N-1, L)
    return positive.reshape(n * q, l), negative.reshape(n * q, (n - 1) * l)


def _resolve(scores: Tensor | None, positive: Tensor | None, negative: Tensor | None) -> tuple[Tensor, Tensor]:
    """Positives (P,) and negatives (Q,), flattened float32, from either argument style."""
    if scores is not None:
        if positive is not None or negative is not None:
            raise ValueError("pass either scores, or positive and negative, not both")
        positive, negative = diagonal_split(scores)
    elif positive is None or negative is None:
        raise ValueError("pass a score matrix, or both positive and negative scores")
    if positive.numel() == 0 or negative.numel() == 0:
        raise ValueError("positive and negative scores must each hold at least one value")
    return _as_float32(positive).reshape(-1), _as_float32(negative).reshape(-1)


def logsumexp(values: Tensor, dim: int, keepdim: bool = False) -> Tensor:
    """log sum_j exp(values_j) along ``dim``: m + log sum_j exp(max(values_j - m, floor)),
    m the maximum along ``dim`` (0 where it is infinite, as in ``torch.logsumexp``) and
    floor = log(tiny) + 1, tiny the dtype's smallest normal number (floor = -86.3 in float32).

    The same value as ``torch.logsumexp`` (an entry it raises to the floor adds at most
    e * tiny next to the maximum's exp(0) = 1, far below one unit in the last place) and, up
    to rounding, the same gradient; on the CPU several times faster on trained critics'
    scores: an exp whose result is subnormal (arguments from -103 to -87 in float32) is
    computed at a fraction of the vectorised rate, and most entries of a trained critic's
    score matrix, less their row's maximum, fall there. A slice that is all -inf gives -inf.
    """
    peak = values.detach().amax(dim=dim, keepdim=True)
    finite_peak = peak.nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
    floor = math.log(torch.finfo(values.dtype).tiny) + 1.0
    total = (values - finite_peak).clamp_(min=floor).exp_().sum(dim=dim, keepdim=True)  # in place: one |values|
    out = (total.log() + finite_peak).masked_fill(peak == -math.inf, -math.inf)
    return out if keepdim else out.squeeze(dim)


def log_mean_exp(values: Tensor, dim: int | None = None) -> Tensor:
    """log( mean(exp(values)) ), stable: logsumexp(values) - log(count)."""
    values = _as_float32(values)
    if dim is None:
        return logsumexp(values.reshape(-1), dim=0) - math.log(values.numel())
    return logsumexp(values, dim=dim) - math.log(values.shape[dim])


@torch.autocast("cuda", enabled=False)
@torch.autocast("cpu", enabled=False)
def dv_bound(scores: Tensor | None = None, *, positive: Tensor | None = None, negative: Tensor | None = None) -> Tensor:
    """Donsker-Varadhan lower bound on I(X;Y), in nats.

    I_DV = E_p[T] - log E_q[exp T],   p = p(x, y), q = p(x)p(y).

    Shapes: scores (N, M), or positive (P,) and negative (Q,). Returns a scalar.
    Optimal critic: T* = log p(x,y)/(p(x)p(y)) + c for any constant c; there I_DV = I.
    Bias: the Monte Carlo log of a mean, log((1/Q) sum_j e^{T_j}), is biased *downwards*
    (Jensen: E[log Z_hat] <= log E[Z_hat]), so this sample value of the bound is biased
    *upwards*, by about Var_q[e^T] / (2 Q E_q[e^T]^2); at the optimal critic that is
    chi^2(p||q) / (2Q) >= (e^I - 1) / (2Q). So with few negatives a DV value can exceed the
    critic's population bound (and even I). Variance grows like e^I / Q. Ceiling: none in
    expectation, but with Q negatives the estimate is only trustworthy well below log Q. Its
    minibatch gradient is biased; see :func:`mine_bound` for the MINE correction.
    """
    positive, negative = _resolve(scores, positive, negative)
    return positive.mean() - log_mean_exp(negative)


@torch.autocast("cuda", enabled=False)
@torch.autocast("cpu", enabled=False)
def nwj_bound(scores: Tensor | None = None, *, positive: Tensor | None = None, negative: Tensor | None = None) -> Tensor:
    """Nguyen-Wainwright-Jordan (MINE-f, f-divergence) lower bound on I(X;Y), in nats.

    I_NWJ = E_p[T] - E_q[exp(T - 1)].

    Parametrisation: the critic's optimum is T* = 1 + log p(x,y)/(p(x)p(y)), where I_NWJ = I.
    For any fixed critic the sample value is an unbiased estimate of that critic's bound
    (both terms are plain means), unlike DV's log of a mean. I_NWJ <= I_DV for the same
    critic and the same samples, since log z <= z / e for z > 0. Variance of the partition
    term: Var_q[exp(T - 1)] / Q, which at T* is chi^2(p||q) / Q >= (e^I - 1) / Q.
    Gradients are unbiased in minibatches. For float32 safety the partition term is
    computed as exp(min(log_mean_exp(T - 1), NWJ_MAX_EXPONENT)).
    """
    positive, negative = _resolve(scores, positive, negative)
    log_partition = log_mean_exp(negative - 1.0).clamp(max=NWJ_MAX_EXPONENT)
    return positive.mean() - torch.exp(log_partition)


@torch.autocast("cuda", enabled=False)
@torch.autocast("cpu", enabled=False)
def jsd_objective(
    scores: Tensor | None = None, *, positive: Tensor | None = None, negative: Tensor | None = None
) -> Tensor:
    """Jensen-Shannon training objective (f-GAN / Deep InfoMax form). **Not an MI value.**

    J = E_p[-softplus(-T)] - E_q[softplus(T)]   (= 2 JSD(p || q) - log 4 at the optimum).

    Maximising J trains T as the logit of a classifier of joint vs. product samples; its
    optimum is T* = log p(x,y)/(p(x)p(y)), the same as DV's, so a JSD-trained critic
    reports MI through the DV (or NWJ, after adding 1) readout. Its gradients are
    bounded and low-variance, which is why Deep InfoMax trains with it. J <= 0 always.
    """
    positive, negative = _resolve(scores, positive, negative)
    return -F.softplus(-positive).mean() - F.softplus(negative).mean()


def jsd_objective_pooled(positive: Tensor, pool: Tensor) -> Tensor:
    """:func:`jsd_objective` when the negatives are every entry of ``pool`` except the positives.

    positive (P,): scores that are also entries of ``pool`` (any shape); the negatives are the
    other ``pool.numel() - P`` entries. Uses softplus(-t) = softplus(t) - t and
    E_q[softplus(T)] = (sum_pool softplus - sum_positive softplus) / #negatives, so the pool is
    read once and never gathered into a separate negatives tensor (the local DIM case, where
    the pool holds N x N x L scores and only N x L are positives). Same value as
    ``jsd_objective(positive=positive, negative=<pool without the positives>)``.
    """
    positive, pool = _as_float32(positive).reshape(-1), _as_float32(pool)
    negatives = pool.numel() - positive.numel()
    if negatives <= 0:
        raise ValueError("the pool must hold more entries than the positives")
    softplus_positive = F.softplus(positive)
    negative_mean = (F.softplus(pool).sum() - softplus_positive.sum()) / negatives
    return (positive - softplus_positive).mean() - negative_mean


@torch.autocast("cuda", enabled=False)
@torch.autocast("cpu", enabled=False)
def infonce_bound(
    scores: Tensor | None = None, *, positive: Tensor | None = None, negative: Tensor | None = None
) -> Tensor:
    """InfoNCE (CPC) lower bound on I(X;Y), in nats.

    I_NCE = mean_i [ S_ii - logsumexp_j S_ij ] + log M.

    Shapes: scores (N, M), N <= M, row i scoring x_i against y_1..y_M with its positive
    at j = i; or positive (N,) with its own negatives negative (N, K), M = K + 1.
    Optimal critic: T*(x, y) = log p(y|x)/p(y) + c(x), defined up to any function c(x) of x
    alone (it cancels in the row's softmax); even there I_NCE -> I only as M -> inf.
    Ceiling: I_NCE <= log M always, so the bias is large once I approaches log M;
    variance is low (it is a log-softmax cross-entropy).
    """
    if scores is not None:
        if positive is not None or negative is not None:
            raise ValueError("pass either scores, or positive and negative, not both")
        _check_layout(scores)
        # row i of the matrix already holds its positive and its M - 1 negatives
        scores = _as_float32(scores)
        return (scores.diagonal() - logsumexp(scores, dim=1)).mean() + math.log(scores.shape[1])
    if positive is None or negative is None or negative.dim() != 2 or positive.shape != negative.shape[:1]:
        raise ValueError("InfoNCE needs an (N, M) score matrix, or positive (N,) with per-row negatives (N, K)")
    return infonce_rows(positive, negative).mean() + math.log(negative.shape[1] + 1)


def infonce_rows(positive: Tensor, negative: Tensor) -> Tensor:
    """InfoNCE's terms s - logsumexp(s, t_i1, ..., t_iK) for positive (N,) or (N, P) and
    negative (N, K), every positive of row i against the K negatives of row i, as
    s - logaddexp(s, logsumexp_k t_ik): the negatives' logsumexp is taken once per row and the
    row [s, t_i] is never copied together (on the CPU a third of the time). Returns float32 of
    positive's shape; their mean + log(K + 1) is :func:`infonce_bound` (one positive a row) or
    :func:`infonce_shared_negatives` (several)."""
    positive, negative = _as_float32(positive), _as_float32(negative)
    return positive - torch.logaddexp(positive, logsumexp(negative, dim=1, keepdim=positive.dim() == 2))


@torch.autocast("cuda", enabled=False)
@torch.autocast("cpu", enabled=False)
def infonce_shared_negatives(positive: Tensor, negative: Tensor) -> Tensor:
    """InfoNCE when several positives of a row share the same negatives, in nats.

    I_NCE = mean_{n,p} [ s_np - log( exp(s_np) + sum_k exp(t_nk) ) ] + log(K + 1)

    Shapes: positive (N, P), negative (N, K): each of the P positives of row n is contrasted
    with the same K negatives of row n (local DIM: P locations of image n against the K
    locations of the other images). The negatives' logsumexp is computed once per row, so
    the cost is O(N (P + K)) instead of the O(N P K) of materialising every softmax row;
    the value equals :func:`infonce_bound` applied row by row. Ceiling: log(K + 1).
    """
    if positive.dim() != 2 or negative.dim() != 2 or positive.shape[0] != negative.shape[0]:
        raise ValueError("shared-negative InfoNCE needs positive (N, P) and negative (N, K)")
    return infonce_rows(positive, negative).mean() + math.log(negative.shape[1] + 1)


@torch.autocast("cuda", enabled=False)
@torch.autocast("cpu", enabled=False)
def smile_bound(
    scores: Tensor | None = None,
    *,
    positive: Tensor | None = None,
    negative: Tensor | None = None,
    clip: float = SMILE_TAU,
) -> Tensor:
    """SMILE estimate of I(X;Y) (Song & Ermon, 2020), in nats; trained through the JS gradient.

    value    = E_p[T] - log E_q[exp(clip(T, -tau, tau))]     (DV with clipped partition term)
    gradient = gradient of :func:`jsd_objective`               (as the authors' code does)

    Shapes as :func:`dv_bound`; ``clip`` is tau. Clipping bounds the variance of the
    partition term by ~ e^{2 tau}/Q. **Not a bound.** At the optimal critic T* = log p/q,
    E_q[e^{T*}] = 1 and the value would be I; clipping replaces e^T by e^tau where T > tau
    (lowering the partition term, so raising the value) and by e^-tau where T < -tau
    (raising it slightly). Where p puts mass on T* > tau the upward change dominates and the
    value can exceed I by a wide margin (measured by ``scripts/repro/repro_gaussian.py`` on d = 20
    Gaussians: 4.46 nats read 4.90 and 5.28 on two seeds; ``estimate_mi`` therefore reports
    a true lower bound beside every SMILE value). With tau = inf it is DV.
    """
    positive, negative = _resolve(scores, positive, negative)
    value = smile_value(positive=positive, negative=negative, clip=clip)
    training_signal = jsd_objective(positive=positive, negative=negative)
    return training_signal + (value - training_signal).detach()


@torch.no_grad()
def smile_value(
    scores: Tensor | None = None,
    *,
    positive: Tensor | None = None,
    negative: Tensor | None = None,
    clip: float = SMILE_TAU,
) -> Tensor:
    """The value of :func:`smile_bound` alone (no training signal), for readouts: in nats,
    E_p[T] - log E_q[exp(clip(T, -tau, tau))]. An estimate, **not a bound** (see there)."""
    positive, negative = _resolve(scores, positive, negative)
    return positive.mean() - log_mean_exp(negative.clamp(-clip, clip))


class MINEMovingAverage(torch.nn.Module):
    """The MINE bias-corrected DV gradient (Belghazi et al., 2018, Sec. 3.2).

    The minibatch gradient of log E_q[e^T] is E_B[e^T grad T] / E_B[e^T]; its denominator
    is a biased estimate. MINE replaces it with an exponential moving average
    m_t = (1 - alpha) m_{t-1} + alpha E_B[e^T], kept here in log space. The forward value
    stays the plain DV bound of the batch; only the gradient changes.

    The average is a detached buffer (``log_average``): it never holds an autograd graph
    between steps and is saved in ``state_dict`` for checkpoints.
    """

    def __init__(self, alpha: float = MINE_ALPHA) -> None:
        super().__init__()
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha
        self.register_buffer("log_average", torch.tensor(float("nan")))

    @torch.autocast("cuda", enabled=False)
    @torch.autocast("cpu", enabled=False)
    def forward(
        self,
        scores: Tensor | None = None,
        *,
        positive: Tensor | None = None,
        negative: Tensor | None = None,
        update: bool = True,
    ) -> Tensor:
        """DV value of the batch, with the MINE moving-average gradient. Shapes as :func:`dv_bound`.

        The average takes in this batch when ``update`` is true, the module is in training mode and
        gradients are enabled; ``update=False`` reads the bound (and its corrected gradient) as the
        average stands, e.g. for a second reading in the same step by another player."""
        positive, negative = _resolve(scores, positive, negative)
        batch_log_mean = log_mean_exp(negative)
        if update and self.training and torch.is_grad_enabled():
            self._update(batch_log_mean.detach())
        if torch.isnan(self.log_average):
            return positive.mean() - batch_log_mean
        # grad of exp(lme - log m) = (E_B[e^T] / m) grad lme = E_B[e^T grad T] / m
        surrogate = torch.exp(batch_log_mean - self.log_average)
        corrected = batch_log_mean.detach() + surrogate - surrogate.detach()
        return positive.mean() - corrected

    @torch.no_grad()
    def _update(self, batch_log_mean: Tensor) -> None:
        batch_log_mean = batch_log_mean.to(self.log_average.device)
        if torch.isnan(self.log_average):
            self.log_average.copy_(batch_log_mean)
        else:
            self.log_average.copy_(
                torch.logaddexp(self.log_average + math.log1p(-self.alpha), batch_log_mean + math.log(self.alpha))
            )


def mine_bound(
    scores: Tensor | None = None,
    *,
    moving_average: MINEMovingAverage,
    positive: Tensor | None = None,
    negative: Tensor | None = None,
    update: bool = True,
) -> Tensor:
    """MINE: the DV value with the moving-average gradient of ``moving_average`` (updated with this
    batch unless ``update`` is false). In nats."""
    return moving_average(scores, positive=positive, negative=negative, update=update)

