"""The critics' embeddings of Deep InfoMax: 1 x 1 convolutions over local maps, an MLP over
the global code, and an encoding of the whole map (global DIM's target)."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["GlobalEmbedding", "LocalEmbedding", "MapEmbedding"]


class LocalEmbedding(nn.Module):
    """1x1-conv critic for a map with a linear shortcut: (N, C, *spatial) -> (N, U, L).

    phi(x) = W2 relu(W1 x) + W_s x at every location (the DIM paper's local encoder)."""

    def __init__(self, in_channels: int, units: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv1d(in_channels, units, 1), nn.ReLU(), nn.Conv1d(units, units, 1))
        self.shortcut = nn.Conv1d(in_channels, units, 1, bias=False)

    def forward(self, feature_map: Tensor) -> Tensor:
        flat = feature_map.flatten(2)
        return self.block(flat) + self.shortcut(flat)


class GlobalEmbedding(nn.Module):
    """MLP critic for the code with a linear shortcut: (N, D) -> (N, U)."""

    def __init__(self, in_dim: int, units: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(in_dim, units), nn.ReLU(), nn.Linear(units, units))
        self.shortcut = nn.Linear(in_dim, units, bias=False)

    def forward(self, code: Tensor) -> Tensor:
        return self.block(code) + self.shortcut(code)


class MapEmbedding(nn.Module):
    """Encodes a whole local map to one vector for global DIM: (N, C, *spatial) -> (N, U).

    A 1x1 conv reduces channels, then the flattened map goes through an MLP."""

    def __init__(self, in_channels: int, locations: int, units: int, reduced: int = 32) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv1d(in_channels, reduced, 1), nn.ReLU())
        self.mlp = GlobalEmbedding(reduced * locations, units)

    def forward(self, feature_map: Tensor) -> Tensor:
        return self.mlp(self.reduce(feature_map.flatten(2)).flatten(1))
