"""Reliability of CAMLIFSurvival: bad input, absent modalities, interruption, persistence.

Every bad input must give a clear error that names the offending parameter / column /
value, leave nothing half-fitted, and leave the inputs unmodified. A test marked
``xfail(strict=True)`` describes how the estimator SHOULD behave and currently does not:
when the bug is fixed it XPASSes, fails, and the marker must be removed.

Tiny networks on a 40-patient synthetic data set (``n_threads=1``) keep the file fast on a
shared 2-core machine; the one real-data test (TCGA-GBMLGG, two fits) takes ~15 s.
"""

import ast
import copy
import pathlib
import pickle
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted
from sksurv.util import Surv

import sksurv_camlif
import sksurv_camlif.training as training
from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif._version import __version__
from conftest import PLAIN, tiny

SMALL = tiny(max_iter=3)
N = 40
COLS = ["a", "b", "c", "d", "e", "f"]


def _spec():
    return [("m1", "passthrough", ["a", "b", "c"]), ("m2", StandardScaler(), ["d", "e", "f"])]


def _int_spec():
    return [("m1", "passthrough", [0, 1, 2]), ("m2", StandardScaler(), [3, 4, 5])]


def _est(modalities=None, **params):
    return CAMLIFSurvival(_spec() if modalities is None else modalities, **{**SMALL, **params})


def _make_data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(COLS))), columns=COLS)
    risk = X["a"].to_numpy() - X["d"].to_numpy()
    time = rng.exponential(10 * np.exp(-risk)) + 0.1
    event = rng.random(n) < 0.7
    event[:2] = True
    return X, Surv.from_arrays(event, time)


@pytest.fixture(scope="module")
def data():
    return _make_data()


@pytest.fixture(scope="module")
def fitted(data):
    """A fitted model shared by read-only tests (never pickled: pickling mutates it)."""
    X, y = data
    return _est().fit(X, y)


def _fitted_attributes(est):
    return sorted(k for k in vars(est) if k.endswith("_") and not k.startswith("__"))


def _snapshot(X):
    if isinstance(X, (pd.DataFrame, np.ndarray)):
        return X.copy(deep=True) if hasattr(X, "iloc") else X.copy()
    return copy.deepcopy(X)


def _assert_unchanged(after, before):
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(after, before)
    elif isinstance(before, np.ndarray):
        assert after.dtype == before.dtype
        if before.dtype.names:  # structured: compare field by field (NaN-aware)
            for name in before.dtype.names:
                assert_array_equal(after[name], before[name])
        else:
            assert_array_equal(after, before)
    else:
        assert after == before


def _assert_fails_cleanly(est, X, y, exc, match):
    """fit raises ``exc`` matching ``match``; no module_ is left; X and y are unmodified."""
    X0, y0 = _snapshot(X), _snapshot(y)
    with pytest.raises(exc, match=match):
        est.fit(X, y)
    assert not hasattr(est, "module_")
    with pytest.raises(NotFittedError):
        est.predict(X0)
    _assert_unchanged(X, X0)
    _assert_unchanged(y, y0)


# ------------------------------------------------------------------------------ bad y


def _y(event, time, dtype=(("event", bool), ("time", float))):
    y = np.zeros(len(event), dtype=list(dtype))
    y[dtype[0][0]] = event
    y[dtype[1][0]] = time
    return y


def _y_with_time(y, pos, value):
    y = y.copy()
    y["time"][pos] = value
    return y


_MSG_XFAIL = dict(strict=True, raises=AssertionError)

