"""Augmented views (dim/views.py): shapes, per-image randomness, seeds, strength, presets."""

import pytest
import torch

from dim.config import compose
from dim.errors import ConfigError
from dim.views import ViewAugment, affine_matrices, rotate_hue

pytestmark = pytest.mark.usefixtures("single_thread")

RGB = ViewAugment(scale=(0.2, 1.0), flip=0.5, brightness=0.4, contrast=0.4, saturation=0.4, grayscale=0.2)


def _images(n=16, channels=3, size=32):
    generator = torch.Generator().manual_seed(0)
    return torch.rand(n, channels, size, size, generator=generator)


@pytest.mark.parametrize("channels", [1, 3])
def test_view_keeps_shape_dtype_device_and_range(channels):
    images = _images(channels=channels)
    view = RGB(images, torch.Generator().manual_seed(1))
    assert view.shape == images.shape and view.dtype == images.dtype and view.device == images.device
    assert view.min() >= 0 and view.max() <= 1 and not torch.equal(view, images)


def test_channels_last_input_stays_channels_last():
    images = _images().contiguous(memory_format=torch.channels_last)
    view = RGB(images, torch.Generator().manual_seed(1))
    assert view.is_contiguous(memory_format=torch.channels_last)


def test_every_image_gets_its_own_view():
    """One image repeated 16 times: 16 different views (a batch-wide v2 transform gives 16 equal ones)."""
    images = _images(1).expand(16, -1, -1, -1).contiguous()
    view = RGB(images, torch.Generator().manual_seed(1)).flatten(1)
    distances = torch.cdist(view, view)
    assert (distances + torch.eye(16) > 1e-3).all()


def test_same_seed_same_views_other_seed_other_views():
    images = _images()
    a = RGB(images, torch.Generator().manual_seed(7))
    b = RGB(images, torch.Generator().manual_seed(7))
    c = RGB(images, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_strength_zero_and_neutral_settings_give_the_images_back():
    images = _images()
    assert torch.equal(RGB.__class__(**{**RGB.__dict__, "strength": 0.0})(images, torch.Generator()), images)
    neutral = ViewAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(neutral(images, torch.Generator().manual_seed(0)), images, atol=1e-5)


def test_stronger_views_move_further_from_the_image():
    images = torch.nn.functional.interpolate(_images(size=4), size=32, mode="bilinear")  # smooth images
    distance = {}
    for strength in (0.25, 1.0):
        view = ViewAugment(**{**RGB.__dict__, "strength": strength})(images, torch.Generator().manual_seed(3))
        distance[strength] = (view - images).abs().mean().item()
    assert distance[1.0] > 1.5 * distance[0.25]


def test_digit_preset_never_flips_and_rgb_presets_do():
    """No mirror image for digits: every affine matrix keeps its orientation (determinant > 0);
    CIFAR-10 and STL-10 flip about half of the images."""
    for data, flips in (("digits", False), ("mnist", False), ("cifar10", True), ("stl10", True)):
        views = ViewAugment.from_config(compose("train", [f"data={data}"]).data.views)
        theta = affine_matrices(2000, torch.Generator().manual_seed(0), views.scale, views.ratio, views.degrees,
                                views.shear, views.flip)  # fmt: skip
        mirrored = (torch.linalg.det(theta[:, :, :2]) < 0).float().mean().item()
        assert (0.45 < mirrored < 0.55) if flips else mirrored == 0, (data, mirrored)


def test_bad_settings_are_refused_with_the_key():
    with pytest.raises(ConfigError, match="unknown keys"):
        ViewAugment.from_config({"solarize": 0.1})
    with pytest.raises(ConfigError, match="hue must be at most 0.5"):
        ViewAugment.from_config({"hue": 0.7})
    with pytest.raises(ConfigError, match="scale"):
        ViewAugment.from_config({"scale": [0.0, 1.0]})
    with pytest.raises(ConfigError, match="sequences"):
        RGB(torch.rand(4, 3, 32), torch.Generator())


def test_hue_rotation_keeps_luma_and_gray_and_a_whole_turn_is_the_identity():
    torch.manual_seed(0)
    images = 0.25 + 0.5 * torch.rand(4, 3, 8, 8)  # mid-range colours: no clipping for small turns
    gray = torch.full((1, 3, 8, 8), 0.4)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    shift = torch.tensor([0.02, -0.03, 0.05, 0.0])
    turned = rotate_hue(images, shift)
    assert torch.allclose((turned * luma).sum(1), (images * luma).sum(1), atol=1e-5)  # Y is kept
    assert not torch.allclose(turned[:3], images[:3], atol=1e-3)  # the chroma did turn
    assert torch.allclose(turned[3], images[3], atol=1e-6)  # a zero shift is the identity
    assert torch.allclose(rotate_hue(turned, -shift), images, atol=1e-5)  # -h undoes +h
    assert torch.allclose(rotate_hue(images, torch.ones(4)), images, atol=1e-5)  # a whole turn
    assert torch.allclose(rotate_hue(gray, torch.tensor([0.37])), gray, atol=1e-6)  # gray has no hue


def test_hue_draws_leave_the_views_of_settings_without_hue_unchanged():
    images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    plain = ViewAugment(scale=(0.2, 1.0), brightness=0.4, contrast=0.4, saturation=0.4)
    with_hue = ViewAugment(scale=(0.2, 1.0), brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    a = plain(images, torch.Generator().manual_seed(3))
    b = with_hue(images, torch.Generator().manual_seed(3))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    # same crops and jitter factors (hue drawn last), only the chroma differs: luma agrees where
    # neither view was clipped
    inside = ((a > 0.02) & (a < 0.98) & (b > 0.02) & (b < 0.98)).all(1)
    assert torch.allclose((a * luma).sum(1)[inside], (b * luma).sum(1)[inside], atol=1e-4)
    assert not torch.allclose(a, b, atol=1e-3)
