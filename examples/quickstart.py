"""Quick start: fit CAMLIFSurvival on split 1 of TCGA-GBMLGG and look at its predictions.

Fits the model on the Train part of the first train/test split of the CA-MLIF authors
(616 patients), reports Harrell's concordance index on the Test part (153 patients) and
prints the predicted survival probabilities of three test patients at 1, 2 and 5 years.

Run::

    python examples/quickstart.py

``SKSURV_CAMLIF_EXAMPLES_FAST=1`` trains a tiny network for 3 epochs (used by the tests).
"""

import os

from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif.datasets import iter_splits, load_tcga_gbmlgg

FAST = os.environ.get("SKSURV_CAMLIF_EXAMPLES_FAST", "") == "1"
# Tiny network and 3 epochs: seconds instead of a minute.
SMALL = dict(d_model=8, n_heads=2, n_encoder_layers=1, hidden_size=16, max_iter=3)
# The network is small: one torch thread is usually as fast as several, and much faster on a
# machine shared with other jobs (see the user guide, "GPU and threads").
N_THREADS = 1


def make_estimator(modalities, **params):
    """CAMLIFSurvival with a gene-level block, a copy-number block and the clinical data."""
    return CAMLIFSurvival(
        modalities=[
            # IDH / codeletion are missing for some patients: impute partial gaps in the block
            ("genomic", make_pipeline(SimpleImputer(), StandardScaler()), modalities["genomic"]),
            ("cnv", "passthrough", modalities["cnv"]),
        ],
        clinical=(  # must be NaN-free after its transformer
            make_column_transformer(
                (make_pipeline(SimpleImputer(), StandardScaler()), ["age", "grade"]),
                (OneHotEncoder(handle_unknown="ignore"), ["gender", "histology"]),
            ),
            modalities["clinical"],
        ),
        random_state=0,
        **params,
    )


def main():
    X, y, modalities, splits = load_tcga_gbmlgg()
    train, test = next(iter_splits(splits))  # split 1
    X_train, y_train, X_test, y_test = X.iloc[train], y[train], X.iloc[test], y[test]
    print(f"TCGA-GBMLGG split 1: {len(train)} train / {len(test)} test patients")

    est = make_estimator(modalities, n_threads=N_THREADS, **(SMALL if FAST else {}))
    est.fit(X_train, y_train)
    # early stopping keeps the weights with the best validation C-index; epoch 0 means the
    # starting point (the ridge Cox model of the clinical block) was not beaten
    print(f"trained {est.n_iter_} epochs; kept the weights of epoch {est.best_epoch_} "
          f"(validation C-index {est.best_validation_score_:.3f})")
    print(f"Test Harrell's C-index: {est.score(X_test, y_test):.3f}")

    # Survival functions S(t | x) of three test patients (time in days)
    patients = X_test.index[:3]
    surv = est.predict_survival_function(X_test.loc[patients])
    risk = est.predict(X_test.loc[patients])
    years = (1, 2, 5)
    print("patient             log-risk  " + "  ".join(f"S({n} y)" for n in years))
    for pid, fn, r in zip(patients, surv, risk):
        probs = "  ".join(f"{fn(365.25 * n):6.3f}" for n in years)
        print(f"{pid:<18}  {r:+8.3f}  {probs}")
    return est


if __name__ == "__main__":
    main()
