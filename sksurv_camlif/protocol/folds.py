"""The inner folds shared by the offset's choice, its cross-fitting and the members."""

import numpy as np
from sklearn.model_selection import StratifiedKFold

__all__ = ["inner_folds", "member_indices"]


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


def member_indices(fold, k, early_stopping=True):
    """Training and early-stopping patients of member k, whose out-of-fold patients are fold k.

    With early stopping, member k stops on fold k + 1 (cyclically) and trains on the other
    folds, so that fold k, where the network's weight w is chosen, played no part in its
    training or in its stopping epoch. Without, it trains on every fold but k (the second
    array, fold k, is then unused).
    """
    stop = (k + 1) % (int(fold.max()) + 1) if early_stopping else k
    return np.flatnonzero((fold != k) & (fold != stop)), np.flatnonzero(fold == stop)
