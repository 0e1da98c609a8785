"""estimate_mi on data with known MI, the MI loss module, and adaptive clipping."""

import math

import numpy as np
import pytest
import torch

from dim import DataError, ConfigError, MutualInformation, estimate_mi
from dim.critics import make_critic
from dim.objectives import ESTIMATORS
from dim.gradients import adaptive_clip_
from dim.tasks import gaussian_rho_for_mi, sample_correlated_gaussians
from dim.tasks.distributions import additive_uniform_mi, sample_additive_uniform

FAST = dict(steps=600, eval_every=50, patience=6, bootstrap=50, readout_batch_size=512, hidden=64)


@pytest.mark.parametrize("lr_schedule", ["constant", "cosine"])
def test_short_training_recovers_known_mi(lr_schedule):
    x, y = sample_correlated_gaussians(3000, 2, gaussian_rho_for_mi(1.0, 2), seed=3)
    result = estimate_mi(x, y, lr_schedule=lr_schedule, **FAST)
    assert result.mi_nats == pytest.approx(1.0, abs=0.15)
    assert result.ci_nats[0] <= 1.0 <= result.ci_nats[1] + 0.05  # the truth, not the estimate itself
    assert result.mi_bits == pytest.approx(result.mi_nats / math.log(2))
    assert result.ceiling_nats == pytest.approx(math.log(512))  # the default reads out InfoNCE here
    assert result.rows == {"train": 1800, "val": 300, "calibration": 300, "test": 512}
    assert result.history and result.history[-1]["step"] == result.steps


COVERAGE = dict(steps=150, eval_every=25, patience=4, bootstrap=100, readout_batch_size=256, hidden=32,
                embedding_dim=16, lr=3e-3)  # fmt: skip


@pytest.mark.parametrize("estimator", ["dv", "mine", "nwj", "infonce"])
def test_true_lower_bounds_cover_the_truth_over_seeds(estimator, single_thread):
    """For a lower bound, the lower 95% limit must sit at or below the known MI in >= 90% of
    20 seeds; on independent data the interval must contain 0 in >= 90% of 20 seeds."""
    truth = 0.5
    below, contains_zero = 0, 0
    for seed in range(20):
        x, y = sample_correlated_gaussians(800, 2, gaussian_rho_for_mi(truth, 2), seed=100 + seed)
        result = estimate_mi(x, y, estimator=estimator, seed=seed, **COVERAGE)
        assert result.is_lower_bound
        below += result.ci_nats[0] <= truth
        rng = np.random.default_rng(seed)
        independent = estimate_mi(rng.standard_normal((800, 2)), rng.standard_normal((800, 2)), estimator=estimator,
                                  seed=seed, **COVERAGE)  # fmt: skip
        contains_zero += independent.ci_nats[0] <= 0.0 <= independent.ci_nats[1]
    assert below >= 18 and contains_zero >= 18


def test_a_floored_estimate_keeps_an_interval_and_the_raw_reading():
    """Weak dependence (0.02 nats) at n = 2,000: the estimate may be floored, but its interval
    is never [0, 0]; it reaches up to the upper limit, above the raw reading, and that limit
    covers the truth on most samples (3 of the 4 drawn here; it is a 95% limit on what the
    critic's bound reads, which is below the MI, so it can fall short of it)."""
    truth = 0.02
    results = [estimate_mi(*sample_correlated_gaussians(2000, 5, gaussian_rho_for_mi(truth, 5), seed=seed),
                           estimator="dv", **FAST) for seed in range(4)]  # fmt: skip
    assert sum(r.ci_nats[1] >= truth for r in results) >= 3
    result = results[0]
    assert result.floored and result.mi_nats == 0.0 and result.critic_scale == 0.0
    assert result.ci_nats[0] == 0.0 and result.ci_nats[1] == result.upper_limit_nats > max(result.raw_mi_nats, 0.0)
    assert result.raw_ci_nats[0] < result.raw_mi_nats < result.raw_ci_nats[1]
    assert any("no dependence above" in w for w in result.warnings)
    payload = result.to_dict()
    assert payload["floored"] is True and len(payload["raw_ci_nats"]) == 2


