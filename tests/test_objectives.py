"""The registry of MI objectives (dim/objectives.py) is the one place names live: a bound added
there is a choice of estimate_mi, of Deep InfoMax and of the commands, with nothing else edited."""

import math

import pytest
import torch

from dim import bounds, estimate_mi, objectives
from dim.config import compose
from dim.errors import ConfigError
from dim.infomax import infomax_bound, infomax_readout
from dim.loss import MutualInformation
from dim.tasks import gaussian_rho_for_mi, sample_correlated_gaussians


@pytest.fixture
def toy_bound():
    """A toy estimator: the DV bound of T / 2 (a critic scaled by 1/2 is still a critic, so this
    is a lower bound too), read out through a new readout of the same form."""

    def half_dv(positive, negative, clip=5.0):
        return bounds.dv_bound(positive=positive / 2, negative=negative / 2)

    readout = objectives.register_readout(objectives.Readout("half_dv", half_dv, is_lower_bound=True))
    toy = objectives.Estimator("half_dv", lambda p, n, **_: half_dv(p, n), readout="half_dv", summary="DV of T / 2")
    objectives.register_estimator(toy)
    yield readout
    del objectives.ESTIMATORS["half_dv"], objectives.READOUTS["half_dv"]


def test_a_registered_bound_is_an_estimator_of_estimate_mi(toy_bound, single_thread):
    x, y = sample_correlated_gaussians(1500, 2, gaussian_rho_for_mi(0.5, 2), seed=0)
    result = estimate_mi(x, y, estimator="half_dv", steps=300, eval_every=50, patience=4, bootstrap=50,
                         readout_batch_size=256, hidden=32, embedding_dim=16)  # fmt: skip
    assert result.estimator == "half_dv" and result.readout == "half_dv" and result.is_lower_bound
    assert result.ci_nats[0] <= 0.5 and 0.1 < result.mi_nats < 0.7
    # no per-row summaries: the bootstrap re-reads the resampled scores, and still brackets the value
    assert result.raw_ci_nats[0] < result.raw_mi_nats < result.raw_ci_nats[1]


def test_a_registered_bound_is_a_deep_infomax_estimator_and_a_command_choice(toy_bound):
    scores = torch.randn(4, 1, 4, 6)
    positive, negative = bounds.query_split(scores)
    expected = bounds.dv_bound(positive=positive / 2, negative=negative / 2)
    assert torch.equal(infomax_bound(scores, "half_dv"), expected)
    assert torch.isfinite(infomax_readout(scores, "half_dv"))
    assert compose("train", ["estimator=half_dv"]).estimator == {"name": "half_dv", "readout": "half_dv",
                                                                 "clip": 5.0, "mine_alpha": 0.01}  # fmt: skip
    assert compose("estimate_mi", ["x=X.npy", "estimator=half_dv"]).estimator.name == "half_dv"
    mi = MutualInformation(lambda x, y: x @ y.T, "half_dv")
    assert math.isfinite(float(mi(torch.randn(8, 3), torch.randn(8, 3)).mi_nats))


def test_every_list_of_names_is_the_registry():
    from dim.config import group_options

    assert group_options("train", "estimator") == list(objectives.ESTIMATORS)
    assert group_options("estimate_mi", "estimator") == [*objectives.ESTIMATORS, "auto"]
    with pytest.raises(ConfigError, match="unknown estimator 'auto'; choose among"):
        compose("train", ["estimator=auto"])


def test_each_readout_is_labelled_by_whether_it_is_a_bound():
    """Hand-checked: DV, NWJ, InfoNCE (and NWJ of T + 1) are lower bounds; SMILE's clipped value
    is not, and carries DV as its companion; only InfoNCE has a ceiling, log B."""
    labels = {name: entry.is_lower_bound for name, entry in objectives.READOUTS.items()}
    assert labels == {"dv": True, "nwj": True, "infonce": True, "smile": False, "nwj_shifted": True}
    assert objectives.READOUTS["smile"].companion == "dv"
    assert objectives.readout("infonce").ceiling(512) == pytest.approx(math.log(512))
    assert objectives.readout("dv").ceiling(512) is None
    assert [objectives.lower_bound_readout(n) for n in objectives.ESTIMATORS] == ["dv", "dv", "nwj", "dv", "infonce",
                                                                                  "dv"]  # fmt: skip


@pytest.mark.parametrize("name", list(objectives.READOUTS))
def test_per_row_summaries_reproduce_the_readout(name):
    """The bootstrap's O(R) form gives the same value as the readout on the same rows."""
    generator = torch.Generator().manual_seed(0)
    positive, negative = torch.randn(50, generator=generator) + 1, torch.randn(50, 9, generator=generator)
    entry = objectives.readout(name)
    a, b = entry.row_terms(positive, negative, 5.0)
    rows = torch.arange(50)
    assert float(entry.row_value(a, b, rows, 9)) == pytest.approx(float(entry.value(positive, negative, 5.0)),
                                                                  abs=1e-5)  # fmt: skip


@pytest.mark.parametrize("name", list(objectives.READOUTS))
def test_row_values_of_several_draws_at_once_match_one_at_a_time(name):
    """row_value on (D, n) row indices (D bootstrap draws in one pass) gives, draw by draw,
    the value of that draw's (n,) indices read alone and of the readout on the drawn rows."""
    generator = torch.Generator().manual_seed(1)
    positive, negative = torch.randn(40, generator=generator) + 1, torch.randn(40, 7, generator=generator)
    entry = objectives.readout(name)
    a, b = entry.row_terms(positive, negative, 5.0)
    draws = torch.randint(40, (6, 40), generator=generator)
    together = entry.row_value(a, b, draws, 7)
    assert together.shape == (6,)
    for value, rows in zip(together, draws):
        assert float(value) == pytest.approx(float(entry.row_value(a, b, rows, 7)), abs=1e-5)
        assert float(value) == pytest.approx(float(entry.value(positive[rows], negative[rows], 5.0)), abs=1e-5)


def test_unknown_names_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown estimator 'dvv'; choose one of"):
        objectives.estimator("dvv")
    with pytest.raises(ConfigError, match="unknown readout 'x'"):
        objectives.readout("x")
    with pytest.raises(ConfigError, match="already registered"):
        objectives.register_estimator(objectives.ESTIMATORS["dv"])
