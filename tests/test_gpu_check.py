"""The GPU check script (benchmarks/gpu.py) keeps working: its CPU smoke run writes the full table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_cpu_small_writes_every_section(tmp_path: Path) -> None:
    # the "tests" check (pytest -m gpu) is left out: it would run this test suite inside itself
    cmd = [sys.executable, "-m", "benchmarks.gpu", "--cpu", "--small", "--out", str(tmp_path),
           "--only", "operators", "chebtucker", "funbat", "dain"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = (tmp_path / "gpu.md").read_text()
    assert text.startswith("# GPU check (CPU smoke run: these are not GPU figures)")
    for heading in ("TFNO / MG-TFNO train step vs neuraloperator", "ChebTucker fit and evaluation", "FunBaT fit",
                    "DAIN pipeline"):
        assert f"## {heading}" in text
    from benchmarks.gpu import OPERATOR_CASES

    rows = [line for line in text.splitlines() if line.startswith("| 32² |")]
    cpu_cases = [case for case in OPERATOR_CASES if not case[-1]]  # float16 FFTs: CUDA only
    assert len(rows) == 2 * len(cpu_cases)  # float32 and bfloat16 autocast, every case
    assert not any("error" in row or "OOM" in row for row in rows)
    assert "Failed checks" not in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: the full check would start")
def test_gpu_check_refuses_without_cuda_unless_cpu() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "--cpu" in proc.stderr
