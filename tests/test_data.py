"""Offline datasets: the second digits source used to test transfer."""

import pytest
import torch

from dim.config import compose
from dim.data import embedded_digits_split, load_data, small_digits_split
from dim.errors import DataError


def test_small_digits_are_the_1797_sklearn_digits_laid_out_like_the_embedded_ones():
    from sklearn.datasets import load_digits

    split = small_digits_split()
    images = torch.stack([split.train[i][0] for i in range(len(split.train))])
    labels = torch.tensor([split.train[i][1] for i in range(len(split.train))])
    assert (len(split.train), len(split.test), split.num_classes) == (1297, 500, 10)
    assert images.shape[1:] == embedded_digits_split().train[0][0].shape == (1, 32, 32)
    assert images.min() >= 0 and images.max() <= 1
    # the 2-pixel frame is the padding, as around the embedded 28x28 MNIST digits
    assert images[..., :2, :].abs().max() == 0 and images[..., :, -2:].abs().max() == 0
    # every class in the training part, at the proportions of the full set (about 130 each)
    assert torch.bincount(labels, minlength=10).min() > 100
    # the same fixed split on every call, and the labels are scikit-learn's
    again = small_digits_split()
    assert torch.equal(again.test[7][0], split.test[7][0])
    assert sorted(torch.cat([labels, torch.tensor([t for _, t in split.test])]).tolist()) == sorted(
        load_digits().target.tolist())


def test_small_digits_compose_as_a_data_group():
    cfg = compose("train", ["data=small_digits"])
    assert cfg.data.name == "small_digits" and cfg.data.views.flip == 0.0
    assert len(load_data(cfg.data, (1, 32, 32)).test) == 500
    with pytest.raises(DataError, match="small_digits"):
        load_data(compose("train", ["data=small_digits", "data.name=smal"]).data, (1, 32, 32))