BAD_Y = [
    ("float array", lambda y: y["time"].copy(), r"y must be a structured array"),
    ("list of tuples", lambda y: [tuple(r) for r in y.tolist()], r"y must be a structured array"),
    ("DataFrame", lambda y: pd.DataFrame({"event": y["event"], "time": y["time"]}), r"y must be a structured array"),
    (
        "three fields",
        lambda y: _y(y["event"], y["time"], (("event", bool), ("time", float), ("x", float))),
        r"y must be a structured array",
    ),
    ("event float", lambda y: _y(y["event"].astype(float), y["time"], (("e", float), ("t", float))), r"event indicator must be boolean.*float64"),
    ("event int", lambda y: _y(y["event"].astype(int), y["time"], (("e", int), ("t", float))), r"event indicator must be boolean.*int64"),
    ("time negative", lambda y: _y_with_time(y, 3, -1.0), r"time contains values smaller zero"),
    ("no event", lambda y: _y(np.zeros(len(y), bool), y["time"]), r"all samples are censored"),
    pytest.param(
        lambda y: _y(y["event"], y["time"].astype(int).astype(str), (("event", bool), ("time", "U8"))),
        r"(?i)time",
        id="time string",
    ),
    pytest.param(
        lambda y: _y_with_time(y, 3, np.nan),
        r"(?i)time.*nan",
        id="time NaN",
    ),
    pytest.param(
        lambda y: _y_with_time(y, 3, np.inf),
        r"(?i)time.*inf",
        id="time inf",
    ),
]


@pytest.mark.parametrize(
    "make_y, match", [pytest.param(*p[1:], id=p[0]) if type(p) is tuple else p for p in BAD_Y]
)
def test_bad_y_raises(data, make_y, match):
    X, y = data
    _assert_fails_cleanly(_est(), X, make_y(y), ValueError, match)


def test_y_any_field_names_and_integer_time_accepted(data):
    X, y = data
    y2 = _y(y["event"], np.ceil(y["time"]).astype(np.int64), (("status", bool), ("days", np.int64)))
    pred = _est(max_iter=2).fit(X, y2).predict(X)
    assert pred.shape == (N,) and np.isfinite(pred).all()


def test_x_and_y_of_different_lengths(data):
    X, y = data
    _assert_fails_cleanly(_est(), X.iloc[:30], y, ValueError, r"inconsistent numbers of samples: \[30, 40, 40\]")
    _assert_fails_cleanly(_est(), X, y[:30], ValueError, r"inconsistent numbers of samples: \[40, 30, 30\]")


def test_fewer_than_two_samples(data):
    X, y = data
    i = int(np.flatnonzero(y["event"])[0])
    _assert_fails_cleanly(_est(), X.iloc[[i]], y[[i]], ValueError, r"at least 2 samples are required to fit, got 1")
    _assert_fails_cleanly(_est(), X.iloc[:0], y[:0], ValueError, r"0 samples")


def test_two_samples_fit_without_early_stopping_but_not_with_it(data):
    X, y = data
    idx = np.flatnonzero(y["event"])[:2]
    plain = PLAIN  # the protocol's inner folds need more samples
    pred = _est(max_iter=2, **plain).fit(X.iloc[idx], y[idx]).predict(X)
    assert np.isfinite(pred).all()
    _assert_fails_cleanly(
        _est(early_stopping=True, **plain), X.iloc[idx], y[idx], ValueError,
        r"early_stopping.*validation_fraction",
    )
    _assert_fails_cleanly(_est(), X.iloc[idx], y[idx], ValueError, r"cv=5 inner folds need at least 10")


# ------------------------------------------------------------------- modality spec


class _OnlyFit:
    def fit(self, X, y=None):
        return self


