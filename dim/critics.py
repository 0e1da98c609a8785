"""Critics: networks T(x, y) that score every pair of a batch.

Every critic maps x (N, ...) and y (M, ...) to a score matrix (N, M) with
``scores[i, j] = T(x_i, y_j)``: the layout that :mod:`dim.bounds` reads, positives on
the diagonal when x_i and y_i are paired.

* :class:`SeparableCritic` - T(x, y) = f(x)^T g(y) / sqrt(D): "encode-and-dot", one
  matmul scores all N x M pairs (CPC, Deep InfoMax's local critic).
* :class:`BilinearCritic` - T(x, y) = f(x)^T W g(y).
* :class:`ConcatCritic` - T(x, y) = h([f(x), g(y)]): the MINE paper's statistics network.
  Its first layer is split into W_x f(x) + W_y g(y), so the N x M pairs cost one
  broadcast add, not N * M re-encodings.
* :class:`InteractionCritic` - T(x, y) = a^T s + h(s), s_k = f_k(x)^T g_k(y) / sqrt(D):
  K inner products per pair, mixed by a small MLP h. Not separable, yet every pair costs
  K products and an MLP of width 32, not a pass through a full network as in concat.

Default sub-networks f and g are chosen by an explicit ``kind``:
"vector" (N, D) -> MLP; "image" (N, C, H, W) -> small convnet; "sequence" (N, C, L) or
(N, L) -> 1-D convnet; "label" (N,) integers -> embedding. :func:`infer_kind` guesses only
where the shape is unambiguous.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "BilinearCritic",
    "ConcatCritic",
    "CRITICS",
    "InteractionCritic",
    "ELU",
    "FourierFeatures",
    "KINDS",
    "RadialFeature",
    "SeparableCritic",
    "default_network",
    "infer_kind",
    "make_critic",
    "mlp",
]

Kind = Literal["vector", "image", "sequence", "label"]
KINDS = ("vector", "image", "sequence", "label")
CRITICS = ("separable", "shared", "bilinear", "concat", "interaction")


def infer_kind(values: Tensor) -> str:
    """The input kind of a batch, from its dtype and shape, where that is unambiguous.

    Integer (N,) or (N, 1) -> "label"; float (N,) or (N, D) -> "vector";
    (N, C, H, W) -> "image". A 3-D tensor could be a sequence (N, C, L) or a single-channel
    image (N, H, W): pass ``kind`` explicitly.
    """
    integer = not (values.is_floating_point() or values.is_complex())
    if integer and (values.dim() == 1 or (values.dim() == 2 and values.shape[1] == 1)):
        return "label"
    if values.dim() in (1, 2):
        return "vector"
    if values.dim() == 4:
        return "image"
    raise ValueError(
        f"cannot tell the kind of an input of shape {tuple(values.shape)}; "
        'pass kind="sequence" for (N, C, L) signals or kind="image" for (N, C, H, W) images'
    )


class _ELUFunction(torch.autograd.Function):
    """ELU as max(x, e^min(x, 0) - 1), ``exp`` rather than ``expm1``; its backward from the output."""

    generate_vmap_rule = True  # torch.func.vmap (stacked critics) batches it like any other op

    @staticmethod
    def forward(values: Tensor) -> Tensor:
        # e^min(x, 0) - 1 >= x for every x (convexity), with equality only at 0: the max is the ELU
        return torch.maximum(values.clamp(max=0.0).exp_().sub_(1.0), values)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, 1.0, 1.0, 1.0, True, out)  # grad * (out + 1) where out <= 0


class ELU(nn.Module):
    """ELU(x) = x for x > 0, e^x - 1 otherwise: ``nn.ELU()``'s values to within 1e-7 and its
    gradient (also the second derivative), in under half its time on the CPU, where PyTorch's
    ``expm1`` is not vectorised (``e^x - 1`` is exact to float32 rounding on an output in (-1, 0];
    ``scripts/bench/bench_critic_step.py`` times both)."""

    def forward(self, values: Tensor) -> Tensor:
        return _ELUFunction.apply(values)


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2) -> nn.Sequential:
    """``layers`` hidden ELU layers of width ``hidden``, then a linear map to ``out_dim``.

    ELU rather than ReLU: the optimal critic log p(x,y)/(p(x)p(y)) is smooth (quadratic for
    Gaussians), and on d = 20 Gaussians at 2 nats the smooth activation's held-out estimate is
    about 15 points closer to the truth (``scripts/bench/bench_gaussian.py``)."""
    blocks: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), ELU()]
        width = hidden
    blocks.append(nn.Linear(width, out_dim))
    return nn.Sequential(*blocks)


class FourierFeatures(nn.Module):
    """A fixed Fourier basis for one-column inputs: x (N, 1) -> [x, sin(w_k x), cos(w_k x)]
    (N, 1 + 2K), with K frequencies w_k spaced geometrically from ``lowest`` to ``highest``
    radians per unit (inputs on a unit scale, as the rank and standardize transforms give).

    A one-column side's log-ratio can have steps, as in a signal plus bounded noise, where the
    dependence is a band |y - x| < eps: an ELU network fits a step slowly from x alone, and the
    sines give it the sharp features in one layer (``docs/estimate.md``, "A Fourier basis for
    one-column sides"). One column only: in several dimensions a basis of sines needs directions
    too, and the critic fits noise."""

    def __init__(self, frequencies: int, lowest: float = 0.5, highest: float = 8.0) -> None:
        super().__init__()
        if frequencies < 1:
            raise ValueError(f"FourierFeatures needs at least one frequency, got {frequencies}")
        self.register_buffer("frequencies", torch.logspace(math.log10(lowest), math.log10(highest), frequencies))

    @property
    def out_dim(self) -> int:
        return 1 + 2 * self.frequencies.numel()

    def forward(self, values: Tensor) -> Tensor:
        phases = values * self.frequencies  # (N, 1) * (K,) -> (N, K)
        return torch.cat([values, phases.sin(), phases.cos()], dim=1)


class RadialFeature(nn.Module):
    """x (N, D) -> [x, r] (N, D + 1), r = sqrt(mean_j x_j^2): a side's root-mean-square as one
    more input.

    A dependence through each side's scale, as in heavy-tailed pairs that share one scale
    variable or a spiral that turns each point by an angle set by its radius, is a function of
    r that an ELU network builds slowly from the coordinates; given r it fits it sooner
    (``docs/estimate.md``, "A radial feature for several columns")."""

    def forward(self, values: Tensor) -> Tensor:
        return torch.cat([values, values.pow(2).mean(dim=1, keepdim=True).sqrt()], dim=1)


class _Flatten2d(nn.Module):
    """(N,) -> (N, 1); (N, D) unchanged; (N, ...) -> (N, prod(...))."""

    def forward(self, values: Tensor) -> Tensor:
        return values.reshape(values.shape[0], -1)


class _ImageNet(nn.Module):
    """Small convnet (in the spirit of the MINE notes' MNIST critic): (N, C, H, W) -> (N, out_dim)."""

    def __init__(self, channels: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, kernel_size=5, padding=2),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=5, padding=2),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = mlp(32 * 16, hidden, out_dim, layers=1)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images).flatten(1))


