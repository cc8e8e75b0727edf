"""Gene-expression cohorts the benchmark does not use, fitted as a new user would: the
default ``CAMLIFSurvival`` (one "genes" block, the clinical columns where the cohort has
them) against elastic-net Cox models (``cli.CoxnetPathCV``: ``presets.CoxnetCV`` fitted along
the path, alpha by inner CV) with ``l1_ratio`` 0.1 and 0.5, on the same stratified 80/20
splits.

    python benchmarks/cohorts.py --datasets nki70 NSBCD DBCD --splits 10 --n-jobs 2 \\
        --config "{}" --config "{'offset__l1_ratio': [0.1, 0.5, 0.9]}"

``--inner K`` scores K inner folds of each split's training part instead of its test part
(to choose a default on training parts only; the test parts are for reporting).

Each ``--config`` is a dict of ``CAMLIFSurvival`` parameters on top of the defaults (its
row is labelled by the dict). Data: SurvSet (``pip install survset``); gene columns are the
numeric columns that are not clinical (``CLINICAL``). Prints the mean test Harrell's C of
every model and the paired differences (mean +- s.e. over splits) of each configuration to
each Coxnet and to the first configuration.
"""

import argparse
import ast
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

#: The clinical columns of the SurvSet cohorts that have any (the rest is genes).
CLINICAL = {"nki70": ["num_Age", "fac_Diam", "fac_N", "fac_ER", "fac_Grade"]}
COXNET_L1 = (0.1, 0.5)


def _benchmark():
    """``benchmarks/benchmark.py``, as ``select_defaults.py`` loads it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from select_defaults import _benchmark as load_benchmark

    return load_benchmark()


def load(name):
    """X (DataFrame), y (structured), gene columns, clinical numeric and categorical columns."""
    from SurvSet.data import SurvLoader
    from sksurv.util import Surv

    df = SurvLoader().load_dataset(name)["df"]
    clinical = CLINICAL.get(name, [])
    genes = [c for c in df.columns if c.startswith("num_") and c not in clinical]
    X = df[genes + clinical].copy()
    for c in clinical:
        if c.startswith("fac_"):
            X[c] = X[c].astype(str)
    y = Surv.from_arrays(df["event"].astype(bool).to_numpy(), df["time"].astype(float).to_numpy())
    return X, y, genes, [c for c in clinical if c.startswith("num_")], [c for c in clinical if c.startswith("fac_")]


def build(key, data, seed):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sksurv_camlif import CAMLIFSurvival
    from sksurv_camlif.cli import CoxnetPathCV

    X, y, genes, clin_num, clin_cat = data
    if key.startswith("coxnet_"):
        return CoxnetPathCV(genes + clin_num, clin_cat, l1_ratio=float(key.split("_")[1]), random_state=seed)
    clinical = None
    if clin_num or clin_cat:
        clinical = (_benchmark()._preprocessor(clin_num, clin_cat), clin_num + clin_cat)
    est = CAMLIFSurvival([("genes", make_pipeline(SimpleImputer(), StandardScaler()), genes)], clinical=clinical,
                         random_state=seed, device="cpu", n_threads=1)
    return est.set_params(**ast.literal_eval(key))


def run(name, split, key, inner=None):
    """Fit ``key`` on split ``split``'s training part and score its test part; with
    ``inner = (k, K)``, fit on the other inner folds of the training part and score fold k."""
    data = load(name)
    X, y = data[0], data[1]
    train, test = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=split).split(X, y["event"]))
    if inner is not None:
        k, n_folds = inner
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=split).split(train, y["event"][train])
        a, b = list(folds)[k]
        train, test = train[a], train[b]
    est = build(key, data, split)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            c = est.fit(X.iloc[train], y[train]).score(X.iloc[test], y[test])
        except (ArithmeticError, ValueError) as exc:  # scored NaN: the split is left out
            print(f"{name} {split} {inner} {key}: failed ({exc})", file=sys.stderr)
            return name, key, (split, 0 if inner is None else inner[0]), np.nan, time.perf_counter() - t0, {}
    extra = {}
    if hasattr(est, "offset_") and est.offset_ is not None:
        extra = {"l1_ratio": getattr(est.offset_, "l1_ratio_", None), "w": est.residual_weight_}
    return name, key, (split, 0 if inner is None else inner[0]), c, time.perf_counter() - t0, extra


def _pm(d):
    return f"{d.mean():+.3f} +- {d.std(ddof=1) / np.sqrt(len(d)):.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["nki70", "NSBCD", "DBCD"])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--inner", type=int, default=0, help="score K inner folds of the training parts")
    parser.add_argument("--no-baselines", action="store_true", help="the configurations only (no Coxnet)")
    parser.add_argument("--out", help="also write every score to this JSON file")
    args = parser.parse_args(argv)
    configs = args.config or ["{}"]
    baselines = [] if args.no_baselines else [f"coxnet_{l1}" for l1 in COXNET_L1]
    keys = baselines + configs
    inners = [(k, args.inner) for k in range(args.inner)] if args.inner else [None]
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(run)(d, s, k, i) for d in args.datasets for s in range(args.splits) for i in inners for k in keys)
    where = f"{args.inner} inner folds of the training parts of" if args.inner else "the test parts of"
    print(f"{len(rows)} fits in {time.perf_counter() - t0:.0f} s; {where} {args.splits} stratified 80/20 splits per cohort")
    if args.out:
        Path(args.out).write_text(json.dumps([list(r[:2]) + [list(r[2]), r[3], r[4], r[5]] for r in rows]))
    for name in args.datasets:
        by = {k: {r[2]: r[3] for r in rows if r[0] == name and r[1] == k} for k in keys}
        ok = sorted(s for s in by[keys[0]] if all(np.isfinite(by[k][s]) for k in keys))  # every model scored
        by = {k: np.array([by[k][s] for s in ok]) for k in keys}
        times = {k: np.mean([r[4] for r in rows if r[0] == name and r[1] == k]) for k in keys}
        print(f"\n{name}: {len(ok)} parts scored by every model")
        for k in keys:
            line = f"  {by[k].mean():.3f}  {times[k]:6.1f} s  {k}"
            if not k.startswith("coxnet_"):
                diffs = [f"vs {ref}: {_pm(by[k] - by[ref])}" for ref in baselines + configs[:1] if ref != k]
                chosen = [r[5].get("l1_ratio") for r in rows if r[0] == name and r[1] == k]
                counts = {v: chosen.count(v) for v in sorted(set(chosen), key=str)}
                line += "  " + "; ".join(diffs) + f"  (offset l1_ratio_ chosen: {counts})"
            print(line, flush=True)


if __name__ == "__main__":
    main()