BAD_SPEC = [
    ("duplicate names", dict(modalities=[("m", "passthrough", ["a"]), ("m", "passthrough", ["b"])]),
     ValueError, r"name 'm' is used twice"),
    ("no fit/transform", dict(modalities=[("m", object(), ["a"]), ("n", "passthrough", ["b"])]),
     TypeError, r"modality 'm': the transformer must be 'passthrough', 'drop' or implement fit and transform"),
    ("only fit", dict(modalities=[("m", _OnlyFit(), ["a"])]), TypeError, r"modality 'm'.*fit and transform"),
    ("unknown string", dict(modalities=[("m", "scale", ["a"])]), TypeError, r"modality 'm'.*got 'scale'"),
    pytest.param(
        dict(modalities=[("m", StandardScaler, ["a"]), ("n", "passthrough", ["b"])]),
        TypeError,
        r"modality 'm'",
        id="a class, not an instance",
    ),
    ("column not in X", dict(modalities=[("m", "passthrough", ["a", "zzz"])]),
     ValueError, r"modality 'm': column 'zzz' is not in X"),
    ("empty block", dict(modalities=[("m", "passthrough", []), ("n", "passthrough", ["b"])]),
     ValueError, r"modality 'm' selects no column"),
    ("overlapping blocks", dict(modalities=[("m", "passthrough", ["a", "b"]), ("n", "passthrough", ["b", "c"])]),
     ValueError, r"column 'b' is in both modality 'm' and modality 'n'"),
    ("overlap with clinical", dict(clinical=["a"]),
     ValueError, r"column 'a' is in both modality 'm1' and clinical"),
    ("clinical column not in X", dict(clinical=["zzz"]), ValueError, r"clinical: column 'zzz' is not in X"),
    ("same column twice", dict(modalities=[("m", "passthrough", ["a", "a"])]),
     ValueError, r"modality 'm' selects the same column more than once"),
    ("int out of range", dict(modalities=[("m", "passthrough", [0, 17])]),
     ValueError, r"modality 'm': column index 17 is out of range for 6 columns"),
    ("bool mask wrong length", dict(modalities=[("m", "passthrough", [True, False])]),
     ValueError, r"modality 'm': a boolean column mask needs 6 entries"),
    ("modalities=[]", dict(modalities=[]), ValueError, r"modalities must be a non-empty list"),
    ("entry not a triple", dict(modalities=[("m", "passthrough")]),
     ValueError, r"modalities\[0\] must be a \(name, transformer, columns\) tuple"),
    ("name not a string", dict(modalities=[(1, "passthrough", ["a"])]),
     ValueError, r"modalities\[0\]: the name must be a non-empty string"),
    ("every block dropped", dict(modalities=[("m", "drop", ["a"])]), ValueError, r"every block is 'drop'"),
    ("modalities a dict", dict(modalities={"m": ["a"]}), InvalidParameterError, r"'modalities' parameter"),
    ("modalities a str", dict(modalities="abc"), InvalidParameterError, r"'modalities' parameter"),
    ("modalities None", dict(modalities=None), InvalidParameterError, r"'modalities' parameter"),
    ("token_groups unknown modality", dict(token_groups={"zzz": [[0]]}),
     ValueError, r"token_groups: 'zzz' is not a modality"),
]


@pytest.mark.parametrize(
    "params, exc, match", [pytest.param(*p[1:], id=p[0]) if type(p) is tuple else p for p in BAD_SPEC]
)
def test_malformed_spec_raises(data, params, exc, match):
    X, y = data
    params = dict(params)
    modalities = params.pop("modalities", _spec())
    est = CAMLIFSurvival(modalities, **{**SMALL, **params})
    _assert_fails_cleanly(est, X, y, exc, match)


def test_names_with_numpy_input_raise(data):
    X, y = data
    _assert_fails_cleanly(
        _est(), X.to_numpy(), y, ValueError, r"modality 'm1': columns given by name need X as a pandas DataFrame"
    )


def test_one_modality_spec_fits_and_predicts(data):
    X, y = data
    est = _est([("only", StandardScaler(), COLS)], max_iter=2).fit(X, y)
    pred = est.predict(X)
    assert est.modalities_ == ["only"]
    assert pred.shape == (N,) and pred.dtype == np.float64 and np.isfinite(pred).all()
    surv = est.predict_survival_function(X.iloc[:3], return_array=True)
    assert np.isfinite(surv).all() and ((surv >= 0) & (surv <= 1)).all()