class _SequenceNet(nn.Module):
    """1-D convnet (the MINE notes' sequence critic, padded): (N, C, L) or (N, L) -> (N, out_dim)."""

    def __init__(self, channels: int, length: int, hidden: int, out_dim: int, width: int = 32) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels, remaining = channels, length
        for _ in range(4):
            blocks.append(nn.Conv1d(in_channels, width, kernel_size=11, padding=5))
            pool = 4 if remaining >= 32 else 2 if remaining >= 8 else 1
            if pool > 1:
                blocks.append(nn.AvgPool1d(pool))
                remaining //= pool
            blocks.append(nn.LeakyReLU())
            in_channels = width
        self.features = nn.Sequential(*blocks)
        self.head = mlp(width, hidden, out_dim, layers=1)

    def forward(self, sequences: Tensor) -> Tensor:
        if sequences.dim() == 2:
            sequences = sequences.unsqueeze(1)
        return self.head(self.features(sequences).mean(dim=2))


class _LabelNet(nn.Module):
    """Embedding of integer labels: (N,) or (N, 1) -> (N, out_dim)."""

    def __init__(self, num_classes: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, hidden)
        self.head = mlp(hidden, hidden, out_dim, layers=1)

    def forward(self, labels: Tensor) -> Tensor:
        return self.head(self.embedding(labels.reshape(-1).long()))