def test_smile_is_labelled_an_estimate_and_carries_a_true_lower_bound(single_thread):
    truth = 1.0
    x, y = sample_correlated_gaussians(3000, 2, gaussian_rho_for_mi(truth, 2), seed=3)
    result = estimate_mi(x, y, estimator="smile", **FAST)
    assert not result.is_lower_bound and result.lower_bound_readout == "dv"
    low, high = result.lower_bound_ci_nats
    assert low <= truth and low < result.lower_bound_nats < high
    assert result.lower_bound_nats == pytest.approx(truth, abs=0.2)
    assert any("not a lower bound" in w for w in result.warnings)
    from dim.report import mi_table

    assert "estimate, not a lower bound" in mi_table([result])
    assert estimate_mi(x, y, estimator="dv", **FAST).lower_bound_nats is None


def test_calibration_finds_the_shrinkage_and_detects_no_evidence():
    from dim.estimation.readout import calibrate_scale, scaled_scores

    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(2000, generator=generator), torch.randn(2000, 50, generator=generator)
    assert not calibrate_scale("dv", *noise, clip=5.0).significant  # independent: no evidence
    positive, negative = 2.0 + torch.randn(2000, generator=generator), torch.randn(2000, 50, generator=generator)
    calibration = calibrate_scale("dv", 3 * positive, 3 * negative, clip=5.0)  # over-confident x3
    # the log-ratio of N(2,1) to N(0,1) is 2t - 2, so the best multiple of 3t is s = 2/3;
    # the DV value there is KL(N(2,1) || N(0,1)) = 2 nats
    assert calibration.significant and calibration.scale == pytest.approx(2 / 3, abs=0.05)
    assert calibration.value == pytest.approx(2.0, abs=0.15)
    assert torch.allclose(scaled_scores(torch.tensor([3.0]), 0.0, "nwj"), torch.tensor([1.0]))


def test_calibration_and_early_stopping_use_disjoint_rows():
    from dim.estimation.inputs import split_parts as _split

    parts = _split(1000, (0.6, 0.2, 0.2), torch.Generator().manual_seed(0), None, 1)
    assert [len(p) for p in parts] == [600, 100, 100, 200]
    assert len(torch.unique(torch.cat(parts))) == 1000


def test_explicit_split_rows_are_used_and_checked():
    x, y = sample_correlated_gaussians(600, 2, 0.5, seed=1)
    rows = (np.arange(0, 400), np.arange(400, 500), np.arange(500, 600))
    result = estimate_mi(x, y, split_rows=rows, **{**FAST, "steps": 50})
    assert result.rows == {"train": 400, "val": 50, "calibration": 50, "test": 100}
    with pytest.raises(DataError, match="overlap"):
        estimate_mi(x, y, split_rows=(np.arange(0, 400), np.arange(300, 500), np.arange(500, 600)))


def test_infonce_saturates_at_its_ceiling_and_warns():
    x, y = sample_correlated_gaussians(1200, 2, 0.999, seed=0)  # ~6.2 nats, far above log 128
    result = estimate_mi(x, y, estimator="infonce", **{**FAST, "readout_batch_size": 128, "lr": 3e-3})
    assert result.ceiling_nats == pytest.approx(math.log(128))
    assert result.mi_nats > math.log(128) - 0.5  # a trained critic reaches the cap at 6.2 nats
    assert any("ceiling" in w for w in result.warnings)


def test_auto_reports_infonce_below_its_ceiling():
    """The default estimator far below log B is InfoNCE itself: same value, same interval."""
    x, y = sample_correlated_gaussians(3000, 2, gaussian_rho_for_mi(1.0, 2), seed=3)
    auto = estimate_mi(x, y, **FAST)
    infonce = estimate_mi(x, y, estimator="infonce", **FAST)
    assert auto.estimator == "infonce" and auto.auto_choice["reported"] == "infonce"
    assert (auto.mi_nats, auto.ci_nats) == (infonce.mi_nats, infonce.ci_nats)
    assert auto.mi_nats == pytest.approx(1.0, abs=0.15)
    assert auto.to_dict()["auto_choice"]["infonce_ceiling_nats"] == pytest.approx(math.log(512))


