"""The fitting protocol: inner folds, the cross-fitted linear offset, the residual weight,
and how the estimator puts them together (offset + w * mean of the members)."""

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
from sksurv_camlif.losses import cox_ph_loss
from sksurv_camlif.protocol import (
    choose_residual_weight,
    cox_log_partial_likelihood,
    fit_clinical_ridge_offset,
    fit_coxnet_offset,
    inner_folds,
)
from sksurv_camlif.splines import fit_spline_basis

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
    """A patient's offset comes from a model that never saw that patient's fold: shuffling
    the labels of fold k leaves the offsets of fold k unchanged (fixed alpha, so the
    penalty choice does not depend on the labels either)."""
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    kw = dict(alphas=[0.05], clinical_penalties=(1.0,))
    _, oof = fit_coxnet_offset(Z, is_clin, event, time, fold, names, **kw)
    k = 2
    idx = np.flatnonzero(fold == k)
    perm = np.random.default_rng(1).permutation(idx)
    event2, time2 = event.copy(), time.copy()
    event2[idx], time2[idx] = event[perm], time[perm]
    _, oof2 = fit_coxnet_offset(Z, is_clin, event2, time2, fold, names, **kw)
    assert_allclose(oof2[idx], oof[idx], rtol=0, atol=1e-12)
    assert not np.allclose(oof2[fold != k], oof[fold != k])  # the other folds did see them


def test_log_partial_likelihood_matches_the_training_loss(design):
    import torch

    Z, _, event, time, _ = design
    time = np.round(time, 1)  # ties share one risk set
    eta = Z[:, :3] * [0.5, -1.0, 2.0]
    ll = cox_log_partial_likelihood(eta, event, time)
    for j in range(3):
        loss = cox_ph_loss(torch.as_tensor(eta[:, j]), torch.as_tensor(time), torch.as_tensor(event))
        assert_allclose(-ll[j] / event.sum(), float(loss), rtol=1e-10)
    assert_allclose(cox_log_partial_likelihood(eta[:, 1], event, time), ll[1])


