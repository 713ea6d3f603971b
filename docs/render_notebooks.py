"""Execute the notebooks and render them, figures included, to standalone HTML pages.

``make docs`` runs it after Sphinx, so that the links of ``docs/notebooks.rst`` resolve:

    python docs/render_notebooks.py [OUT_DIR] [NOTEBOOK ...]

OUT_DIR defaults to ``docs/_build/html/notebooks``; the notebooks default to every ``notebooks/*.ipynb``.
Each runs top to bottom in a temporary folder (as ``tests/test_notebooks.py`` runs them), and its
figures are embedded in the page as PNG data. Needs nbconvert (in the ``test`` extra).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 1200  # seconds per cell


def render(notebook: str | Path, out_dir: str | Path, execute: bool = True) -> Path:
    """Write ``<out_dir>/<name>.html`` for ``notebook`` (executed first unless ``execute=False``); return its path."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    if execute:
        with tempfile.TemporaryDirectory() as tmp:
            NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)
    out = Path(out_dir) / f"{Path(notebook).stem}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args.pop(0)) if args else ROOT / "docs" / "_build" / "html" / "notebooks"
    for notebook in args or sorted((ROOT / "notebooks").glob("*.ipynb")):
        print(f"rendered {render(notebook, out_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
