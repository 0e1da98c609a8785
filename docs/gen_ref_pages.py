"""Write the API reference: one page per module of the ``dim`` and ``eval`` packages.

Run by mkdocs-gen-files during ``mkdocs build``. It walks the packages on disk, so a module
added, moved or deleted is picked up without editing a list. Private modules (a name starting
with ``_``) are skipped, except ``__init__``, whose page is the package's. The pages exist only
in the build: ``reference/<package>/<module>.md`` with a ``::: package.module`` directive that
mkdocstrings fills from the docstrings, and ``reference/SUMMARY.md``, the navigation that
mkdocs-literate-nav reads.
"""

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dim", "eval")

nav = mkdocs_gen_files.Nav()
for package in PACKAGES:
    for path in sorted((ROOT / package).rglob("*.py")):
        module = path.relative_to(ROOT).with_suffix("")
        parts = tuple(module.parts)
        if any(part.startswith("_") and part != "__init__" for part in parts):
            continue
        if not all((ROOT / Path(*parts[:i]) / "__init__.py").is_file() for i in range(1, len(parts))):
            continue  # a folder that is not a package (no __init__.py) is not importable
        page = Path("reference", *parts).with_suffix(".md")
        if parts[-1] == "__init__":
            parts = parts[:-1]
            page = page.with_name("index.md")
        nav[parts] = page.relative_to("reference").as_posix()
        with mkdocs_gen_files.open(page, "w") as handle:
            handle.write(f"::: {'.'.join(parts)}\n")
        mkdocs_gen_files.set_edit_path(page, path.relative_to(ROOT))

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as handle:
    handle.writelines(nav.build_literate_nav())
