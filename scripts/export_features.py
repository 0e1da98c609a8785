"""Write an encoder's features of a dataset's train and test parts to one .npz, for downstream use.

The command's usage and options: :mod:`eval.commands.export_features` (also ``dim-export-features``);
``python scripts/export_features.py --help`` lists the config groups and keys.
"""

from eval.commands.export_features import main

if __name__ == "__main__":
    main()
