"""GAN and GAN + MINE (MINE paper Sec. 5.1): mode coverage on 2-D mixtures and Stacked MNIST.

The command's usage and options: :mod:`dim.commands.train_gan` (also ``dim-train-gan``);
``python scripts/train_gan.py --help`` lists the config groups and keys.
"""

from dim.commands.train_gan import main

if __name__ == "__main__":
    main()