@pytest.mark.parametrize("dtype", [object, "string", "category"])
def test_non_numeric_column_in_passthrough_block(data, dtype):
    X, y = data
    Xs = X.copy()
    Xs["b"] = pd.Series(["low", "high"] * (N // 2), dtype=dtype)
    _assert_fails_cleanly(
        _est(), Xs, y, ValueError, r"modality 'm1'.*numeric.*\['b'\].*encoder.*OneHotEncoder"
    )


@pytest.mark.parametrize("block, transformer", [("m1", "passthrough"), ("m2", StandardScaler())])
def test_partial_nan_without_imputer_raises_naming_modality(data, block, transformer):
    X, y = data
    Xn = X.copy()
    Xn.loc[3, "a" if block == "m1" else "d"] = np.nan  # one value: the block is not absent
    spec = [("m1", transformer if block == "m1" else "passthrough", ["a", "b", "c"]),
            ("m2", transformer if block == "m2" else "passthrough", ["d", "e", "f"])]
    _assert_fails_cleanly(_est(spec), Xn, y, ValueError, rf"modality '{block}'.*NaN.*\[3\].*imputer.*SimpleImputer")


def test_partial_nan_in_clinical_block_raises(data):
    X, y = data
    Xc = X.assign(age=np.r_[np.nan, np.zeros(N - 1)])
    _assert_fails_cleanly(_est(clinical=["age"]), Xc, y, ValueError, r"clinical block holds NaN.*imputer")


def test_partial_nan_with_imputer_fits(data):
    X, y = data
    Xn = X.copy()
    Xn.loc[3, "a"] = np.nan
    Xn.loc[4, ["d", "e"]] = np.nan
    imp = make_pipeline(SimpleImputer(), StandardScaler())
    est = _est([("m1", imp, ["a", "b", "c"]), ("m2", imp, ["d", "e", "f"])], max_iter=2).fit(Xn, y)
    assert np.isfinite(est.predict(Xn)).all()


# ------------------------------------------------------------------------ predict time


def test_predict_partial_nan_raises_naming_modality(fitted, data):
    X, _ = data
    Xn = X.copy()
    Xn.loc[0, "b"] = np.nan
    X0 = Xn.copy()
    with pytest.raises(ValueError, match=r"modality 'm1'.*imputer"):
        fitted.predict(Xn)
    pd.testing.assert_frame_equal(Xn, X0)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda X: X.drop(columns="f"), id="missing column"),
        pytest.param(lambda X: X[["b", "a", "c", "d", "e", "f"]], id="reordered"),
        pytest.param(lambda X: X.rename(columns={"a": "A"}), id="renamed"),
        pytest.param(lambda X: X.assign(g=1.0), id="extra column"),
    ],
)
@pytest.mark.parametrize("method", ["predict", "predict_survival_function", "score"])
def test_predict_feature_names_must_match(fitted, data, change, method):
    X, y = data
    X2 = change(X)
    with pytest.raises(ValueError, match="feature names"):
        getattr(fitted, method)(X2, y) if method == "score" else getattr(fitted, method)(X2)


@pytest.fixture(scope="module")
def fitted_numpy(data):
    X, y = data
    return _est(_int_spec()).fit(X.to_numpy(), y)


@pytest.mark.parametrize("width", [5, 7])
def test_predict_numpy_wrong_number_of_features(fitted_numpy, data, width):
    X, _ = data
    Xa = np.c_[X.to_numpy(), X.to_numpy()][:, :width]
    with pytest.raises(ValueError, match=rf"X has {width} features, but CAMLIFSurvival is expecting 6 features"):
        fitted_numpy.predict(Xa)


@pytest.mark.parametrize(
    "method", ["predict", "score", "predict_survival_function", "predict_cumulative_hazard_function"]
)
def test_unfitted_raises_not_fitted(data, method):
    X, y = data
    est = _est()
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(est, method)(X, y) if method == "score" else getattr(est, method)(X)


# ----------------------------------------------------------------------- parameters

INVALID = [
    ("n_tokens", 0), ("d_model", 0), ("n_heads", 0), ("n_encoder_layers", -1), ("rank", 0),
    ("hidden_size", 0), ("dropout", 1.0), ("dropout", -0.1), ("cross_attention", "yes"),
    ("second_fusion", None), ("clinical_linear", "ridge"), ("clinical_ridge", -1.0),
    ("alignment_weight", -0.5), ("ties", "exact"), ("max_iter", 0), ("max_iter", 2.5),
    ("batch_size", 0), ("learning_rate_init", 0.0), ("learning_rate_init", -1e-3),
    ("weight_decay", -1.0), ("early_stopping", "no"), ("validation_fraction", 0.0),
    ("validation_fraction", 1.0), ("n_iter_no_change", 0), ("tol", -1.0), ("device", "gpu"),
    ("device", "cuda:x"), ("device", "mps"), ("n_threads", 0), ("random_state", "seed"),
    ("verbose", -1), ("warm_start", "yes"), ("token_groups", [[0]]),
]


