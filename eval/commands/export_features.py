"""Write an encoder's features of a dataset's train and test parts to one .npz, for downstream use.

Also installed as the console command ``dim-export-features`` (same arguments).

    python scripts/export_features.py encoder=outputs/train/encoder.pt [data=digits] [layers=[code,fc]]
                                      [out=FILE.npz] [overwrite=true]

Writes ``out``, by default outputs/features/<encoder name>.npz (outputs/train/encoder.pt ->
outputs/features/train.npz); an existing file is refused unless overwrite=true.

Keys: train_<layer>, test_<layer> (N, D) float32; train_labels, test_labels (N,) (-1: no label).
``encoder=pixels`` writes the flattened input (key ``<split>_input``); ``encoder=random`` an
untrained encoder of ``random_spec``. Bad input: one line, exit 2, no file written.
"""

from __future__ import annotations

from omegaconf import DictConfig

from dim.cli import command
from eval.run import export_features, probe_overrides


def run(cfg: DictConfig) -> dict:
    """The command on a composed config."""
    result = export_features(cfg)
    shapes = ", ".join(f"{key} {tuple(shape)}" for key, shape in result["arrays"].items())
    print(f"wrote {result['path']} ({result['encoder']}): {shapes}")
    return result


main = command("export_features", "export", run, rewrite=probe_overrides)

if __name__ == "__main__":
    main()
