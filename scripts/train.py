"""Deep InfoMax pretraining.

The command's usage and options: :mod:`dim.commands.train` (also ``dim-train``);
``python scripts/train.py --help`` lists the config groups and keys.
"""

from dim.commands.train import main

if __name__ == "__main__":
    main()
