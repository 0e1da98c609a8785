"""The user commands (``dim-train``, ``dim-estimate-mi``, ``dim-train-gan``, ``dim-train-ali``,
``dim-train-ib``): each a thin ``run(cfg)`` over the library, made a Hydra app by
:func:`dim.cli.command`."""
