"""k-nearest-neighbour classification on L2-normalised features (cosine similarity).

Two exact search backends return the same neighbours: ``"faiss"`` (``IndexFlatIP``; with
faiss-gpu installed the natural choice on a GPU) and ``"torch"`` (blocked float32 matmul and
``topk``, on CPU or CUDA). Which is faster depends on the BLAS each links: the faiss-cpu wheel
bundles its own OpenBLAS, which on our 2-core benchmark machine was 4x slower than torch's
matmul (``scripts/bench_eval.py`` measures both against scikit-learn).

Weighted vote (as DINO / InstDisc): class score = sum over the k neighbours of exp(sim / T).
Majority vote: the most frequent class among the k neighbours, ties broken towards the
smallest label (as scikit-learn's KNeighborsClassifier does).
"""

from __future__ import annotations

import numpy as np

from dim.errors import DataError
from eval.linear import check_features

__all__ = ["knn_predict", "knn_reference", "neighbours", "BACKENDS"]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


BACKENDS = ("faiss", "torch")


def neighbours(train_x: np.ndarray, test_x: np.ndarray, k: int, backend: str = "faiss",
               block: int = 2048) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Cosine similarities (M, k) and indices (M, k) of each query's k nearest training rows,
    best first. ``block``: queries per matmul of the torch backend (memory: block x N floats)."""
    if backend == "faiss":
        import faiss

        index = faiss.IndexFlatIP(train_x.shape[1])
        index.add(_normalise(train_x))
        return index.search(_normalise(test_x), k)
    if backend == "torch":
        import torch

        database = torch.from_numpy(_normalise(train_x))
        queries = torch.from_numpy(_normalise(test_x))
        similarities, indices = [], []
        with torch.no_grad():
            for start in range(0, len(queries), block):
                top = (queries[start : start + block] @ database.T).topk(k, dim=1)
                similarities.append(top.values)
                indices.append(top.indices)
        return torch.cat(similarities).numpy(), torch.cat(indices).numpy()
    raise DataError(f"unknown k-NN backend {backend!r}; choose among {', '.join(BACKENDS)}")


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
    smallest label. backend: "faiss" or "torch" (exact search both; see the module docstring).
    """
    check_features(train_x, train_y, "train")
    check_features(test_x, None, "test")
    k = min(k, len(train_x))
    similarities, indices = neighbours(train_x, test_x, k, backend)
    return _vote(similarities, indices, np.asarray(train_y), int(train_y.max()) + 1, temperature, weighted)


def knn_reference(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, k: int = 20) -> np.ndarray:
    """Brute-force majority vote in numpy (full similarity matrix, stable sort): the reference
    that :func:`knn_predict` (``weighted=False``) is tested against."""
    similarities = _normalise(test_x) @ _normalise(train_x).T
    indices = np.argsort(-similarities, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(similarities, indices, 1)
    return _vote(top, indices, np.asarray(train_y), int(train_y.max()) + 1, 1.0, weighted=False)
