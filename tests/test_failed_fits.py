"""Fits that fail or are interrupted: divergence, a failed refit keeps the previous model,
a failed first fit sets nothing, Ctrl-C keeps a usable model."""

import copy

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import sksurv_camlif.training.engine as engine

from conftest import N, SMALL, small_int_spec, small_est, fitted_attributes, assert_fails_cleanly


# ------------------------------------------------------------------- diverging training

DIVERGE = dict(learning_rate_init=1e30)  # AdamW steps ~lr whatever the gradient: overflow


def test_diverging_training_raises_floating_point_error(data):
    X, y = data
    assert_fails_cleanly(small_est(**DIVERGE), X, y, FloatingPointError, r"lower learning_rate_init")


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
    est = small_est().fit(X, y)
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
    est = small_est(small_int_spec() if numpy_input else None).fit(Xf, y)
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
def test_failed_fit_on_fresh_estimator_sets_nothing(data, params, make):
    X, y = data
    if params.get("device", "cpu").startswith("cuda") and torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    est = small_est(**params)
    with pytest.raises((ValueError, FloatingPointError)):
        est.fit(*make(X, y))
    assert not hasattr(est, "module_") and fitted_attributes(est) == []
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


# --------------------------------------------------------------------- interruption


N_MEMBERS = 3


def _interrupt_at(monkeypatch, epoch, n_members=N_MEMBERS):
    """Raise KeyboardInterrupt when the batches of ``epoch`` (1-based) are drawn; the engine
    draws them once per member still training at the start of each epoch."""
    calls = {"n": 0}
    real = engine.event_balanced_batches

    def batches(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n_members * (epoch - 1) + 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "event_balanced_batches", batches)


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("at_epoch", [1, 3])
def test_keyboard_interrupt_keeps_a_usable_model(data, monkeypatch, early_stopping, at_epoch):
    """Members trained at once stop together: every member keeps what it had."""
    X, y = data
    _interrupt_at(monkeypatch, at_epoch)
    est = small_est(max_iter=6, early_stopping=early_stopping, batch_size=16, tol=0.0, n_members=N_MEMBERS,
                    cv=N_MEMBERS, residual_weights=[1])
    threads = torch.get_num_threads()
    with pytest.warns(UserWarning, match=r"interrupt"):
        returned = est.fit(X, y)
    assert returned is est
    assert est.interrupted_ is True
    assert len(est.members_) == N_MEMBERS
    assert est.member_n_iter_ == [at_epoch - 1] * N_MEMBERS
    assert est.n_iter_ == at_epoch - 1 and len(est.loss_curve_) == at_epoch - 1
    if early_stopping:
        assert len(est.validation_scores_) == at_epoch - 1
        # the best weights so far are kept (the initial weights count as a candidate)
        assert np.isfinite(est.best_validation_score_)
        assert est.best_validation_score_ >= max(est.validation_scores_, default=-np.inf)
    assert torch.get_num_threads() == threads
    pred = est.predict(X)
    assert pred.shape == (N,) and np.isfinite(pred).all()
    surv = est.predict_survival_function(X.iloc[:4])
    assert len(surv) == 4
    values = np.vstack([fn(est.unique_times_) for fn in surv])
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values, axis=1) <= 1e-12).all()


def test_uninterrupted_fit_is_not_flagged(fitted):
    assert fitted.interrupted_ is False
    assert fitted.n_iter_ == SMALL["max_iter"]


