"""Darcy-16 acceptance (method note): TFNO (joint Tucker, rank 0.1) vs dense FNO, 10 epochs, 3 seeds.

About 6 × 25 CPU-s with one thread. Targets from the method note's calibration (neuraloperator 2.0,
FNO mean 0.117, TFNO mean 0.101): per seed TFNO ≤ 1.1 × FNO, seed-mean TFNO ≤ FNO, every run ≤ 0.15
at 16², zero-shot at 32² ≤ 0.15 for TFNO (the issue's bound) and ≤ 0.17 for FNO (the note's).
"""

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "mgtfno" / "darcy16.py"


def _darcy16():
    spec = importlib.util.spec_from_file_location("mgtfno_darcy16", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tfno_beats_dense_fno_on_darcy16(shared_data):
    darcy = _darcy16()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {kind: [darcy.train_darcy(kind, seed) for seed in (0, 1, 2)] for kind in darcy.MODELS}
    finally:
        torch.set_num_threads(threads)
    tfno, fno = runs["TFNO tucker r=0.1"], runs["FNO dense"]
    assert tfno[0]["spectral_complex_parameters"] * 9 < fno[0]["spectral_complex_parameters"]  # ≈ 9.6× smaller
    for t, f in zip(tfno, fno):
        assert t["rel_l2_16"] <= 1.1 * f["rel_l2_16"]
        assert t["rel_l2_16"] <= 0.15 and t["rel_l2_32"] <= 0.15  # the zero-shot bound for TFNO
        assert f["rel_l2_16"] <= 0.15 and f["rel_l2_32"] <= 0.17  # the note's bound for every run
    mean = lambda rows: sum(r["rel_l2_16"] for r in rows) / len(rows)  # noqa: E731
    assert mean(tfno) <= mean(fno)