def default_network(
    kind: str,
    example: Tensor,
    out_dim: int,
    hidden: int = 256,
    num_classes: int | None = None,
    layers: int = 2,
    fourier_features: int = 0,
    radial_feature: bool = False,
) -> nn.Module:
    """The default sub-network for one side of a critic.

    kind: one of ``KINDS``; example: a batch of that side (shapes are read from it);
    out_dim: the embedding width; num_classes: for "label" (default: max label + 1);
    layers: hidden layers of the "vector" MLP (the other kinds have fixed depths);
    fourier_features: K > 0 puts :class:`FourierFeatures` (K frequencies) before the MLP of a
    one-column "vector" side; wider vectors and other kinds ignore it;
    radial_feature: :class:`RadialFeature` before the MLP of a "vector" side of several columns.
    """
    if kind == "vector":
        width = 1 if example.dim() == 1 else example[0].numel()
        inputs: list[nn.Module] = [_Flatten2d()]
        if width == 1 and fourier_features > 0:
            inputs.append(FourierFeatures(fourier_features))
            width = inputs[-1].out_dim
        elif width > 1 and radial_feature:
            inputs.append(RadialFeature())
            width += 1
        return nn.Sequential(*inputs, mlp(width, hidden, out_dim, layers=layers))
    if kind == "image":
        if example.dim() != 4:
            raise ValueError(f'kind="image" needs (N, C, H, W) input, got shape {tuple(example.shape)}')
        return _ImageNet(example.shape[1], hidden, out_dim)
    if kind == "sequence":
        if example.dim() not in (2, 3):
            raise ValueError(f'kind="sequence" needs (N, C, L) or (N, L) input, got shape {tuple(example.shape)}')
        channels = 1 if example.dim() == 2 else example.shape[1]
        return _SequenceNet(channels, example.shape[-1], hidden, out_dim)
    if kind == "label":
        classes = num_classes if num_classes is not None else int(example.max().item()) + 1
        return _LabelNet(classes, hidden, out_dim)
    raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")


class SeparableCritic(nn.Module):
    """T(x, y) = f(x)^T g(y) / sqrt(D). x (N, ...), y (M, ...) -> scores (N, M), one matmul."""

    pair_width = 1  # values held per scored pair: the score alone

    def __init__(self, f: nn.Module, g: nn.Module, embedding_dim: int) -> None:
        super().__init__()
        self.f, self.g = f, g
        self.scale = 1.0 / math.sqrt(embedding_dim)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.f(x) @ self.g(y).T * self.scale


class BilinearCritic(nn.Module):
    """T(x, y) = f(x)^T W g(y). x (N, ...), y (M, ...) -> scores (N, M)."""

    pair_width = 1

    def __init__(self, f: nn.Module, g: nn.Module, embedding_dim: int) -> None:
        super().__init__()
        self.f, self.g = f, g
        self.weight = nn.Parameter(torch.eye(embedding_dim) / math.sqrt(embedding_dim))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.f(x) @ self.weight @ self.g(y).T


class ConcatCritic(nn.Module):
    """T(x, y) = h([f(x), g(y)]), h an MLP (the MINE paper's statistics network).

    x (N, ...), y (M, ...) -> scores (N, M). The first layer of h is applied as
    W_x f(x) + W_y g(y) + b and broadcast to (N, M, hidden); memory is N * M * hidden.
    """

    def __init__(self, f: nn.Module, g: nn.Module, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 2):
        super().__init__()
        self.f, self.g = f, g
        self.x_in = nn.Linear(x_dim, hidden)
        self.y_in = nn.Linear(y_dim, hidden, bias=False)
        self.head = nn.Sequential(ELU(), mlp(hidden, hidden, 1, layers=layers - 1))
        self.pair_width = hidden  # values held per scored pair: h's hidden layer

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        hx = self.x_in(self.f(x))
        hy = self.y_in(self.g(y))
        return self.head(hx.unsqueeze(1) + hy.unsqueeze(0)).squeeze(-1)


