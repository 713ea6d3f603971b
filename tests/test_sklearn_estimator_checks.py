"""scikit-learn's own estimator checks (``check_estimator``) on every tensorkit estimator.

Each check passes, or is listed here with the reason it does not apply or is answered differently on
purpose; the same list, with the reasons, is in ``docs/sklearn.rst``. A listed check that starts to
pass fails this test, so the list stays exact.
"""

import re
import warnings
from pathlib import Path

import pytest
from sklearn.utils.estimator_checks import check_estimator

from tensorkit import DAIN, ChebTucker, FunBaT

AT_INIT = "invalid arguments raise at construction, naming the argument; values given to set_params are checked again at fit"
COMPLEX = "complex input is a TypeError naming the argument (a wrong dtype); scikit-learn expects a ValueError"
OBJECT = "object arrays are refused with a TypeError naming the argument, never converted"
DTYPE = "the dtype parameter defaults to torch.float64, a type missing from scikit-learn's list for defaults; clone handles it"
Y_NONE = "fit without values is a ValueError in tensorkit's words ('values is required …'), not scikit-learn's"
FIT_NAMES = "fit(coords, values) keeps its argument names (coords may be a DataArray carrying the values); positionally it is fit(X, y)"
Y_2D = "values must be 1-D: a column vector is refused, not raveled with a warning"
PREDICT_COLUMNS = "predict refuses another number of columns with a ValueError naming coords and both counts, not 'X has n features, but …'"
INDICES = "X holds integer cell indices (one column per mode); the check's float features are refused ('indices must hold integers')"
FUNCTION = "fit takes the function to approximate (a callable, a grid tensor or a CP tensor), not samples X and y"

FEATURE_CHECKS = [
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_pipeline_consistency", "check_estimators_nan_inf",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_regressors_train", "check_regressor_data_not_an_array",
    "check_regressors_no_decision_function", "check_supervised_y_2d", "check_regressors_int", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent",
    "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
]  # fmt: skip  (the checks that fit on float features X)

EXPECTED_FAILURES = {
    "FunBaT": {
        "check_do_not_raise_errors_in_init_or_set_params": AT_INIT, "check_complex_data": COMPLEX, "check_dtype_object": OBJECT,
        "check_requires_y_none": Y_NONE, "check_fit_score_takes_y": FIT_NAMES, "check_supervised_y_2d": Y_2D,
        "check_n_features_in_after_fitting": PREDICT_COLUMNS,
    },
    "DAIN": dict.fromkeys(FEATURE_CHECKS, INDICES) | {
        "check_do_not_raise_errors_in_init_or_set_params": AT_INIT, "check_complex_data": COMPLEX, "check_dtype_object": OBJECT,
        "check_requires_y_none": Y_NONE, "check_parameters_default_constructible": DTYPE, "check_supervised_y_no_nan": INDICES,
    },
    "ChebTucker": dict.fromkeys(FEATURE_CHECKS + ["check_complex_data", "check_dtype_object", "check_requires_y_none"], FUNCTION) | {
        "check_do_not_raise_errors_in_init_or_set_params": AT_INIT, "check_parameters_default_constructible": DTYPE,
    },
}  # fmt: skip

ESTIMATORS = {
    "FunBaT": lambda: FunBaT(rank=1, n_epochs=2, residual=None),
    "DAIN": lambda: DAIN("cp", model_options={"rank": 2}, max_epochs=2, patience=1),
    "ChebTucker": lambda: ChebTucker(degree=4),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_sklearn_check_passes_or_is_listed_with_its_reason(name):
    expected = EXPECTED_FAILURES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(ESTIMATORS[name](), on_fail=None, expected_failed_checks=expected)
    failed = {r["check_name"]: f"{type(r['exception']).__name__}: {r['exception']}" for r in results if r["status"] == "failed"}
    assert not failed, f"{name} fails scikit-learn checks that are not listed: {failed}"
    stale = sorted({r["check_name"] for r in results if r["status"] == "passed" and r["expected_to_fail"]})
    assert not stale, f"{name} now passes {stale}: remove them from EXPECTED_FAILURES and docs/sklearn.rst"
    unknown = set(expected) - {r["check_name"] for r in results}
    assert not unknown, f"scikit-learn has no checks {sorted(unknown)}"
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}  # runs only with SCIPY_ARRAY_API=1


def test_the_docs_list_every_check_that_does_not_apply_with_its_reason():
    text = re.sub(r"\s+", " ", (Path(__file__).parents[1] / "docs" / "sklearn.rst").read_text())
    for name, expected in EXPECTED_FAILURES.items():
        section = text.split(f"{name} —", 1)[1].split(" — ", 1)[0] if f"{name} —" in text else ""
        missing = sorted(check for check in expected if f"``{check}``" not in section)
        assert not missing, f"docs/sklearn.rst's {name} section does not list {missing}"
        for reason in set(expected.values()):
            assert reason in text, f"docs/sklearn.rst lacks the reason {reason!r}"


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_n_features_in_is_the_number_of_modes_after_fit(name):
    import numpy as np
    import torch

    est = ESTIMATORS[name]()
    assert not hasattr(est, "n_features_in_")
    if name == "ChebTucker":
        est.fit(lambda x, y, z: torch.exp(-(x**2 + y**2)) * (1 + z))
    else:
        g = np.random.default_rng(0)
        X = g.integers(0, 5, (60, 3)) if name == "DAIN" else g.uniform(size=(60, 3))
        est.fit(X, g.normal(size=60))
    assert est.n_features_in_ == 3
