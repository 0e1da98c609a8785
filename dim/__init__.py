"""dim: learning representations by maximising mutual information (MINE, Deep InfoMax)."""

from dim.bounds import dv_bound, infonce_bound, jsd_objective, mine_bound, nwj_bound, smile_bound
from dim.checkpoint import load_encoder
from dim.encoders import build_encoder
from dim.errors import ConfigError, DataError, DimError
from dim.mi import MIResult, MutualInformation, estimate_mi

__all__ = [
    "ConfigError",
    "DataError",
    "DimError",
    "MIResult",
    "MutualInformation",
    "build_encoder",
    "load_encoder",
    "dv_bound",
    "estimate_mi",
    "infonce_bound",
    "jsd_objective",
    "mine_bound",
    "nwj_bound",
    "smile_bound",
]
__version__ = "0.1.0"
