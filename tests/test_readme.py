"""The README's Python examples run as written and print what the README says they print.

Each ```` ```python ```` block runs in a fresh interpreter (one thread, temporary directory). Trailing
``# …`` comment lines after the code are the expected output: the same text with every number
within 20 % of the stated value (seeded, but float32 training on another CPU's BLAS kernels rounds
differently and the difference grows over the epochs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def expected_output(block: str) -> list[str]:
    """The comment lines that close a block (after its last line of code)."""
    lines = block.rstrip("\n").splitlines()
    tail: list[str] = []
    while lines and lines[-1].startswith("# "):
        tail.insert(0, lines.pop()[2:])
    return tail


def same_up_to_numbers(actual: str, expected: str) -> bool:
    if NUMBER.sub("#", actual).strip() != NUMBER.sub("#", expected).strip():
        return False
    pairs = zip(map(float, NUMBER.findall(actual)), map(float, NUMBER.findall(expected)))
    return all(abs(a - e) <= 0.2 * abs(e) for a, e in pairs)


def test_readme_has_one_example_per_method():
    assert len(python_blocks()) == 5


@pytest.mark.parametrize("index", range(5), ids=["core", "funbat", "chebtucker", "dain", "mgtfno"])
def test_readme_example_runs_and_prints_what_it_says(index, tmp_path):
    block = python_blocks()[index]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = proc.stdout.strip().splitlines()
    expected = expected_output(block)
    assert expected, "every README example states its output in trailing comments"
    assert len(printed) == len(expected), (printed, expected)
    for actual, wanted in zip(printed, expected):
        assert same_up_to_numbers(actual, wanted), (actual, wanted)


def benchmark_rows() -> list[tuple[str, str]]:
    """(results file, figures cell) for each row of the README's benchmark table."""
    rows = re.findall(r"^\| `(\w+\.md)` \|[^|]*\| ([^|]*) \|", README.read_text(), flags=re.M)
    assert len(rows) >= 7
    return rows


def test_readme_benchmark_figures_come_from_the_result_files():
    results = README.parent / "benchmarks" / "results"
    for name, figures in benchmark_rows():
        text = (results / name).read_text()
        for number in NUMBER.findall(figures):
            assert number in text, f"README figure {number} not found in benchmarks/results/{name}"
