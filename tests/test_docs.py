"""The docs build without a single warning; their reference pages come from the code; the notebooks render."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


def test_docs_build_without_warnings(built):
    assert (built / "api.html").exists()


def test_reference_pages_come_from_the_code(built):
    """The API reference has a page per package; the CLI page is the parsers' help, so it names every option."""
    from tensorkit.cli import COMMANDS

    funbat = (built / "api" / "funbat.html").read_text()
    assert "tensorkit.funbat.gpytorch_kernels" in funbat and "predictive_moments" in funbat
    cli = (built / "cli.html").read_text()
    for name in COMMANDS:
        assert f"tensorkit {name}" in cli
    assert "--channel-dim" in cli and "--holdout" in cli and "--float64" in cli


def test_the_notebooks_page_links_every_notebook():
    text = (DOCS / "notebooks.rst").read_text()
    for notebook in sorted((DOCS.parent / "notebooks").glob("*.ipynb")):
        assert f"<notebooks/{notebook.stem}.html>" in text


def test_render_notebooks_executes_and_embeds_figures(tmp_path):
    pytest.importorskip("nbconvert")
    import nbformat

    sys.path.insert(0, str(DOCS))
    try:
        from render_notebooks import render
    finally:
        sys.path.remove(str(DOCS))
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A figure"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nprint(6 * 7)"),
    ])
    nbformat.write(nb, tmp_path / "fig.ipynb")
    html = render(tmp_path / "fig.ipynb", tmp_path / "out").read_text()
    assert "<h1" in html and "42" in html and "data:image/png;base64" in html
