"""Behaviour of CAMLIFSurvival as a scikit-survival estimator.

Inputs (pandas, numpy, every ColumnTransformer column form), model selection
(GridSearchCV, cross_validate, Pipeline), survival functions, persistence,
reproducibility, training control (early stopping, warm start) and a quality floor on
the bundled TCGA-GBMLGG data.

Most tests use scikit-survival's breast-cancer data (198 patients, 76 gene columns) and a
tiny network trained for a few epochs with ``n_threads=1`` so the whole file stays fast
on a shared 2-core machine.
"""

import re

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sksurv.datasets import load_breast_cancer
from sksurv.functions import StepFunction
from sksurv.metrics import (
    as_concordance_index_ipcw_scorer,
    concordance_index_censored,
    concordance_index_ipcw,
)
from sksurv.testing import assert_chf_properties

from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif.datasets import load_tcga_gbmlgg
from conftest import PLAIN, tiny

# A tiny, fast, deterministic configuration (CPU, one torch thread).
SMALL = tiny(max_iter=5)
CLINICAL_COLUMNS = ["age", "size", "er", "grade"]


def _one_hot():
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def _clinical():
    return (
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "size"]),
                ("cat", _one_hot(), ["er", "grade"]),
            ]
        ),
        CLINICAL_COLUMNS,
    )


def _make(genes, **params):
    """Two gene blocks (passthrough and scaled) plus a clinical block with an encoder."""
    spec = [("g1", "passthrough", genes[:38]), ("g2", StandardScaler(), genes[38:])]
    return CAMLIFSurvival(spec, **{"clinical": _clinical(), **SMALL, **params})


def _event_time(y):
    event_field, time_field = y.dtype.names
    return y[event_field], y[time_field]


@pytest.fixture(scope="module")
def breast():
    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")]
    assert len(genes) == 76
    return X, y, genes


@pytest.fixture(scope="module")
def fitted(breast):
    X, y, genes = breast
    return _make(genes).fit(X, y)


@pytest.fixture(scope="module")
def numeric_reference(breast):
    """Predictions of a numeric-only model (two gene blocks + age/size) specified by name."""
    X, y, genes = breast
    Xn = X[genes + ["age", "size"]]
    spec = [("g1", "passthrough", genes[:38]), ("g2", StandardScaler(), genes[38:])]
    est = CAMLIFSurvival(spec, clinical=["age", "size"], **SMALL).fit(Xn, y)
    return Xn, est


def _assert_valid_prediction(pred, n):
    assert isinstance(pred, np.ndarray)
    assert pred.dtype == np.float64
    assert pred.shape == (n,)
    assert np.isfinite(pred).all()


# ------------------------------------------------------------------------- inputs


def test_fit_predict_pandas(fitted, breast):
    X, y, _ = breast
    pred = fitted.predict(X)
    _assert_valid_prediction(pred, X.shape[0])
    assert fitted.n_features_in_ == X.shape[1]
    assert_array_equal(fitted.feature_names_in_, np.asarray(X.columns, dtype=object))
    assert fitted.modalities_ == ["g1", "g2"]
    event, time = _event_time(y)
    assert fitted.score(X, y) == pytest.approx(concordance_index_censored(event, time, pred)[0])
    # a subset of rows predicts the same values as the full frame
    assert_allclose(fitted.predict(X.iloc[:7]), pred[:7], rtol=1e-6, atol=1e-6)


def test_predict_checks_feature_names(fitted, breast):
    X, _, _ = breast
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(X[X.columns[::-1]])
    with pytest.raises(ValueError):
        fitted.predict(X.iloc[:, :-1])


@pytest.mark.parametrize("form", ["ints", "negative_ints", "slices", "masks"])
def test_numpy_integer_columns(numeric_reference, breast, form):
    Xdf, reference = numeric_reference
    _, y, _ = breast
    X = Xdf.to_numpy()
    n = X.shape[1]  # 76 genes + age + size
    mask = lambda a, b: np.isin(np.arange(n), np.arange(a, b))  # noqa: E731
    columns = {
        "ints": (list(range(38)), list(range(38, 76)), [76, 77]),
        "negative_ints": (list(range(38)), list(range(38 - n, 76 - n)), [-2, -1]),
        "slices": (slice(0, 38), slice(38, 76), slice(76, 78)),
        "masks": (mask(0, 38), mask(38, 76), mask(76, 78)),
    }[form]
    spec = [("g1", "passthrough", columns[0]), ("g2", StandardScaler(), columns[1])]
    est = CAMLIFSurvival(spec, clinical=columns[2], **SMALL).fit(X, y)

    pred = est.predict(X)
    _assert_valid_prediction(pred, X.shape[0])
    assert est.n_features_in_ == n
    assert not hasattr(est, "feature_names_in_")
    # the same columns as the by-name spec on the DataFrame: the same model
    assert_allclose(pred, reference.predict(Xdf), rtol=1e-5, atol=1e-6)