def test_auto_switches_to_mine_near_the_infonce_ceiling():
    """4 nats read out in blocks of B = 8: InfoNCE cannot pass log 8 = 2.08 and reads within 2
    nats of it, so the default trains MINE too; MINE's DV readout is not capped, reads higher on
    the early-stopping rows, and is reported: above log 8, at most the truth."""
    x, y = sample_correlated_gaussians(3000, 2, gaussian_rho_for_mi(4.0, 2), seed=0)
    result = estimate_mi(x, y, **{**FAST, "readout_batch_size": 8})
    choice = result.auto_choice
    assert math.log(8) - 2.0 <= choice["infonce_nats"] <= math.log(8)
    assert choice["reported"] == "mine" and (result.estimator, result.readout) == ("mine", "dv")
    assert math.log(8) < result.mi_nats == choice["mine_nats"] and result.ci_nats[0] <= 4.0
    assert any("MINE (no ceiling) was trained too" in w for w in result.warnings)


def test_auto_with_seeds_reports_one_head_for_every_run(single_thread):
    x, y = sample_correlated_gaussians(1500, 2, gaussian_rho_for_mi(1.0, 2), seed=3)
    result = estimate_mi(x, y, seeds=2, **{**FAST, "steps": 200})
    assert [r["estimator"] for r in result.runs] == ["infonce", "infonce"]
    assert result.auto_choice["reported"] == "infonce" and "mine_nats" not in result.auto_choice
    assert result.mi_nats == pytest.approx(np.mean([r["mi_nats"] for r in result.runs]))
    assert result.auto_choice["infonce_nats"] == pytest.approx(result.mi_nats)


def test_auto_refuses_a_readout_override():
    with pytest.raises(ConfigError, match="name the estimator"):
        estimate_mi(np.zeros((200, 2)), np.zeros((200, 2)), readout="dv")


def test_combined_interval_adds_run_spread_to_the_widest_run():
    from dim.estimation import combine_intervals

    # runs 1.0 [0.9, 1.1], 1.2 [1.0, 1.3], 1.4 [1.35, 1.5]: mean 1.2, widest sides 0.2 below
    # and 0.1 above, sd 0.2 over 3 runs: t(0.975, 2) = 4.303, 4.303 * 0.2 / sqrt(3) = 0.4969
    low, high = combine_intervals([1.0, 1.2, 1.4], [(0.9, 1.1), (1.0, 1.3), (1.35, 1.5)])
    assert low == pytest.approx(1.2 - 0.2 - 0.4969, abs=1e-3)
    assert high == pytest.approx(1.2 + 0.1 + 0.4969, abs=1e-3)


def test_folds_and_seeds_report_spread(single_thread):
    x, y = sample_correlated_gaussians(1000, 2, gaussian_rho_for_mi(0.5, 2), seed=1)
    result = estimate_mi(x, y, folds=3, **{**FAST, "steps": 200})
    assert len(result.runs) == 3 and result.spread_nats is not None
    assert result.mi_nats == pytest.approx(np.mean([r["mi_nats"] for r in result.runs]))
    widest = max(r["ci_nats"][1] - r["ci_nats"][0] for r in result.runs)
    assert result.ci_nats[1] - result.ci_nats[0] >= widest  # overlapping runs never narrow the interval


def test_same_seed_same_estimate():
    x, y = sample_correlated_gaussians(600, 2, 0.5, seed=1)
    a = estimate_mi(x, y, **{**FAST, "steps": 100})
    b = estimate_mi(x, y, **{**FAST, "steps": 100})
    assert a.mi_nats == b.mi_nats


