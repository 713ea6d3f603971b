"""Authors' data (Benner–Khoromskij–Khoromskaia–Sun, bonans/ChebTuck): Newton kernel, biomolecule, lattice.

Errors: max-norm on the grid slice z = x_{n/2} (0-based n/2 − 1), relative to max|slice| for the Newton
kernel, absolute for the biomolecule and the lattice. Reference values: reference_numbers.json (reproduced
from the same data by an independent port). Truncation is the authors' RHOSVD rule (truncation="rhosvd").
"""

import json

import pytest

from tensorkit.chebyshev import ChebTucker
from tensorkit.chebyshev.reference import first_terms, load_biomolecule, load_lattice, load_newton_canonical, slice_error

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(shared_data):
    return json.loads((shared_data / "chebtuck" / "reference_numbers.json").read_text())


@pytest.mark.parametrize("row, n", list(enumerate([256, 512, 1024, 2048, 4096])))
def test_newton_long_range_table2_m129(shared_data, reference, row, n):
    ref = reference["newton"]
    cp = first_terms(load_newton_canonical(n, shared_data / "chebtuck" / f"Newt_canon_{n}.mat"), ref["R_long"][row])
    model = ChebTucker(degree=128, tol=1e-7, truncation="rhosvd").fit(cp)
    err, scale = slice_error(model, cp)
    assert max(model.ranks_) == ref["rank_long"][row][0]
    assert err / scale <= 3 * ref["rel_err_long"][row][0]


def test_newton_long_range_n4096_resolved_at_m257(shared_data, reference):
    cp = first_terms(load_newton_canonical(4096, shared_data / "chebtuck" / "Newt_canon_4096.mat"), 16)
    model = ChebTucker(degree=256, tol=1e-7, truncation="rhosvd").fit(cp)
    err, scale = slice_error(model, cp)
    assert max(model.ranks_) == 15 and err / scale <= 3 * reference["newton"]["rel_err_long"][4][1]


def test_newton_full_kernel_table1_diagonal(shared_data, reference):
    """The full kernel cannot be Chebyshev-compressed: 7.3e-2 at m ≈ n (n = 256, m = 257)."""
    cp = load_newton_canonical(256, shared_data / "chebtuck" / "Newt_canon_256.mat")
    model = ChebTucker(degree=256, tol=1e-7, truncation="rhosvd").fit(cp)
    err, scale = slice_error(model, cp)
    assert err / scale == pytest.approx(reference["newton"]["rel_err_full"][0][1], rel=0.5)
    assert abs(max(model.ranks_) - reference["newton"]["rank_full"][0][1]) <= 1


def test_biomolecule_n256_N500(shared_data, reference):
    ref = reference["biomol_n256_N500"]
    cp = load_biomolecule(shared_data / "chebtuck" / "n256_Pn500.mat")
    model = ChebTucker(degree=128, tol=1e-7, truncation="rhosvd").fit(cp)
    err, scale = slice_error(model, cp)
    assert model.ranks_ == (40, 40, 47)
    assert err <= 2e-6 and err <= 3 * ref["abs_err"][4]
    assert scale == pytest.approx(ref["slice_max_abs"], rel=1e-3)
    for tol, ranks in ref["cheb_hosvd_m129_ranks"].items():  # the relative rule (default) on the same data
        got = ChebTucker(degree=128, tol=float(tol)).fit(cp).ranks_
        assert all(abs(a - b) <= 1 for a, b in zip(got, ranks)), (tol, got, ranks)


def test_lattice_n960(shared_data, reference):
    ref = reference["lattice_n960"]
    cp = load_lattice(shared_data / "chebtuck" / "Lattice_n960_ParticlesNumber_2304_Rank_50.mat")
    model = ChebTucker(degree=128, tol=1e-7, truncation="rhosvd").fit(cp)
    err, scale = slice_error(model, cp)
    assert model.ranks_ == (18, 18, 12)
    assert err <= 4e-6 and err <= 3 * ref["total_abs_err"][1]
    assert scale == pytest.approx(ref["slice_max_abs_long"], rel=1e-3)