def test_numpy_predict_on_dataframe_fitted_model_warns(numeric_reference):
    Xdf, est = numeric_reference
    with pytest.warns(UserWarning, match="valid feature names"):
        pred = est.predict(Xdf.to_numpy())
    assert_allclose(pred, est.predict(Xdf), rtol=1e-6, atol=1e-6)


def test_make_column_selector(numeric_reference, breast):
    Xdf, _ = numeric_reference
    _, y, genes = breast
    pattern1, pattern2 = r"^X20", r"^X2[1-9]"
    spec = [
        ("g1", "passthrough", make_column_selector(pattern=pattern1)),
        ("g2", StandardScaler(), make_column_selector(pattern=pattern2)),
    ]
    est = CAMLIFSurvival(spec, clinical=make_column_selector(pattern="^(?:age|size)$"), **SMALL)
    pred = est.fit(Xdf, y).predict(Xdf)
    _assert_valid_prediction(pred, Xdf.shape[0])

    by_name = [
        ("g1", "passthrough", [c for c in genes if re.match(pattern1, c)]),
        ("g2", StandardScaler(), [c for c in genes if re.match(pattern2, c)]),
    ]
    assert len(by_name[0][2]) + len(by_name[1][2]) == len(genes)
    expected = CAMLIFSurvival(by_name, clinical=["age", "size"], **SMALL).fit(Xdf, y).predict(Xdf)
    assert_allclose(pred, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------- model selection


def test_grid_search_default_scoring_is_harrell(breast):
    X, y, genes = breast
    grid = {"d_model": [8, 16], "alignment_weight": [0.0, 0.5]}
    search = GridSearchCV(_make(genes, max_iter=3), grid, cv=KFold(2, shuffle=True, random_state=0))
    search.fit(X, y)

    assert len(search.cv_results_["params"]) == 4
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    best = search.best_estimator_
    assert isinstance(best, CAMLIFSurvival)
    assert {k: best.get_params()[k] for k in grid} == search.best_params_
    event, time = _event_time(y)
    expected = concordance_index_censored(event, time, best.predict(X))[0]
    assert search.score(X, y) == pytest.approx(expected)


def test_cross_validate_default_scoring_is_harrell(breast):
    X, y, genes = breast
    event, time = _event_time(y)
    res = cross_validate(
        _make(genes, max_iter=3),
        X,
        y,
        cv=KFold(2, shuffle=True, random_state=0),
        scoring=None,
        return_estimator=True,
        return_indices=True,
    )
    for k, est in enumerate(res["estimator"]):
        test = res["indices"]["test"][k]
        pred = est.predict(X.iloc[test])
        expected = concordance_index_censored(event[test], time[test], pred)[0]
        assert res["test_score"][k] == pytest.approx(expected)


def test_cross_validate_ipcw_scorer(breast):
    X, y, genes = breast
    _, time = _event_time(y)
    tau = float(np.percentile(time, 75))
    wrapped = as_concordance_index_ipcw_scorer(_make(genes, max_iter=3), tau=tau)
    res = cross_validate(
        wrapped,
        X,
        y,
        cv=KFold(2, shuffle=True, random_state=0),
        return_estimator=True,
        return_indices=True,
    )
    assert np.isfinite(res["test_score"]).all()
    for k, w in enumerate(res["estimator"]):
        train, test = res["indices"]["train"][k], res["indices"]["test"][k]
        pred = w.estimator_.predict(X.iloc[test])
        expected = concordance_index_ipcw(y[train], y[test], pred, tau=tau)[0]
        assert res["test_score"][k] == pytest.approx(expected)


def _preprocessor(genes, verbose):
    return ColumnTransformer(
        [
            ("genes", StandardScaler(), genes),
            ("num", StandardScaler(), ["age", "size"]),
            ("cat", _one_hot(), ["er", "grade"]),
        ],
        verbose_feature_names_out=verbose,
    ).set_output(transform="pandas")


@pytest.mark.parametrize("verbose", [False, True])
def test_pipeline_with_column_transformer(breast, verbose):
    X, y, genes = breast
    prefix = (lambda p: p + "__") if verbose else (lambda p: "")
    out_names = list(_preprocessor(genes, verbose).fit(X).get_feature_names_out())
    spec = [
        ("g1", "passthrough", [prefix("genes") + g for g in genes[:38]]),
        ("g2", "passthrough", [prefix("genes") + g for g in genes[38:]]),
    ]
    # the one-hot columns depend on the categories seen in each CV fold: select them by pattern
    clinical = make_column_selector(
        pattern=f"^{prefix('num')}(?:age|size)$|^{prefix('cat')}(?:er|grade)_"
    )
    assert len(clinical(_preprocessor(genes, verbose).fit_transform(X))) >= 4
    pipe = Pipeline(
        [
            ("pre", _preprocessor(genes, verbose)),
            ("model", CAMLIFSurvival(spec, clinical=clinical, **SMALL)),
        ]
    )
    pipe.fit(X, y)

    pred = pipe.predict(X)
    _assert_valid_prediction(pred, X.shape[0])
    assert_array_equal(pipe[-1].feature_names_in_, np.asarray(out_names, dtype=object))
    # sksurv patches Pipeline with the survival-function methods
    fns = pipe.predict_survival_function(X.iloc[:3])
    assert len(fns) == 3 and all(isinstance(f, StepFunction) for f in fns)
    # the pipeline is the estimator fitted on the transformed frame
    Xt = _preprocessor(genes, verbose).fit_transform(X)
    direct = CAMLIFSurvival(spec, clinical=clinical, **SMALL).fit(Xt, y)
    assert_allclose(pred, direct.predict(Xt), rtol=1e-5, atol=1e-6)
    # cross-validation over the whole pipeline works with the default scoring
    scores = cross_validate(pipe.set_params(model__max_iter=2), X, y, cv=2)["test_score"]
    assert np.isfinite(scores).all()


def test_pipeline_verbose_names_need_prefixed_spec(breast):
    """With verbose_feature_names_out=True, the un-prefixed names are not in the output."""
    X, y, genes = breast
    spec = [("g1", "passthrough", genes[:38]), ("g2", "passthrough", genes[38:])]
    pipe = Pipeline([("pre", _preprocessor(genes, True)), ("model", CAMLIFSurvival(spec, **SMALL))])
    with pytest.raises(ValueError, match="not in X"):
        pipe.fit(X, y)


# -------------------------------------------------------------------- survival functions


def test_survival_functions(fitted, breast):
    X, _, _ = breast
    times = fitted.unique_times_
    assert times.ndim == 1 and np.all(np.diff(times) > 0)

    fns = fitted.predict_survival_function(X)
    assert len(fns) == X.shape[0] and all(isinstance(f, StepFunction) for f in fns)
    surv = fitted.predict_survival_function(X, return_array=True)
    assert surv.shape == (X.shape[0], times.shape[0])
    assert_allclose(surv, np.vstack([f(times) for f in fns]))
    # (sksurv's assert_survival_function_properties also asks that most patients be
    # closer to 0 than 1 at the last time: a property of the data, not of the estimator;
    # in GSE7390, 74% censored, a good model puts half the patients above 0.5)
    assert np.isfinite(surv).all()

    chf_fns = fitted.predict_cumulative_hazard_function(X)
    assert all(isinstance(f, StepFunction) for f in chf_fns)
    chf = fitted.predict_cumulative_hazard_function(X, return_array=True)
    assert_allclose(chf, np.vstack([f(times) for f in chf_fns]))
    assert_chf_properties(chf)
    assert (chf >= 0).all() and (np.diff(chf, axis=1) >= 0).all()
    assert ((surv >= 0) & (surv <= 1)).all() and (np.diff(surv, axis=1) <= 0).all()
    assert_allclose(surv, np.exp(-chf), rtol=1e-7, atol=1e-10)


def test_higher_risk_lower_survival(fitted, breast):
    X, _, _ = breast
    order = np.argsort(fitted.predict(X), kind="stable")
    surv = fitted.predict_survival_function(X, return_array=True)[order]
    chf = fitted.predict_cumulative_hazard_function(X, return_array=True)[order]
    # along increasing risk: survival non-increasing, cumulative hazard non-decreasing
    assert (np.diff(surv, axis=0) <= 1e-12).all()
    assert (np.diff(chf, axis=0) >= -1e-12).all()


# -------------------------------------------------------------------------- persistence




# ----------------------------------------------------------------------- reproducibility


def test_same_seed_same_predictions(fitted, breast):
    X, y, genes = breast
    again = _make(genes).fit(X, y)
    assert_array_equal(again.predict(X), fitted.predict(X))
    assert again.loss_curve_ == fitted.loss_curve_


def test_different_seed_different_predictions(breast):
    # w fixed at 1: the members' part is in the predictions (with w = 0 chosen, the
    # estimator is the linear offset, which no seed changes)
    X, y, genes = breast
    one = _make(genes, residual_weights=[1]).fit(X, y)
    other = _make(genes, residual_weights=[1], random_state=1).fit(X, y)
    assert not np.allclose(other.predict(X), one.predict(X))


def test_alignment_weight_acts_only_with_cross_attention(breast):
    """The alignment loss (eq. 7) changes training with cross-attention and nothing
    without it (no enhanced representation to align): the default 0 and the paper's 0.5
    must give different fits in the first case and identical ones in the second."""
    X, y, genes = breast
    params = dict(**PLAIN, max_iter=5, early_stopping=False)
    fits = {(xattn, a): _make(genes, **{**params, "cross_attention": xattn, "alignment_weight": a}).fit(X, y)
            for xattn in (True, False) for a in (0.0, 0.5)}
    assert fits[True, 0.5].loss_curve_ != fits[True, 0.0].loss_curve_
    assert not np.allclose(fits[True, 0.5].predict(X), fits[True, 0.0].predict(X))
    assert fits[False, 0.5].loss_curve_ == fits[False, 0.0].loss_curve_
    assert_array_equal(fits[False, 0.5].predict(X), fits[False, 0.0].predict(X))


@pytest.mark.parametrize("seed", ["int", "RandomState"])
def test_fit_leaves_global_rng_alone(breast, seed):
    X, y, genes = breast
    random_state = 0 if seed == "int" else np.random.RandomState(0)
    # dropout and the validation split both draw random numbers
    est = _make(genes, max_iter=2, dropout=0.2, early_stopping=True, random_state=random_state)
    torch.manual_seed(1234)
    np.random.seed(1234)
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    n_threads = torch.get_num_threads()

    est.fit(X, y)
    est.predict(X)

    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0]
    assert_array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    assert torch.get_num_threads() == n_threads


