"""Train ALI (beta=0) or ALI + MINE (beta>0) (configs/train_ali.yaml, dim/generative/ali.py).

The command's usage and options: :mod:`dim.commands.train_ali` (also ``dim-train-ali``);
``python scripts/train_ali.py --help`` lists the config groups and keys.
"""

from dim.commands.train_ali import main

if __name__ == "__main__":
    main()
