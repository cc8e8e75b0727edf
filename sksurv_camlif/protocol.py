"""The fitting protocol around the network: inner folds, a cross-fitted linear Cox offset,
and the network's weight chosen on out-of-fold predictions.

Knows no estimator: plain arrays in, plain arrays and small fitted objects out. The
estimator calls, in order,

1. :func:`inner_folds` -- one stratified K-fold assignment of the training patients, shared
   by the offset's penalty choice, its cross-fitting and the network members;
2. :func:`fit_coxnet_offset` or :func:`fit_clinical_ridge_offset` -- the linear model refitted
   on all training patients (used at predict time) and its out-of-fold linear predictor
   (no patient's offset was fitted on that patient; residual members train on it);
3. :func:`choose_residual_weight` -- w in ``log-risk = offset + w * f`` from every training
   patient's out-of-fold prediction, with a one-standard-error rule toward w = 0 (a blend
   ``(1 - w) offset + w g`` is the same choice with ``f = g - offset``).
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

__all__ = [
    "LinearOffset",
    "inner_folds",
    "fit_coxnet_offset",
    "fit_clinical_ridge_offset",
    "cox_log_partial_likelihood",
    "choose_residual_weight",
]

#: Relative penalties of the clinical columns tried by the Coxnet offset (1: no preference).
#: (1, 0.1) until the sixth session; with the clinical-only candidate 1 alone is level or
#: ahead on every benchmark set's inner folds (docs/defaults.md).
CLINICAL_PENALTIES = (1.0,)
RESIDUAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


@dataclass
class LinearOffset:
    """A fitted linear Cox model on the standardised block outputs.

    Attributes
    ----------
    kind : str
        "coxnet" or "clinical-ridge".
    coef_ : ndarray, shape (n_features,)
        Coefficients on the (standardised) outputs of the blocks, in the order of
        ``feature_names_``; zero for columns the model does not use.
    feature_names_ : ndarray of str
    alpha_ : float
        Penalty chosen (Coxnet: by inner CV; ridge: the given one).
    clinical_penalty_ : float or None
        Relative penalty of the clinical columns chosen by inner CV (Coxnet only; with
        ``alpha_rule="average"``, that of the best (r, alpha), as ``alpha_``).
    clinical_only_weight_ : float
        Share of the clinical-only ridge Cox model in ``coef_``: 0 (a Coxnet), 0.5 (the
        mean of both, ``alpha_rule="average"``) or 1 (``kind="clinical-ridge"``).
    cv_results_ : dict
        Coxnet only: lists, one entry per clinical penalty tried: ``clinical_penalties``,
        its ``alphas`` and the mean inner score of each (``mean_score``: Harrell's C or
        the cross-validated partial likelihood, as the criterion says); with
        ``alpha_rule="average"`` also ``averaged``, the (r, alpha) pairs whose
        coefficients were averaged.
    """

    kind: str
    coef_: np.ndarray
    feature_names_: np.ndarray
    alpha_: float
    clinical_penalty_: float = None
    cv_results_: dict = field(default_factory=dict)
    clinical_only_weight_: float = 0.0

    def predict(self, Z):
        """Linear predictor ``Z @ coef_``, shape (n,)."""
        return np.asarray(Z, dtype=np.float64) @ self.coef_


def inner_folds(event, n_folds, seed):
    """Fold index (0..n_folds-1) of every patient, stratified by event when possible."""
    event = np.asarray(event, bool)
    n = len(event)
    if n < 2 * n_folds:
        raise ValueError(f"cv={n_folds} inner folds need at least {2 * n_folds} samples, got {n}")
    stratify = min(event.sum(), (~event).sum()) >= n_folds
    splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    fold = np.empty(n, dtype=np.intp)
    labels = event if stratify else np.zeros(n, bool)
    for k, (_, test) in enumerate(splitter.split(np.zeros(n), labels)):
        fold[test] = k
    for k in range(n_folds):
        if not event[fold != k].any():
            raise ValueError(f"inner fold {k}: its training part has no event; use a smaller cv")
    return fold


def _surv(event, time):
    y = np.empty(len(event), dtype=[("event", bool), ("time", np.float64)])
    y["event"], y["time"] = event, time
    return y


def _cindex(event, time, risk):
    if not event.any():
        return np.nan
    return concordance_index_censored(event, time, risk)[0]


def cox_log_partial_likelihood(eta, event, time):
    """Breslow log partial likelihood of each column of linear predictors.

    ``l(eta) = sum_{i: event} [eta_i - log sum_{j: t_j >= t_i} exp(eta_j)]``, with a
    reverse cumulative log-sum-exp over the patients sorted by time (ties share one risk
    set). Cost O(n log n + n m).

    Parameters
    ----------
    eta : ndarray, shape (n,) or (n, m)
    event, time : ndarray, shape (n,)

    Returns
    -------
    float or ndarray, shape (m,)
    """
    eta = np.asarray(eta, dtype=np.float64)
    order = np.argsort(-np.asarray(time), kind="stable")
    t, e = np.asarray(time)[order], eta[order]
    log_risk_set = np.logaddexp.accumulate(e, axis=0)
    # the risk set of a patient ends at the last patient with the same time
    last = np.searchsorted(-t, -t, side="right") - 1
    events = np.asarray(event, bool)[order]
    return (e[events] - log_risk_set[last[events]]).sum(axis=0)


#: Inner scores of the Coxnet offset's (alpha, clinical penalty); larger is better.
CRITERIA = ("c-index", "deviance", "pooled-c", "pooled-deviance")


def _fold_scores(criterion, Z, coef, event, time, train, test):
    """Score of each alpha of one fold's path, for the per-fold criteria.

    "c-index": Harrell's C of the held-out patients. "deviance": the cross-validated
    partial likelihood of Verweij and van Houwelingen (1993), ``l(beta_-k) - l_-k(beta_-k)``
    (all patients minus the training part), ``cv.glmnet``'s default.
    """
    if criterion == "c-index":
        eta = Z[test] @ coef
        return np.array([_cindex(event[test], time[test], eta[:, j]) for j in range(coef.shape[1])])
    return cox_log_partial_likelihood(Z @ coef, event, time) - cox_log_partial_likelihood(
        Z[train] @ coef, event[train], time[train]
    )


def _pooled_scores(criterion, oof, event, time):
    """Score of each alpha from the pooled out-of-fold linear predictors ``oof`` (n, m).

    "pooled-c": one Harrell's C over all patients' out-of-fold predictions (every pair of
    patients, not only pairs within a fold). "pooled-deviance": the partial likelihood of
    those predictions on all patients, the "cross-validated linear predictor" criterion
    that Dai and Breheny (2019) recommend for penalised Cox models.
    """
    if criterion == "pooled-c":
        return np.array([_cindex(event, time, oof[:, j]) for j in range(oof.shape[1])])
    return cox_log_partial_likelihood(oof, event, time)


def _coxnet_path(Z, y, alphas, penalty, l1_ratio, alpha_min_ratio, n_alphas):
    with warnings.catch_warnings():
        # the first alphas of a path zero every coefficient by construction
        warnings.simplefilter("ignore", UserWarning)
        return CoxnetSurvivalAnalysis(
            alphas=alphas,
            n_alphas=n_alphas,
            alpha_min_ratio=alpha_min_ratio,
            l1_ratio=l1_ratio,
            penalty_factor=penalty,
        ).fit(Z, y)


def _cv_scores(criterion, Z, y, fold, fit_coef, n_cols):
    """Inner scores (one row per fold, or one row if pooled) and out-of-fold linear
    predictors (n, n_cols) of the models ``fit_coef(train_mask) -> coef (p, n_cols)``
    fitted on each fold's training part (None: that fold failed, it scores NaN)."""
    event, time = y["event"], y["time"]
    n_folds = int(fold.max()) + 1
    scores = np.full((n_folds, n_cols), np.nan)
    oof = np.zeros((len(Z), n_cols))
    for k in range(n_folds):
        tr, te = fold != k, fold == k
        coef = fit_coef(tr)
        if coef is None:
            continue
        oof[te] = Z[te] @ coef
        if not criterion.startswith("pooled"):
            scores[k] = _fold_scores(criterion, Z, coef, event, time, tr, te)
    if criterion.startswith("pooled"):
        scores = _pooled_scores(criterion, oof, event, time)[None, :]
    return scores, oof