# ---------------------------------------------------------------------- training control


def test_no_early_stopping_runs_max_iter(fitted):
    assert fitted.n_iter_ == fitted.max_iter == 5
    assert len(fitted.loss_curve_) == 5
    assert np.isfinite(fitted.loss_curve_).all()
    assert fitted.validation_scores_ is None
    assert fitted.best_validation_score_ is None
    assert getattr(fitted, "best_epoch_", None) is None


def test_early_stopping_records_validation_scores(breast):
    """validation_scores_ has one score per epoch; the best candidate (the initial weights,
    epoch 0, count too: best_epoch_ says which) is restored and training stops exactly
    n_iter_no_change epochs after it (tol=0: any strict improvement counts)."""
    X, y, genes = breast
    patience = 3
    best_epochs = []
    for seed in (0, 1):
        est = _make(
            genes,
            **PLAIN,
            early_stopping=True,
            max_iter=30,
            n_iter_no_change=patience,
            tol=0.0,
            learning_rate_init=1e-2,
            random_state=seed,
        ).fit(X, y)
        scores = est.validation_scores_
        assert est.n_iter_ < est.max_iter, "expected early stopping on this small, noisy problem"
        assert len(scores) == est.n_iter_ == len(est.loss_curve_)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert 0 <= est.best_epoch_ <= est.n_iter_
        assert est.n_iter_ - est.best_epoch_ == patience
        assert est.best_validation_score_ >= max(scores)
        if est.best_epoch_ > 0:
            assert est.best_validation_score_ == scores[est.best_epoch_ - 1] == max(scores)
            assert int(np.argmax(scores)) + 1 == est.best_epoch_
        best_epochs.append(est.best_epoch_)
    assert any(b > 0 for b in best_epochs), "no seed exercised an improving epoch"


