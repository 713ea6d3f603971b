"""The tensorkit command: help for every subcommand, configs, the demo."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import xarray as xr

from tensorkit.cli import COMMANDS, main

@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_summary_is_the_module_docstring(command):
    module_name, summary = COMMANDS[command]
    module = importlib.import_module(module_name)
    assert module.__doc__.strip().splitlines()[0] == summary


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--seed" in out and "--config" in out


def test_console_script_runs_demo(tmp_path):
    out = tmp_path / "demo.nc"
    proc = subprocess.run([sys.executable, "-m", "tensorkit.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(out) as ds:
        assert set(ds.dims) >= {"time", "lat", "lon"}


@pytest.mark.parametrize(
    "config, match",
    [("bogus: 1\n", "unknown option 'bogus'"), ("seed: one\n", "'seed' must be int"), ("[1, 2]\n", "mapping"),
     ("seed: [\n", "not valid YAML")],
)
def test_bad_config_is_rejected(tmp_path, capsys, config, match):
    path = tmp_path / "c.yaml"
    path.write_text(config)
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--config", str(path), "--out", str(tmp_path / "o.nc")])
    assert exc.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "o.nc").exists()


def test_config_values_apply_and_flags_win(tmp_path, small_air):
    path = tmp_path / "c.yaml"
    path.write_text("holdout: 0.5\nseed: 3\n")
    assert main(["demo", "--config", str(path), "--seed", "4", "--out", str(tmp_path / "o.nc")]) == 0
    with xr.open_dataset(tmp_path / "o.nc") as ds:
        assert ds.attrs["holdout"] == 0.5 and ds.attrs["seed"] == 4
