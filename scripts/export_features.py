"""Write an encoder's features of a dataset's train and test parts to one .npz, for downstream use.

    python scripts/export_features.py encoder=outputs/train/encoder.pt [data=digits] [layers=[code,fc]]
                                      [out=FILE.npz] [overwrite=true]

Writes ``out``, by default outputs/features/<encoder name>.npz (outputs/train/encoder.pt ->
outputs/features/train.npz); an existing file is refused unless overwrite=true.

Keys: train_<layer>, test_<layer> (N, D) float32; train_labels, test_labels (N,) (-1: no label).
``encoder=pixels`` writes the flattened input (key ``<split>_input``); ``encoder=random`` an
untrained encoder of ``random_spec``. Bad input: one line, exit 2, no file written.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dim.cli import compose, one_line_errors  # noqa: E402
from eval.run import export_features, probe_overrides  # noqa: E402


def main(argv: list[str]) -> dict:
    result = export_features(compose("export", probe_overrides(argv)))
    shapes = ", ".join(f"{key} {tuple(shape)}" for key, shape in result["arrays"].items())
    print(f"wrote {result['path']} ({result['encoder']}): {shapes}")
    return result


if __name__ == "__main__":
    with one_line_errors("export_features"):
        main(sys.argv[1:])
