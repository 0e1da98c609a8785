"""MI-regularised generative models (MINE paper, Sec. 5.1 and 5.2): GAN + MINE against mode
dropping, ALI + MINE for faithful reconstructions, and the metrics the field uses to judge them."""

from dim.generative.ali import ALISettings, ALITrainer
from dim.generative.gan import GANSettings, GANTrainer
from dim.generative.metrics import ModeCoverage, mode_coverage, reverse_kl_to_uniform
from dim.generative.toy import make_target

__all__ = ["ALISettings", "ALITrainer", "GANSettings", "GANTrainer", "ModeCoverage", "make_target", "mode_coverage", "reverse_kl_to_uniform"]