def test_deviance_criterion_picks_the_best_cross_validated_likelihood(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    offset, oof = fit_coxnet_offset(Z, is_clin, event, time, fold, names, criterion="deviance")
    res = offset.cv_results_
    i = res["clinical_penalties"].index(offset.clinical_penalty_)
    j = list(res["alphas"][i]).index(offset.alpha_)
    assert res["mean_score"][i][j] == max(np.nanmax(c) for c in res["mean_score"])
    # recomputed by hand for that (r, alpha): l(beta_-k) - l_-k(beta_-k), averaged
    penalty = np.where(is_clin, offset.clinical_penalty_, 1.0)
    by_hand = []
    for k in range(5):
        tr = fold != k
        coef = CoxnetSurvivalAnalysis(l1_ratio=0.5, alphas=res["alphas"][i], penalty_factor=penalty).fit(
            Z[tr], Surv.from_arrays(event[tr], time[tr])).coef_[:, j]
        by_hand.append(cox_log_partial_likelihood(Z @ coef, event, time)
                       - cox_log_partial_likelihood(Z[tr] @ coef, event[tr], time[tr]))
    assert_allclose(np.mean(by_hand), res["mean_score"][i][j], rtol=1e-6)
    # the truth has signal in 4 of 6 columns: the likelihood keeps them
    assert (offset.coef_[[0, 1, 4]] != 0).all()


def test_coxnet_offset_refit_matches_sksurv(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    offset, oof = fit_coxnet_offset(Z, is_clin, event, time, fold, names)
    r = offset.clinical_penalty_
    assert r in (1.0, 0.1)
    ref = CoxnetSurvivalAnalysis(l1_ratio=0.5, alpha_min_ratio=0.01, n_alphas=30,
                                 penalty_factor=np.where(is_clin, r, 1.0))
    ref.fit(Z, Surv.from_arrays(event, time))
    assert_allclose(offset.predict(Z), ref.predict(Z, alpha=offset.alpha_) + ref._get_coef(offset.alpha_)[1],
                    atol=1e-8)
    # the chosen alpha is the best of the inner-CV table
    res = offset.cv_results_
    i = res["clinical_penalties"].index(r)
    j = list(res["alphas"][i]).index(offset.alpha_)
    assert res["mean_score"][i][j] == max(np.nanmax(c) for c in res["mean_score"])
    # a truth with signal: the out-of-fold predictor is informative, coefficients are named
    from sksurv.metrics import concordance_index_censored
    assert concordance_index_censored(event, time, oof)[0] > 0.6
    assert list(offset.feature_names_) == list(names)


def test_repeated_folds_average_the_scores_and_keep_the_first_folds_offsets(design):
    Z, is_clin, event, time, names = design
    folds = [inner_folds(event, 5, seed=s) for s in (0, 1, 2)]
    kw = dict(clinical_penalties=(1.0,))
    single = [fit_coxnet_offset(Z, is_clin, event, time, f, names, **kw)[0] for f in folds]
    offset, oof = fit_coxnet_offset(Z, is_clin, event, time, folds[0], names, extra_folds=folds[1:], **kw)
    # the score of each alpha is the mean over the 3 x 5 folds (= mean of the 3 means)
    assert_allclose(offset.cv_results_["mean_score"][0],
                    np.mean([o.cv_results_["mean_score"][0] for o in single], axis=0))
    # the offsets come from the first assignment's fold models, at the chosen alpha
    at_alpha = fit_coxnet_offset(Z, is_clin, event, time, folds[0], names,
                                 alphas=offset.cv_results_["alphas"][0], **kw)
    j = list(offset.cv_results_["alphas"][0]).index(offset.alpha_)
    assert at_alpha[0].cv_results_["alphas"][0][j] == offset.alpha_
    # recompute the first fold's out-of-fold predictor at that alpha
    tr = folds[0] != 0
    coef = CoxnetSurvivalAnalysis(l1_ratio=0.5, alphas=offset.cv_results_["alphas"][0]).fit(
        Z[tr], Surv.from_arrays(event[tr], time[tr])).coef_[:, j]
    assert_allclose(oof[~tr], Z[~tr] @ coef, atol=1e-8)


def test_clinical_only_candidate_kept_only_when_not_measurably_worse(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    # the truth puts large weight on non-clinical columns: the Coxnet is far better
    offset, _ = fit_coxnet_offset(Z, is_clin, event, time, fold, names, clinical_only_alpha=1.0)
    assert offset.kind == "coxnet"
    assert offset.cv_results_["clinical_only_score"] < max(np.nanmax(c) for c in offset.cv_results_["mean_score"])
    # a truth on the clinical columns only: the simpler clinical model is kept
    rng = np.random.default_rng(2)
    t = rng.exponential(np.exp(-(Z[:, 4] * 0.9 - Z[:, 5] * 0.6)))
    c = rng.exponential(1.5, len(t))
    ev, tm = t <= c, np.minimum(t, c)
    offset, oof = fit_coxnet_offset(Z, is_clin, ev, tm, inner_folds(ev, 5, 0), names, clinical_only_alpha=1.0)
    assert offset.kind == "clinical-ridge" and offset.clinical_penalty_ is None
    assert_array_equal(offset.coef_[~is_clin], 0)
    ridge, ridge_oof = fit_clinical_ridge_offset(Z, is_clin, ev, tm, inner_folds(ev, 5, 0), names, alpha=1.0)
    assert_allclose(offset.coef_, ridge.coef_)
    assert_allclose(oof, ridge_oof)


def test_average_rule_is_the_mean_of_the_kept_path_models(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    offset, oof = fit_coxnet_offset(Z, is_clin, event, time, fold, names, alpha_rule="average")
    kept = offset.cv_results_["averaged"]
    assert len(kept) >= 1
    res = offset.cv_results_
    # refit each kept (r, alpha) on all patients and on each fold's training part
    y = Surv.from_arrays(event, time)
    coefs, oofs = [], []
    for r, alpha in kept:
        i = res["clinical_penalties"].index(r)
        grid, j = res["alphas"][i], list(res["alphas"][i]).index(alpha)
        # the best single (r, alpha) is among them
        penalty = np.where(is_clin, r, 1.0)
        coefs.append(CoxnetSurvivalAnalysis(l1_ratio=0.5, alphas=grid, penalty_factor=penalty).fit(Z, y).coef_[:, j])
        o = np.zeros(len(Z))
        for k in range(5):
            tr = fold != k
            c = CoxnetSurvivalAnalysis(l1_ratio=0.5, alphas=grid, penalty_factor=penalty).fit(Z[tr], y[tr]).coef_
            o[~tr] = Z[~tr] @ c[:, j]
        oofs.append(o)
    assert (offset.alpha_, offset.clinical_penalty_) in [(a, r) for r, a in kept]
    assert_allclose(offset.coef_, np.mean(coefs, axis=0), atol=1e-6)
    assert_allclose(oof, np.mean(oofs, axis=0), atol=1e-6)
    assert offset.clinical_only_weight_ == 0.0


def test_average_rule_mixes_a_kept_clinical_only_model_at_half_weight(design):
    Z, is_clin, _, _, names = design
    rng = np.random.default_rng(2)
    t = rng.exponential(np.exp(-(Z[:, 4] * 0.9 - Z[:, 5] * 0.6)))
    c = rng.exponential(1.5, len(t))
    ev, tm = t <= c, np.minimum(t, c)
    fold = inner_folds(ev, 5, 0)
    mixed, oof = fit_coxnet_offset(Z, is_clin, ev, tm, fold, names, alpha_rule="average", clinical_only_alpha=1.0)
    coxnet, coxnet_oof = fit_coxnet_offset(Z, is_clin, ev, tm, fold, names, alpha_rule="average")
    ridge, ridge_oof = fit_clinical_ridge_offset(Z, is_clin, ev, tm, fold, names, alpha=1.0)
    assert mixed.kind == "coxnet" and mixed.clinical_only_weight_ == 0.5
    assert ridge.clinical_only_weight_ == 1.0
    assert_allclose(mixed.coef_, 0.5 * (coxnet.coef_ + ridge.coef_))
    assert_allclose(oof, 0.5 * (coxnet_oof + ridge_oof))


def test_clinical_ridge_offset_uses_only_clinical_columns(design):
    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    offset, oof = fit_clinical_ridge_offset(Z, is_clin, event, time, fold, names)
    assert_array_equal(offset.coef_[~is_clin], 0)
    assert (offset.coef_[is_clin] != 0).all()
    with pytest.raises(ValueError, match="needs a clinical block"):
        fit_clinical_ridge_offset(Z, np.zeros(6, bool), event, time, fold, names)


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
    est = _est(genes, residual_weights=[0], offset_splines=splines).fit(X, y)
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
    """combination="blend": members trained without the offset, and the log-risk
    (1 - w) offset + w mean f; w = 1 gives the members' mean alone."""
    X, y, genes = breast
    linear = _est(genes, residual_weights=[0]).fit(X, y)
    half = _est(genes, combination="blend", residual_weights=[0.5], n_members=2).fit(X, y)
    assert half.residual_weight_ == 0.5 and half.offset_weight_ == 0.5
    parts = half.explain(X)
    assert_allclose(parts["linear"], 0.5 * linear.predict(X), rtol=1e-6, atol=1e-8)
    assert_allclose(parts["log_risk"], half.predict(X), rtol=1e-6, atol=1e-8)
    assert_allclose(parts["log_risk"], parts["linear"] + parts["network"], atol=1e-10)
    # the members see no offset: their head is not zeroed, so they predict from the start
    whole = _est(genes, combination="blend", residual_weights=[1], n_members=2).fit(X, y)
    assert whole.offset_weight_ == 0.0
    assert_allclose(whole.explain(X)["linear"], 0.0)
    assert np.std(whole.predict(X)) > 0
    # w = 0 keeps the offset at full weight
    assert linear.offset_weight_ == 1.0


def test_blend_rejects_weights_above_one(breast):
    X, y, genes = breast
    est = _est(genes, combination="blend", residual_weights=[0, 2])
    with pytest.raises(ValueError, match="residual_weights must lie in \\[0, 1\\]"):
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
    # the residual head starts at 0: a member that kept its initial weights adds nothing
    assert est.offset_.kind == "coxnet"


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


@pytest.mark.parametrize("criterion", ["pooled-c", "pooled-deviance"])
def test_pooled_criteria_score_the_pooled_out_of_fold_predictor(design, criterion):
    from sksurv.metrics import concordance_index_censored

    Z, is_clin, event, time, names = design
    fold = inner_folds(event, 5, seed=0)
    kw = dict(clinical_penalties=(1.0,), criterion=criterion)
    offset, oof = fit_coxnet_offset(Z, is_clin, event, time, fold, names, **kw)
    res = offset.cv_results_
    j = list(res["alphas"][0]).index(offset.alpha_)
    assert res["mean_score"][0][j] == np.nanmax(res["mean_score"][0])
    # the score of the chosen alpha, recomputed from the returned out-of-fold predictor
    expected = (concordance_index_censored(event, time, oof)[0] if criterion == "pooled-c"
                else cox_log_partial_likelihood(oof, event, time))
    assert_allclose(res["mean_score"][0][j], expected, rtol=1e-10)


def test_pooled_member_stopping_keeps_the_best_round_of_the_pooled_oof_c(breast):
    """member_stopping="pooled": the members stop together, and the kept weights are those
    whose pooled out-of-fold C (every training patient, all folds) was the best round's."""
    from sksurv.metrics import concordance_index_censored

    X, y, genes = breast
    est = _est(genes, offset=None, n_members=5, member_stopping="pooled", max_iter=6, n_iter_no_change=2)
    est.fit(X, y)
    assert len(set(est.member_best_epochs_)) == 1 and len(set(est.member_n_iter_)) == 1
    assert est.member_n_iter_[0] <= 6
    # without an offset the out-of-fold log-risk is the members' own prediction (w = 1)
    c = concordance_index_censored(y["e.tdm"], y["t.tdm"], est.oof_risk_)[0]
    assert c == pytest.approx(est.best_validation_score_, abs=1e-12)
    assert est.best_validation_score_ == max([est.best_validation_score_, *est.validation_scores_])


@pytest.mark.parametrize("k", [1, 4])
def test_next_member_stopping_keeps_fold_k_out_of_member_k(breast, k):
    """member_stopping="next": member k trains on the folds other than k and k + 1 and stops
    on fold k + 1, so the labels of fold k (where w is chosen) leave its out-of-fold
    prediction there unchanged; the members that trained on fold k do change. (With "own"
    both folds change here: member k stops at another epoch.) One by one and without
    dropout, so that no random stream is shared between members."""
    X, y, genes = breast
    params = dict(offset=None, n_members=5, member_stopping="next", stack_members=False, dropout=0.0,
                  learning_rate_init=0.01, max_iter=10, n_iter_no_change=3)
    first = _est(genes, **params).fit(X, y)
    fold = first.inner_fold_
    # shuffle the times of fold k's events: the event vector, hence the folds, stay as they were
    idx = np.flatnonzero((fold == k) & y["e.tdm"])
    y2 = y.copy()
    y2["t.tdm"][idx] = y["t.tdm"][np.random.default_rng(1).permutation(idx)]
    second = _est(genes, **params).fit(X, y2)
    assert_array_equal(second.inner_fold_, fold)
    assert_allclose(second.oof_risk_[fold == k], first.oof_risk_[fold == k], rtol=0, atol=1e-6)
    assert not np.allclose(second.oof_risk_[fold != k], first.oof_risk_[fold != k])


def test_next_member_stopping_needs_three_folds(breast):
    X, y, genes = breast
    with pytest.raises(ValueError, match="member_stopping='next' needs cv >= 3"):
        _est(genes, member_stopping="next", cv=2, n_members=2).fit(X, y)
