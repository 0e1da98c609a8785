"""mkdocs hooks: show the figures of results/ on the site.

The guide pages link figures as ``../results/NAME.png``, which is right when the Markdown is
read in the repository (docs/ and results/ are siblings). The site is built from docs/ alone,
so this hook adds every PNG of results/ to the build under ``results/`` and rewrites those
links to point there.
"""

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent


def on_files(files, config):
    for path in sorted((ROOT / "results").glob("*.png")):
        files.append(File(f"results/{path.name}", src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))  # fmt: skip
    return files


def on_page_markdown(markdown, page, config, files):
    return markdown.replace("](../results/", "](results/")
