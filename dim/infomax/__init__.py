"""Deep InfoMax (Hjelm et al., ICLR 2019): the model, its objectives, its prior, its trainer.

* :mod:`~dim.infomax.scores`: the scores of a code against local features, and the bounds of the
  estimator registry (:mod:`dim.objectives`) read from them;
* :mod:`~dim.infomax.embeddings`: the critics' embeddings of codes and feature maps;
* :mod:`~dim.infomax.prior`: adversarial prior matching;
* :mod:`~dim.infomax.model`: :class:`DeepInfoMax`, an encoder and the critics of its global, local
  and local<->local terms;
* :mod:`~dim.infomax.trainer`: :class:`Trainer` and :func:`train`, which move the data, step the
  optimizers and write the checkpoints.
"""

from dim.infomax.embeddings import GlobalEmbedding, LocalEmbedding, MapEmbedding
from dim.infomax.model import GLOBAL_TARGETS, DeepInfoMax
from dim.infomax.prior import PriorDiscriminator, prior_space, sample_prior, sliced_wasserstein
from dim.infomax.scores import (
    clip_scores,
    infomax_bound,
    infomax_readout,
    infomax_scores,
    local_infonce_reference,
    negative_log_mean_exp,
)
from dim.infomax.trainer import LR_SCHEDULES, Trainer, scheduled_lr, train

__all__ = ["GLOBAL_TARGETS", "LR_SCHEDULES", "DeepInfoMax", "GlobalEmbedding", "LocalEmbedding", "MapEmbedding",
           "PriorDiscriminator", "Trainer", "clip_scores", "infomax_bound", "infomax_readout", "infomax_scores",
           "local_infonce_reference", "negative_log_mean_exp", "prior_space", "sample_prior", "scheduled_lr",
           "sliced_wasserstein", "train"]
