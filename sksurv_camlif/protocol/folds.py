"""The inner folds shared by the offset's choice, its cross-fitting and the members."""

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

__all__ = ["inner_folds", "member_indices", "validation_split"]


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


def validation_split(event, fraction, seed):
    """Training and early-stopping rows of the plain network: ``fraction`` held out,
    stratified by event."""
    n = len(event)
    n_val = int(np.ceil(fraction * n))
    stratify = event if min(event.sum(), (~event).sum()) >= 2 and n_val >= 2 else None
    if n_val < 2 or n - n_val < 2 or event.sum() < 2:
        raise ValueError(
            f"early_stopping needs at least 2 training and 2 validation samples and 2 events; with {n} "
            f"samples ({int(event.sum())} events) and validation_fraction={fraction} it cannot split. Use "
            "more data or early_stopping=False"
        )
    train, validation = train_test_split(np.arange(n), test_size=n_val, stratify=stratify, random_state=seed)
    if not event[train].any():
        raise ValueError("early_stopping: the training part has no event; use early_stopping=False")
    return train, validation
