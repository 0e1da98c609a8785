"""Stochastic encoders: any ``dim`` encoder as a conditional density p(z|x).

:class:`StochasticEncoder` wraps an encoder (a ``dim.encoders`` encoder, whose ``code`` is
read, or any module returning a tensor (N, D)) and adds noise:

* ``"gaussian"`` (VIB, Alemi et al. 2016): z ~ N(mu(x), diag sigma^2(x)), mu = the code, the
  log-variance a linear head on the encoder's ``fc`` features (on the code when it has none);
* ``"additive"`` (MINE's additive noise): z = f(x) + sigma eps, a fixed sigma, on the code only;
* ``"propagated"`` (MINE's propagated noise): sigma eps added to the output of every
  ``nn.Linear`` / ``nn.Conv*`` layer of the encoder, the last (the code) included.

``sample(x)`` is reparameterised (gradients reach the encoder). For "gaussian" and "additive"
the density is known: ``log_prob(z, x)`` (N,), ``log_prob_matrix(z, x)`` (K, M) in the layout of
:mod:`dim.upper_bounds`, and ``conditional(x)`` -> (mean, log_var). With propagated noise
p(z|x) is an intractable mixture: those raise :class:`DimError` naming what to use instead
(a MINE lower bound, or vCLUB's learned q(z|x)).
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from dim.checkpoint import load_checkpoint, save_atomic
from dim.encoders import encoder_from_spec
from dim.errors import ConfigError, DimError
from dim.upper_bounds import gaussian_log_likelihood, gaussian_log_likelihoods

__all__ = ["NOISE_KINDS", "ConditionalDensity", "GaussianParameters", "StochasticEncoder", "load_stochastic_encoder",
           "require_conditional", "save_stochastic_encoder"]  # fmt: skip

NOISE_KINDS = ("gaussian", "additive", "propagated")
MIN_LOG_VAR, MAX_LOG_VAR = -12.0, 6.0
_NOISY_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


class GaussianParameters(NamedTuple):
    """A diagonal Gaussian p(z|x) per row: mean (N, D), log_var (N, D)."""

    mean: Tensor
    log_var: Tensor


def _code_and_features(output: Any) -> tuple[Tensor, Tensor]:
    """(code, features for the variance head) from an encoder's output."""
    if isinstance(output, Tensor):
        return output, output
    code = getattr(output, "code", None)
    if code is None:
        raise ConfigError("the encoder must return a tensor (N, D) or an EncoderOutput with a code")
    fc = getattr(output, "fc", None)
    return code, (code if fc is None else fc)


class StochasticEncoder(nn.Module):
    """p(z|x) around an encoder; see the module docstring for the three kinds of noise.

    encoder: the deterministic network. noise: "gaussian" | "additive" | "propagated".
    sigma: the fixed noise scale of "additive" and "propagated" (> 0). input_shape: the shape
    of one input, needed for "gaussian" when the encoder does not define ``input_shape``
    (a dummy forward finds the width of the variance head's input).
    """

    def __init__(
        self, encoder: nn.Module, noise: str = "gaussian", sigma: float = 1.0, input_shape: tuple[int, ...] | None = None
    ) -> None:
        super().__init__()
        if noise not in NOISE_KINDS:
            raise ConfigError(f"unknown noise {noise!r}; choose one of {', '.join(NOISE_KINDS)}")
        if not sigma > 0:
            raise ConfigError(f"sigma must be positive, got {sigma}")
        self.encoder, self.noise, self.sigma = encoder, noise, float(sigma)
        self.log_var_head: nn.Linear | None = None
        if noise == "gaussian":
            shape = input_shape or getattr(encoder, "input_shape", None)
            if shape is None:
                raise ConfigError("a Gaussian StochasticEncoder needs input_shape for an encoder that has none")
            code, features = self._dummy_forward(shape)
            self.log_var_head = nn.Linear(features.shape[1], code.shape[1])
        self._noisy = False
        self._hooks = []
        if noise == "propagated":
            layers = [m for m in encoder.modules() if isinstance(m, _NOISY_LAYERS)]
            if not layers:
                raise ConfigError("propagated noise needs an encoder with nn.Linear or nn.Conv layers to inject into")
            self._hooks = [layer.register_forward_hook(self._inject) for layer in layers]

    @torch.no_grad()
    def _dummy_forward(self, shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        was_training = self.encoder.training
        self.encoder.eval()
        code, features = _code_and_features(self.encoder(torch.zeros(2, *shape)))
        self.encoder.train(was_training)
        return code, features

    def _inject(self, module: nn.Module, inputs: Any, output: Tensor) -> Tensor | None:
        if self._noisy:
            return output + self.sigma * torch.randn_like(output)
        return None

    @property
    def has_density(self) -> bool:
        """Whether log p(z|x) is known in closed form ("gaussian" and "additive")."""
        return self.noise != "propagated"

    def conditional(self, x: Tensor) -> GaussianParameters:
        """The Gaussian p(z|x) of every row: mean (N, D), log_var (N, D) (clamped to [-12, 6])."""
        require_conditional(self)
        code, features = _code_and_features(self.encoder(x))
        if self.noise == "additive":
            return GaussianParameters(code, torch.full_like(code, 2.0 * math.log(self.sigma)))
        log_var = self.log_var_head(features).clamp(MIN_LOG_VAR, MAX_LOG_VAR)
        return GaussianParameters(code, log_var)

    def sample(self, x: Tensor) -> Tensor:
        """z ~ p(z|x), reparameterised: (N, ...) -> (N, D)."""
        if self.noise == "propagated":
            self._noisy = True
            try:
                code, _ = _code_and_features(self.encoder(x))
            finally:
                self._noisy = False
            return code
        mean, log_var = self.conditional(x)
        return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)

    def forward(self, x: Tensor) -> Tensor:
        return self.sample(x)

    def log_prob(self, z: Tensor, x: Tensor) -> Tensor:
        """log p(z_i | x_i) for paired rows: z (N, D), x (N, ...) -> (N,), in nats."""
        return gaussian_log_likelihood(z, *self.conditional(x))

    def log_prob_matrix(self, z: Tensor, x: Tensor) -> Tensor:
        """log p(z_i | x_j) for every pair: z (K, D), x (M, ...) -> (K, M) (the upper-bound layout)."""
        return gaussian_log_likelihoods(z, *self.conditional(x))

    @property
    def spec(self) -> dict[str, Any]:
        """What :func:`load_stochastic_encoder` needs to rebuild it (the encoder must have a spec)."""
        encoder_spec = getattr(self.encoder, "spec", None)
        if encoder_spec is None:
            raise ConfigError("only dim encoders (with a spec) can be saved; build it with dim.build_encoder")
        return {"encoder": dict(encoder_spec), "noise": self.noise, "sigma": self.sigma}