def _path_scores(criterion, Z, y, fold, grid, penalty, l1_ratio, alpha_min_ratio, n_alphas):
    """:func:`_cv_scores` of a Coxnet path on the alphas ``grid``."""

    def fit_coef(tr):
        try:
            coef = _coxnet_path(Z[tr], y[tr], grid, penalty, l1_ratio, alpha_min_ratio, n_alphas).coef_
        except (ValueError, ArithmeticError):
            return None
        if coef.shape[1] < len(grid):  # the path stopped early (saturated fit)
            coef = np.pad(coef, ((0, 0), (0, len(grid) - coef.shape[1])), mode="edge")
        return coef

    return _cv_scores(criterion, Z, y, fold, fit_coef, len(grid))


def _ridge_scores(criterion, Z, is_clinical, y, fold, alpha, ties):
    """:func:`_cv_scores` of the clinical-only ridge Cox model (one column)."""

    def fit_coef(tr):
        coef = np.zeros((Z.shape[1], 1))
        coef[is_clinical, 0] = _ridge_coef(Z[tr][:, is_clinical], y[tr], alpha, ties)
        return coef

    return _cv_scores(criterion, Z, y, fold, fit_coef, 1)


def fit_coxnet_offset(
    Z,
    is_clinical,
    event,
    time,
    fold,
    feature_names,
    *,
    l1_ratio=0.5,
    clinical_penalties=CLINICAL_PENALTIES,
    n_alphas=30,
    alpha_min_ratio=0.01,
    alphas=None,
    alpha_rule="best",
    criterion="c-index",
    extra_folds=(),
    clinical_only_alpha=None,
    ties="breslow",
):
    """Elastic-net Cox offset: alpha and the clinical penalty chosen by inner CV, cross-fitted.

    For each relative penalty r of the clinical columns, a path of ``n_alphas`` alphas is
    fitted on all patients (its alphas are the grid) and on each fold's training part; the
    (r, alpha) with the highest mean inner score over the held-out folds is kept. The
    out-of-fold linear predictor at that (r, alpha) is the offset of the training patients;
    the all-patient path at that (r, alpha) is the model used at predict time.

    Parameters
    ----------
    Z : ndarray, shape (n, p)
        Standardised block outputs (absent modalities at 0, the training mean).
    is_clinical : ndarray of bool, shape (p,)
    event, time : ndarray, shape (n,)
    fold : ndarray of int, shape (n,), from :func:`inner_folds`
        The folds of the out-of-fold offset (and of the scores).
    feature_names : array of str, shape (p,)
    alphas : array of float, optional
        A fixed grid instead of each all-patient path's own.
    alpha_rule : {"best", "one-se", "average"}
        "best" keeps the (r, alpha) of highest mean inner score; "one-se" then moves to the
        largest alpha (of the same r) whose mean score is within one standard error (over
        folds) of that best, as ``cv.glmnet``'s ``lambda.1se``: a sparser model.
        "average" takes the mean coefficients of every (r, alpha) whose paired deficit to
        the best (over folds) is within one standard error (:func:`_near_best_average`):
        where the inner scores cannot tell the candidates apart, their mean replaces a
        choice made by noise (e.g. a spike of a nearly empty model early on the path).
    criterion : {"c-index", "deviance", "pooled-c", "pooled-deviance"}
        The inner score: per fold, the held-out Harrell's C or the cross-validated partial
        likelihood (:func:`_fold_scores`), averaged over folds; or one score of the pooled
        out-of-fold predictions of all patients (:func:`_pooled_scores`). With a pooled
        criterion there is no spread over folds, and "one-se" is "best".
    extra_folds : sequence of ndarray, optional
        Further fold assignments (repeated CV): their scores are averaged with those of
        ``fold``, so that the choice rests on more than one random partition; the
        out-of-fold offset still comes from ``fold`` alone.
    clinical_only_alpha : float, optional
        If given (and there are clinical and other columns), a ridge Cox model of the
        clinical columns alone (this penalty) is a candidate too, scored on the same folds;
        it is kept when its paired deficit to the best Coxnet is within one standard error
        (the simpler model unless the Coxnet is measurably better). With
        ``alpha_rule="average"`` it then enters at half weight: the offset is the mean of
        the two models' coefficients (and out-of-fold predictors), a hedge between two
        models the folds cannot order.

    Returns
    -------
    offset : LinearOffset
    oof : ndarray, shape (n,), the out-of-fold linear predictor

    Notes
    -----
    The choice of (r, alpha) sees every fold's held-out score (as ``cv.glmnet``'s
    pre-validated predictions do); the coefficients that predict a patient never do.
    """
    Z = np.asarray(Z, dtype=np.float64)
    y = _surv(event, time)
    assignments = [fold, *extra_folds]
    mixed = is_clinical.any() and not is_clinical.all()
    penalties = clinical_penalties if mixed else (1.0,)
    best = None
    paths = []  # (r, grid, fold scores, all-patient coefficients, out-of-fold predictors)
    cv_results = {"clinical_penalties": [], "alphas": [], "mean_score": []}
    for r in penalties:
        penalty = np.where(is_clinical, r, 1.0)
        try:
            full = _coxnet_path(Z, y, alphas, penalty, l1_ratio, alpha_min_ratio, n_alphas)
        except (ValueError, ArithmeticError) as exc:
            warnings.warn(f"Coxnet offset path with clinical penalty {r} failed: {exc}", UserWarning)
            continue
        grid = full.alphas_
        runs = [_path_scores(criterion, Z, y, f, grid, penalty, l1_ratio, alpha_min_ratio, n_alphas)
                for f in assignments]
        scores, oof = np.vstack([sc for sc, _ in runs]), runs[0][1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_c = np.nanmean(scores, axis=0)
        cv_results["clinical_penalties"].append(r)
        cv_results["alphas"].append(grid)
        cv_results["mean_score"].append(mean_c)
        if np.isnan(mean_c).all():
            continue
        paths.append((r, grid, scores, full.coef_[:, : len(grid)], oof))
        j = int(np.nanargmax(mean_c))
        if best is None or mean_c[j] > best[0]:
            if alpha_rule == "one-se":
                j = _one_se_alpha(scores, mean_c, j)
            best = (np.nanmax(mean_c), r, grid[j], full.coef_[:, j], oof[:, j], scores[:, j])
    if best is None:
        raise ValueError(
            "the Coxnet offset could not be fitted for any clinical penalty; use "
            "offset='clinical-ridge' or offset=None"
        )
    _, r, alpha, coef, oof, best_scores = best
    if alpha_rule == "average":
        coef, oof, cv_results["averaged"] = _near_best_average(paths)
    offset = LinearOffset(
        "coxnet",
        np.asarray(coef, np.float64).copy(),
        np.asarray(feature_names, dtype=object),
        float(alpha),
        float(r),
        cv_results,
    )
    if clinical_only_alpha is not None and mixed:
        runs = [_ridge_scores(criterion, Z, is_clinical, y, f, clinical_only_alpha, ties) for f in assignments]
        ridge_scores = np.vstack([sc for sc, _ in runs])[:, 0]
        cv_results["clinical_only_score"] = float(np.nanmean(ridge_scores))
        if _within_one_se(best_scores, ridge_scores):
            ridge = _clinical_ridge_model(Z, is_clinical, y, clinical_only_alpha, ties, feature_names)
            ridge_oof = runs[0][1][:, 0]  # as fit_clinical_ridge_offset's
            if alpha_rule == "average":
                offset.coef_ = 0.5 * (offset.coef_ + ridge.coef_)
                offset.clinical_only_weight_ = 0.5
                oof = 0.5 * (oof + ridge_oof)
            else:
                offset, oof = ridge, ridge_oof
                offset.cv_results_ = cv_results
    return offset, oof.copy()


def _within_one_se(best, candidate):
    """True when ``candidate``'s paired deficit to ``best`` (per fold) is within one s.e."""
    ok = ~(np.isnan(best) | np.isnan(candidate))
    d = best[ok] - candidate[ok]
    if len(d) == 0:
        return False
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    return d.mean() <= se


def _near_best_average(paths):
    """Mean coefficients and out-of-fold predictors of the near-best (r, alpha).

    Kept: every (r, alpha) whose mean paired deficit to the best one (the highest mean
    inner score over all r) is at most its standard error over folds. Paired differences
    between neighbouring alphas vary far less than the scores themselves, so the kept set
    is narrow where the inner folds can order the models (large cohorts) and wide where
    they cannot.

    Parameters
    ----------
    paths : list of (r, grid (m,), scores (F, m), coef (p, m), oof (n, m))

    Returns
    -------
    coef : ndarray (p,), oof : ndarray (n,), kept : list of (r, alpha)
    """
    scores = np.hstack([p[2] for p in paths])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best = int(np.nanargmax(np.nanmean(scores, axis=0)))
        deficit = scores[:, [best]] - scores
        n_ok = np.maximum((~np.isnan(deficit)).sum(axis=0), 1)
        se = np.nan_to_num(np.nanstd(deficit, axis=0, ddof=1)) / np.sqrt(n_ok)
        keep = np.nan_to_num(np.nanmean(deficit, axis=0), nan=np.inf) <= se
    keep[best] = True
    coef = np.hstack([p[3] for p in paths])[:, keep]
    oof = np.hstack([p[4] for p in paths])[:, keep]
    labels = [(float(r), float(a)) for r, grid, *_ in paths for a in grid]
    return coef.mean(axis=1), oof.mean(axis=1), [lab for lab, k in zip(labels, keep) if k]


def _one_se_alpha(scores, mean_c, j_best):
    """Index of the largest alpha (the path is decreasing) within one s.e. of the best."""
    ok = ~np.isnan(scores[:, j_best])
    se = np.nanstd(scores[ok, j_best], ddof=1) / np.sqrt(ok.sum()) if ok.sum() > 1 else 0.0
    within = np.flatnonzero(mean_c >= mean_c[j_best] - se)
    return int(within.min())


def _ridge_coef(Zc, y, alpha, ties):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coef = CoxPHSurvivalAnalysis(alpha=alpha, ties=ties).fit(Zc, y).coef_
    return coef if np.isfinite(coef).all() else np.zeros(Zc.shape[1])


def fit_clinical_ridge_offset(Z, is_clinical, event, time, fold, feature_names, *, alpha=1.0, ties="breslow"):
    """Ridge Cox offset on the clinical columns only, cross-fitted on the folds.

    Same inputs and outputs as :func:`fit_coxnet_offset`; the coefficients of the
    modality columns are 0.
    """
    if not is_clinical.any():
        raise ValueError("offset='clinical-ridge' needs a clinical block")
    Z = np.asarray(Z, dtype=np.float64)
    y = _surv(event, time)
    _, oof = _ridge_scores("c-index", Z, is_clinical, y, fold, alpha, ties)
    return _clinical_ridge_model(Z, is_clinical, y, alpha, ties, feature_names), oof[:, 0]


def _clinical_ridge_model(Z, is_clinical, y, alpha, ties, feature_names):
    """The clinical-only ridge Cox model refitted on all patients, as a LinearOffset."""
    coef = np.zeros(Z.shape[1])
    coef[is_clinical] = _ridge_coef(Z[:, is_clinical], y, alpha, ties)
    return LinearOffset(
        "clinical-ridge", coef, np.asarray(feature_names, dtype=object), float(alpha), clinical_only_weight_=1.0
    )


def choose_residual_weight(fold, event, time, offset_oof, residual_oof, weights=RESIDUAL_WEIGHTS):
    """Choose w in ``offset + w * f`` on the out-of-fold predictions of all patients.

    Each fold is scored by Harrell's C of its own out-of-fold ``offset + w * f``; the
    weight with the best mean over folds is found, then the smallest weight whose paired
    deficit to it (over folds) is within one standard error is kept: where the network
    adds nothing measurable, w = 0 and the estimator is the linear model.

    Returns
    -------
    w : float
    table : dict with ``weights`` and ``fold_c`` (shape (n_folds, n_weights))
    """
    n_folds = int(fold.max()) + 1
    fold_c = np.full((n_folds, len(weights)), np.nan)
    for k in range(n_folds):
        te = fold == k
        for j, w in enumerate(weights):
            fold_c[k, j] = _cindex(event[te], time[te], offset_oof[te] + w * residual_oof[te])
    ok = ~np.isnan(fold_c).any(axis=1)
    table = {"weights": np.asarray(weights, float), "fold_c": fold_c}
    if not ok.any():
        return float(min(weights)), table
    c = fold_c[ok]
    best = int(np.argmax(c.mean(axis=0)))
    deficit = c[:, best][:, None] - c
    se = deficit.std(axis=0, ddof=1) / np.sqrt(len(c)) if len(c) > 1 else np.zeros(len(weights))
    order = np.argsort(weights)
    for j in order:
        if deficit[:, j].mean() <= se[j]:
            return float(weights[j]), table
    return float(weights[best]), table