@pytest.mark.parametrize("param, value", INVALID, ids=[f"{p}={v!r}" for p, v in INVALID])
def test_invalid_parameter_raises_naming_it(data, param, value):
    X, y = data
    _assert_fails_cleanly(_est(**{param: value}), X, y, InvalidParameterError, rf"'{param}' parameter")


def test_d_model_not_divisible_by_n_heads(data):
    X, y = data
    _assert_fails_cleanly(_est(d_model=10, n_heads=4), X, y, ValueError, r"d_model=10.*n_heads=4")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_on_cpu_only_machine_raises(data, device):
    X, y = data
    _assert_fails_cleanly(_est(device=device), X, y, ValueError, r"CUDA is not available")


# ------------------------------------------------------------------- diverging training

DIVERGE = dict(learning_rate_init=1e30)  # AdamW steps ~lr whatever the gradient: overflow


def test_diverging_training_raises_floating_point_error(data):
    X, y = data
    _assert_fails_cleanly(_est(**DIVERGE), X, y, FloatingPointError, r"lower learning_rate_init")


def _state_of(est):
    return dict(
        module=est.module_,
        weights={k: v.clone() for k, v in est.module_.state_dict().items()},
        attrs={k: copy.copy(getattr(est, k)) for k in ("n_iter_", "loss_curve_", "device_", "modalities_")},
        unique_times=est.unique_times_.copy(),
    )


def _assert_same_state(est, before, X, pred_before):
    assert est.module_ is before["module"]
    for k, v in est.module_.state_dict().items():
        assert torch.equal(v, before["weights"][k]), k
    for k, v in before["attrs"].items():
        assert getattr(est, k) == v, k
    assert_array_equal(est.unique_times_, before["unique_times"])
    assert_array_equal(est.predict(X), pred_before)


@pytest.mark.parametrize(
    "warm_start",
    [
        False,
        pytest.param(
            True,
        ),
    ],
)
def test_failed_refit_after_divergence_keeps_previous_model(data, warm_start):
    X, y = data
    est = _est().fit(X, y)
    pred = est.predict(X)
    before = _state_of(est)
    est.set_params(warm_start=warm_start, **DIVERGE)
    with pytest.raises(FloatingPointError, match="lower learning_rate_init"):
        est.fit(X, y)
    _assert_same_state(est, before, X, pred)


def _renamed(X, y):
    return X.rename(columns={"a": "A"}), y[:30]  # fails in check_array_survival


def _wider_numpy(X, y):
    return np.c_[X.to_numpy(), X.to_numpy()], y[:30]


@pytest.mark.parametrize(
    "numpy_input, make_bad",
    [
        pytest.param(False, lambda X, y: (X, y[:30]), id="same columns"),
        pytest.param(
            False,
            _renamed,
            id="DataFrame with other columns",
        ),
        pytest.param(
            True,
            _wider_numpy,
            id="numpy of another width",
        ),
    ],
)
def test_failed_refit_keeps_previous_state(data, numpy_input, make_bad):
    X, y = data
    Xf = X.to_numpy() if numpy_input else X
    est = _est(_int_spec() if numpy_input else None).fit(Xf, y)
    pred = est.predict(Xf)
    before = _state_of(est)
    names = copy.copy(getattr(est, "feature_names_in_", None))
    Xb, yb = make_bad(X, y)
    with pytest.raises(ValueError):
        est.fit(Xb, yb)
    assert est.n_features_in_ == 6
    if names is not None:
        assert_array_equal(est.feature_names_in_, names)
    _assert_same_state(est, before, Xf, pred)


FRESH_FAILURES = [
    pytest.param(dict(), lambda X, y: (X, y[:30]), id="bad y"),
    pytest.param(DIVERGE, lambda X, y: (X, y), id="diverging loss"),
    pytest.param(dict(device="cuda:0"), lambda X, y: (X, y), id="cuda"),
    pytest.param(dict(clinical=["zzz"]), lambda X, y: (X, y), id="bad spec"),
]


