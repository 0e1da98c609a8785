"""k-nearest-neighbour classification with faiss on L2-normalised features (cosine similarity).

Weighted vote (as DINO / InstDisc): class score = sum over the k neighbours of exp(sim / T).
Majority vote: the most frequent class among the k neighbours, ties broken towards the
smallest label (as scikit-learn's KNeighborsClassifier does).
"""

from __future__ import annotations

import numpy as np

from eval.linear import check_features

__all__ = ["knn_predict", "knn_reference", "neighbours"]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def neighbours(train_x: np.ndarray, test_x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities (M, k) and indices (M, k) of each query's k nearest training rows."""
    import faiss

    index = faiss.IndexFlatIP(train_x.shape[1])
    index.add(_normalise(train_x))
    return index.search(_normalise(test_x), k)


def _vote(similarities, indices, train_y, classes, temperature, weighted):
    labels = train_y[indices]  # (M, k)
    weights = np.exp(similarities / temperature) if weighted else np.ones_like(similarities)
    scores = np.zeros((len(labels), classes))
    np.add.at(scores, (np.arange(len(labels))[:, None], labels), weights)
    return scores.argmax(1)  # argmax returns the first (smallest) label among ties


def knn_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, k: int = 20,
                temperature: float = 0.07, weighted: bool = True) -> np.ndarray:  # fmt: skip
    """Predicted labels (M,) for test_x (M, D) from train_x (N, D), train_y (N,) ints."""
    check_features(train_x, train_y, "train")
    check_features(test_x, None, "test")
    k = min(k, len(train_x))
    similarities, indices = neighbours(train_x, test_x, k)
    return _vote(similarities, indices, np.asarray(train_y), int(train_y.max()) + 1, temperature, weighted)


def knn_reference(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, k: int = 20) -> np.ndarray:
    """Brute-force majority vote in numpy (full similarity matrix, stable sort): the reference
    that :func:`knn_predict` (``weighted=False``) is tested against."""
    similarities = _normalise(test_x) @ _normalise(train_x).T
    indices = np.argsort(-similarities, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(similarities, indices, 1)
    return _vote(top, indices, np.asarray(train_y), int(train_y.max()) + 1, 1.0, weighted=False)
