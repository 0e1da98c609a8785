"""MI checks on representations, with the estimation core (:func:`dim.estimate_mi`).

* ``label_mi_barber_agakov``: I(code; label) >= H(label) - CE, CE the held-out cross-entropy
  of a probe q(label | code) (Barber & Agakov, 2003). Any q gives a bound and a calibrated one
  the tightest, so the probe's weight decay is chosen by validation cross-entropy, not accuracy
  (chosen by accuracy, a probe on a separable code is overconfident: measured -7.1 nats on the
  set-up run's code, 2.20 nats chosen by cross-entropy). H(label) is the plug-in entropy of the
  training split's label frequencies (the marginal the probe is fitted under), not of the test
  labels the cross-entropy is measured on. The value is tight when the probe is the true
  posterior (the case the seeds call tight) and can never exceed that H(label).
* ``label_mi_estimate``: a MINE estimate (DV bound) of I(code; label) with its interval, the
  label side embedded as a class (kind "label"); ``estimator=`` picks another estimator.
* ``input_code_mi``: a MINE estimate of I(X; code + sigma * eps). A deterministic encoder on continuous input
  has I(X; code) = inf; adding Gaussian noise of a stated sigma (in units of each code
  dimension's standard deviation) makes the quantity finite and comparable.
* ``neural_dependency``: DIM's neural dependency measure, KL(p(z) || prod_i p(z_i)), the
  total correlation of the code: a critic separates codes from codes whose dimensions were
  shuffled independently across the batch, and the held-out SMILE (clipped DV) readout of
  that critic is the estimate (0 for independent dimensions).
Every value is in nats with its bits beside it; warnings and ceilings come from the core.
"""

from __future__ import annotations


import numpy as np
import torch

from dim import bounds
from dim.critics import mlp
from dim.bounds import NATS_PER_BIT
from dim.estimation import estimate_mi
from dim.tasks import entropy_nats
from eval.linear import check_features, linear_probe

__all__ = ["CHECK_NAMES", "label_mi_barber_agakov", "label_mi_estimate", "input_code_mi", "neural_dependency"]

# the probe's L2 grid for the Barber-Agakov bound: wider than the accuracy probe's, since
# calibration, not accuracy, decides the bound
BA_WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1)

# what each check's reading is, for a reader of the probe's output
CHECK_NAMES = {
    "label_ba": "I(code; label) >= H(label) - CE, a lower bound (Barber-Agakov)",
    "label_mine": "I(code; label), MINE estimate",
    "input_code": "I(input; code + noise), MINE estimate",
    "dependency": "neural dependency KL(p(z) || prod p(z_i)) of the code, estimate",
}



def label_mi_barber_agakov(train_x, train_y, test_x, test_y, seed: int = 0) -> dict:
    """H(label) - CE in nats and bits, a lower bound on I(code; label): H(label) the plug-in
    entropy of train_y's class frequencies, CE the cross-entropy on (test_x, test_y) of a
    linear probe fitted on (train_x, train_y), its weight decay chosen by validation cross-entropy."""
    probe = linear_probe(train_x, train_y, test_x, test_y, seed=seed, weight_decays=BA_WEIGHT_DECAYS,
                         select_by="cross_entropy")  # fmt: skip
    entropy = entropy_nats(np.asarray(train_y))
    value = entropy - probe["cross_entropy_nats"]
    return {"mi_nats": value, "mi_bits": value / NATS_PER_BIT, "ceiling_nats": entropy, "label_entropy_nats": entropy}


def label_mi_estimate(x, y, seed: int = 0, **kwargs) -> dict:
    """estimate_mi(code, label) with the label side as kind "label", MINE unless ``estimator`` is
    given in kwargs; nats, bits, interval."""
    check_features(np.asarray(x), np.asarray(y), "code")
    result = estimate_mi(np.asarray(x, dtype=np.float32), np.asarray(y).astype(np.int64), y_kind="label",
                         seed=seed, **{"estimator": "mine", **kwargs})  # fmt: skip
    return {"mi_nats": result.mi_nats, "mi_bits": result.mi_bits, "ci_nats": list(result.ci_nats),
            "ceiling_nats": result.ceiling_nats, "warnings": result.warnings}  # fmt: skip


def input_code_mi(inputs, codes, sigma: float = 0.1, seed: int = 0, **kwargs) -> dict:
    """I(X; Z + sigma * std(Z) * eps) for inputs (N, ...) and codes (N, D)."""
    codes = np.asarray(codes, dtype=np.float32)
    check_features(codes, None, "code")
    rng = np.random.default_rng(seed)
    noisy = codes + sigma * codes.std(0, keepdims=True) * rng.standard_normal(codes.shape).astype(np.float32)
    result = estimate_mi(np.asarray(inputs, dtype=np.float32), noisy, seed=seed, **{"estimator": "mine", **kwargs})
    return {"mi_nats": result.mi_nats, "mi_bits": result.mi_bits, "ci_nats": list(result.ci_nats), "sigma": sigma,
            "ceiling_nats": result.ceiling_nats, "warnings": result.warnings}  # fmt: skip


def _shuffle_dimensions(codes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each column permuted independently: a sample of prod_i p(z_i)."""
    n = codes.shape[0]
    order = torch.argsort(torch.rand(codes.shape, generator=generator), dim=0)
    return torch.gather(codes, 0, order) if n else codes


def neural_dependency(codes, steps: int = 1500, batch_size: int = 256, seed: int = 0) -> dict:
    """KL(p(z) || prod_i p(z_i)) in nats: JSD-trained critic, DV readout on held-out codes."""
    codes = np.asarray(codes, dtype=np.float32)
    check_features(codes, None, "code")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    z = torch.from_numpy((codes - codes.mean(0)) / (codes.std(0) + 1e-6))
    order = torch.randperm(len(z), generator=generator)
    cut = len(z) // 2
    train, test = z[order[:cut]], z[order[cut:]]
    critic = mlp(z.shape[1], 128, 1)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
    for _ in range(steps):
        rows = torch.randint(len(train), (min(batch_size, len(train)),), generator=generator)
        joint = train[rows]
        product = _shuffle_dimensions(joint, generator)
        objective = bounds.jsd_objective(positive=critic(joint), negative=critic(product))
        optimizer.zero_grad()
        (-objective).backward()
        optimizer.step()
    with torch.no_grad():
        # SMILE's clipped-DV value: the plain DV readout explodes once the critic separates the
        # two samples (measured: 13-22 nats on 64-d codes); clipping at tau = 5 bounds it
        value = bounds.smile_bound(positive=critic(test), negative=critic(_shuffle_dimensions(test, generator)))
    return {"mi_nats": float(value), "mi_bits": float(value) / NATS_PER_BIT, "ceiling_nats": None}
