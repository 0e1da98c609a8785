"""k-nearest-neighbour classification on L2-normalised features (cosine similarity).

Three exact search backends return the same neighbours:

- ``"faiss"``: ``IndexFlatIP`` (with faiss-gpu installed, the natural choice on a GPU);
- ``"torch"``: blocked float32 matmul and ``topk``;
- ``"torch-bf16"``: a bfloat16 matmul proposes candidates, float32 re-ranks them, and a
  rounding-error bound certifies per query that no other row can enter its top k; the few
  queries it cannot certify are searched again in float32. Same neighbours as the float32
  search, at the speed of bfloat16 matrix units (AMX on recent Xeons, tensor cores on GPUs);
  on a CPU without bfloat16 units it is slower than ``"torch"``.

Which is fastest depends on the hardware and the BLAS each links: the faiss-cpu wheel bundles
its own OpenBLAS, which on our 2-core benchmark machine was 4x slower than torch's matmul
(``scripts/bench/bench_eval.py`` measures all three against scikit-learn).

Ties: training rows with equal similarity to a query (duplicate rows) come back in an
unspecified order, and at the k-th rank an unspecified one of them is kept, as in
scikit-learn's brute-force search (``np.argpartition``); the similarities, and the rows as
vectors, are the same whichever is chosen.

Weighted vote (as DINO / InstDisc): class score = sum over the k neighbours of exp(sim / T).
Majority vote: the most frequent class among the k neighbours, ties broken towards the
smallest label (as scikit-learn's KNeighborsClassifier does).
"""

from __future__ import annotations

import logging

import numpy as np

from dim.errors import DataError
from dim.runtime import follow_cores
from eval.linear import check_features

__all__ = ["knn_predict", "neighbours", "BACKENDS"]


def _normalise(x: np.ndarray) -> np.ndarray:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.nn.functional.normalize(x, dim=1, eps=1e-12).numpy()


BACKENDS = ("faiss", "torch", "torch-bf16")
BF16_UNIT_ROUNDOFF = 2.0**-8  # bfloat16 keeps 8 significant bits: |round(v) - v| <= 2^-8 |v|


