"""The DeepSurv-style benchmark peer ``benchmarks/deepsurv.py`` (not part of the package).

Short: scikit-survival's breast-cancer data (198 patients, numeric columns only), a few
epochs on the CPU with one torch thread.
"""

import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.datasets import load_breast_cancer
from sksurv.testing import assert_chf_properties, assert_survival_function_properties


def _load_deepsurv():
    """``benchmarks/`` is not a package: load ``deepsurv.py`` by path, under the same
    module name as ``benchmarks/benchmark.py`` uses, without touching ``sys.path``."""
    name = "_camlif_bench_deepsurv"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / "deepsurv.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


DeepSurvMLP = _load_deepsurv().DeepSurvMLP

PARAMS = dict(max_iter=20, n_iter_no_change=5, device="cpu", n_threads=1, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer()
    return X.select_dtypes("number"), y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return make_pipeline(StandardScaler(), DeepSurvMLP(**PARAMS)).fit(X, y)


def test_fit_score(fitted, data):
    X, y = data
    est = fitted[-1]
    assert fitted.score(X, y) > 0.55
    pred = fitted.predict(X)
    assert pred.dtype == np.float64 and pred.shape == (X.shape[0],) and np.isfinite(pred).all()
    assert 1 <= est.n_iter_ <= PARAMS["max_iter"]
    assert len(est.loss_curve_) == est.n_iter_ == len(est.validation_scores_)
    assert len(est.epoch_times_) == est.n_iter_ and min(est.epoch_times_) > 0
    # the best weights are restored: the best validation C is the maximum seen (the initial
    # weights, epoch 0, are a candidate too)
    assert est.best_validation_score_ >= max(est.validation_scores_)


def test_deterministic_with_seed_and_global_rng_untouched(fitted, data):
    X, y = data
    torch.manual_seed(123)
    before = torch.get_rng_state()
    np_before = np.random.get_state()[1].copy()
    again = clone(fitted).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    assert_array_equal(np.random.get_state()[1], np_before)
    assert_array_equal(again.predict(X), fitted.predict(X))
    other = clone(fitted).set_params(deepsurvmlp__random_state=1).fit(X, y)
    assert not np.array_equal(other.predict(X), fitted.predict(X))


def test_fixed_epochs_without_early_stopping(data):
    X, y = data
    est = make_pipeline(
        StandardScaler(), DeepSurvMLP(**{**PARAMS, "max_iter": 3, "early_stopping": False})
    ).fit(X, y)
    assert est[-1].n_iter_ == 3
    assert est[-1].validation_scores_ is None and est[-1].best_validation_score_ is None


def test_survival_functions_and_pickle(fitted, data):
    X, _ = data
    surv = fitted.predict_survival_function(X.iloc[:5], return_array=True)
    assert_survival_function_properties(surv)
    chf = fitted.predict_cumulative_hazard_function(X.iloc[:5], return_array=True)
    assert_chf_properties(chf)
    restored = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(restored.predict(X), fitted.predict(X))
    assert_array_equal(fitted.predict(X), restored.predict(X))  # the original is still fitted


def test_rejects_bad_input(data):
    X, y = data
    with pytest.raises(ValueError):
        DeepSurvMLP(device="tpu").fit(X.to_numpy(), y)
    with pytest.raises(ValueError):
        DeepSurvMLP(hidden_sizes=(0,)).fit(X.to_numpy(), y)
    Xnan = X.to_numpy().copy()
    Xnan[0, 0] = np.nan
    with pytest.raises(ValueError):
        DeepSurvMLP(**PARAMS).fit(Xnan, y)