@pytest.mark.parametrize(
    "x, y, error, match",
    [
        (np.zeros((200, 2)), np.zeros((199, 2)), DataError, "paired row by row"),
        (np.full((200, 2), np.nan), np.zeros((200, 2)), DataError, "NaN"),
        (np.zeros((50, 2)), np.zeros((50, 2)), DataError, "at least"),
    ],
)
def test_bad_input_raises_clear_error(x, y, error, match):
    with pytest.raises(error, match=match):
        estimate_mi(x, y)


def test_unknown_estimator():
    with pytest.raises(ConfigError, match="unknown estimator"):
        estimate_mi(np.zeros((200, 2)), np.zeros((200, 2)), estimator="ksg")
    with pytest.raises(ConfigError, match="unknown lr_schedule"):
        estimate_mi(np.zeros((200, 2)), np.zeros((200, 2)), lr_schedule="step")


@pytest.mark.parametrize("estimator", ["dv", "mine", "nwj", "jsd", "infonce", "smile"])
def test_mi_module_raises_its_bound_in_a_few_steps(estimator):
    x, y = (torch.from_numpy(a) for a in sample_correlated_gaussians(256, 2, 0.9, seed=0))
    module = MutualInformation(make_critic(x, y, hidden=32, embedding_dim=16), estimator)
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
    first = module(x, y).mi_nats.item()
    for _ in range(60):
        out = module(x, y)
        optimizer.zero_grad()
        (-out.objective).backward()
        optimizer.step()
    assert module(x, y).mi_nats.item() > first + 0.3
    assert torch.isfinite(out.objective)


def test_adaptive_clip_bounds_the_mi_gradient_norm():
    weight = torch.nn.Parameter(torch.ones(3))
    main = (weight * 0.01).sum()  # gradient norm 0.01 * sqrt(3)
    mi = (weight * 100.0).sum()  # gradient norm 100 * sqrt(3)
    adaptive_clip_(main, mi, [weight])
    # clipped MI gradient has the main gradient's norm: total = 0.01 + 0.01 per entry
    assert torch.allclose(weight.grad, torch.full((3,), 0.02))


def test_standardisation_keeps_rare_features_bounded():
    """A feature constant on the training rows must not become a 1e6-sigma outlier held out."""
    from dim.estimation.inputs import standardize as _standardize

    values = torch.randn(200, 5)
    values[:, 0] = 0.0
    values[150, 0] = 1.0  # a rare "pixel", on in one held-out row only
    scaled = _standardize(values, "vector", torch.arange(100))
    assert scaled.abs().max() <= 10.0
    assert torch.allclose(scaled[:100, 1:].mean(0), torch.zeros(4), atol=1e-5)


def test_cli_prints_raw_and_reported_readings_the_kind_and_the_floored_note(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((600, 2)).astype(np.float32))
    np.save(tmp_path / "y.npy", rng.standard_normal((600, 2)).astype(np.float32))
    script = Path(__file__).resolve().parent.parent / "scripts" / "estimate_mi.py"
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, str(script), f"x={tmp_path}/x.npy", f"y={tmp_path}/y.npy", f"out={out}", "estimator=dv",
         "training.steps=100", "training.eval_every=50", "training.bootstrap=50", "training.hidden=32",
         "progress=false"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "raw nats" in done.stdout and "bound" in done.stdout
    assert "floored at 0: no dependence above" in done.stdout
    payload = json.loads(out.read_text())
    assert payload["floored"] is True and payload["is_lower_bound"] is True
    assert payload["ci_nats"][1] == payload["upper_limit_nats"] > 0.0
    assert len(payload["raw_ci_nats"]) == 2


@pytest.mark.parametrize("readout", ["dv", "nwj", "nwj_shifted", "infonce", "smile"])
def test_bootstrap_from_row_summaries_equals_resampling_the_scores(readout):
    """Each bootstrap draw is read from per-row summaries; it must equal the readout applied to
    the resampled rows themselves (the O(R K) reference)."""
    from dim.estimation.readout import bootstrap_readings as _bootstrap
    from dim.objectives import readout_value

    generator = torch.Generator().manual_seed(1)
    positive = 2.0 + 3.0 * torch.randn(300, generator=generator)  # wide scores, so SMILE's clip acts
    negative = 3.0 * torch.randn(300, 40, generator=generator)
    fast = _bootstrap(readout, positive, negative, clip=5.0, draws=20, seed=7)
    rows = torch.randint(300, (20, 300), generator=torch.Generator().manual_seed(7))
    reference = [readout_value(readout, positive[r], negative[r], clip=5.0).item() for r in rows]
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-5)


