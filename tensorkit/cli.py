"""tensorkit: low-rank tensor models of gridded data and tensorized neural operators.

Each subcommand lives in its own module, named in :data:`COMMANDS` with its one-line summary, and is
imported only when that subcommand runs (``tensorkit --help`` imports neither torch nor a method). A
module defines ``add_arguments(parser)`` and ``run(args) -> int``; a module whose own input file
carries a seed sets ``SEED_FROM_CONFIG = True`` (``--seed`` is then ``None`` unless given). Every
subcommand also gets the common options ``--config`` (YAML whose keys are option names; flags given
on the command line win), ``--seed``, ``--device``, ``--out``, ``--overwrite`` and ``--quiet``.

Exit status: 0 done; 2 refused (bad input, an existing or unwritable output, a damaged file); 1
failed while running (non-finite loss, a full disk); 143 (SIGTERM/SIGUSR1) or 130 (SIGINT) stopped
by a signal, state checkpointed, no final output: run the same command again to resume.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import signal
import sys
from collections.abc import Sequence
from typing import Any

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("tensorkit.demo",
             "Fit FunBaT to the built-in NCEP air-temperature field; write the posterior to netCDF and a figure."),
    "train-operator": ("tensorkit.operators.command",
                       "Train a (tensorized) Fourier neural operator from a YAML experiment file."),
    "complete": ("tensorkit.completion.command",
                 "Complete a sparse tensor with a neural model and influence-guided augmentation (DAIN)."),
    "chebtucker": ("tensorkit.chebyshev.command",
                   "Compress a function or a gridded field into Chebyshev–Tucker format and report ranks and errors."),
    "funbat": ("tensorkit.funbat.command",
               "Fit FunBaT (functional Bayesian Tucker with GP factors) to a netCDF variable; report held-out skill."),
    "predict": ("tensorkit.operators.predict_command",
                "Apply a trained operator (a train-operator run folder) to the input fields of a netCDF file or zarr store."),
}
"""Subcommand name → (module, one-line summary); the summary is the module docstring's first line."""


def build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The argument parser and its subcommand parsers by name.

    Parameters
    ----------
    command : str, optional
        The subcommand about to run: only its module is imported and only its parser gets its options
        (the others carry just their summary, which is all ``tensorkit --help`` shows).
    """
    parser = argparse.ArgumentParser(prog="tensorkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands = {}
    for name, (module_name, summary) in COMMANDS.items():
        cmd = sub.add_parser(name, help=summary, formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == command:
            module = importlib.import_module(module_name)
            cmd.description = module.__doc__
            module.add_arguments(cmd)
            _add_common_arguments(cmd, seed_from_config=getattr(module, "SEED_FROM_CONFIG", False))
            cmd.set_defaults(_run=module.run)
        commands[name] = cmd
    return parser, commands


def _add_common_arguments(parser: argparse.ArgumentParser, seed_from_config: bool) -> None:
    group = parser.add_argument_group("common options")
    group.add_argument("--config", metavar="YAML", help="YAML file of option values (command-line flags override it)")
    if seed_from_config:
        group.add_argument("--seed", type=int, default=None, help="seed of every random choice (default: the input file's)")
    else:
        group.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")
    group.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'")
    group.add_argument("--out", metavar="PATH", help="output path (written atomically)")
    group.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
    group.add_argument("--quiet", action="store_true", help="no progress bars or summaries")


def read_config(path: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Option values from a YAML file, checked against ``parser``'s options (names and types)."""
    from tensorkit._validation import read_yaml_mapping

    try:
        config = read_yaml_mapping(path, "--config")
    except ValueError as err:
        parser.error(str(err))
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest not in ("help", "config")}
    values = {}
    for key, value in config.items():
        dest = str(key).replace("-", "_")
        if dest not in actions:
            parser.error(f"--config: unknown option {key!r}; known: {sorted(actions)}")
        values[dest] = _check_config_value(parser, key, value, actions[dest])
    return values


def _check_config_value(parser: argparse.ArgumentParser, key: str, value: Any, action: argparse.Action) -> Any:
    from tensorkit._validation import check_value_type

    if isinstance(action, argparse._StoreTrueAction):
        expected: type = bool
    elif action.type in (int, float, str):
        expected = action.type
    else:
        expected = type(action.default) if action.default is not None else str
    if not (action.nargs in ("+", "*") and isinstance(value, list)):
        try:
            value = check_value_type(value, expected, f"option {key!r}")
        except TypeError as err:
            parser.error(f"--config: {err}")
    if action.choices is not None and value not in action.choices:
        parser.error(f"--config: option {key!r} must be one of {list(action.choices)}, got {value!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tensorkit`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # the top-level parser has no options of its own but --help, so its first other word names the command
    parser, commands = build_parser(next((word for word in argv if not word.startswith("-")), None))
    args = parser.parse_args(argv)
    if args.config:
        commands[args.command].set_defaults(**read_config(args.config, commands[args.command]))
        args = parser.parse_args(argv)
    args._command_line = shlex.join(["tensorkit", *argv])  # for the history attribute of netCDF outputs
    from tensorkit.runtime.interrupt import GracefulInterrupt

    with GracefulInterrupt() as stop:
        try:
            return int(args._run(args) or 0)
        except InterruptedError as err:
            name = signal.Signals(stop.signum).name if stop.signum else "a signal"
            print(f"tensorkit {args.command}: stopped by {name}: {err}", file=sys.stderr)
            return stop.exit_code
        except (ValueError, TypeError, KeyError, IndexError, FileNotFoundError, FileExistsError) as err:
            print(f"tensorkit {args.command}: error: {err}", file=sys.stderr)
            return 2
        except (FloatingPointError, OSError) as err:
            print(f"tensorkit {args.command}: failed: {err}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
