"""The fitting protocol: inner folds, the cross-fitted linear offset, the network's weight,
and how the estimator puts them together ((1 - w) offset + w * mean of the members)."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sksurv.datasets import load_breast_cancer
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.util import Surv

from conftest import TINY_NET
from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif.modality import BlockOutputs
from sksurv_camlif.protocol import ClinicalRidgeOffset, CoxnetOffset, choose_residual_weight, inner_folds
from sksurv_camlif.protocol.splines import fit_spline_basis

TINY = {**TINY_NET, "max_iter": 3}  # with early stopping: members stop on their folds


@pytest.fixture(scope="module")
def design():
    """A linear Cox truth on 6 columns, 2 of them clinical; 240 patients."""
    rng = np.random.default_rng(0)
    n, p = 240, 6
    Z = rng.standard_normal((n, p))
    eta = Z @ np.array([0.8, -0.5, 0.0, 0.3, 0.6, 0.0])
    t = rng.exponential(np.exp(-eta))
    c = rng.exponential(1.5, n)
    event, time = t <= c, np.minimum(t, c)
    is_clin = np.array([False] * 4 + [True] * 2)
    names = np.array([f"f{j}" for j in range(p)])
    return Z, is_clin, event, time, names


@pytest.fixture(scope="module")
def breast():
    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")]
    X = X[genes[:20] + ["age", "size"]].astype(float)
    return X, y, genes[:20]


def _outputs(Z, is_clin, names):
    """The design's columns as block outputs: one modality, then the clinical block."""
    return BlockOutputs([Z[:, ~is_clin]], np.ones((len(Z), 1), bool), Z[:, is_clin], ["m"],
                        [list(names[~is_clin]), list(names[is_clin])])


def _coxnet(Z, is_clin, event, time, fold, names, **params):
    """The Coxnet offset on the design (without splines, so its columns are the design's)."""
    offset = CoxnetOffset(splines=None, **params).fit(_outputs(Z, is_clin, names), event, time, fold=fold)
    return offset, offset.oof_


def _ridge(Z, is_clin, event, time, fold, names, **params):
    offset = ClinicalRidgeOffset(**params).fit(_outputs(Z, is_clin, names), event, time, fold=fold)
    return offset, offset.oof_


def _est(genes, **params):
    spec = [("a", "passthrough", genes[:10]), ("b", "passthrough", genes[10:])]
    return CAMLIFSurvival(spec, clinical=["age", "size"], **{**TINY, **params})


def test_inner_folds_stratified_and_complete(design):
    _, _, event, _, _ = design
    fold = inner_folds(event, 5, seed=0)
    assert set(fold) == set(range(5))
    rates = [event[fold == k].mean() for k in range(5)]
    assert max(rates) - min(rates) < 0.05
    assert_array_equal(fold, inner_folds(event, 5, seed=0))


def test_inner_folds_too_few_samples():
    with pytest.raises(ValueError, match="cv=5 inner folds need at least 10 samples"):
        inner_folds(np.ones(8, bool), 5, seed=0)


def test_offset_does_not_leak_labels_of_a_fold(design):
    """A patient's out-of-fold offset comes from a model that never saw that patient's fold:
    shuffling the labels of fold k leaves the offsets of fold k unchanged (a fixed alpha, so
    the penalty choice does not depend on the labels either)."""
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)

    def oof(event, time):
        y = Surv.from_arrays(event, time)
        return CoxnetOffset()._path_scores(Z, y, fold, np.array([0.05]), np.ones(Z.shape[1]), 0.5)[1][:, 0]

    k = 2
    idx = np.flatnonzero(fold == k)
    perm = np.random.default_rng(1).permutation(idx)
    event2, time2 = event.copy(), time.copy()
    event2[idx], time2[idx] = event[perm], time[perm]
    first, second = oof(event, time), oof(event2, time2)
    assert_allclose(second[idx], first[idx], rtol=0, atol=1e-12)
    assert not np.allclose(second[fold != k], first[fold != k])  # the other folds did see them


