"""Choose defaults by inner validation only: inner K-fold CV inside the training part of the
authors' GBMLGG splits (the test parts are never looked at).

    python benchmarks/select_defaults.py --splits 3 --folds 3 --config "{'max_iter': 30, 'early_stopping': False}"
"""

import argparse
import ast
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold

from sksurv_camlif.datasets import load_tcga_gbmlgg
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sksurv_camlif import CAMLIFSurvival


def default_gbmlgg_estimator(random_state=0, **params):
    # The spec the first table of docs/defaults.md was measured with (written before
    # sksurv_camlif.demo.default_gbmlgg_estimator existed); kept so that table reproduces.
    mods = load_tcga_gbmlgg().modalities
    clin = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "grade"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), ["gender", "histology"]),
    ])
    return CAMLIFSurvival(
        modalities=[("genomic", make_pipeline(SimpleImputer(), StandardScaler()), mods["genomic"]),
                    ("cnv", "passthrough", mods["cnv"])],
        clinical=(clin, mods["clinical"]), random_state=random_state, **params)


def inner_scores(params, n_splits, n_folds, seed=0):
    data = load_tcga_gbmlgg()
    scores = []
    for s in range(1, n_splits + 1):
        train = np.flatnonzero(data.splits[s].values)
        Xtr, ytr = data.X.iloc[train], data.y[train]
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        for a, b in folds.split(Xtr, ytr["event"]):
            if params.get("baseline") == "coxph_clinical":
                from sksurv.linear_model import CoxPHSurvivalAnalysis
                from sklearn.pipeline import make_pipeline as mp
                est = default_gbmlgg_estimator()
                clin = est.clinical[0]
                est = mp(ColumnTransformer([("c", clin, est.clinical[1])]),
                         CoxPHSurvivalAnalysis(alpha=1.0))
            elif "ensemble" in params:
                from sksurv.metrics import concordance_index_censored
                p = {k: v for k, v in params.items() if k != "ensemble"}
                risk = np.mean([default_gbmlgg_estimator(random_state=seed + 100 * k, **p)
                                .fit(Xtr.iloc[a], ytr[a]).predict(Xtr.iloc[b])
                                for k in range(params["ensemble"])], axis=0)
                scores.append(concordance_index_censored(ytr[b]["event"], ytr[b]["time"], risk)[0])
                continue
            else:
                est = default_gbmlgg_estimator(random_state=seed, **params)
            est.fit(Xtr.iloc[a], ytr[a])
            scores.append(est.score(Xtr.iloc[b], ytr[b]))
    return np.array(scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--config", action="append", default=[])
    args = parser.parse_args()
    for config in args.config or ["{}"]:
        params = ast.literal_eval(config)
        t0 = time.perf_counter()
        s = inner_scores(params, args.splits, args.folds)
        print(f"{config}: inner C {s.mean():.4f} +- {s.std():.4f} ({len(s)} fits, "
              f"{time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