@pytest.mark.parametrize("params, make", FRESH_FAILURES)
def test_failed_fit_on_fresh_estimator_leaves_no_module(data, params, make):
    X, y = data
    if params.get("device", "cpu").startswith("cuda") and torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    est = _est(**params)
    with pytest.raises((ValueError, FloatingPointError)):
        est.fit(*make(X, y))
    assert not hasattr(est, "module_")
    with pytest.raises(NotFittedError):
        check_is_fitted(est, "module_")


@pytest.mark.parametrize("params, make", FRESH_FAILURES)
def test_failed_fit_on_fresh_estimator_sets_no_attribute(data, params, make):
    X, y = data
    if params.get("device", "cpu").startswith("cuda") and torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    est = _est(**params)
    with pytest.raises((ValueError, FloatingPointError)):
        est.fit(*make(X, y))
    assert _fitted_attributes(est) == []
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


# ------------------------------------------------------------- inputs left unmodified


def _with_absent_blocks(X):
    X = X.copy()
    X.loc[[1, 5, 9], ["a", "b", "c"]] = np.nan
    X.loc[[2, 6], ["d", "e", "f"]] = np.nan
    return X


@pytest.mark.parametrize("kind", ["DataFrame", "numpy"])
def test_fit_and_predict_do_not_modify_inputs(data, kind):
    X, y = data
    X = _with_absent_blocks(X)
    spec = _spec() if kind == "DataFrame" else _int_spec()
    if kind == "numpy":
        X = X.to_numpy()
    X0, y0, spec0 = _snapshot(X), y.copy(), copy.deepcopy(spec)
    est = _est(spec, max_iter=2).fit(X, y)
    est.predict(X)
    est.predict_survival_function(X[:3] if kind == "numpy" else X.iloc[:3])
    est.score(X, y)
    _assert_unchanged(X, X0)
    assert y.dtype == y0.dtype
    assert_array_equal(y, y0)
    # the spec is a parameter: its transformers are cloned, never fitted in place
    assert est.modalities is spec
    assert repr(spec) == repr(spec0)
    assert not hasattr(spec[1][1], "mean_")


# ------------------------------------------------------------------ absent modalities


def test_allow_nan_tag():
    assert CAMLIFSurvival(_spec()).__sklearn_tags__().input_tags.allow_nan is True


@pytest.fixture(scope="module")
def absent(data):
    X, y = data
    Xm = _with_absent_blocks(X)
    return Xm, y, _est(max_iter=2).fit(Xm, y)


def test_absent_modality_fit_and_predict(absent):
    Xm, y, est = absent
    pred = est.predict(Xm)
    assert pred.shape == (N,) and np.isfinite(pred).all()
    surv = est.predict_survival_function(Xm, return_array=True)
    assert np.isfinite(surv).all() and ((surv >= 0) & (surv <= 1)).all()
    assert (np.diff(surv, axis=1) <= 1e-12).all()


def test_absent_modality_prediction_does_not_depend_on_the_batch(absent):
    Xm, _, est = absent
    batch = est.predict(Xm)
    for i in (1, 2, 5, 6, 0):
        assert_allclose(est.predict(Xm.iloc[[i]]), batch[[i]], rtol=1e-5, atol=1e-6)


def test_absent_modality_differs_from_present_one(absent, data):
    # Blanking a block must change the prediction (the block is not silently ignored)
    X, _ = data
    _, _, est = absent
    assert not np.allclose(est.predict(X.iloc[[1, 5]]), est.predict(_with_absent_blocks(X).iloc[[1, 5]]))


def _all_absent(X, rows=(5,)):
    X = X.copy()
    X.loc[list(rows), COLS] = np.nan
    return X


def test_all_modalities_absent_without_clinical_raises(data, absent):
    X, y = data
    Xa = _all_absent(X)
    _assert_fails_cleanly(_est(), Xa, y, ValueError, r"every modality missing.*no clinical block")
    _, _, est = absent
    with pytest.raises(ValueError, match=r"1 sample\(s\) \(first: \[5\]\) have every modality missing"):
        est.predict(Xa)


