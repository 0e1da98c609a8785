"""Deprecated: the old home of Deep InfoMax's model and trainer; import from :mod:`dim.infomax`.

This module re-exports ``DeepInfoMax``, ``Trainer``, ``train`` and ``scheduled_lr`` for one release.
"""

import warnings

from dim.infomax import DeepInfoMax, Trainer, scheduled_lr, train

warnings.warn("dim.training is deprecated and will be removed in the next release: import DeepInfoMax, Trainer "
              "and train from dim.infomax", DeprecationWarning, stacklevel=2)  # fmt: skip

__all__ = ["DeepInfoMax", "Trainer", "scheduled_lr", "train"]