class InteractionCritic(nn.Module):
    """T(x, y) = sum_k a_k s_k + v^T ELU(W s + c), with s_k = f_k(x)^T g_k(y) / sqrt(D).

    f(x) and g(y) (width K * D) are cut into K heads of width D; each head's inner product is
    one feature s_k of the pair, and a one-hidden-layer MLP (width ``mix_hidden``) over the K
    features makes the critic non-separable. With v = 0 it is a separable critic whose heads
    are weighted by a, so it contains the encode-and-dot family; the MLP adds functions of the
    inner products, such as log(1 + q(x) + q(y) + x^T A y) in a heavy-tailed log-ratio, that
    a sum of K products can only approximate. x (N, ...), y (M, ...) -> scores (N, M); memory
    is N * M * (K + mix_hidden).
    """

    def __init__(self, f: nn.Module, g: nn.Module, embedding_dim: int, heads: int = 8, mix_hidden: int = 32) -> None:
        super().__init__()
        if embedding_dim % heads:
            raise ValueError(f"embedding_dim {embedding_dim} must be a multiple of heads {heads}")
        self.f, self.g, self.heads = f, g, heads
        self.scale = 1.0 / math.sqrt(embedding_dim // heads)
        self.linear = nn.Parameter(torch.full((heads,), 1.0 / math.sqrt(heads)))
        self.mix_in = nn.Linear(heads, mix_hidden)
        self.mix_out = nn.Linear(mix_hidden, 1, bias=False)
        self.activation = ELU()
        self.pair_width = heads + mix_hidden  # values held per scored pair: s and h's hidden layer

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        fx = self.f(x).unflatten(-1, (self.heads, -1)).transpose(0, 1)  # (K, N, D)
        gy = self.g(y).unflatten(-1, (self.heads, -1)).permute(1, 2, 0)  # (K, D, M)
        s = torch.bmm(fx, gy) * self.scale  # (K, N, M)
        n, m = s.shape[1:]
        flat = s.reshape(self.heads, n * m)  # one matmul per layer over every pair
        hidden = self.activation(torch.addmm(self.mix_in.bias.unsqueeze(1), self.mix_in.weight, flat))
        return (self.linear @ flat + self.mix_out.weight @ hidden).reshape(n, m)


def _feature_dim(network: nn.Module, example: Tensor) -> int:
    with torch.no_grad():
        was_training = network.training
        network.eval()
        out = network(example[:2])
        network.train(was_training)
    return out.shape[-1]


def make_critic(
    x: Tensor,
    y: Tensor,
    critic: str | nn.Module = "separable",
    *,
    x_kind: str | None = None,
    y_kind: str | None = None,
    hidden: int = 256,
    embedding_dim: int = 64,
    layers: int = 2,
    x_classes: int | None = None,
    y_classes: int | None = None,
    fourier_features: int = 0,
    radial_feature: bool = False,
) -> nn.Module:
    """Build a critic for batches shaped like ``x`` and ``y``.

    critic: "separable", "shared" (separable with f = g, for x and y of one kind and shape:
    twice the data for one network), "bilinear", "concat", "interaction", or a user ``nn.Module`` mapping
    (x (N, ...), y (M, ...)) -> (N, M), returned as is. x_kind / y_kind: see ``KINDS``;
    inferred with :func:`infer_kind` when None. hidden: width of the sub-networks;
    embedding_dim: width of f(x) and g(y) for separable, bilinear and interaction critics; layers: hidden
    layers of the vector sub-networks (separable, shared, bilinear) or of h (concat);
    fourier_features: a :class:`FourierFeatures` basis of that many frequencies for each
    one-column vector side of a separable, shared, bilinear or interaction critic (0: none);
    radial_feature: a :class:`RadialFeature` for each vector side of several columns of those critics.
    """
    if isinstance(critic, nn.Module):
        return critic
    if critic not in CRITICS:
        raise ValueError(f"unknown critic {critic!r}; choose one of {', '.join(CRITICS)} or pass an nn.Module")
    x_kind = x_kind or infer_kind(x)
    y_kind = y_kind or infer_kind(y)
    if critic == "concat":
        # Raw vectors go straight into h, as in the MINE paper; other kinds are embedded first.
        f = _Flatten2d() if x_kind == "vector" else default_network(x_kind, x, hidden, hidden, x_classes)
        g = _Flatten2d() if y_kind == "vector" else default_network(y_kind, y, hidden, hidden, y_classes)
        return ConcatCritic(f, g, _feature_dim(f, x), _feature_dim(g, y), hidden=hidden, layers=layers)
    if critic == "shared":  # separable, one network for both sides: f = g
        if x_kind != y_kind or x.shape[1:] != y.shape[1:]:
            raise ValueError(f"critic='shared' needs x and y of one kind and shape, got {x_kind} "
                             f"{tuple(x.shape[1:])} and {y_kind} {tuple(y.shape[1:])}; use 'separable'")  # fmt: skip
        f = default_network(x_kind, x, embedding_dim, hidden, x_classes, layers, fourier_features, radial_feature)
        return SeparableCritic(f, f, embedding_dim)
    f = default_network(x_kind, x, embedding_dim, hidden, x_classes, layers, fourier_features, radial_feature)
    g = default_network(y_kind, y, embedding_dim, hidden, y_classes, layers, fourier_features, radial_feature)
    if critic == "bilinear":
        return BilinearCritic(f, g, embedding_dim)
    if critic == "interaction":
        return InteractionCritic(f, g, embedding_dim)
    return SeparableCritic(f, g, embedding_dim)
