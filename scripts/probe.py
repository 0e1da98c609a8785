"""Evaluate a representation: linear / MLP probes, k-NN (faiss), MI checks, with baselines.

The command's usage and options: :mod:`eval.commands.probe` (also ``dim-probe``);
``python scripts/probe.py --help`` lists the config groups and keys.
"""

from eval.commands.probe import main

if __name__ == "__main__":
    main()
