"""Progress in batch jobs: log lines instead of bars, and DAIN's stage lines in a redirected log file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tensorkit.runtime.progress import progress

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)


def test_batch_loops_log_lines_with_counts(not_a_terminal, caplog):
    with caplog.at_level(logging.INFO, logger="tensorkit"):
        assert list(progress(range(3), desc="train", log_every=0)) == [0, 1, 2]
    assert [r.getMessage().split(" after ")[0] for r in caplog.records[:3]] == ["train: 1/3", "train: 2/3", "train: 3/3"]
    assert caplog.records[-1].getMessage().startswith("train: finished 3/3 in")


def test_loop_stopped_early_still_reports_how_far_it_got(not_a_terminal, caplog):
    with caplog.at_level(logging.INFO, logger="tensorkit"):
        for i in progress(range(10), desc="fit", log_every=0):
            if i == 4:
                break
    assert caplog.records[-1].getMessage().startswith("fit: finished 4/10")


def test_verbose_false_is_silent(not_a_terminal, caplog):
    with caplog.at_level(logging.INFO, logger="tensorkit"):
        list(progress(range(3), log_every=0, verbose=False))
    assert not caplog.records


def test_dain_fit_redirected_to_a_file_writes_its_stages(tmp_path):
    """``python script.py > log.txt 2>&1`` with logging left unconfigured."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import torch
        from tensorkit import DAIN
        idx = torch.cartesian_prod(torch.arange(6), torch.arange(5), torch.arange(4))
        y = idx.sum(1).double()
        DAIN("cp", model_options={"rank": 2}, max_epochs=3).fit(idx, y)
        DAIN("cp", model_options={"rank": 2}, max_epochs=3, verbose=False).fit(idx, y + 1)
    """))
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        subprocess.run([sys.executable, str(script)], stdout=fh, stderr=subprocess.STDOUT, check=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    lines = log.read_text().splitlines()
    assert sum("DAIN: fitting a cp model on 96 cells of a 6×5×4 tensor (24 more for validation)" in s for s in lines) == 1
    assert sum("DAIN step1: max_epochs after 3 epochs" in s and "validation RMSE" in s for s in lines) == 1
    assert sum("DAIN: 48 new cells from the influence sampler" in s for s in lines) == 1
    assert sum("DAIN retrain:" in s for s in lines) == 1


def test_funbat_fit_redirected_to_a_file_writes_its_stages(tmp_path):
    """The same for FunBaT: a line when the fit starts and one per EP phase with its last relative change."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        from tensorkit import FunBaT
        X = np.array([(a, b) for a in range(8) for b in range(6)], dtype=float)
        y = np.sin(X[:, 0]) + np.cos(X[:, 1])
        FunBaT(rank=2, n_epochs=5, tol=0.0, residual=None).fit(X, y)
        FunBaT(rank=2, n_epochs=5, tol=0.0, residual=None, verbose=False).fit(X, y + 1)
    """))
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        subprocess.run([sys.executable, str(script)], stdout=fh, stderr=subprocess.STDOUT, check=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    lines = log.read_text().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].endswith("tensorkit: FunBaT: fitting a tucker model of rank (2, 2) to 48 values on a 8×6 grid")
    assert "FunBaT-CP: reached n_epochs after 5 epochs in all (relative change " in lines[1]
    assert "FunBaT: reached n_epochs after 10 epochs in all (relative change " in lines[2]