def test_restored_weights_are_the_best_scoring_with_positive_tol(breast):
    X, y, genes = breast
    for seed in range(4):
        est = _make(
            genes,
            **PLAIN,
            early_stopping=True,
            max_iter=15,
            n_iter_no_change=5,
            tol=0.03,
            learning_rate_init=1e-2,
            random_state=seed,
        ).fit(X, y)
        # the restored candidate (initial weights or an epoch) scored at least as well as
        # every recorded epoch
        assert est.best_validation_score_ >= max(est.validation_scores_), seed


def test_warm_start_continues(breast):
    X, y, genes = breast
    est = _make(genes, max_iter=3, warm_start=True, residual_weights=[1]).fit(X, y)
    first_curve = list(est.loss_curve_)
    est.set_params(max_iter=2).fit(X, y)
    assert est.n_iter_ == 5
    assert len(est.loss_curve_) == 5
    assert est.loss_curve_[:3] == first_curve
    # a continued model is not a fresh 2-epoch model
    fresh = _make(genes, max_iter=2, residual_weights=[1]).fit(X, y)
    assert not np.allclose(est.predict(X), fresh.predict(X))


def test_without_warm_start_refit_restarts(breast):
    X, y, genes = breast
    est = _make(genes, max_iter=3).fit(X, y)
    first = est.predict(X)
    est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    assert_array_equal(est.predict(X), first)
    est.set_params(max_iter=2).fit(X, y)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2


