"""The Python blocks of docs/*.md run as written, as README's do (tests/test_readme.py).

Every page of the guide is read by pytest-codeblocks (``extract_from_file``), one test per
Python block, run on one torch thread in a fresh folder that holds ``outputs/train/encoder.pt``
where the set-up command leaves it. A page added to docs/ is picked up without editing this file.
"""

from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.md"))
BLOCKS = [(page, block) for page in PAGES for block in extract_from_file(page) if block.syntax == "python"]


def test_docs_have_pages_and_python_blocks():
    names = {page.name for page in PAGES}
    assert {"index.md", "estimate.md", "loss.md", "pretrain.md", "evaluate.md", "minimize.md", "generative.md",
            "vocabulary.md"} <= names  # fmt: skip
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("page, block", BLOCKS, ids=[f"docs/{page.name}:{block.lineno}" for page, block in BLOCKS])
def test_docs_python_block_runs(page, block, set_up_folder, single_thread):
    exec(compile(block.code, f"docs/{page.name}:{block.lineno}", "exec"), {"__name__": "__main__"})