def test_all_modalities_absent_with_clinical_predicts(data):
    X, y = data
    rng = np.random.default_rng(1)
    Xc = _all_absent(X, rows=(5, 7)).assign(age=rng.normal(60, 10, N), stage=rng.integers(1, 4, N))
    est = _est(clinical=(StandardScaler(), ["age", "stage"]), max_iter=2).fit(Xc, y)
    pred = est.predict(Xc)
    assert np.isfinite(pred).all()
    only = est.predict(_all_absent(Xc, rows=range(N)))  # every patient with nothing but clinical
    assert np.isfinite(only).all()


def test_block_missing_for_every_training_patient_raises(data):
    X, y = data
    Xn = X.copy()
    Xn[["a", "b", "c"]] = np.nan
    _assert_fails_cleanly(_est(), Xn, y, ValueError, r"modality 'm1': every value is missing in the training data")


def test_tcga_gbmlgg_missing_cnv_keeps_c_index():
    """Real data, authors' split 1: blanking "cnv" for 30% of patients costs < 0.03 C."""
    from sksurv_camlif.datasets import load_tcga_gbmlgg
    from sksurv_camlif.presets import default_gbmlgg_estimator

    X, y, modalities, splits = load_tcga_gbmlgg()
    train = splits[1].to_numpy(dtype=bool)
    cnv = list(modalities["cnv"])
    blank = np.random.default_rng(0).random(len(X)) < 0.3
    Xb = X.copy()
    Xb.loc[blank, cnv] = np.nan

    scores = {}
    for name, data in (("full", X), ("blanked", Xb)):
        est = default_gbmlgg_estimator(random_state=0, n_threads=1, X=data)
        assert est.__sklearn_tags__().input_tags.allow_nan is True
        est.fit(data[train], y[train])
        pred = est.predict(data[~train])
        assert np.isfinite(pred).all()
        scores[name] = est.score(data[~train], y[~train])
    assert scores["blanked"] > 0.7, scores
    assert abs(scores["blanked"] - scores["full"]) <= 0.03, scores


# --------------------------------------------------------------------- interruption


def _interrupt_at(monkeypatch, epoch):
    """Raise KeyboardInterrupt in the first Cox-loss call of ``epoch`` (1-based)."""
    state = {"epoch": 0}
    real_batches, real_loss = training.event_balanced_batches, training.cox_ph_loss

    def batches(*args, **kwargs):
        state["epoch"] += 1
        state["first"] = True
        return real_batches(*args, **kwargs)

    def loss(*args, **kwargs):
        if state["epoch"] == epoch and state.pop("first", False):
            raise KeyboardInterrupt
        state.pop("first", None)
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(training, "event_balanced_batches", batches)
    monkeypatch.setattr(training, "cox_ph_loss", loss)
    return state


@pytest.mark.parametrize("early_stopping", [False, True])
def test_keyboard_interrupt_keeps_a_usable_model(data, monkeypatch, early_stopping):
    X, y = data
    state = _interrupt_at(monkeypatch, 3)
    est = _est(max_iter=6, early_stopping=early_stopping, batch_size=16, tol=0.0)
    threads = torch.get_num_threads()
    with pytest.warns(UserWarning, match=r"interrupt"):
        returned = est.fit(X, y)
    assert returned is est
    assert state["epoch"] == 3  # stopped at the 3rd epoch, did not go on
    assert est.interrupted_ is True
    assert len(est.members_) == 1  # the members after the interrupted one are not trained
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    if early_stopping:
        assert len(est.validation_scores_) == 2
        # the best weights so far are kept (the initial weights may count as a candidate)
        assert np.isfinite(est.best_validation_score_)
        assert est.best_validation_score_ >= max(est.validation_scores_)
    assert torch.get_num_threads() == threads
    pred = est.predict(X)
    assert pred.shape == (N,) and np.isfinite(pred).all()
    surv = est.predict_survival_function(X.iloc[:4])
    assert len(surv) == 4
    values = np.vstack([fn(est.unique_times_) for fn in surv])
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values, axis=1) <= 1e-12).all()


def test_keyboard_interrupt_in_first_epoch(data, monkeypatch):
    X, y = data
    _interrupt_at(monkeypatch, 1)
    with pytest.warns(UserWarning, match=r"interrupt"):
        est = _est(max_iter=4).fit(X, y)
    assert est.interrupted_ is True and est.n_iter_ == 0 and est.loss_curve_ == []
    assert np.isfinite(est.predict(X)).all()