@runtime_checkable
class ConditionalDensity(Protocol):
    """Any model of p(z|x) that the sandwich (:func:`dim.estimate_mi_bounds`) can bound I(X; Z) for.

    sample(x): x (N, ...) -> z (N, D), one draw z_i ~ p(z | x_i) per row (torch's random state).
    log_prob(z, x): z (N, D), x (N, ...) -> (N,), log p(z_i | x_i) in nats, row by row.
    :class:`StochasticEncoder` is one (with a closed-form Gaussian, which the sandwich also uses
    for its marginal bounds); a normalising flow or a mixture density network are others.
    """

    def sample(self, x: Tensor) -> Tensor: ...

    def log_prob(self, z: Tensor, x: Tensor) -> Tensor: ...


def require_conditional(encoder: Any) -> None:
    """Raise :class:`DimError` unless ``encoder`` has a known p(z|x): a :class:`StochasticEncoder`
    with a density, or any :class:`ConditionalDensity`."""
    if not isinstance(encoder, StochasticEncoder):
        if isinstance(encoder, ConditionalDensity):
            return
        raise DimError(
            f"{type(encoder).__name__} is deterministic: p(z|x) is a point mass and I(X; Z) has no finite bound "
            "from it; wrap it as StochasticEncoder(encoder, noise='gaussian' or 'additive'), or give a model "
            "with sample(x) and log_prob(z, x)"
        )
    if not encoder.has_density:
        raise DimError(
            "with propagated noise p(z|x) has no closed form; bound I(X; Z) with a trained critic "
            "(dim.estimate_mi on (x, encoder.sample(x))) or vCLUB (dim.variational.VariationalCLUB)"
        )


def save_stochastic_encoder(encoder: StochasticEncoder, path: str | os.PathLike):
    """Write ``{"format": "dim-stochastic-encoder-1", "spec", "state_dict"}`` atomically."""
    return save_atomic({"format": "dim-stochastic-encoder-1", "spec": encoder.spec,
                        "state_dict": encoder.state_dict()}, path)  # fmt: skip


def load_stochastic_encoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> StochasticEncoder:
    """Rebuild a saved :class:`StochasticEncoder` (weights-only load), in eval mode."""
    payload = load_checkpoint(path)
    if payload.get("format") != "dim-stochastic-encoder-1":
        raise DimError(f"{str(path)!r} is a {payload.get('format')} file, not a stochastic encoder; "
                       "save one with dim.stochastic.save_stochastic_encoder (scripts/train_ib.py writes it)")  # fmt: skip
    spec = payload["spec"]
    model = StochasticEncoder(encoder_from_spec(spec["encoder"]), spec["noise"], spec["sigma"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval()