def neighbours(train_x: np.ndarray, test_x: np.ndarray, k: int, backend: str = "faiss",
               block: int = 1024) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Cosine similarities (M, k) and indices (M, k) of each query's k nearest training rows,
    best first. ``block``: queries per matmul of the torch backends (memory: block x N floats)."""
    if backend == "faiss":
        # faiss reports at INFO which CPU build it loaded: noise in a command's log
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)
        import faiss
        import torch

        # faiss has its own OpenMP threads: run them as torch's (the thread policy), then restore
        saved = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(torch.get_num_threads())
        try:
            index = faiss.IndexFlatIP(train_x.shape[1])
            index.add(_normalise(train_x))
            return index.search(_normalise(test_x), k)
        finally:
            faiss.omp_set_num_threads(saved)
    if backend not in BACKENDS:
        raise DataError(f"unknown k-NN backend {backend!r}; choose among {', '.join(BACKENDS)}")
    import torch

    database = torch.from_numpy(_normalise(train_x))
    queries = torch.from_numpy(_normalise(test_x))
    search = _search_float32 if backend == "torch" else _Bfloat16Search(database, k)
    similarities, indices = [], []
    with torch.no_grad():
        for start in range(0, len(queries), block):
            follow_cores()
            values, rows = search(queries[start : start + block], database, k)
            similarities.append(values)
            indices.append(rows)
    return torch.cat(similarities).numpy(), torch.cat(indices).numpy()


def _search_float32(queries, database, k):
    return (queries @ database.T).topk(k, dim=1)


class _Bfloat16Search:
    """Exact top-k by inner product through a bfloat16 candidate search (see the module docstring).

    For unit vectors q, x with bfloat16 roundings q~ = q + dq, x~ = x + dx, the matmul returns
    a = round_bf16(q~.x~ + accumulation error), and
        |q~.x~ - q.x| <= |dq| |x~| + |q| |dx| <= |dq| (1 + max|dx|) + max|dx|   (Cauchy-Schwarz),
    with the norms |dq|, |dx| measured, not assumed. Every row outside a query's candidate set
    has a <= t, the smallest candidate's a, so its exact similarity is at most
        bound(t) = t / (1 -+ u) + |dq| (1 + max|dx|) + max|dx| + 2 gamma,   u = 2^-8,
    where gamma = D 2^-24 (1 + u)^2 covers float32 summation, once in the bfloat16 matmul and
    once in the float32 re-ranking. When the k-th best float32 similarity among the candidates
    exceeds bound(t), the top k lies inside the candidate set; otherwise the query falls back
    to a float32 search.

    Candidates come from a two-level selection that avoids a ``topk`` over all N rows. The
    database is cut into chunks of ``chunk`` rows (one cache-friendly matmul each), and group g
    holds row g of every chunk (rows g, g + chunk, g + 2 chunk, ...), so that the group maxima
    are one elementwise max over the chunks' score slabs. The ``candidates`` groups with the
    highest maximum are kept and the top ``candidates`` of their rows are taken (any row of the
    overall top ``candidates`` lies in one of those groups). Group maxima are compared as the
    scores' bits read as int16, which orders bfloat16 values correctly where they are >= 0; a
    query whose kept groups include one with a negative maximum is searched in float32.

    The last chunk is padded with -inf scores. Read as int16, -inf (0xFF80 = -128) ranks above
    every negative score, so a group made only of padding could be kept, and its row index
    would lie past the database. A chunk therefore holds at most N rows: every group then
    holds at least one real row (in the first chunk), the padding never outranks it in the
    float32 selection of rows, and a group maximum taken from padding is negative, which
    sends the query to the float32 search.
    """

    def __init__(self, database, k: int, chunk: int = 1024, margin: int = 24) -> None:
        import torch

        n, dim = database.shape
        chunk = min(chunk, n)  # no group of padding only (see the class docstring)
        self.n, self.chunk, self.chunks = n, chunk, -(-n // chunk)
        self.candidates = min(n, k + margin)
        low = database.to(torch.bfloat16)
        self.database_t = torch.zeros(self.chunks, dim, chunk, dtype=torch.bfloat16)  # (chunks, D, chunk)
        for j in range(self.chunks):
            part = low[j * chunk : (j + 1) * chunk]
            self.database_t[j, :, : len(part)] = part.T
        self.database_error = float((low.float() - database).norm(dim=1).max())
        self.accumulation = 2.0 * dim * 2.0**-24 * (1 + BF16_UNIT_ROUNDOFF) ** 2
        self._buffer = None

    def _approximate_scores(self, low):
        """bfloat16 scores (chunks, B, chunk); the padding rows of the last chunk score -inf."""
        import torch

        if self._buffer is None or self._buffer.shape[1] < len(low):  # reused: fresh pages cost ~ the matmul
            self._buffer = torch.empty(self.chunks, len(low), self.chunk, dtype=torch.bfloat16)
        scores = self._buffer[:, : len(low)]
        for j in range(self.chunks):
            torch.matmul(low, self.database_t[j], out=scores[j])
        scores[-1, :, self.n - (self.chunks - 1) * self.chunk :] = -torch.inf
        return scores

    def _candidates(self, scores):
        """Rows (B, c) of the top c bfloat16 scores (chunks, B, chunk), those scores (B, c),
        and whether the int16 ordering of the kept group maxima was valid (B,)."""
        import torch

        chunks = len(scores)
        maxima, groups = scores.view(torch.int16).amax(dim=0).topk(self.candidates, dim=1)  # (B, c)
        kept = scores.gather(2, groups.expand(chunks, -1, -1))  # (chunks, B, c): [j, b, i] = row j*chunk + groups[b, i]
        values, best = kept.permute(1, 0, 2).flatten(1).float().topk(self.candidates, dim=1)
        rows = (best // self.candidates) * self.chunk + groups.gather(1, best % self.candidates)
        return rows, values, maxima[:, -1] >= 0

    def __call__(self, queries, database, k):
        import torch

        low = queries.to(torch.bfloat16)
        rows, approximate, ordering_valid = self._candidates(self._approximate_scores(low))
        threshold = approximate[:, -1]  # every row outside the candidates scores <= this
        exact = torch.cat([torch.einsum("bd,bcd->bc", queries[i : i + 128], database[rows[i : i + 128]])
                           for i in range(0, len(queries), 128)])  # float32 re-rank, cache-sized parts  # fmt: skip
        values, order = exact.topk(k, dim=1)
        rows = rows.gather(1, order)
        u = BF16_UNIT_ROUNDOFF
        unrounded = torch.where(threshold >= 0, threshold / (1 - u), threshold / (1 + u))
        query_error = (low.float() - queries).norm(dim=1)
        bound = unrounded + query_error * (1 + self.database_error) + self.database_error + self.accumulation
        outside_may_enter = (values[:, -1] <= bound + 1e-6) & (self.candidates < self.n)  # no outside when c = N
        uncertified = torch.nonzero(outside_may_enter | ~ordering_valid).flatten()
        if len(uncertified):
            values[uncertified], rows[uncertified] = _search_float32(queries[uncertified], database, k)
        return values, rows


def _vote(similarities, indices, train_y, classes, temperature, weighted):
    labels = train_y[indices]  # (M, k)
    weights = np.exp(similarities / temperature) if weighted else np.ones_like(similarities)
    scores = np.zeros((len(labels), classes))
    np.add.at(scores, (np.arange(len(labels))[:, None], labels), weights)
    return scores.argmax(1)  # argmax returns the first (smallest) label among ties


def knn_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, k: int = 20,
                temperature: float = 0.07, weighted: bool = True, backend: str = "faiss") -> np.ndarray:  # fmt: skip
    """Predicted labels (M,) for test_x (M, D) from train_x (N, D), train_y (N,) ints.

    weighted: vote with exp(similarity / temperature); else a plain majority, ties to the
    smallest label. backend: one of ``BACKENDS`` (exact searches all; see the module docstring).
    k larger than N is lowered to N.
    """
    check_features(train_x, train_y, "train")
    check_features(test_x, None, "test")
    k = min(k, len(train_x))
    similarities, indices = neighbours(train_x, test_x, k, backend)
    return _vote(similarities, indices, np.asarray(train_y), int(train_y.max()) + 1, temperature, weighted)
