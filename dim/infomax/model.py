"""The Deep InfoMax model: an encoder and the critics of its global, local and local<->local
MI terms (Hjelm et al., ICLR 2019; AMDIM's two views)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dim import bounds, objectives
from dim.encoders import Encoder, EncoderOutput, describe
from dim.errors import ConfigError
from dim.infomax.embeddings import GlobalEmbedding, LocalEmbedding, MapEmbedding
from dim.infomax.scores import clip_scores, infomax_bound, infomax_readout, infomax_scores
from dim.runtime import gather_across_ranks

__all__ = ["GLOBAL_TARGETS", "DeepInfoMax"]


GLOBAL_TARGETS = ("map", "code")


class DeepInfoMax(nn.Module):
    """Encoder + critics for global, local and local<->local MI, with weights alpha, beta.

    forward(view_a, view_b) -> dict of scalar terms: "global", "local", "local_local" (the
    bounds being maximised), their "*_nats" readings (DV / NWJ / InfoNCE readout, detached),
    "score_penalty", and "code" (N, D) of view_a.

    One view (view_b None): each term pairs the code (or conv map) of an image with the
    local map of the same image. Two views: the encoder runs once on both (2N images, so
    BatchNorm sees both), and each term pairs view A's code with view B's locations and B's
    with A's, averaged (AMDIM's symmetric form). ``global_target``: what the global term
    scores the code against, "map" (DIM's encoding of the whole local map) or "code" (the
    other view's code: with estimator infonce, SimCLR-style contrastive learning; two views
    needed). ``temperature``: cosine scores / temperature instead of dot products / sqrt(U).
    """

    def __init__(
        self,
        encoder: Encoder,
        estimator: str = "jsd",
        units: int = 512,
        alpha: float = 0.0,
        beta: float = 1.0,
        local_local: float = 0.0,
        locations: int | None = None,
        score_clip: float | None = None,
        mine_alpha: float = bounds.MINE_ALPHA,
        smile_clip: float = bounds.SMILE_TAU,
        global_target: str = "map",
        temperature: float | None = None,
    ) -> None:
        super().__init__()
        moving_average = objectives.estimator(estimator, "DIM").needs_moving_average
        if global_target not in GLOBAL_TARGETS:
            raise ConfigError(f"unknown objective.global_target {global_target!r}; choose one of "
                              f"{', '.join(GLOBAL_TARGETS)}")  # fmt: skip
        if temperature is not None and temperature <= 0:
            raise ConfigError(f"objective.temperature must be positive (or null), got {temperature}")
        self.encoder, self.estimator = encoder, estimator
        self.alpha, self.beta, self.local_local = alpha, beta, local_local
        self.locations, self.score_clip, self.smile_clip = locations, score_clip, smile_clip
        self.global_target, self.temperature = global_target, temperature
        shapes = describe(encoder)
        local_channels = shapes["local"][1]
        local_locations = math.prod(shapes["local"][2:])
        self.code_embedding = GlobalEmbedding(encoder.code_dim, units)
        self.local_embedding = LocalEmbedding(local_channels, units) if beta or local_local else None
        map_needed = alpha and global_target == "map"
        self.map_embedding = MapEmbedding(local_channels, local_locations, units) if map_needed else None
        self.conv_embedding = LocalEmbedding(shapes["conv"][1], units) if local_local else None
        terms = [t for t, w in (("global", alpha), ("local", beta), ("local_local", local_local)) if w]
        self.moving_averages = nn.ModuleDict(
            {t: bounds.MINEMovingAverage(mine_alpha) for t in terms} if moving_average else {}
        )
        self.generator = torch.Generator()

    def _bound(self, name: str, scores: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        scores = clip_scores(scores.float(), self.score_clip)
        moving_average = self.moving_averages[name] if name in self.moving_averages else None
        value = infomax_bound(scores, self.estimator, moving_average, clip=self.smile_clip)
        return value, infomax_readout(scores, self.estimator), scores.pow(2).mean()

    def _embed(self, out: EncoderOutput) -> dict[str, Tensor]:
        """The critics' embeddings of every image of ``out``: code (M, 1, U), locations (M, U, L),
        whole map (M, U, 1), conv locations (M, Lc, U); only those the weights use."""
        embedded = {"code": self.code_embedding(out.code).unsqueeze(1)}
        if self.local_embedding is not None:
            embedded["local"] = self.local_embedding(out.local)
        if self.map_embedding is not None:
            embedded["map"] = self.map_embedding(out.local).unsqueeze(-1)
        if self.conv_embedding is not None:
            embedded["conv"] = self.conv_embedding(out.conv).transpose(1, 2)
        return embedded

    def _pairs(self, name: str, query: dict[str, Tensor], key: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(queries (N, Q, U), keys (N, U, L)) of term ``name``: query side from one view, keys from the other."""
        if name == "global":
            return query["code"], key["map"] if self.global_target == "map" else key["code"].transpose(1, 2)
        return query["code" if name == "local" else "conv"], key["local"]

    def forward(self, view_a: Tensor, view_b: Tensor | None = None) -> dict[str, Tensor]:
        views = 1 if view_b is None else 2
        if views == 1 and self.alpha and self.global_target == "code":
            raise ConfigError("objective.global_target=code scores a view's code against another view's: "
                              "set objective.views=2")  # fmt: skip
        n = view_a.shape[0]
        out = self.encoder(view_a if views == 1 else torch.cat([view_a, view_b]))
        embedded = self._embed(out)
        # per view; in-batch negatives from every rank under DDP (identity in one process)
        per_view = [{k: gather_across_ranks(v[i * n : (i + 1) * n]) for k, v in embedded.items()} for i in range(views)]
        directions = [(0, 0)] if views == 1 else [(0, 1), (1, 0)]
        terms: dict[str, Tensor] = {"code": out.code[:n]}
        penalty = out.code.new_zeros(())
        for name, weight in (("global", self.alpha), ("local", self.beta), ("local_local", self.local_local)):
            if not weight:
                continue
            readings = []
            for q, k in directions:
                queries, keys = self._pairs(name, per_view[q], per_view[k])
                scores = infomax_scores(queries, keys, self.locations, self.generator, self.temperature)
                readings.append(self._bound(name, scores))
            value, nats, p = (torch.stack(r).mean() for r in zip(*readings))
            terms[name], terms[f"{name}_nats"] = value, nats
            penalty = penalty + p
        terms["score_penalty"] = penalty
        return terms

    def objective(self, terms: dict[str, Tensor]) -> Tensor:
        """alpha * global + beta * local + local_local weight * local<->local (to maximise)."""
        total = terms["code"].new_zeros(())
        for name, weight in (("global", self.alpha), ("local", self.beta), ("local_local", self.local_local)):
            if weight:
                total = total + weight * terms[name]
        return total
