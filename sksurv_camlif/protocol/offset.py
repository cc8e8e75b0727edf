"""The offsets: linear Cox models of the blocks' outputs that the networks are blended with.

An offset is a parameter of :class:`~sksurv_camlif.CAMLIFSurvival` (``offset=``), a small
scikit-learn-style object: its own parameters (``get_params``/``set_params``, so that a grid
search reaches them as ``offset__<param>``), and

- ``fit(outputs, event, time, *, fold, ties)``: fit on the training patients' block outputs
  (:class:`~sksurv_camlif.modality.BlockOutputs`, with ``feature_names``), choosing what it
  chooses on the inner folds ``fold``; set ``oof_``, the out-of-fold linear predictor of
  every training patient (from a model not fitted on that patient's fold), and
  ``feature_names_``; return self;
- ``predict(outputs)``: the linear predictor of the model refitted on all training patients;
- ``contributions(outputs)``: that predictor split by block, ``{block name or "clinical":
  ndarray}``, adding up to ``predict``.

:class:`CoxnetOffset` is the default; :class:`ClinicalRidgeOffset` (a ridge Cox model of the
clinical block) is the smallest example of the interface. An absent modality enters every
offset at 0, its block's training mean.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis

from .._concordance import harrell_c
from .splines import fit_spline_basis

__all__ = ["L1_RATIOS", "CoxnetOffset", "ClinicalRidgeOffset"]

#: The elastic-net mixings the default offset chooses among: the ridge end helps cohorts of
#: many small correlated effects (gene signatures), the sparse end a few strong markers.
L1_RATIOS = (0.01, 0.1, 0.5, 0.9)


def _surv(event, time):
    y = np.empty(len(event), dtype=[("event", bool), ("time", np.float64)])
    y["event"], y["time"] = event, time
    return y


class _LinearCoxOffset(BaseEstimator):
    """What every linear offset shares: its design, prediction and split by block.

    The design is every standardised block output side by side (an absent modality at 0,
    its training mean), then the clinical block and, if the offset fitted one, the spline
    basis of its numeric columns (``splines_``).
    """

    splines_ = None

    def _design(self, outputs):
        parts = [np.nan_to_num(a, nan=0.0) for a in outputs.modalities]
        if outputs.clinical is not None:
            parts.append(outputs.clinical)
            if self.splines_ is not None:
                parts.append(self.splines_.transform(outputs.clinical))
        return np.concatenate(parts, axis=1).astype(np.float64)

    @staticmethod
    def _columns(outputs):
        """Names of the blocks' outputs and which of them are clinical."""
        names = [n for block in outputs.feature_names for n in block]
        is_clin = np.zeros(len(names), bool)
        if outputs.clinical is not None:
            is_clin[len(names) - outputs.clinical.shape[1]:] = True
        return names, is_clin

    def predict(self, outputs):
        """Linear predictor of the model refitted on all training patients, shape (n,)."""
        return self._design(outputs) @ self.coef_

    def contributions(self, outputs):
        """The linear predictor split by block: ``{name: ndarray (n,)}``, the modalities
        then ``"clinical"`` (its spline basis included); the values add up to
        :meth:`predict`."""
        Z = self._design(outputs)
        widths = [a.shape[1] for a in outputs.modalities]
        keys = list(outputs.names)
        if outputs.clinical is not None:
            widths.append(Z.shape[1] - sum(widths))
            keys.append("clinical")
        out, start = {}, 0
        for key, width in zip(keys, widths):
            out[key] = Z[:, start:start + width] @ self.coef_[start:start + width]
            start += width
        return out


