"""The scikit-learn estimator API of CAMLIFSurvival.

scikit-survival never runs ``check_estimator`` whole (its generated y is not a survival
target); like sksurv, run the API checks that do apply, plus cloning, parameters, tags,
parameter validation and the not-fitted errors.
"""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimators_unfitted,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.util import Surv

from sksurv_camlif import CAMLIFSurvival
from conftest import tiny

TINY = tiny(max_iter=2)


def _spec():
    return [
        ("a", "passthrough", [0, 1, 2]),
        ("b", make_pipeline(SimpleImputer(), StandardScaler()), [3, 4, 5]),
    ]


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 7))
    risk = X[:, 0] - X[:, 3]
    time = rng.exponential(np.exp(-risk)) * 100
    event = rng.uniform(size=40) < 0.7
    return X, Surv.from_arrays(event=event, time=time)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return CAMLIFSurvival(_spec(), clinical=[6], **TINY).fit(X, y)


# ------------------------------------------------------------- sklearn's API checks

API_CHECKS = [
    check_estimator_cloneable,
    check_no_attributes_set_in_init,
    check_get_params_invariance,
    check_set_params,
    check_mixin_order,
    check_parameters_default_constructible,
    check_estimators_unfitted,
    check_do_not_raise_errors_in_init_or_set_params,
]
INSTANCES = {
    # `modalities` is required: the checks take it from the instance they are given
    "minimal": lambda: CAMLIFSurvival([("a", "passthrough", [0, 1])]),
    "configured": lambda: CAMLIFSurvival(_spec(), clinical=(StandardScaler(), [6]), **TINY),
}


@pytest.mark.parametrize("instance", list(INSTANCES))
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_check(check, instance):
    estimator = INSTANCES[instance]()
    check(type(estimator).__name__, estimator)


def test_mixin_first():
    mro = CAMLIFSurvival.__mro__
    assert mro.index(SurvivalAnalysisMixin) < mro.index(BaseEstimator)


# ------------------------------------------------------------------- tags

def test_tags():
    tags = CAMLIFSurvival(_spec()).__sklearn_tags__()
    assert tags.target_tags.required is True
    assert tags.input_tags.allow_nan is True
    assert tags.requires_fit is True


# ----------------------------------------------------------------- clone and params

def _same_params(a, b):
    """Parameters equal, estimators inside them compared by type and parameters."""
    if hasattr(a, "get_params") and not isinstance(a, type):
        return type(a) is type(b) and _same_params(
            a.get_params(deep=False), b.get_params(deep=False)
        )
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same_params(a[k], b[k]) for k in a)
        )
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same_params, a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, float) and np.isnan(a):  # e.g. SimpleImputer(missing_values=np.nan)
        return isinstance(b, float) and np.isnan(b)
    return a == b


def test_clone_fitted_is_unfitted_with_equal_params(fitted):
    copy = clone(fitted)
    assert copy is not fitted
    assert _same_params(copy.get_params(deep=False), fitted.get_params(deep=False))
    # transformers in the spec are cloned, not shared
    assert copy.modalities[1][1] is not fitted.modalities[1][1]
    for attr in ("module_", "n_iter_", "loss_curve_", "unique_times_", "n_features_in_"):
        assert not hasattr(copy, attr), attr
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    check_is_fitted(fitted)


def test_get_params_set_params_round_trip():
    est = CAMLIFSurvival(_spec(), clinical=[6], **TINY)
    shallow = est.get_params(deep=False)
    deep = est.get_params(deep=True)
    assert set(shallow) <= set(deep)
    assert set(shallow) == set(CAMLIFSurvival._parameter_constraints)

    other = CAMLIFSurvival([("z", "passthrough", [0])])
    assert other.set_params(**shallow) is other
    for name, value in other.get_params(deep=False).items():
        assert value is shallow[name], name

    new_spec = [("only", "passthrough", slice(0, 6))]
    est.set_params(d_model=16, ties="efron", modalities=new_spec)
    params = est.get_params(deep=False)
    assert params["d_model"] == 16 and params["ties"] == "efron"
    assert params["modalities"] is new_spec  # a plain parameter: searchable by GridSearchCV


def test_set_params_unknown_name_raises():
    est = CAMLIFSurvival(_spec())
    with pytest.raises(ValueError, match="no_such_param"):
        est.set_params(no_such_param=1)


# -------------------------------------------------------------- parameter validation

@pytest.mark.parametrize(
    "param, value",
    [
        ("max_iter", 0),
        ("max_iter", 2.5),
        ("ties", "foo"),
        ("device", "gpu"),
        ("device", "cuda:x"),
        ("learning_rate_init", -1),
        ("learning_rate_init", 0.0),
        ("validation_fraction", 1.5),
        ("validation_fraction", 0.0),
        ("batch_size", 0),
        ("dropout", 1.0),
        ("n_iter_no_change", 0),
        ("alignment_weight", -0.1),
        ("n_threads", 0),
        ("early_stopping", "yes"),
        ("modalities", "genes"),
        ("token_groups", [1, 2]),
    ],
)
def test_invalid_parameter_raises_in_fit(data, param, value):
    X, y = data
    est = CAMLIFSurvival(_spec(), **TINY).set_params(**{param: value})  # no error here
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of CAMLIFSurvival"):
        est.fit(X, y)
    assert not hasattr(est, "module_")


def test_failed_fit_keeps_previous_model(data):
    X, y = data
    est = CAMLIFSurvival(_spec(), **TINY).fit(X, y)
    before = est.predict(X)
    with pytest.raises(InvalidParameterError):
        est.set_params(max_iter=0).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), before)


def test_d_model_not_divisible_by_n_heads(data):
    X, y = data
    est = CAMLIFSurvival(_spec(), **{**TINY, "d_model": 9, "n_heads": 2})
    with pytest.raises(ValueError, match="divisible"):
        est.fit(X, y)


# -------------------------------------------------------------------- not fitted

@pytest.mark.parametrize(
    "method",
    ["predict", "predict_survival_function", "predict_cumulative_hazard_function", "score"],
)
def test_unfitted_raises_not_fitted(data, method):
    X, y = data
    est = CAMLIFSurvival(_spec())
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(est, method)(*args)
