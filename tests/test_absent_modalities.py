"""Absent modalities: a block missing as a whole for some patients."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.preprocessing import StandardScaler

from sksurv_camlif import CAMLIFSurvival

from conftest import COLS, N, small_spec, small_est, assert_fails_cleanly, with_absent_blocks


# ------------------------------------------------------------------ absent modalities


def test_allow_nan_tag():
    assert CAMLIFSurvival(small_spec()).__sklearn_tags__().input_tags.allow_nan is True


@pytest.fixture(scope="module")
def absent(data):
    X, y = data
    Xm = with_absent_blocks(X)
    return Xm, y, small_est(max_iter=2).fit(Xm, y)


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
    assert not np.allclose(est.predict(X.iloc[[1, 5]]), est.predict(with_absent_blocks(X).iloc[[1, 5]]))


def _all_absent(X, rows=(5,)):
    X = X.copy()
    X.loc[list(rows), COLS] = np.nan
    return X


def test_all_modalities_absent_without_clinical_raises(data, absent):
    X, y = data
    Xa = _all_absent(X)
    assert_fails_cleanly(small_est(), Xa, y, ValueError, r"every modality missing.*no clinical block")
    _, _, est = absent
    with pytest.raises(ValueError, match=r"1 sample\(s\) \(first: \[5\]\) have every modality missing"):
        est.predict(Xa)


def test_all_modalities_absent_with_clinical_predicts(data):
    X, y = data
    rng = np.random.default_rng(1)
    Xc = _all_absent(X, rows=(5, 7)).assign(age=rng.normal(60, 10, N), stage=rng.integers(1, 4, N))
    est = small_est(clinical=(StandardScaler(), ["age", "stage"]), max_iter=2).fit(Xc, y)
    pred = est.predict(Xc)
    assert np.isfinite(pred).all()
    only = est.predict(_all_absent(Xc, rows=range(N)))  # every patient with nothing but clinical
    assert np.isfinite(only).all()


def test_block_missing_for_every_training_patient_raises(data):
    X, y = data
    Xn = X.copy()
    Xn[["a", "b", "c"]] = np.nan
    assert_fails_cleanly(small_est(), Xn, y, ValueError, r"modality 'm1': every value is missing in the training data")


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