def test_rank_transform_leaves_a_known_mi_unchanged():
    """exp on X and a cube on Y are invertible per coordinate, so I(X; Y) is the Gaussian's;
    after the rank transform the warped pair must read what the plain pair reads."""
    truth = 0.5
    x, y = sample_correlated_gaussians(3000, 2, gaussian_rho_for_mi(truth, 2), seed=5)
    plain = estimate_mi(x, y, estimator="dv", transform="rank", **FAST)
    warped = estimate_mi(np.exp(x), y**3, estimator="dv", transform="rank", **FAST)
    assert warped.transform["x"]["transform"] == "rank" and warped.transform["x"]["tied_columns"] == 0
    assert warped.ci_nats[0] <= plain.mi_nats <= warped.ci_nats[1]
    assert warped.mi_nats == pytest.approx(truth, abs=0.1)


def test_a_cauchy_pair_is_not_floored_after_the_rank_transform(single_thread):
    """A Student-t pair with one degree of freedom (Cauchy tails, known MI): z-scores squash
    most rows to ~0; ranks keep the dependence visible."""
    from dim.tasks import DISTRIBUTION_TASKS

    task = DISTRIBUTION_TASKS["student-t-dof1-1x1"]
    x, y = task.sample(3000, seed=0)
    result = estimate_mi(x, y, estimator="dv", transform="rank", **FAST)
    assert not result.floored
    assert result.ci_nats[0] <= task.mi_nats and result.mi_nats > 0.5 * task.mi_nats


def test_rank_transform_reports_ties_and_discrete_columns():
    from dim.estimation import transform_inputs

    values = torch.tensor([[0.0, 1.5], [1.0, 2.5], [1.0, 3.5], [2.0, 4.5]])
    z, notes = transform_inputs(values, "vector", torch.arange(4), "rank")
    assert notes == {"transform": "rank", "tied_columns": 1, "discrete_columns": 2}
    assert z[1, 0] == z[2, 0] and torch.all(z[1:, 1] > z[:-1, 1])  # ties share a rank; order kept
    with pytest.raises(ConfigError, match="unknown transform"):
        estimate_mi(np.zeros((200, 2)), np.zeros((200, 2)), transform="log")


