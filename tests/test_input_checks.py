"""Input checks: bad y, malformed modality specs, predict-time mismatches, invalid
parameters; every error names the problem, leaves nothing half-fitted and leaves the
inputs unmodified."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sksurv_camlif import CAMLIFSurvival

from conftest import COLS, N, SMALL, PLAIN, small_spec, small_int_spec, small_est, snapshot, assert_unchanged, assert_fails_cleanly, with_absent_blocks


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
    assert_fails_cleanly(small_est(), X, make_y(y), ValueError, match)


def test_y_any_field_names_and_integer_time_accepted(data):
    X, y = data
    y2 = _y(y["event"], np.ceil(y["time"]).astype(np.int64), (("status", bool), ("days", np.int64)))
    pred = small_est(max_iter=2).fit(X, y2).predict(X)
    assert pred.shape == (N,) and np.isfinite(pred).all()


def test_x_and_y_of_different_lengths(data):
    X, y = data
    assert_fails_cleanly(small_est(), X.iloc[:30], y, ValueError, r"inconsistent numbers of samples: \[30, 40, 40\]")
    assert_fails_cleanly(small_est(), X, y[:30], ValueError, r"inconsistent numbers of samples: \[40, 30, 30\]")


def test_fewer_than_two_samples(data):
    X, y = data
    i = int(np.flatnonzero(y["event"])[0])
    assert_fails_cleanly(small_est(), X.iloc[[i]], y[[i]], ValueError, r"at least 2 samples are required to fit, got 1")
    assert_fails_cleanly(small_est(), X.iloc[:0], y[:0], ValueError, r"0 samples")


def test_two_samples_fit_without_early_stopping_but_not_with_it(data):
    X, y = data
    idx = np.flatnonzero(y["event"])[:2]
    plain = PLAIN  # the protocol's inner folds need more samples
    pred = small_est(max_iter=2, **plain).fit(X.iloc[idx], y[idx]).predict(X)
    assert np.isfinite(pred).all()
    assert_fails_cleanly(
        small_est(early_stopping=True, **plain), X.iloc[idx], y[idx], ValueError,
        r"early_stopping.*validation_fraction",
    )
    assert_fails_cleanly(small_est(), X.iloc[idx], y[idx], ValueError, r"cv=5 inner folds need at least 10")


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
    modalities = params.pop("modalities", small_spec())
    est = CAMLIFSurvival(modalities, **{**SMALL, **params})
    assert_fails_cleanly(est, X, y, exc, match)


def test_names_with_numpy_input_raise(data):
    X, y = data
    assert_fails_cleanly(
        small_est(), X.to_numpy(), y, ValueError, r"modality 'm1': columns given by name need X as a pandas DataFrame"
    )


def test_one_modality_spec_fits_and_predicts(data):
    X, y = data
    est = small_est([("only", StandardScaler(), COLS)], max_iter=2).fit(X, y)
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
    assert_fails_cleanly(
        small_est(), Xs, y, ValueError, r"modality 'm1'.*numeric.*\['b'\].*encoder.*OneHotEncoder"
    )


@pytest.mark.parametrize("block, transformer", [("m1", "passthrough"), ("m2", StandardScaler())])
def test_partial_nan_without_imputer_raises_naming_modality(data, block, transformer):
    X, y = data
    Xn = X.copy()
    Xn.loc[3, "a" if block == "m1" else "d"] = np.nan  # one value: the block is not absent
    spec = [("m1", transformer if block == "m1" else "passthrough", ["a", "b", "c"]),
            ("m2", transformer if block == "m2" else "passthrough", ["d", "e", "f"])]
    assert_fails_cleanly(small_est(spec), Xn, y, ValueError, rf"modality '{block}'.*NaN.*\[3\].*imputer.*SimpleImputer")


def test_partial_nan_in_clinical_block_raises(data):
    X, y = data
    Xc = X.assign(age=np.r_[np.nan, np.zeros(N - 1)])
    assert_fails_cleanly(small_est(clinical=["age"]), Xc, y, ValueError, r"clinical block holds NaN.*imputer")


def test_partial_nan_with_imputer_fits(data):
    X, y = data
    Xn = X.copy()
    Xn.loc[3, "a"] = np.nan
    Xn.loc[4, ["d", "e"]] = np.nan
    imp = make_pipeline(SimpleImputer(), StandardScaler())
    est = small_est([("m1", imp, ["a", "b", "c"]), ("m2", imp, ["d", "e", "f"])], max_iter=2).fit(Xn, y)
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
    return small_est(small_int_spec()).fit(X.to_numpy(), y)


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
    est = small_est()
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(est, method)(X, y) if method == "score" else getattr(est, method)(X)


# ----------------------------------------------------------------------- parameters

INVALID = [
    ("n_tokens", 0), ("d_model", 0), ("n_heads", 0), ("n_encoder_layers", -1), ("rank", 0),
    ("hidden_size", 0), ("dropout", 1.0), ("dropout", -0.1), ("cross_attention", "yes"),
    ("second_fusion", None), ("precision", "float16"),
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
    assert_fails_cleanly(small_est(**{param: value}), X, y, InvalidParameterError, rf"'{param}' parameter")


def test_d_model_not_divisible_by_n_heads(data):
    X, y = data
    assert_fails_cleanly(small_est(d_model=10, n_heads=4), X, y, ValueError, r"d_model=10.*n_heads=4")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_on_cpu_only_machine_raises(data, device):
    X, y = data
    assert_fails_cleanly(small_est(device=device), X, y, ValueError, r"CUDA is not available")


# ------------------------------------------------------------- inputs left unmodified


@pytest.mark.parametrize("kind", ["DataFrame", "numpy"])
def test_fit_and_predict_do_not_modify_inputs(data, kind):
    X, y = data
    X = with_absent_blocks(X)
    spec = small_spec() if kind == "DataFrame" else small_int_spec()
    if kind == "numpy":
        X = X.to_numpy()
    X0, y0, spec0 = snapshot(X), y.copy(), copy.deepcopy(spec)
    est = small_est(spec, max_iter=2).fit(X, y)
    est.predict(X)
    est.predict_survival_function(X[:3] if kind == "numpy" else X.iloc[:3])
    est.score(X, y)
    assert_unchanged(X, X0)
    assert y.dtype == y0.dtype
    assert_array_equal(y, y0)
    # the spec is a parameter: its transformers are cloned, never fitted in place
    assert est.modalities is spec
    assert repr(spec) == repr(spec0)
    assert not hasattr(spec[1][1], "mean_")


