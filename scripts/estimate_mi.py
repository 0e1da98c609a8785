"""Estimate I(X; Y) from two paired arrays on disk.

The command's usage and options: :mod:`dim.commands.estimate_mi` (also ``dim-estimate-mi``);
``python scripts/estimate_mi.py --help`` lists the config groups and keys.
"""

from dim.commands.estimate_mi import main

if __name__ == "__main__":
    main()
