"""scikit-learn's ``check_estimator`` through a survival-target adapter.

The checks are written for classifiers and regressors: the adapter turns a regression
target into a survival outcome (every sample an event, time = y shifted to be positive)
and returns minus the log-risk as the prediction. The checks that fail are listed below
with the reason; a check that newly fails (or newly passes) makes the test fail, so a
change in input handling shows.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted
from sksurv.util import Surv

from conftest import TINY_NET
from sksurv_camlif import CAMLIFSurvival

#: check name -> why it fails (reasons of the adapter or of the survival setting)
EXPECTED_FAILURES = {
    "check_supervised_y_2d": "the adapter takes a 1-D regression target only",
    "check_requires_y_none": "the adapter needs y to build the survival outcome",
    "check_dtype_object": "object columns need an encoder in their block (the error says so)",
    "check_estimators_empty_data_messages": "zero columns: the error names the empty block "
                                            "instead of sklearn's wording",
    "check_fit2d_1sample": "one sample: the error says 'at least 2 samples' (sklearn wants "
                           "'1 sample')",
}


class SurvivalAdapter(RegressorMixin, BaseEstimator):
    """y (regression) -> events at times y - min(y) + 1; predict returns -log-risk."""

    def __init__(self, max_iter=2):
        self.max_iter = max_iter

    def fit(self, X, y):
        y = np.asarray(y, dtype=float)
        time = y - y.min() + 1.0 if y.size else y
        self.estimator_ = CAMLIFSurvival(
            [("all", "passthrough", slice(None))],
            **{**TINY_NET, "max_iter": self.max_iter, "cv": 3, "n_members": 2},
        ).fit(X, Surv.from_arrays(np.ones(len(y), bool), time))
        self.n_features_in_ = self.estimator_.n_features_in_
        self.n_iter_ = self.estimator_.n_iter_
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        return -self.estimator_.predict(X)


@pytest.mark.slow
def test_check_estimator_failures_are_the_expected_ones():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SurvivalAdapter(), on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed == set(EXPECTED_FAILURES), (
        f"newly failing: {sorted(failed - set(EXPECTED_FAILURES))}; "
        f"newly passing: {sorted(set(EXPECTED_FAILURES) - failed)}"
    )
    assert sum(r["status"] == "passed" for r in results) >= 40