def test_warm_start_with_early_stopping_keeps_history_consistent(breast):
    X, y, genes = breast
    est = _make(genes, max_iter=4, early_stopping=True, n_iter_no_change=50, warm_start=True)
    est.fit(X, y)
    est.fit(X, y)
    assert est.n_iter_ == 8
    assert len(est.validation_scores_) == est.n_iter_



# ------------------------------------------------------------------------ quality floor


def test_quality_floor_tcga_gbmlgg():
    """Default hyper-parameters reach a mean test C-index > 0.78 on 3 of the authors' splits.

    (Reference: Cox PH on the clinical variables gets .814 +- .026 over all 15 splits.)
    ``n_threads=1`` only limits the CPU threads (the test machine is shared).
    """
    X, y, modalities, splits = load_tcga_gbmlgg()
    cnv = X[modalities["cnv"]]
    # cnv has whole-row gaps only (absent modality), so "passthrough" is valid
    assert not (cnv.isna().any(axis=1) & ~cnv.isna().all(axis=1)).any()
    clinical = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "grade"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["gender", "histology"]),
        ]
    )
    spec = [
        ("genomic", make_pipeline(SimpleImputer(), StandardScaler()), modalities["genomic"]),
        ("cnv", "passthrough", modalities["cnv"]),
    ]
    scores = []
    for split in (1, 2, 3):
        train = splits[split].to_numpy()
        est = CAMLIFSurvival(
            spec, clinical=(clinical, modalities["clinical"]), random_state=0, n_threads=1
        )
        est.fit(X[train], y[train])
        scores.append(est.score(X[~train], y[~train]))
    print(f"TCGA-GBMLGG C-index, splits 1-3: {np.round(scores, 4)}, mean {np.mean(scores):.4f}")
    assert np.mean(scores) > 0.78, scores


# ------------------------------------------------------------------------ threads


@pytest.mark.parametrize("n_threads, expected", [(None, 1), (2, 2)])
def test_torch_threads_during_fit(breast, monkeypatch, n_threads, expected):
    """None means one CPU thread during training; the caller's setting is restored."""
    import sksurv_camlif.protocol.members as members_module

    seen = []
    real = members_module.train_networks

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(members_module, "train_networks", spy)
    X, y, genes = breast
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        _make(genes, n_threads=n_threads, max_iter=1).fit(X, y)
        assert seen == [expected]  # the five members trained at once

        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------ verbosity


def test_silent_by_default_and_progress_bar_with_verbose(breast, capsys):
    X, y, genes = breast
    _make(genes, max_iter=2, early_stopping=True).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    _make(genes, max_iter=2, early_stopping=True, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert "CAMLIFSurvival" in err and "loss" in err and "val_c" in err
    assert "offset CoxnetOffset fitted on 5 inner folds" in err  # the stage without a bar
    _make(genes, max_iter=60, early_stopping=True, n_iter_no_change=1, tol=1.0, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert re.search(r"stopped early at epoch 1 of 60 \(best epochs: [01](, [01]){4}\)", err), err