def test_coxnet_offset_refit_matches_sksurv(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    offset, oof = _coxnet(Z, is_clin, event, time, fold, names, clinical_penalties=(1.0, 0.1), l1_ratio=0.5)
    r = offset.clinical_penalty_
    assert r in (1.0, 0.1)
    ref = CoxnetSurvivalAnalysis(l1_ratio=0.5, alpha_min_ratio=0.01, n_alphas=30,
                                 penalty_factor=np.where(is_clin, r, 1.0))
    ref.fit(Z, Surv.from_arrays(event, time))
    outputs = _outputs(Z, is_clin, names)
    # the prediction is the design times the coefficients, in the design's order
    assert_allclose(offset.predict(outputs), np.hstack([Z[:, ~is_clin], Z[:, is_clin]]) @ offset.coef_)
    if offset.cv_results_["averaged"] == [(0.5, r, offset.alpha_)]:  # one model kept: sksurv's at that alpha
        coef = ref._get_coef(offset.alpha_)[0]
        assert_allclose(offset.coef_, np.concatenate([coef[~is_clin], coef[is_clin]]), atol=1e-8)
    # the best alpha is the best of the inner-CV table
    res = offset.cv_results_
    i = res["clinical_penalties"].index(r)
    j = list(res["alphas"][i]).index(offset.alpha_)
    assert res["mean_score"][i][j] == max(np.nanmax(c) for c in res["mean_score"])
    # a truth with signal: the out-of-fold predictor is informative, coefficients are named
    from sksurv.metrics import concordance_index_censored
    assert concordance_index_censored(event, time, oof)[0] > 0.6
    assert list(offset.feature_names_) == list(names[~is_clin]) + list(names[is_clin])


def test_clinical_only_candidate_enters_only_when_not_measurably_worse(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    # the truth puts large weight on non-clinical columns: the Coxnet is far better
    offset, _ = _coxnet(Z, is_clin, event, time, fold, names)
    assert offset.clinical_only_weight_ == 0.0
    assert offset.cv_results_["clinical_only_score"] < max(np.nanmax(c) for c in offset.cv_results_["mean_score"])
    without, _ = _coxnet(Z, is_clin, event, time, fold, names, clinical_only=False)
    assert "clinical_only_score" not in without.cv_results_
    assert_allclose(without.coef_, offset.coef_)


def test_average_rule_is_the_mean_of_the_kept_path_models(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    offset, oof = _coxnet(Z, is_clin, event, time, fold, names, clinical_penalties=(1.0, 0.1), l1_ratio=[0.9, 0.2])
    kept = offset.cv_results_["averaged"]
    assert len(kept) >= 1
    res = offset.cv_results_
    assert list(zip(res["l1_ratios"], res["clinical_penalties"])) == [(0.2, 0.1), (0.2, 1.0), (0.9, 0.1), (0.9, 1.0)]
    # refit each kept (l1, r, alpha) on all patients and on each fold's training part
    y = Surv.from_arrays(event, time)
    coefs, oofs = [], []
    for l1, r, alpha in kept:
        i = list(zip(res["l1_ratios"], res["clinical_penalties"])).index((l1, r))
        grid, j = res["alphas"][i], list(res["alphas"][i]).index(alpha)
        penalty = np.where(is_clin, r, 1.0)
        coefs.append(CoxnetSurvivalAnalysis(l1_ratio=l1, alphas=grid, penalty_factor=penalty).fit(Z, y).coef_[:, j])
        o = np.zeros(len(Z))  # Z's own column order: the same linear predictor
        for k in range(5):
            tr = fold != k
            c = CoxnetSurvivalAnalysis(l1_ratio=l1, alphas=grid, penalty_factor=penalty).fit(Z[tr], y[tr]).coef_
            o[~tr] = Z[~tr] @ c[:, j]
        oofs.append(o)
    # the best single (l1, r, alpha) is among them
    assert (offset.l1_ratio_, offset.clinical_penalty_, offset.alpha_) in kept
    order = np.r_[np.flatnonzero(~is_clin), np.flatnonzero(is_clin)]  # the design's columns
    assert_allclose(offset.coef_, np.mean(coefs, axis=0)[order], atol=1e-6)
    assert_allclose(oof, np.mean(oofs, axis=0), atol=1e-6)
    assert offset.clinical_only_weight_ == 0.0


def test_average_rule_mixes_a_kept_clinical_only_model_at_half_weight(design):
    Z, is_clin, _, _, names = design
    rng = np.random.default_rng(2)
    t = rng.exponential(np.exp(-(Z[:, 4] * 0.9 - Z[:, 5] * 0.6)))
    c = rng.exponential(1.5, len(t))
    ev, tm = t <= c, np.minimum(t, c)
    fold = inner_folds(ev, 5, 0)
    mixed, oof = _coxnet(Z, is_clin, ev, tm, fold, names)
    coxnet, coxnet_oof = _coxnet(Z, is_clin, ev, tm, fold, names, clinical_only=False)
    ridge, ridge_oof = _ridge(Z, is_clin, ev, tm, fold, names, alpha=1.0)
    assert mixed.clinical_only_weight_ == 0.5
    assert_allclose(mixed.coef_, 0.5 * (coxnet.coef_ + ridge.coef_))
    assert_allclose(oof, 0.5 * (coxnet_oof + ridge_oof))


def test_clinical_ridge_offset_uses_only_clinical_columns(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    offset, oof = _ridge(Z, is_clin, event, time, fold, names)
    assert_array_equal(offset.coef_[:4], 0)
    assert (offset.coef_[4:] != 0).all()
    outputs = _outputs(Z, is_clin, names)
    parts = offset.contributions(outputs)
    assert_array_equal(parts["m"], 0) and assert_allclose(parts["m"] + parts["clinical"], offset.predict(outputs))
    with pytest.raises(ValueError, match="needs a clinical block"):
        ClinicalRidgeOffset().fit(outputs._replace(clinical=None, feature_names=[list(names)]), event, time,
                                  fold=fold)


def test_residual_weight_one_se_rule(design):
    _, _, event, time, _ = design
    fold = inner_folds(event, 5, seed=0)
    rng = np.random.default_rng(0)
    offset = -time + rng.normal(0, 2, len(time))  # informative but noisy
    w, table = choose_residual_weight(fold, event, time, offset, rng.normal(size=len(time)))
    assert w == 0.0  # pure noise adds nothing measurable
    assert table["fold_c"].shape == (5, 4)
    w, _ = choose_residual_weight(fold, event, time, offset, -5 * time)
    assert w == 1.0  # a residual that carries the truth is taken in full


@pytest.mark.parametrize("splines", [None, 4])
def test_linear_only_predictions_are_the_offset_exactly(breast, splines):
    X, y, genes = breast
    est = _est(genes, residual_weights=[0]).set_params(offset__splines=splines).fit(X, y)
    assert est.members_ == [] and est.residual_weight_ == 0.0
    # the design, rebuilt by hand: standardised block outputs (passthrough), clinical and
    # (with splines) the clinical columns' basis
    cols = genes[:10] + genes[10:] + ["age", "size"]
    Z = X[cols].to_numpy()
    Z = (Z - Z.mean(0)) / Z.std(0)
    names = list(est.offset_.feature_names_)
    assert names[len(cols) - 2:len(cols)] == ["clinical__age", "clinical__size"]
    if splines is not None:
        basis = fit_spline_basis(Z[:, -2:], ["clinical__age", "clinical__size"], splines)
        assert names[len(cols):] == basis.names and basis.n_outputs == 10  # 5 per curve
        Z = np.hstack([Z, basis.transform(Z[:, -2:])])
    assert len(names) == Z.shape[1]
    assert_allclose(est.predict(X), Z @ est.offset_.coef_, rtol=1e-5, atol=1e-5)


def test_weight_zero_among_candidates_equals_linear_model(breast):
    """Whatever the members learnt, w = 0 means the linear model's predictions exactly."""
    X, y, genes = breast
    full = _est(genes, residual_weights=[0.0, 1.0]).fit(X, y)
    linear = _est(genes, residual_weights=[0]).fit(X, y)
    assert len(full.members_) == 5
    full.residual_weight_ = 0.0
    assert_array_equal(full.predict(X), linear.predict(X))


def test_blend_is_a_convex_mix_of_the_offset_and_whole_networks(breast):
    """Members trained without the offset, and the log-risk (1 - w) offset + w mean f;
    w = 1 gives the members' mean alone."""
    X, y, genes = breast
    linear = _est(genes, residual_weights=[0]).fit(X, y)
    half = _est(genes, residual_weights=[0.5], n_members=2).fit(X, y)
    assert half.residual_weight_ == 0.5 and half.offset_weight_ == 0.5
    parts = half.explain(X)
    offset = linear.predict(X)
    assert_allclose(parts["linear"], 0.5 * (offset - offset.mean()), rtol=1e-6, atol=1e-8)  # centred
    assert_allclose(parts["log_risk"], half.predict(X), rtol=1e-6, atol=1e-8)
    assert_allclose(parts["log_risk"], parts["baseline"] + parts["linear"] + parts["network"], atol=1e-10)
    whole = _est(genes, residual_weights=[1], n_members=2).fit(X, y)
    assert whole.offset_weight_ == 0.0
    assert_allclose(whole.explain(X)["linear"], 0.0)
    assert np.std(whole.predict(X)) > 0
    # w = 0 keeps the offset at full weight
    assert linear.offset_weight_ == 1.0


def test_weights_above_one_are_refused(breast):
    X, y, genes = breast
    est = _est(genes, residual_weights=[0, 2])
    with pytest.raises(ValueError, match="residual_weights must be a non-empty list of values in \\[0, 1\\]"):
        est.fit(X, y)
    assert not hasattr(est, "members_")


def test_protocol_attributes(breast):
    X, y, genes = breast
    est = _est(genes, n_members=3).fit(X, y)
    assert len(est.members_) == 3 and est.module_ is est.members_[0]
    assert est.oof_risk_.shape == (len(X),) and np.isfinite(est.oof_risk_).all()
    assert set(est.inner_fold_) == set(range(5))
    assert est.residual_weight_ in (0.0, 0.25, 0.5, 1.0)
    assert len(est.member_best_epochs_) == 3
    assert est.residual_cv_["fold_c"].shape == (3, 4)
    assert isinstance(est.offset_, CoxnetOffset) and est.offset_.oof_.shape == (len(X),)
    assert len(est.histories_) == 3


def test_members_cannot_exceed_folds(breast):
    X, y, genes = breast
    with pytest.raises(ValueError, match="n_members=6 cannot exceed cv=5"):
        _est(genes, n_members=6).fit(X, y)
    assert not hasattr(_est(genes), "members_")


@pytest.mark.parametrize("weights", [[], [-1.0], [np.nan]])
def test_bad_residual_weights(breast, weights):
    X, y, genes = breast
    with pytest.raises(ValueError, match="residual_weights must be a non-empty list"):
        _est(genes, residual_weights=weights).fit(X, y)
    assert not hasattr(_est(genes), "members_")


def test_plain_network_reproduces_single_member_fit(breast):
    """offset=None, n_members=1 is the paper's network with its own validation split."""
    X, y, genes = breast
    est = _est(genes, offset=None, n_members=1, max_iter=4).fit(X, y)
    assert est.offset_ is None and est.oof_risk_ is None and len(est.members_) == 1
    assert len(est.validation_scores_) == est.n_iter_


def test_pickle_grid_search_cross_validate_warm_start(breast):
    X, y, genes = breast
    est = _est(genes, n_members=2).fit(X, y)
    clone = pickle.loads(pickle.dumps(est))
    assert_array_equal(clone.predict(X), est.predict(X))
    assert len(clone.members_) == 2
    res = cross_validate(_est(genes, n_members=2), X, y, cv=KFold(2, shuffle=True, random_state=0))
    assert np.all((res["test_score"] > 0.4) & (res["test_score"] < 0.9))
    grid = GridSearchCV(_est(genes, n_members=2), {"residual_weights": [[0], [0, 1]]},
                        cv=KFold(2, shuffle=True, random_state=0)).fit(X, y)
    assert grid.best_params_["residual_weights"] in ([0], [0, 1])
    warm = _est(genes, n_members=2, warm_start=True).fit(X, y)
    n = warm.n_iter_
    warm.fit(X, y)
    assert warm.n_iter_ == n + 3
    with pytest.raises(ValueError, match="has 2 member"):
        warm.set_params(n_members=3).fit(X, y)
    assert len(warm.members_) == 2  # a failed warm fit keeps the fitted model


def test_warm_start_of_a_linear_only_fit_refits(breast):
    """No member to continue: a second warm fit refits instead of failing on n_members."""
    X, y, genes = breast
    est = _est(genes, residual_weights=[0], warm_start=True).fit(X, y)
    first = est.predict(X)
    est.fit(X, y)
    assert est.members_ == [] and np.array_equal(est.predict(X), first)


@pytest.mark.parametrize("k", [1, 4])
def test_member_k_never_sees_fold_k(breast, k):
    """Member k trains on the folds other than k and k + 1 and stops on fold k + 1, so the
    labels of fold k (where w is chosen) leave its out-of-fold prediction there unchanged;
    the members that trained on fold k do change. (Were member k stopped on fold k, both
    would change: it would stop at another epoch.) Without dropout, so that no random stream
    is shared between the members trained at once."""
    X, y, genes = breast
    params = dict(offset=None, n_members=5, dropout=0.0, learning_rate_init=0.01, max_iter=10, n_iter_no_change=3)
    first = _est(genes, **params).fit(X, y)
    fold = first.inner_fold_
    # shuffle the times of fold k's events: the event vector, hence the folds, stay as they were
    idx = np.flatnonzero((fold == k) & y["e.tdm"])
    y2 = y.copy()
    y2["t.tdm"][idx] = y["t.tdm"][np.random.default_rng(1).permutation(idx)]
    second = _est(genes, **params).fit(X, y2)
    assert_array_equal(second.inner_fold_, fold)
    # up to a constant: the Cox loss does not see the head's bias, whose gradient is float
    # rounding (it depends on the other members' batches through the stack's padding)
    a, b = first.oof_risk_[fold == k], second.oof_risk_[fold == k]
    assert_allclose(b - b.mean(), a - a.mean(), rtol=0, atol=1e-5)
    assert not np.allclose(second.oof_risk_[fold != k], first.oof_risk_[fold != k])


def test_early_stopping_of_the_members_needs_three_folds(breast):
    X, y, genes = breast
    with pytest.raises(ValueError, match="early stopping needs cv >= 3"):
        _est(genes, cv=2, n_members=2).fit(X, y)
    est = _est(genes, cv=2, n_members=2, early_stopping=False, max_iter=2).fit(X, y)
    assert len(est.members_) == 2


def _signature_cohort(kind, seed, n=300, p=60):
    """Correlated genes (a shared factor); ``many`` small effects, or three strong ones."""
    rng = np.random.default_rng(seed)
    Z = 0.6 * rng.standard_normal((n, 1)) + 0.8 * rng.standard_normal((n, p))
    Z = (Z - Z.mean(0)) / Z.std(0)
    beta = np.full(p, 0.12) if kind == "many" else np.r_[1.0, -1.0, 1.0, np.zeros(p - 3)]
    t = rng.exponential(np.exp(-(Z @ beta)))
    c = rng.exponential(np.median(t) * 2, n)
    return Z, t <= c, np.minimum(t, c)


@pytest.mark.parametrize("kind, expected", [("many", 0.1), ("few", 0.9)])
def test_the_mixing_is_chosen_by_the_inner_folds(kind, expected):
    """Many small correlated effects choose the ridge end of the grid, three strong effects
    the sparse end; the choice is reported."""
    Z, event, time = _signature_cohort(kind, seed=0)
    outputs = BlockOutputs([Z], np.ones((len(Z), 1), bool), None, ["g"], [[f"g{j}" for j in range(Z.shape[1])]])
    offset = CoxnetOffset(l1_ratio=[0.5, 0.9, 0.1], splines=None).fit(outputs, event, time,
                                                                      fold=inner_folds(event, 5, 0))
    assert offset.l1_ratio_ == expected
    assert offset.cv_results_["l1_ratios"] == [0.1, 0.5, 0.9]
    assert expected in {l1 for l1, _, _ in offset.cv_results_["averaged"]}


@pytest.mark.parametrize("bad", [0.0, [0.5, 1.5], []])
def test_bad_mixing_is_named(bad):
    Z, event, time = _signature_cohort("few", seed=1, n=60, p=5)
    outputs = BlockOutputs([Z], np.ones((len(Z), 1), bool), None, ["g"], [[f"g{j}" for j in range(5)]])
    with pytest.raises(ValueError, match="l1_ratio"):
        CoxnetOffset(l1_ratio=bad).fit(outputs, event, time, fold=inner_folds(event, 3, 0))
