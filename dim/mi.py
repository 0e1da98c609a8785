"""Deprecated: the old home of ``estimate_mi`` and the MI loss; import from :mod:`dim` instead.

``dim.mi`` held seven jobs in one module. They now live in :mod:`dim.estimation` (``estimate_mi``
and its parts), :mod:`dim.loss` (``MutualInformation``, ``train_online``), :mod:`dim.objectives`
(the registry of estimators and readouts), :mod:`dim.gradients` (``adaptive_clip_``) and
:mod:`dim.runtime` (``resolve_device``). This module re-exports those names for one release.
"""

from __future__ import annotations

import warnings

from dim.bounds import NATS_PER_BIT
from dim.estimation import AUTO_CEILING_MARGIN, MIN_ROWS, EstimatorSettings, estimate_mi
from dim.estimation.inputs import rank_gaussianize, transform_inputs
from dim.estimation.readout import Calibration, block_scores, calibrate_scale, read_held_out, scaled_scores
from dim.estimation.result import MIResult, combine_intervals
from dim.estimation.settings import TRANSFORMS
from dim.gradients import adaptive_clip_
from dim.loss import MIEstimate, MutualInformation, train_online
from dim.objectives import ESTIMATORS as _REGISTRY
from dim.objectives import readout_value
from dim.runtime import resolve_device

# the old mapping: estimator name -> the readout it reports through (now dim.objectives.ESTIMATORS)
ESTIMATORS = {name: entry.readout for name, entry in _REGISTRY.items()}

warnings.warn("dim.mi is deprecated and will be removed in the next release: import estimate_mi, MIResult and "
              "MutualInformation from dim (see dim.estimation, dim.loss, dim.objectives)", DeprecationWarning,
              stacklevel=2)  # fmt: skip

__all__ = ["AUTO_CEILING_MARGIN", "ESTIMATORS", "MIN_ROWS", "NATS_PER_BIT", "TRANSFORMS", "Calibration",
           "EstimatorSettings", "MIEstimate", "MIResult", "MutualInformation", "adaptive_clip_", "block_scores",
           "calibrate_scale", "combine_intervals", "estimate_mi", "rank_gaussianize", "read_held_out",
           "readout_value", "resolve_device", "scaled_scores", "train_online", "transform_inputs"]
