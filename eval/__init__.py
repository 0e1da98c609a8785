"""Evaluation of learned representations: linear / MLP probes, k-NN (faiss), MI checks.

``python scripts/probe.py`` is the front door; the functions here are what it calls:
``eval.features.extract_features``, ``eval.linear.linear_probe``, ``eval.linear.mlp_probe``,
``eval.knn.knn_predict``, and the MI checks in ``eval.mi_checks``.
"""
