"""Hyper-parameter search: GridSearchCV over two parameters on the Train part of split 1.

``GridSearchCV`` with ``cv=3`` runs on the Train part only (the estimator's block
transformers and its early-stopping split are refitted inside every fold, so nothing leaks
from the held-out fold); the best setting is refitted on the whole Train part and scored once
on the Test part. ``scoring=None`` uses the estimator's ``score``: Harrell's C.

Run::

    python examples/grid_search.py

``SKSURV_CAMLIF_EXAMPLES_FAST=1`` uses a tiny network, 3 epochs and a 2-point grid.
"""

import os

import pandas as pd
from sklearn.model_selection import GridSearchCV, KFold

from sksurv_camlif.datasets import iter_splits, load_tcga_gbmlgg
from sksurv_camlif.presets import default_gbmlgg_estimator

FAST = os.environ.get("SKSURV_CAMLIF_EXAMPLES_FAST", "") == "1"
SMALL = dict(d_model=8, n_heads=2, n_encoder_layers=1, hidden_size=16, max_iter=3)


def main():
    X, y, modalities, splits = load_tcga_gbmlgg()
    train, test = next(iter_splits(splits))
    X_train, y_train, X_test, y_test = X.iloc[train], y[train], X.iloc[test], y[test]

    # The CAMLIFSurvival of the demo (genomic + cnv blocks, clinical data at the head).
    # n_threads=1: one torch thread per fit, so that parallel folds (n_jobs) do not
    # oversubscribe the cores.
    est = default_gbmlgg_estimator(
        random_state=0, X=X, modalities=modalities, n_threads=1, **(SMALL if FAST else {})
    )
    if FAST:
        param_grid = {"alignment_weight": [0.0, 0.5], "n_tokens": [2]}
    else:
        param_grid = {"alignment_weight": [0.0, 0.5, 1.0], "n_tokens": [2, 4, 8]}

    search = GridSearchCV(
        est,
        param_grid,
        cv=KFold(3, shuffle=True, random_state=0),
        n_jobs=None if FAST else -1,  # folds in parallel (each with n_threads=1)
    )
    search.fit(X_train, y_train)

    results = pd.DataFrame(search.cv_results_)
    columns = [f"param_{p}" for p in param_grid] + ["mean_test_score", "std_test_score"]
    print("3-fold CV on the Train part (Harrell's C):")
    print(results[columns].sort_values("mean_test_score", ascending=False).to_string(index=False))
    print(f"best parameters: {search.best_params_}")
    print(f"best mean CV C-index: {search.best_score_:.3f}")
    print(f"Test C-index of the refitted best model: {search.score(X_test, y_test):.3f}")
    return search


if __name__ == "__main__":
    main()
