"""Train Information Bottleneck classifiers: CE + beta * I(X; Z) (configs/train_ib.yaml).

The command's usage and options: :mod:`dim.commands.train_ib` (also ``dim-train-ib``);
``python scripts/train_ib.py --help`` lists the config groups and keys.
"""

from dim.commands.train_ib import main

if __name__ == "__main__":
    main()