class CoxnetOffset(_LinearCoxOffset):
    """Elastic-net Cox offset: its mixing and penalty chosen by inner CV, cross-fitted.

    A path of ``n_alphas`` penalties (scikit-survival's
    :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`) is fitted on all training patients
    (its alphas are the grid) and on each inner fold's training part, for each mixing in
    ``l1_ratio`` and each relative penalty of the clinical columns. The model kept is the
    mean of the coefficients of every (mixing, clinical penalty, alpha) whose paired deficit
    in held-out Harrell's C to the best one is within one standard error over the folds:
    where the folds cannot order neighbouring models, their mean replaces a choice made by
    noise. A ridge Cox model of the clinical
    block alone is a candidate beside it: when the Coxnet is not ahead of it by more than one
    standard error, the offset is the mean of the two.

    Parameters
    ----------
    l1_ratio : float or array-like of float in (0, 1], default=(0.01, 0.1, 0.5, 0.9)
        The elastic net's mixing (1: lasso; near 0: ridge-like, for many small correlated
        effects such as a gene signature; near 1: sparse, for a few strong markers). Several
        values: the inner folds choose, as ``glmnet`` users do by cross-validation (a path
        per value and fold; ``docs/decisions.md`` has the grid's evidence).
    n_alphas : int, default=30
        Penalties on each path.
    alpha_min_ratio : float, default=0.01
        Smallest penalty of the path as a fraction of the largest.
    clinical_penalties : array-like of float, default=(1,)
        Relative penalties of the clinical columns tried (1: as the other columns; 0:
        unpenalised); the inner folds choose among them.
    clinical_only : bool, default=True
        Consider the ridge Cox model of the clinical block alone as described above.
    clinical_alpha : float, default=1.0
        The ridge penalty of that model (scikit-survival's ``alpha``).
    splines : int or None, default=4
        Knots of a cubic B-spline basis added for every numeric clinical column (at least
        three distinct quantile knots; binary and one-hot columns keep their linear term
        only), so that the offset can fit an additive curve such as a U-shaped age effect;
        penalised as the blocks' columns. None: linear in every column.

    Attributes
    ----------
    coef_ : ndarray, shape (n_features,)
        Coefficients on the design's columns, named by ``feature_names_`` (the clinical
        spline basis last, as ``<column>__spline<i>``).
    feature_names_ : ndarray of str
    alpha_, l1_ratio_ : float
        The best penalty and mixing (the averaged model is centred on them).
    clinical_penalty_ : float
        The clinical penalty of the best (penalty, alpha).
    clinical_only_weight_ : float
        Share of the clinical-only ridge model in ``coef_``: 0 or 0.5.
    cv_results_ : dict
        One entry per path: its ``l1_ratios`` and ``clinical_penalties``, its ``alphas`` and
        the mean inner C of each (``mean_score``); ``averaged``, the (mixing, penalty, alpha)
        triples averaged; ``clinical_only_score``, the clinical-only model's mean inner C.
    oof_ : ndarray, shape (n_samples,)
        Out-of-fold linear predictor of the training patients.
    splines_ : SplineBasis or None
    """

    _parameter_constraints = {
        "l1_ratio": [Interval(Real, 0, 1, closed="right"), "array-like"],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "alpha_min_ratio": [Interval(Real, 0, 1, closed="neither")],
        "clinical_penalties": ["array-like"],
        "clinical_only": ["boolean"],
        "clinical_alpha": [Interval(Real, 0, None, closed="left")],
        "splines": [None, Interval(Integral, 3, None, closed="left")],
    }

    def __init__(self, l1_ratio=L1_RATIOS, n_alphas=30, alpha_min_ratio=0.01, clinical_penalties=(1.0,),
                 clinical_only=True, clinical_alpha=1.0, splines=4):
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.clinical_penalties = clinical_penalties
        self.clinical_only = clinical_only
        self.clinical_alpha = clinical_alpha
        self.splines = splines

    def _penalties(self):
        values = np.asarray(self.clinical_penalties, dtype=np.float64).ravel()
        if values.size == 0 or not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(
                f"clinical_penalties must be a non-empty list of finite values >= 0, got {self.clinical_penalties!r}"
            )
        return tuple(float(v) for v in np.unique(values))

    def _mixings(self):
        values = np.asarray(self.l1_ratio, dtype=np.float64).ravel()
        if values.size == 0 or not np.isfinite(values).all() or (values <= 0).any() or (values > 1).any():
            raise ValueError(f"l1_ratio must be a value or a non-empty list of values in (0, 1], got {self.l1_ratio!r}")
        return tuple(float(v) for v in np.unique(values))

    def fit(self, outputs, event, time, *, fold, ties="breslow"):
        """Choose and fit the offset; see the class description.

        Parameters
        ----------
        outputs : BlockOutputs of the training patients, with ``feature_names``
        event, time : ndarray, shape (n,)
        fold : ndarray of int, shape (n,), the inner folds
        ties : {"breslow", "efron"}, of the clinical-only ridge model

        Returns
        -------
        self
        """
        self._validate_params()
        penalties, mixings = self._penalties(), self._mixings()
        names, is_clin = self._columns(outputs)
        self.splines_ = None
        if outputs.clinical is not None and self.splines is not None:
            self.splines_ = fit_spline_basis(outputs.clinical, [n for n, c in zip(names, is_clin) if c], self.splines)
            names = names + self.splines_.names
            # not clinical here: the clinical-only candidate stays linear, the Coxnet chooses the curves
            is_clin = np.concatenate([is_clin, np.zeros(self.splines_.n_outputs, bool)])
        Z = self._design(outputs)
        y = _surv(event, time)
        mixed = is_clin.any() and not is_clin.all()
        paths, best = self._paths(Z, y, fold, is_clin, mixings, penalties if mixed else (1.0,))
        _, (l1, r), alpha, _, _, best_scores = best
        coef, oof, self.cv_results_["averaged"] = _near_best_average(paths)
        self.clinical_only_weight_ = 0.0
        if self.clinical_only and mixed:
            ridge_scores, ridge_oof = _ridge_scores(Z, is_clin, y, fold, self.clinical_alpha, ties)
            ridge_scores = ridge_scores[:, 0]
            self.cv_results_["clinical_only_score"] = float(np.nanmean(ridge_scores))
            if _within_one_se(best_scores, ridge_scores):
                coef = 0.5 * (coef + _clinical_ridge_coef(Z, is_clin, y, self.clinical_alpha, ties))
                oof = 0.5 * (oof + ridge_oof[:, 0])
                self.clinical_only_weight_ = 0.5
        self.coef_ = np.asarray(coef, np.float64).copy()
        self.feature_names_ = np.asarray(names, dtype=object)
        self.alpha_, self.l1_ratio_, self.clinical_penalty_ = float(alpha), float(l1), float(r)
        self.oof_ = oof.copy()
        return self

    def _paths(self, Z, y, fold, is_clin, mixings, penalties):
        """Each (mixing, clinical penalty)'s path and inner scores; the best of all."""
        best = None
        paths = []  # ((l1, r), grid, fold scores, all-patient coefficients, out-of-fold predictors)
        self.cv_results_ = {"l1_ratios": [], "clinical_penalties": [], "alphas": [], "mean_score": []}
        for l1, r in ((l1, r) for l1 in mixings for r in penalties):
            penalty = np.where(is_clin, r, 1.0)
            try:
                full = self._path(Z, y, None, penalty, l1)
            except (ValueError, ArithmeticError) as exc:
                warnings.warn(f"Coxnet offset path with l1_ratio {l1}, clinical penalty {r} failed: {exc}", UserWarning)
                continue
            grid = full.alphas_
            scores, oof = self._path_scores(Z, y, fold, grid, penalty, l1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean_c = np.nanmean(scores, axis=0)
            self.cv_results_["l1_ratios"].append(l1)
            self.cv_results_["clinical_penalties"].append(r)
            self.cv_results_["alphas"].append(grid)
            self.cv_results_["mean_score"].append(mean_c)
            if np.isnan(mean_c).all():
                continue
            paths.append(((l1, r), grid, scores, full.coef_[:, : len(grid)], oof))
            j = int(np.nanargmax(mean_c))
            if best is None or mean_c[j] > best[0]:
                best = (np.nanmax(mean_c), (l1, r), grid[j], full.coef_[:, j], oof[:, j], scores[:, j])
        if best is None:
            raise ValueError(
                "the Coxnet offset could not be fitted for any l1_ratio and clinical penalty; use "
                "offset=ClinicalRidgeOffset() or offset=None"
            )
        return paths, best

    def _path(self, Z, y, alphas, penalty, l1_ratio):
        with warnings.catch_warnings():
            # the first alphas of a path zero every coefficient by construction
            warnings.simplefilter("ignore", UserWarning)
            return CoxnetSurvivalAnalysis(
                alphas=alphas, n_alphas=self.n_alphas, alpha_min_ratio=self.alpha_min_ratio,
                l1_ratio=l1_ratio, penalty_factor=penalty,
            ).fit(Z, y)

    def _path_scores(self, Z, y, fold, grid, penalty, l1_ratio):
        """:func:`_cv_scores` of the path on the alphas ``grid``."""

        def fit_coef(tr):
            try:
                coef = self._path(Z[tr], y[tr], grid, penalty, l1_ratio).coef_
            except (ValueError, ArithmeticError):
                return None
            if coef.shape[1] < len(grid):  # the path stopped early (saturated fit)
                coef = np.pad(coef, ((0, 0), (0, len(grid) - coef.shape[1])), mode="edge")
            return coef

        return _cv_scores(Z, y, fold, fit_coef, len(grid))


class ClinicalRidgeOffset(_LinearCoxOffset):
    """Ridge Cox offset of the clinical block alone (the modalities' coefficients are 0).

    Parameters
    ----------
    alpha : float, default=1.0
        The ridge penalty (scikit-survival's :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis`).

    Attributes
    ----------
    coef_, feature_names_, oof_
        As :class:`CoxnetOffset`'s.
    """

    _parameter_constraints = {"alpha": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, outputs, event, time, *, fold, ties="breslow"):
        """Fit on all training patients and on each inner fold's training part."""
        self._validate_params()
        if outputs.clinical is None:
            raise ValueError("ClinicalRidgeOffset needs a clinical block")
        names, is_clin = self._columns(outputs)
        Z, y = self._design(outputs), _surv(event, time)
        _, oof = _ridge_scores(Z, is_clin, y, fold, self.alpha, ties)
        self.coef_ = _clinical_ridge_coef(Z, is_clin, y, self.alpha, ties)
        self.feature_names_ = np.asarray(names, dtype=object)
        self.oof_ = oof[:, 0].copy()
        return self


def _cv_scores(Z, y, fold, fit_coef, n_cols):
    """Held-out Harrell's C (one row per fold) and out-of-fold linear predictors (n, n_cols)
    of the models ``fit_coef(train_mask) -> coef (p, n_cols)`` fitted on each fold's training
    part (None: that fold failed, it scores NaN)."""
    event, time = y["event"], y["time"]
    n_folds = int(fold.max()) + 1
    scores = np.full((n_folds, n_cols), np.nan)
    oof = np.zeros((len(Z), n_cols))
    for k in range(n_folds):
        tr, te = fold != k, fold == k
        coef = fit_coef(tr)
        if coef is None:
            continue
        eta = oof[te] = Z[te] @ coef
        scores[k] = harrell_c(event[te], time[te], eta)
    return scores, oof


def _ridge_coef(Zc, y, alpha, ties):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coef = CoxPHSurvivalAnalysis(alpha=alpha, ties=ties).fit(Zc, y).coef_
    return coef if np.isfinite(coef).all() else np.zeros(Zc.shape[1])


def _clinical_ridge_coef(Z, is_clinical, y, alpha, ties):
    """Coefficients (on every design column, 0 off the clinical block) of the clinical-only
    ridge Cox model fitted on all of ``Z``."""
    coef = np.zeros(Z.shape[1])
    coef[is_clinical] = _ridge_coef(Z[:, is_clinical], y, alpha, ties)
    return coef


def _ridge_scores(Z, is_clinical, y, fold, alpha, ties):
    """:func:`_cv_scores` of the clinical-only ridge Cox model (one column)."""

    def fit_coef(tr):
        coef = np.zeros((Z.shape[1], 1))
        coef[is_clinical, 0] = _ridge_coef(Z[tr][:, is_clinical], y[tr], alpha, ties)
        return coef

    return _cv_scores(Z, y, fold, fit_coef, 1)


def _within_one_se(best, candidate):
    """True when ``candidate``'s paired deficit to ``best`` (per fold) is within one s.e."""
    ok = ~(np.isnan(best) | np.isnan(candidate))
    d = best[ok] - candidate[ok]
    if len(d) == 0:
        return False
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    return d.mean() <= se


def _near_best_average(paths):
    """Mean coefficients and out-of-fold predictors of the near-best (mixing, r, alpha).

    Kept: every (mixing, r, alpha) whose mean paired deficit to the best one (the highest
    mean inner score over all paths) is at most its standard error over folds. Paired differences
    between neighbouring alphas vary far less than the scores themselves, so the kept set
    is narrow where the inner folds can order the models (large cohorts) and wide where
    they cannot.

    Parameters
    ----------
    paths : list of ((l1, r), grid (m,), scores (F, m), coef (p, m), oof (n, m))

    Returns
    -------
    coef : ndarray (p,), oof : ndarray (n,), kept : list of (l1, r, alpha)
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
    labels = [(float(l1), float(r), float(a)) for (l1, r), grid, *_ in paths for a in grid]
    return coef.mean(axis=1), oof.mean(axis=1), [lab for lab, k in zip(labels, keep) if k]
