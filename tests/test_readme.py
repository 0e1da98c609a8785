"""README.md's Python blocks run as written, so a snippet that breaks fails the suite.

The blocks are read by pytest-codeblocks (``extract_from_file``, the plugin's own parser) and
run here, so that ``pytest tests`` collects them. They run on one torch thread in a fresh folder
that holds ``outputs/train/encoder.pt`` where the set-up command leaves it.
"""

from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = [block for block in extract_from_file(README) if block.syntax == "python"]


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{block.lineno}" for block in BLOCKS])
def test_readme_python_block_runs(block, set_up_folder, single_thread):
    exec(compile(block.code, f"README.md:{block.lineno}", "exec"), {"__name__": "__main__"})
