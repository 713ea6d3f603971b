"""The ``tensorkit-cli`` directive: every ``tensorkit`` subcommand's ``--help``, generated from its argparse parser.

The page cannot drift from the code: it is the text the parsers print, at a fixed width of 100 columns.
"""

from __future__ import annotations

import os

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

WIDTH = "100"


class CommandReference(SphinxDirective):
    """A section per subcommand (in :data:`tensorkit.cli.COMMANDS` order): its summary and its full help."""

    def run(self) -> list[nodes.Node]:
        from tensorkit.cli import COMMANDS, build_parser

        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = WIDTH  # argparse reads the width when a formatter is made
        try:
            top = build_parser()[0].format_help()
            sections = []
            for name, (_, summary) in COMMANDS.items():
                section = nodes.section(ids=[f"tensorkit-{name}"])
                section += nodes.title(text=f"tensorkit {name}")
                section += nodes.paragraph(text=summary)
                section += nodes.literal_block(text=build_parser(name)[1][name].format_help())
                sections.append(section)
        finally:
            if previous is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = previous
        return [nodes.literal_block(text=top), *sections]


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_directive("tensorkit-cli", CommandReference)
    return {"parallel_read_safe": True}