def test_radius_column_is_the_hand_computed_robust_radius():
    """with_radius appends r = sqrt(mean_j ((x_j - median_j) / IQR_j)^2), median and IQR of the
    training rows; one-column sides and labels pass unchanged."""
    from dim.estimation.inputs import with_radius

    values = torch.tensor([[0.0, 0.0], [1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    train = torch.arange(5)  # medians 2 and 20; IQRs 2 and 20 (quartiles 1, 3 and 10, 30)
    out = with_radius(values, "vector", train)
    assert out.shape == (5, 3) and torch.equal(out[:, :2], values)
    expected = torch.tensor([1.0, 0.5, 0.0, 0.5, 1.0])  # both columns scale to (x - 2) / 2
    torch.testing.assert_close(out[:, 2], expected)
    one_column = values[:, :1]
    assert with_radius(one_column, "vector", train) is one_column
    labels = torch.tensor([0, 1, 2, 1, 0])
    assert with_radius(labels, "label", train) is labels


def test_radius_column_keeps_a_known_mi_and_can_be_turned_off(single_thread):
    """The radius is a function of the row, so a Gaussian pair's reading stays near its known MI
    with the column, and radius_column=False gives the sides as they are (recorded in transform)."""
    truth = 0.5
    x, y = sample_correlated_gaussians(3000, 3, gaussian_rho_for_mi(truth, 3), seed=5)
    with_column = estimate_mi(x, y, **FAST)
    without = estimate_mi(x, y, radius_column=False, **FAST)
    assert with_column.transform["x"]["radius_column"] and with_column.transform["y"]["radius_column"]
    assert not without.transform["x"]["radius_column"]
    assert with_column.ci_nats[0] <= truth and with_column.mi_nats == pytest.approx(truth, abs=0.1)


def test_interaction_critic_reads_a_band_dependence_and_keeps_its_bound(single_thread):
    """Y = X + U(-0.1, 0.1): the log-ratio is a step, log(1 / 0.2) inside the band and -inf outside.
    The non-separable critic's reading is a lower bound near the known MI (1.709 nats)."""
    from dim.tasks import additive_uniform_mi, sample_additive_uniform

    truth = additive_uniform_mi(0.1)
    x, y = sample_additive_uniform(3000, 0.1, seed=0)
    result = estimate_mi(x, y, critic="interaction", **FAST)
    assert result.is_lower_bound and result.ci_nats[0] <= truth
    assert result.mi_nats == pytest.approx(truth, abs=0.3)


def test_weight_averaging_setting():
    """ema=0 reads the trained weights; any ema in (0, 1) reads their average, and both recover a
    known MI; a value outside [0, 1) is a one-line error."""
    x, y = sample_correlated_gaussians(3000, 2, gaussian_rho_for_mi(1.0, 2), seed=3)
    trained = estimate_mi(x, y, ema=0.0, **FAST)
    averaged = estimate_mi(x, y, ema=0.99, **FAST)
    assert trained.mi_nats == pytest.approx(1.0, abs=0.15)
    assert averaged.mi_nats == pytest.approx(1.0, abs=0.15)
    assert averaged.mi_nats != trained.mi_nats  # the average is a different critic
    with pytest.raises(ConfigError, match="ema must be in"):
        estimate_mi(x, y, ema=1.0, **FAST)


def test_learning_rate_defaults_to_the_estimators_own():
    """lr=None trains each objective's critic at its registered rate (InfoNCE 3e-3, MINE 1e-3):
    the same estimate, bit for bit, as that rate given explicitly; another rate trains another
    critic; a rate that is not positive is a one-line error."""
    x, y = sample_correlated_gaussians(2000, 2, gaussian_rho_for_mi(1.0, 2), seed=5)
    settings = {**FAST, "steps": 200}
    assert ESTIMATORS["infonce"].critic_lr == 3e-3 and ESTIMATORS["mine"].critic_lr == 1e-3
    for name, rate in (("infonce", 3e-3), ("mine", 1e-3)):
        default = estimate_mi(x, y, estimator=name, **settings)
        given = estimate_mi(x, y, estimator=name, lr=rate, **settings)
        other = estimate_mi(x, y, estimator=name, lr=rate / 3, **settings)
        assert (default.mi_nats, default.ci_nats) == (given.mi_nats, given.ci_nats)
        assert default.mi_nats != other.mi_nats
    with pytest.raises(ConfigError, match="lr must be a positive"):
        estimate_mi(x, y, lr=0.0, **settings)


def test_fourier_basis_reads_a_noise_band_closer():
    """y = x + eps * u (x, u uniform) has a step in its log-ratio, at |y - x| = eps / 2, and a
    known MI (1.709 nats at eps 0.1): a one-column side with the Fourier basis (the default)
    reads it closer than the plain MLP on the same rows, and stays a lower bound; a negative
    number of frequencies is a one-line error."""
    x, y = sample_additive_uniform(3000, 0.1, seed=0)
    truth = additive_uniform_mi(0.1)
    settings = dict(steps=800, hidden=64, bootstrap=50, seed=0)
    plain = estimate_mi(x, y, fourier_features=0, **settings)
    basis = estimate_mi(x, y, **settings)
    assert basis.mi_nats > plain.mi_nats + 0.02
    assert basis.ci_nats[0] <= truth and basis.mi_nats == pytest.approx(truth, rel=0.15)
    with pytest.raises(ConfigError, match="fourier_features must be"):
        estimate_mi(x, y, fourier_features=-1, **settings)
