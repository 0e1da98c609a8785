"""Samplers with known MI: the digit tasks' disjoint parts, and each benchmark distribution's
ground truth against an independent computation (Monte Carlo with exact densities, KSG, or
the canonical-correlation formula)."""

import math
from itertools import combinations

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from dim.ksg import ksg_mi
from dim.tasks import (
    DISTRIBUTION_TASKS,
    SplitPairs,
    additive_uniform_mi,
    dense_correlation,
    disjoint_pools,
    embedded_digits,
    half_cube_warp,
    mnist_image_pairs,
    mnist_image_value_pairs,
    multinormal_mi,
    normal_cdf_warp,
    sample_additive_uniform,
    sample_multinormal,
    sample_student_t,
    sample_warped_multinormal,
    sparse_correlation,
    spiral_warp,
    bmi_spiral,
    student_t_correction,
    student_t_mi,
)

FOUR = (4, 5, 8, 9)


def _row_set(images: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in images.reshape(len(images), -1)}


def _shown_images(part) -> set[bytes]:
    """The distinct images a part shows, found from its pixels alone (not its indices)."""
    return _row_set(part.a) | (_row_set(part.b) if part.b_digits is not None else set())


@pytest.mark.parametrize("task", [mnist_image_pairs, mnist_image_value_pairs])
def test_digit_parts_share_no_image_and_count_their_digits_right(task):
    split = task(FOUR, 3000, seed=1)
    shown = {name: _shown_images(part) for name, part in split.parts.items()}
    for first, second in combinations(shown, 2):
        assert not shown[first] & shown[second], f"{first} and {second} share an image"
        assert not np.intersect1d(split.parts[first].digits, split.parts[second].digits).size
    assert split.distinct_digits() == {name: len(images) for name, images in shown.items()}
    images, _ = embedded_digits()
    for part in split.parts.values():
        assert np.array_equal(part.a, images[part.a_digits])


def test_pools_cut_every_class_in_the_split_fractions():
    _, labels = embedded_digits()
    pools = disjoint_pools(labels, FOUR, (0.6, 0.2, 0.2), np.random.default_rng(0))
    assert len(np.unique(np.concatenate(pools))) == 2000  # disjoint and covering the 4 classes
    for pool, share in zip(pools, (300, 100, 100)):
        assert np.array_equal(np.bincount(labels[pool], minlength=10)[list(FOUR)], [share] * 4)


def test_fresh_pairs_are_cut_in_order_and_show_no_digits():
    a, b = np.arange(1000.0)[:, None], -np.arange(1000.0)[:, None]
    split = SplitPairs.in_order(a, b, true_mi_nats=1.5)
    assert [len(p.a) for p in split.parts.values()] == [600, 200, 200]
    assert split.test.a[0, 0] == 800 and split.test.b[-1, 0] == -999
    assert split.distinct_digits() is None and split.true_mi_nats == 1.5


def test_joined_rows_pick_out_each_part_in_estimate_mis_proportions():
    split = mnist_image_pairs(FOUR, 1000, seed=0)
    a, b, rows = split.joined()
    assert [len(r) for r in rows] == [600, 200, 200]
    assert sorted(np.concatenate(rows)) == list(range(1000))
    for part, r in zip(split.parts.values(), rows):
        assert np.array_equal(a[r], part.a) and np.array_equal(b[r], part.b)


def test_image_pairs_share_their_class_and_nothing_else_is_promised():
    split = mnist_image_pairs(FOUR, 4000, seed=2)
    _, labels = embedded_digits()
    assert split.true_mi_nats == pytest.approx(math.log(4))  # 500 digits per class: uniform classes
    for part in split.parts.values():
        assert np.array_equal(labels[part.a_digits], labels[part.b_digits])
    train_classes = labels[split.train.a_digits]
    assert np.isin(train_classes, FOUR).all()
    shares = np.bincount(train_classes, minlength=10)[list(FOUR)] / len(train_classes)
    assert shares == pytest.approx([0.25] * 4, abs=0.03)
    independent = mnist_image_pairs(FOUR, 4000, seed=2, independent=True)
    same = labels[independent.train.a_digits] == labels[independent.train.b_digits]
    assert independent.true_mi_nats == 0.0 and same.mean() == pytest.approx(0.25, abs=0.03)


