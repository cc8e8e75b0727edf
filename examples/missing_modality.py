"""Missing modalities: blank the copy-number block for 30% of the patients.

A patient whose every column of a modality block is NaN has that modality *absent*:
CAMLIFSurvival fits and applies the block's transformer on the present rows only, and the
network skips the absent modality for that patient (a learned "absent" embedding, left out
of the cross-attention and of the low-rank fusion). No imputation of whole blocks is needed.

This script blanks all 37 arm-level copy-number columns for a random 30% of the patients
(train and test), fits the same model on the full and on the blanked data (Train part of
split 1) and compares Harrell's C on the Test part.

Run::

    python examples/missing_modality.py

``SKSURV_CAMLIF_EXAMPLES_FAST=1`` trains a tiny network for 3 epochs (used by the tests).
"""

import os

import numpy as np

from sksurv_camlif.datasets import iter_splits, load_tcga_gbmlgg
from sksurv_camlif.presets import default_gbmlgg_estimator

FAST = os.environ.get("SKSURV_CAMLIF_EXAMPLES_FAST", "") == "1"
# Tiny network and 3 epochs: seconds instead of a minute.
SMALL = dict(d_model=8, n_heads=2, n_encoder_layers=1, hidden_size=16, max_iter=3)
# The network is small: one torch thread is usually as fast as several, and much faster on a
# machine shared with other jobs (see the user guide, "GPU and threads").
N_THREADS = 1
FRACTION = 0.3


def main():
    X, y, modalities, splits = load_tcga_gbmlgg()
    train, test = next(iter_splits(splits))
    cnv = modalities["cnv"]

    rng = np.random.default_rng(0)
    blank = rng.random(len(X)) < FRACTION
    X_blank = X.copy()
    X_blank.loc[blank, cnv] = np.nan  # whole block NaN = modality absent

    absent = X_blank[cnv].isna().all(axis=1)
    print(f"cnv block absent for {absent.sum()} of {len(X)} patients "
          f"({absent.iloc[test].sum()} of the {len(test)} test patients); "
          f"{X[cnv].isna().all(axis=1).sum()} lack it in the original data")

    params = dict(SMALL if FAST else {}, n_threads=N_THREADS)
    scores = {}
    for name, data in (("full data", X), (f"cnv absent for {FRACTION:.0%}", X_blank)):
        # The same estimator: no change is needed for absent modalities. (The cnv block is
        # passed through when no patient has *part* of it missing, as here.)
        est = default_gbmlgg_estimator(random_state=0, X=data, modalities=modalities, **params)
        est.fit(data.iloc[train], y[train])
        scores[name] = est.score(data.iloc[test], y[test])

    print("Test Harrell's C-index:")
    width = max(map(len, scores))
    for name, score in scores.items():
        print(f"  {name:<{width}}  {score:.3f}")
    print(f"  {'difference':<{width}}  {scores[name] - scores['full data']:+.3f}")
    return scores


if __name__ == "__main__":
    main()