def test_uninterrupted_fit_is_not_flagged(fitted):
    assert fitted.interrupted_ is False
    assert fitted.n_iter_ == SMALL["max_iter"]


# ----------------------------------------------------------------------- persistence


@pytest.fixture
def model(data):
    """A fresh fitted model with its predictions taken before any pickling."""
    X, y = data
    est = _est(max_iter=2).fit(X, y)
    return est, est.predict(X), est.predict_survival_function(X, return_array=True)


def test_pickle_round_trip(model, data):
    X, y = data
    est, pred, surv = model
    loaded = pickle.loads(pickle.dumps(est))
    assert_array_equal(loaded.predict(X), pred)
    assert_array_equal(loaded.predict_survival_function(X, return_array=True), surv)
    assert loaded.device_ == torch.device("cpu")
    assert loaded.n_iter_ == 2


def test_joblib_round_trip(model, data, tmp_path):
    X, _ = data
    est, pred, surv = model
    path = tmp_path / "camlif.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    assert_array_equal(loaded.predict(X), pred)
    assert_array_equal(loaded.predict_survival_function(X, return_array=True), surv)


def _state(est):
    """The pickled state, taken from an unpickled copy (pickling mutates the original)."""
    return pickle.loads(pickle.dumps(est)).__getstate__()


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
@pytest.mark.parametrize("saved", ["cuda", "cuda:0", "cuda:1"])
def test_model_trained_on_cuda_loads_on_cpu(model, data, saved):
    X, _ = data
    est, pred, _ = model
    state = _state(est)
    assert isinstance(state["device_"], str)
    assert all(v.device.type == "cpu" for member in state["_member_states"] for v in member.values())
    state["device_"] = saved
    new = CAMLIFSurvival.__new__(CAMLIFSurvival)
    with pytest.warns(UserWarning, match=rf"{re.escape(saved)}.*not available.*CPU"):
        new.__setstate__(state)
    assert new.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in new.module_.parameters())
    assert_array_equal(new.predict(X), pred)


def test_pickle_from_another_version_warns(model, data):
    X, _ = data
    est, pred, _ = model
    state = _state(est)
    state["_sksurv_camlif_version"] = "0.0.1"
    new = CAMLIFSurvival.__new__(CAMLIFSurvival)
    with pytest.warns(UserWarning) as record:
        new.__setstate__(state)
    messages = [str(w.message) for w in record]
    assert any("0.0.1" in m and __version__ in m for m in messages), messages
    assert_array_equal(new.predict(X), pred)


def test_pickle_of_this_version_does_not_warn(model):
    est, _, _ = model
    blob = pickle.dumps(est)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(blob)


def _unsafe_torch_loads(source, filename="<string>"):
    """Calls of torch.load (or ``load`` imported from torch) without weights_only=True."""
    tree = ast.parse(source, filename)
    aliases = {"torch.load", "torch.serialization.load"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            aliases |= {a.asname or a.name for a in node.names if a.name == "load"}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in aliases:
            safe = any(
                kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                for kw in node.keywords
            )
            if not safe:
                bad.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return bad


def test_checker_detects_unsafe_torch_load():
    assert _unsafe_torch_loads("import torch\ntorch.load(f)\n")
    assert _unsafe_torch_loads("import torch\ntorch.load(\n    f,\n    weights_only=False)\n")
    assert _unsafe_torch_loads("from torch import load as tl\ntl(f, map_location='cpu')\n")
    assert _unsafe_torch_loads("import torch\ntorch.load(f, **kw)\n")
    assert not _unsafe_torch_loads("import torch\ntorch.load(\n    f, map_location='cpu', weights_only=True)\n")


def test_no_torch_load_without_weights_only():
    root = pathlib.Path(sksurv_camlif.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 10
    bad = []
    for path in files:
        bad += _unsafe_torch_loads(path.read_text(encoding="utf-8"), str(path.relative_to(root.parent)))
    assert not bad, "torch.load without weights_only=True:\n" + "\n".join(bad)
