"""Choose defaults by inner validation only: K-fold CV inside the *training* part of the
benchmark's splits (the test parts are never looked at).

Every configuration is a dict of ``CAMLIFSurvival`` parameters applied on top of the
benchmark's CAMLIF set-up of the data set (``benchmark.build_model("camlif", ...)``);
baselines are the benchmark's models. All configurations see the same inner folds, so
their differences are paired.

    python benchmarks/select_defaults.py --datasets gse7390 wpbc --splits 5 --folds 3 \\
        --baselines coxnet coxph_clinical --config "{}" --config "{'residual_weights': [0]}"
"""

import argparse
import ast
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold


def _benchmark():
    """``benchmarks/benchmark.py``, loaded by path once (it loads its own siblings)."""
    name = "_camlif_bench_benchmark"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent / "benchmark.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _one(dataset, split, fold, a, b, label, spec, seed):
    bench = _benchmark()
    ds = bench._bench_module("datasets").load_dataset(dataset)
    train = np.flatnonzero(ds.splits[split].to_numpy())
    X, y = ds.X.iloc[train], ds.y[train]
    if isinstance(spec, str):
        est = bench.build_model(spec, ds, seed)
    else:
        est = bench.build_model("camlif", ds, seed).set_params(**spec)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            score = est.fit(X.iloc[a], y[a]).score(X.iloc[b], y[b])
        except (ArithmeticError, ValueError) as exc:  # e.g. a Coxnet path that diverges
            print(f"{dataset} split {split} fold {fold} {label}: failed ({exc})", file=sys.stderr)
            score = np.nan
    return dataset, label, split, fold, score, time.perf_counter() - t0


def inner_tasks(dataset, n_splits, n_folds, configs, seed=0):
    bench = _benchmark()
    ds = bench._bench_module("datasets").load_dataset(dataset)
    for split in range(1, n_splits + 1):
        train = np.flatnonzero(ds.splits[split].to_numpy())
        event = ds.y["event"][train]
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        for f, (a, b) in enumerate(folds.split(np.zeros(len(train)), event)):
            for label, spec in configs:
                yield dataset, split, f, a, b, label, spec, split


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["gbmlgg"])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--baselines", nargs="*", default=[])
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    configs = [(key, key) for key in args.baselines]
    configs += [(c, ast.literal_eval(c)) for c in args.config]
    tasks = [t for d in args.datasets for t in inner_tasks(d, args.splits, args.folds, configs)]
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=args.n_jobs, verbose=0)(delayed(_one)(*t) for t in tasks)
    print(f"{len(rows)} fits in {time.perf_counter() - t0:.0f} s; {args.splits} splits x "
          f"{args.folds} inner folds per data set; mean inner C, paired difference to the "
          "first row (mean +- s.e. over folds), mean fit time")
    for dataset in args.datasets:
        print(f"\n{dataset}")
        by = {label: {(r[2], r[3]): (r[4], r[5]) for r in rows if r[0] == dataset and r[1] == label}
              for label, _ in configs}
        # folds where every configuration has a score (a failed fit drops the fold)
        keys = sorted(k for k in next(iter(by.values())) if all(np.isfinite(v[k][0]) for v in by.values()))
        print(f"  {len(keys)} inner folds scored by every configuration")
        ref = np.array([by[configs[0][0]][k][0] for k in keys])
        for label, _ in configs:
            c = np.array([by[label][k][0] for k in keys])
            t = np.mean([by[label][k][1] for k in keys])
            d = c - ref
            print(f"  {c.mean():.4f}  {d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(len(d)):.4f}"
                  f"  {t:6.1f} s  {label}", flush=True)


if __name__ == "__main__":
    main()
