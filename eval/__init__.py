"""Evaluation of learned representations (probes, k-NN, MI checks): not built yet, see issue 4."""
