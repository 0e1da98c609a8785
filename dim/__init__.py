"""dim: learning representations by maximising mutual information (MINE, Deep InfoMax)."""

# ruff: noqa: E402

from dim.runtime import keep_torch_cache_out_of_tmp

# before anything imports torch._dynamo (every optimizer does): torch's compiler cache goes to
# ~/.cache/torch/inductor, not to an empty torchinductor_<user> folder in the system temp directory
keep_torch_cache_out_of_tmp()

from dim.bounds import dv_bound, infonce_bound, jsd_objective, mine_bound, nwj_bound, smile_bound
from dim.checkpoint import load_encoder
from dim.encoders import build_encoder
from dim.errors import ConfigError, DataError, DimError
from dim.estimation import EstimatorSettings, MIResult, estimate_mi
from dim.loss import MutualInformation
from dim.sandwich import MIBounds, estimate_mi_bounds
from dim.stochastic import StochasticEncoder

__all__ = [
    "ConfigError",
    "DataError",
    "DimError",
    "EstimatorSettings",
    "MIBounds",
    "MIResult",
    "MutualInformation",
    "StochasticEncoder",
    "build_encoder",
    "load_encoder",
    "dv_bound",
    "estimate_mi",
    "estimate_mi_bounds",
    "infonce_bound",
    "jsd_objective",
    "mine_bound",
    "nwj_bound",
    "smile_bound",
]
__version__ = "0.1.0"
