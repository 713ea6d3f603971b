"""The README's Python examples run as written and print what the README says they print.

Each ```` ```python ```` block runs in a fresh interpreter (one thread, temporary directory). Trailing
``# …`` comment lines after the code are the expected output: the same text, integers (ranks, counts,
shapes) exactly, other numbers within 2 % of the stated value or one unit of its last printed digit,
whichever is larger (seeded, but float32 training on another CPU's BLAS kernels rounds differently).
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


FLOAT_RTOL = 0.02


def same_number(actual: str, expected: str) -> bool:
    """Integers exactly; other numbers within ``FLOAT_RTOL`` or one unit of the last printed digit."""
    if re.fullmatch(r"[-+]?\d+", expected):
        return actual == expected
    mantissa, _, exponent = expected.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return abs(float(actual) - float(expected)) <= max(FLOAT_RTOL * abs(float(expected)), unit * (1 + 1e-9))


def same_up_to_numbers(actual: str, expected: str) -> bool:
    if NUMBER.sub("#", actual).strip() != NUMBER.sub("#", expected).strip():
        return False
    return all(map(same_number, NUMBER.findall(actual), NUMBER.findall(expected)))


@pytest.mark.parametrize("actual, expected, same", [
    ("(5, 7, 9) 0.0078", "(5, 7, 9) 0.0078", True),
    ("(4, 6, 8) 0.0078", "(5, 7, 9) 0.0078", False),  # ranks are exact
    ("(5, 7, 9) 0.0079", "(5, 7, 9) 0.0078", True),  # one unit of the last digit
    ("(5, 7, 9) 0.0081", "(5, 7, 9) 0.0078", False),
    ("RMSE 2.57 K", "RMSE 2.53 K", True),  # within 2 %
    ("RMSE 3.19 K", "RMSE 2.53 K", False),  # the flipped-latitude defect
    ("RMSE 2.60 K", "RMSE 2.53 K", False),
    ("error 2.3e-09", "error 2.2e-09", True),
    ("error 2.6e-09", "error 2.2e-09", False),
    ("coverage 0.937 at 95%", "coverage 0.937 at 96%", False),
])  # fmt: skip
def test_number_comparison(actual, expected, same):
    assert same_up_to_numbers(actual, expected) is same


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
