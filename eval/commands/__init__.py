"""The evaluation commands (``dim-probe``, ``dim-export-features``): thin ``run(cfg)``s over
:mod:`eval.run`, made Hydra apps by :func:`dim.cli.command`."""