def test_image_value_pairs_encode_the_class_as_documented():
    _, labels = embedded_digits()
    for independent, agreement in ((False, 1.0), (True, 0.25)):
        split = mnist_image_value_pairs(FOUR, 4000, seed=3, independent=independent)
        part = split.train
        encoded = np.floor(part.b[:, 1] - part.b[:, 0]).astype(int)
        assert np.isin(encoded, FOUR).all()
        assert (encoded == labels[part.a_digits]).mean() == pytest.approx(agreement, abs=0.03)
    assert split.true_mi_nats == 0.0


def _monte_carlo(log_ratio: np.ndarray) -> tuple[float, float]:
    """I = E[log p(x, y) - log p(x) - log p(y)] by Monte Carlo: (mean, standard error)."""
    return float(log_ratio.mean()), float(log_ratio.std() / math.sqrt(len(log_ratio)))


def _split_density_mi(dist, corr: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Monte Carlo MI with scipy's exact densities of a family closed under marginals
    (``dist(matrix)`` a frozen distribution): the joint on corr, the marginals on its blocks."""
    d = x.shape[1]
    xy = np.hstack([x, y]).astype(np.float64)
    log_ratio = (dist(corr).logpdf(xy) - dist(corr[:d, :d]).logpdf(xy[:, :d])
                 - dist(corr[d:, d:]).logpdf(xy[:, d:]))  # fmt: skip
    return _monte_carlo(log_ratio)


STUDENT_CORR = {"1x1": np.eye(2), "5x5": np.eye(10)}  # bmi's student-identity tasks


@pytest.mark.parametrize("dof", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", ["1x1", "5x5"])
def test_student_t_truth_matches_monte_carlo_with_the_exact_density(dof, shape):
    corr, task = STUDENT_CORR[shape], DISTRIBUTION_TASKS[f"student-t-dof{dof}-{shape}"]
    x, y = task.sample(200_000, seed=dof)
    estimate, error = _split_density_mi(lambda m: stats.multivariate_t(shape=m, df=dof), corr, x, y)
    assert task.mi_nats == pytest.approx(student_t_mi(corr, x.shape[1], dof))
    assert abs(estimate - task.mi_nats) < 4 * error
    # the check is sharp enough to see the correction term go missing
    assert abs(estimate - multinormal_mi(corr, x.shape[1])) > 4 * error


@pytest.mark.parametrize("dim, dof", [(1, 1), (1, 5), (3, 2)])
def test_uncorrelated_student_t_still_shares_information_through_its_scale(dim, dof):
    corr = np.eye(2 * dim)
    x, y = sample_student_t(200_000, corr, dim, dof, seed=0)
    estimate, error = _split_density_mi(lambda m: stats.multivariate_t(shape=m, df=dof), corr, x, y)
    assert multinormal_mi(corr, dim) == 0.0
    assert student_t_mi(corr, dim, dof) == student_t_correction(dof, dim, dim) > 4 * error
    assert abs(estimate - student_t_correction(dof, dim, dim)) < 4 * error


def test_student_t_correction_vanishes_as_the_tails_thin():
    assert student_t_correction(1, 1, 1) > student_t_correction(5, 1, 1) > student_t_correction(1e6, 1, 1) > 0
    assert student_t_correction(1e6, 5, 5) < 1e-4


GAUSSIAN_CORR = {
    "multinormal-sparse-5x5": sparse_correlation(5, 5),
    "multinormal-sparse-25x25": sparse_correlation(25, 25),
    "multinormal-dense-5x5": dense_correlation(5, 5),
    "multinormal-dense-25x25": dense_correlation(25, 25),
    # five pairs at rho with -(5/2) log(1 - rho^2) = 5 nats
    "multinormal-diagonal-5x5-high": sparse_correlation(5, 5, pairs=5, rho=math.sqrt(1 - math.exp(-2.0))),
}


def _canonical_correlation_mi(corr: np.ndarray, dim_x: int) -> float:
    """-(1/2) sum_i log(1 - s_i^2), s_i the singular values of C_xx^(-1/2) C_xy C_yy^(-1/2)."""

    def inverse_root(m):
        values, vectors = np.linalg.eigh(m)
        return vectors @ np.diag(values**-0.5) @ vectors.T

    whitened = inverse_root(corr[:dim_x, :dim_x]) @ corr[:dim_x, dim_x:] @ inverse_root(corr[dim_x:, dim_x:])
    return float(-0.5 * np.log1p(-np.linalg.svd(whitened, compute_uv=False) ** 2).sum())


@pytest.mark.parametrize("name", list(GAUSSIAN_CORR))
def test_multinormal_truth_matches_canonical_correlations_and_monte_carlo(name):
    task = DISTRIBUTION_TASKS[name]
    x, y = task.sample(100_000, seed=4)
    d = x.shape[1]
    corr = GAUSSIAN_CORR[name]
    assert task.mi_nats == pytest.approx(_canonical_correlation_mi(corr, d), abs=1e-9)
    estimate, error = _split_density_mi(lambda m: stats.multivariate_normal(cov=m), corr, x, y)
    assert abs(estimate - task.mi_nats) < 4 * error
    assert np.abs(np.corrcoef(np.hstack([x, y]).T) - corr).max() < 0.02


def test_the_benchmark_spans_low_to_high_information():
    truths = {name: task.mi_nats for name, task in DISTRIBUTION_TASKS.items()}
    assert truths["multinormal-diagonal-5x5-high"] == pytest.approx(5.0)
    assert max(truths.values()) >= 4.0 and min(truths.values()) < 0.5
    assert truths["multinormal-sparse-5x5"] == pytest.approx(-math.log(1 - 0.8**2))  # two pairs at 0.8
    # equicorrelation 0.5: det = (1 + (d - 1) rho)(1 - rho)^(d - 1) for a d x d block
    equi = lambda d: math.log(1 + (d - 1) * 0.5) + (d - 1) * math.log(0.5)  # noqa: E731
    assert truths["multinormal-dense-25x25"] == pytest.approx(0.5 * (2 * equi(25) - equi(50)))


INVERSES = {
    normal_cdf_warp: ndtri,
    half_cube_warp: lambda u: np.sign(u) * np.abs(u) ** (2 / 3),
    spiral_warp: lambda u: spiral_warp(u, speed=-0.5),
}


@pytest.mark.parametrize("warp", list(INVERSES), ids=lambda w: w.__name__)
def test_warps_are_invertible_so_they_keep_the_gaussian_mi(warp):
    z = np.random.default_rng(5).standard_normal((5000, 5))
    warped = warp(z)
    assert not np.allclose(warped, z)
    assert np.allclose(INVERSES[warp](warped), z, atol=1e-9)
    name = {normal_cdf_warp: "normal-cdf", half_cube_warp: "half-cube", spiral_warp: "spiral"}[warp]
    warp_x, warp_y = (bmi_spiral(5, "x"), bmi_spiral(5, "y")) if warp is spiral_warp else (warp, warp)
    task = DISTRIBUTION_TASKS[f"{name}-5x5"]
    x, y = task.sample(2000, seed=6)
    base_x, base_y = sample_multinormal(2000, sparse_correlation(5, 5), 5, seed=6)
    assert np.allclose(x, warp_x(base_x.astype(np.float64)), atol=1e-5)
    assert np.allclose(y, warp_y(base_y.astype(np.float64)), atol=1e-5)
    assert task.mi_nats == pytest.approx(multinormal_mi(sparse_correlation(5, 5), 5))


def test_spiral_keeps_the_norm_and_winds_faster_far_out():
    z = np.random.default_rng(7).standard_normal((1000, 5))
    warped = spiral_warp(z, speed=0.5)
    assert np.allclose(np.linalg.norm(warped, axis=1), np.linalg.norm(z, axis=1))
    assert np.allclose(warped[:, 2:], z[:, 2:])
    assert np.allclose(spiral_warp(spiral_warp(z, 0.2, (1, 2)), -0.2, (1, 2)), z)
    assert np.allclose(spiral_warp(z, 0.2, (1, 2))[:, [0, 3, 4]], z[:, [0, 3, 4]])
    with pytest.raises(ValueError, match="at least 2"):
        spiral_warp(z[:, :1])


@pytest.mark.parametrize("warp", [normal_cdf_warp, half_cube_warp], ids=lambda w: w.__name__)
def test_coordinatewise_warps_leave_the_ksg_reading_at_the_gaussian_mi(warp):
    corr = sparse_correlation(1, 1, pairs=1)  # rho = 0.8: 0.511 nats
    x, y = sample_warped_multinormal(20_000, corr, 1, warp, seed=8)
    assert ksg_mi(x, y) == pytest.approx(multinormal_mi(corr, 1), abs=0.03)


@pytest.mark.parametrize("eps", [0.1, 0.5, 0.75])
def test_additive_uniform_truth_matches_monte_carlo_and_ksg(eps):
    """p(y | x) = 1/(2 eps) and p(y) = |[y - eps, y + eps] cap [0, 1]| / (2 eps), so
    log p(y | x) - log p(y) = -log |[y - eps, y + eps] cap [0, 1]|."""
    x, y = sample_additive_uniform(200_000, eps, seed=9)
    y64 = y[:, 0].astype(np.float64)
    overlap = np.minimum(1.0, y64 + eps) - np.maximum(0.0, y64 - eps)
    estimate, error = _monte_carlo(-np.log(np.clip(overlap, 1e-9, None)))  # float32 y may graze an edge
    assert abs(estimate - additive_uniform_mi(eps)) < 4 * error
    assert ksg_mi(x[:20_000], y[:20_000]) == pytest.approx(additive_uniform_mi(eps), abs=0.03)
    if f"additive-uniform-eps{eps}" in DISTRIBUTION_TASKS:
        task = DISTRIBUTION_TASKS[f"additive-uniform-eps{eps}"]
        assert task.mi_nats == additive_uniform_mi(eps)
        assert np.array_equal(task.sample(100, seed=9)[1], sample_additive_uniform(100, eps, seed=9)[1])



def _assert_true_critic(log_ratio, x, y, truth):
    """The mean of a true critic over joint pairs is I(X; Y) (within 4 standard errors), and its
    exponential averages to 1 over independent pairs (E_q[p/q] = 1; y shifted by one row)."""
    joint = log_ratio(x, y)
    assert np.isfinite(joint).all()  # every joint pair is possible
    assert abs(joint.mean() - truth) < 4 * joint.std() / np.sqrt(len(joint))
    independent = np.exp(log_ratio(x, np.roll(y, 1, axis=0)))
    assert independent.mean() == pytest.approx(1.0, abs=4 * independent.std() / np.sqrt(len(independent)))


@pytest.mark.parametrize("dof, dim_x", [(1, 1), (2, 5), (5, 5)])
def test_student_t_true_critic_averages_to_the_known_mi(dof, dim_x):
    from dim.tasks import sample_student_t, student_t_log_ratio, student_t_mi

    corr = np.eye(2 * dim_x)
    x, y = sample_student_t(200_000, corr, dim_x, dof, seed=0)
    _assert_true_critic(lambda a, b: student_t_log_ratio(a, b, dof), x, y, student_t_mi(corr, dim_x, dof))


@pytest.mark.parametrize("eps", [0.1, 0.75])
def test_additive_uniform_true_critic_averages_to_the_known_mi(eps):
    from dim.tasks import additive_uniform_log_ratio, additive_uniform_mi, sample_additive_uniform

    x, y = sample_additive_uniform(200_000, eps, seed=0)
    _assert_true_critic(lambda a, b: additive_uniform_log_ratio(a, b, eps), x, y, additive_uniform_mi(eps))
    assert additive_uniform_log_ratio(np.zeros((1, 1)), np.full((1, 1), 2 * eps), eps)[0] == -np.inf
