"""``python -m tensorkit`` runs the command-line interface."""

import sys

from tensorkit.cli import main

sys.exit(main())
