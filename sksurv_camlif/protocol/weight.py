"""The network's weight w in ``log-risk = (1 - w) offset + w * mean network``, chosen on
every training patient's out-of-fold prediction with a one-standard-error rule toward the
offset."""

import numpy as np

from .._concordance import harrell_c

__all__ = ["RESIDUAL_WEIGHTS", "choose_residual_weight", "blend_out_of_fold"]

RESIDUAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def blend_out_of_fold(fold, event, time, offset_oof, member_oof, weights):
    """Choose w and the out-of-fold log-risk of every training patient.

    Parameters
    ----------
    fold : ndarray of int, shape (n,)
    event, time : ndarray, shape (n,)
    offset_oof : ndarray, shape (n,), or None
        The offset's out-of-fold linear predictor (None: no offset, w = 1).
    member_oof : ndarray, shape (n,)
        Each patient's prediction by the member that never saw it; NaN in folds without a
        member.
    weights : tuple of float, the candidate w

    Returns
    -------
    w : float
    table : dict or None, from :func:`choose_residual_weight`
    oof : ndarray, shape (n,)
        ``(1 - w) offset + w member`` out of fold; patients of folds without a member have
        their offset only (NaN without one).
    """
    scored = ~np.isnan(member_oof)
    if offset_oof is None:
        oof = member_oof.copy()
        return (1.0 if scored.any() else 0.0), None, oof
    if not scored.any():
        return 0.0, None, offset_oof.copy()
    # (1 - w) offset + w f = offset + w (f - offset): the same choice of w
    residual = member_oof - offset_oof
    weight, table = choose_residual_weight(
        fold[scored], event[scored], time[scored], offset_oof[scored], residual[scored], weights=weights
    )
    return weight, table, offset_oof + weight * np.where(scored, residual, 0.0)


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
        blends = offset_oof[te, None] + np.asarray(weights, float) * residual_oof[te, None]
        fold_c[k] = harrell_c(event[te], time[te], blends)
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
