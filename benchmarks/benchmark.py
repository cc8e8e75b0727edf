"""Benchmark of CAMLIFSurvival against survival baselines on four offline data sets.

    python benchmarks/benchmark.py                      # full: 4 data sets, 15 splits, all models
    python benchmarks/benchmark.py --quick              # smoke: 2 splits, 3 models
    python benchmarks/benchmark.py --splits 5 --datasets gbmlgg,wpbc --models camlif,coxnet,rsf

Every model is fitted on the training part of identical train/test splits (GBMLGG: the
authors' 15 splits; METABRIC, GSE7390, wpbc: 15 Monte Carlo 80/20 splits stratified by the
event, split k drawn with seed k; see ``benchmarks/datasets.py``), its preprocessing inside
its own pipeline (fitted on the training part only), and scored on the test part:
Harrell's C and, where the model gives survival functions, the integrated Brier score.

Each (data set, model, split) result is cached as JSON under ``--results-dir`` (default
``benchmarks/results/``) together with a fingerprint of the model's parameters and of the
code it depends on, so an interrupted run resumes and a changed model is refitted. The
report goes to ``--out`` (default ``docs/benchmarks.md``) and the figures to the
``_static/`` folder next to it.

Model keys for ``--models`` (comma-separated; groups: ``all``, ``ablations`` =
the CAMLIF variants, ``single`` = the one-modality variants, ``baselines``):

- ``camlif``: CAMLIFSurvival with its defaults (``n_threads=1``, CPU);
- ``camlif_no_xattn``, ``camlif_no_second``: the ablations of the paper's Table 3
  (``cross_attention=False``, ``second_fusion=False``); its third, without alignment, is
  the default (``alignment_weight=0``), and ``camlif_align`` is the default with the
  paper's ``alignment_weight=0.5``;
- ``camlif_plain``: the paper's plain network (``sksurv_camlif.presets.PAPER_NETWORK``:
  ``offset=None, n_members=1, alignment_weight=0.5``);
- ``camlif_linear``: the defaults' linear offset alone (``residual_weights=[0]``);
- ``camlif_only_<block>``: one modality block plus the clinical block;
- ``coxnet``: elastic net Cox, alpha by inner 3-fold CV (``sksurv_camlif.presets.CoxnetCV``),
  with a Breslow baseline for survival functions;
- ``coxph_clinical``, ``coxph_all``: Cox PH (ridge ``alpha=1e-4`` resp. ``1.0``) on the
  clinical columns resp. on all columns;
- ``rsf``: RandomSurvivalForest (200 trees, ``min_samples_leaf=10``);
- ``gbsa``: GradientBoostingSurvivalAnalysis (defaults, 100 trees);
- ``deepsurv``: DeepSurvMLP (``benchmarks/deepsurv.py``) with its defaults.
"""

import argparse
import datetime as _dt
import hashlib
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_OUT = REPO_DIR / "docs" / "benchmarks.md"
DEFAULT_RESULTS = BENCH_DIR / "results"

#: Bump when the scoring or the result format changes: cached results are then refitted.
RESULT_VERSION = 1

ALL_DATASETS = ("gbmlgg", "metabric", "gse7390", "wpbc")
QUICK_MODELS = ("camlif", "coxph_clinical", "rsf")
CAMLIF_VARIANTS = {
    "camlif": ("CAMLIF", {}),
    "camlif_no_xattn": ("CAMLIF w/o cross-attention", {"cross_attention": False}),
    "camlif_align": ("CAMLIF with alignment", {"alignment_weight": 0.5}),
    "camlif_no_second": ("CAMLIF w/o second fusion", {"second_fusion": False}),
    "camlif_plain": ("CAMLIF plain network", "PAPER_NETWORK"),  # from sksurv_camlif.presets
    "camlif_linear": ("CAMLIF linear offset only", {"residual_weights": [0]}),
}
BASELINES = {
    "coxnet": "Coxnet (all)",
    "coxph_clinical": "CoxPH (clinical)",
    "coxph_all": "CoxPH (all)",
    "rsf": "RSF",
    "gbsa": "GBSA",
    "deepsurv": "DeepSurv",
}
SINGLE_PREFIX = "camlif_only_"
COXPH_CLINICAL_ALPHA = 1e-4  # as the demo's CoxPH (clinical)
COXPH_ALL_ALPHA = 1.0  # a small ridge: up to 84 collinear columns
RSF_TREES = 200

#: Harrell's C (mean, std) over 15 splits measured elsewhere (other splits): context only.
CONTEXT = {
    ("metabric", "rsf"): (0.657, 0.013),
    ("metabric", "coxph_all"): (0.650, None),
    ("metabric", "coxnet"): (0.649, None),
    ("gse7390", "rsf"): (0.716, 0.085),
    ("gse7390", "coxnet"): (0.676, None),
    ("wpbc", "coxnet"): (0.700, 0.091),
    ("wpbc", "rsf"): (0.683, None),
    ("gbmlgg", "coxph_clinical"): (0.814, 0.026),
    ("gbmlgg", "coxnet"): (0.804, 0.027),
    ("gbmlgg", "rsf"): (0.802, None),
}

FIG_CINDEX = "benchmark_cindex.png"
FIG_KM = "benchmark_km_gbmlgg.png"
FIG_CURVE = "benchmark_training_curve_gbmlgg.png"


# ----------------------------------------------------------------------------- helpers
def _bench_module(name, bench_dir=BENCH_DIR):
    """Load ``benchmarks/<name>.py`` by path (``benchmarks/`` is not a package).

    Registered under a prefixed name so that ``datasets`` cannot clash with an installed
    package of that name.
    """
    key = f"_camlif_bench_{name}"
    if key not in sys.modules:
        path = Path(bench_dir) / f"{name}.py"
        if not path.exists():
            raise ImportError(f"{path} is missing")
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


def model_name(key):
    if key in CAMLIF_VARIANTS:
        return CAMLIF_VARIANTS[key][0]
    if key in BASELINES:
        return BASELINES[key]
    if key.startswith(SINGLE_PREFIX):
        return f"CAMLIF {key[len(SINGLE_PREFIX):]} + clinical"
    raise ValueError(f"unknown model {key!r}")


def is_camlif(key):
    return key in CAMLIF_VARIANTS or key.startswith(SINGLE_PREFIX)


def models_for(ds, spec):
    """Expand a --models spec (keys and groups) into the model keys of data set ``ds``."""
    singles = [SINGLE_PREFIX + b for b in ds.modalities]
    groups = {
        "all": [*CAMLIF_VARIANTS, *singles, *BASELINES],
        "ablations": [k for k in CAMLIF_VARIANTS if k != "camlif"],
        "single": singles,
        "baselines": list(BASELINES),
    }
    out = []
    for item in spec:
        if item in CAMLIF_VARIANTS or item in BASELINES:
            keys = [item]
        elif item in groups:
            keys = groups[item]
        elif item.startswith(SINGLE_PREFIX):
            keys = [item] if item in singles else []  # a block of another data set
        else:
            raise ValueError(
                f"unknown model {item!r}; keys: {[*CAMLIF_VARIANTS, *BASELINES]}, "
                f"{SINGLE_PREFIX}<block>, groups: {list(groups)}"
            )
        out += [k for k in keys if k not in out]
    return out


def _preprocessor(numeric, categorical):
    """Mean imputation + standardisation of numeric columns, one-hot of categorical ones
    (a missing category gets its own column), as the demo's clinical transformer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(), StandardScaler()), list(numeric)))
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(categorical)))
    return ColumnTransformer(parts)


def build_model(key, ds, seed, rsf_trees=RSF_TREES):
    """The unfitted estimator ``key`` for data set ``ds`` (a BenchmarkDataset)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis, RandomSurvivalForest
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from sksurv_camlif import CAMLIFSurvival
    from sksurv_camlif import presets
    from sksurv_camlif.presets import CoxnetCV, default_gbmlgg_estimator

    if is_camlif(key):
        if ds.name == "gbmlgg":  # exactly the package's GBMLGG set-up (as the demo)
            est = default_gbmlgg_estimator(
                random_state=seed, X=ds.X, modalities={**ds.modalities, "clinical": ds.clinical}
            )
        else:
            clin_num = [c for c in ds.clinical if c in ds.numeric]
            clin_cat = [c for c in ds.clinical if c in ds.categorical]
            est = CAMLIFSurvival(
                modalities=[
                    (name, make_pipeline(SimpleImputer(), StandardScaler()), list(cols))
                    for name, cols in ds.modalities.items()
                ],
                clinical=(_preprocessor(clin_num, clin_cat), list(ds.clinical)),
                random_state=seed,
            )
        params = {"device": "cpu", "n_threads": 1}
        if key.startswith(SINGLE_PREFIX):
            block = key[len(SINGLE_PREFIX):]
            params["modalities"] = [m for m in est.modalities if m[0] == block]
        else:
            variant = CAMLIF_VARIANTS[key][1]
            params.update(getattr(presets, variant) if isinstance(variant, str) else variant)
        return est.set_params(**params)

    all_pre = _preprocessor(ds.numeric, ds.categorical)
    if key == "coxnet":
        return CoxnetCV(list(ds.numeric), list(ds.categorical), random_state=seed)
    if key == "coxph_clinical":
        clin_num = [c for c in ds.clinical if c in ds.numeric]
        clin_cat = [c for c in ds.clinical if c in ds.categorical]
        return make_pipeline(_preprocessor(clin_num, clin_cat), CoxPHSurvivalAnalysis(alpha=COXPH_CLINICAL_ALPHA))
    if key == "coxph_all":
        return make_pipeline(all_pre, CoxPHSurvivalAnalysis(alpha=COXPH_ALL_ALPHA))
    if key == "rsf":
        return make_pipeline(all_pre, RandomSurvivalForest(
            n_estimators=rsf_trees, min_samples_leaf=10, n_jobs=1, random_state=seed))
    if key == "gbsa":
        return make_pipeline(all_pre, GradientBoostingSurvivalAnalysis(n_estimators=100, random_state=seed))
    if key == "deepsurv":
        DeepSurvMLP = _bench_module("deepsurv").DeepSurvMLP
        return make_pipeline(all_pre, DeepSurvMLP(random_state=seed, device="cpu", n_threads=1))
    raise ValueError(f"unknown model {key!r}")


def _hash_files(paths):
    h = hashlib.sha1()
    for p in sorted(paths):
        h.update(str(Path(p).name).encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:12]


def code_fingerprint(key):
    """Hash of the source the model depends on (so a changed model is refitted)."""
    import sksurv_camlif

    pkg = Path(sksurv_camlif.__file__).resolve().parent
    files = []
    if is_camlif(key) or key == "deepsurv":
        files += list(pkg.rglob("*.py"))
    if key == "deepsurv":
        files.append(BENCH_DIR / "deepsurv.py")
    if key == "coxnet":
        files.append(pkg / "presets.py")
    return _hash_files(files) if files else ""


def data_fingerprint(ds):
    """Hash of the data set's values, outcome, blocks and splits (not of the loader's code)."""
    h = hashlib.sha1()
    h.update(pd.util.hash_pandas_object(ds.X, index=True).to_numpy().tobytes())
    h.update(json.dumps([list(map(str, ds.X.columns)), [str(t) for t in ds.X.dtypes]]).encode())
    h.update(np.ascontiguousarray(ds.y["event"]).tobytes() + np.ascontiguousarray(ds.y["time"]).tobytes())
    h.update(np.ascontiguousarray(ds.splits.to_numpy()).tobytes())
    h.update(json.dumps([ds.modalities, ds.clinical], sort_keys=True).encode())
    return h.hexdigest()[:12]


def model_fingerprint(key, est, extra):
    import sklearn
    import sksurv
    import torch

    with sklearn.config_context(print_changed_only=False):
        text = est.__repr__(N_CHAR_MAX=10**9)
    payload = json.dumps(
        [RESULT_VERSION, key, text, code_fingerprint(key), sklearn.__version__,
         sksurv.__version__, torch.__version__, extra],
        sort_keys=True, default=str,
    )
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def ibs_times(ds, n_points=15):
    """Time grid of the integrated Brier score, valid in all 15 splits of ``ds``.

    The 10th to 80th percentiles of the event times of the whole data set, restricted to
    [max over splits of the smallest test time, min over splits of the largest train and
    test times).
    """
    dsm = _bench_module("datasets")
    t, e = ds.y["time"], ds.y["event"]
    grid = np.unique(np.percentile(t[e], np.linspace(10, 80, n_points)))
    lo, hi = -np.inf, np.inf
    for k in ds.splits.columns:
        tr, te = dsm.split_indices(ds.splits, k)
        lo = max(lo, t[te].min())
        hi = min(hi, t[te].max(), t[tr].max())
    grid = grid[(grid >= lo) & (grid < hi)]
    return [float(x) for x in grid]


def _final_step(est):
    return est[-1] if hasattr(est, "steps") else est


def result_path(results_dir, dataset, key, split):
    return Path(results_dir) / dataset / f"{key}__split{split:02d}.json"


def run_task(dataset, key, split, times, fingerprint, results_dir, rsf_trees, bench_dir, git=None):
    """Fit and score one (data set, model, split); write and return the result dict."""
    from sklearn.base import clone
    from sksurv.metrics import concordance_index_censored, integrated_brier_score
    from threadpoolctl import threadpool_limits

    dsm = _bench_module("datasets", bench_dir)
    ds = dsm.load_dataset(dataset)
    train, test = dsm.split_indices(ds.splits, split)
    X_tr, X_te, y_tr, y_te = ds.X.iloc[train], ds.X.iloc[test], ds.y[train], ds.y[test]
    est = clone(build_model(key, ds, seed=split, rsf_trees=rsf_trees))
    out = {
        "dataset": dataset, "model": key, "model_name": model_name(key), "split": int(split),
        "fingerprint": fingerprint, "git": git, "n_train": len(train), "n_test": len(test),
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg()[0],
    }
    import torch

    torch.set_num_threads(1)
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        est.fit(X_tr, y_tr)
        out["fit_time"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        risk = np.asarray(est.predict(X_te), dtype=float)
        out["cindex"] = float(concordance_index_censored(y_te["event"], y_te["time"], risk)[0])
        out["ibs"] = None
        if hasattr(est, "predict_survival_function") and times:
            grid = np.asarray(times)
            surv = np.vstack([fn(grid) for fn in est.predict_survival_function(X_te)])
            y_ibs = y_te.copy()
            # the censoring distribution is estimated on the train part: clip the test
            # times to its range (neutral: every grid time is below the clip)
            y_ibs["time"] = np.minimum(y_ibs["time"], y_tr["time"].max())
            out["ibs"] = float(integrated_brier_score(y_tr, y_ibs, surv, grid))
        out["predict_time"] = time.perf_counter() - t0
    messages = []
    for w in caught:
        msg = f"{w.category.__name__}: {str(w.message)[:160]}"
        if msg not in messages:
            messages.append(msg)
    out["warnings"] = messages[:8]
    out["risk_test"] = risk.tolist()
    final = _final_step(est)
    for attr in ("n_iter_", "best_validation_score_", "alpha_"):
        value = getattr(final, attr, None)
        if value is not None:
            out[attr.rstrip("_")] = float(value) if attr != "n_iter_" else int(value)
    if is_camlif(key) or key == "deepsurv":
        out["loss_curve"] = [float(v) for v in getattr(final, "loss_curve_", []) or []]
        out["validation_scores"] = [float(v) for v in getattr(final, "validation_scores_", None) or []]
    out["loadavg_end"] = os.getloadavg()[0]
    path = result_path(results_dir, dataset, key, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, path)  # atomic: an interrupted write leaves no half file
    return out


def _safe_task(*args):
    try:
        return run_task(*args)
    except Exception as exc:  # noqa: BLE001 - reported, not cached
        dataset, key, split = args[:3]
        return {"dataset": dataset, "model": key, "model_name": model_name(key), "split": int(split),
                "error": f"{type(exc).__name__}: {exc}"}


def _display_path(path):
    """``path`` relative to the repository when inside it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(REPO_DIR))
    except ValueError:
        return str(path)


def load_cached(path, fingerprint, stale_ok=False):
    """The cached result at ``path`` if its fingerprint matches (any, with ``stale_ok``)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if "cindex" not in data:
        return None
    data["stale"] = data.get("fingerprint") != fingerprint
    if data["stale"] and not stale_ok:
        return None
    return data


# ----------------------------------------------------------------------------- hardware
def hardware_info():
    info = {"platform": platform.platform(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)"):
                info[k.strip()] = v.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    info["cpu_count"] = os.cpu_count()
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    return info


def software_info():
    import sklearn
    import sksurv
    import torch

    import sksurv_camlif

    info = {
        "sksurv_camlif": sksurv_camlif.__version__, "torch": torch.__version__,
        "scikit-survival": sksurv.__version__, "scikit-learn": sklearn.__version__,
        "numpy": np.__version__, "pandas": pd.__version__,
    }
    try:
        # the commit only: uncommitted changes are told apart by the code fingerprint of
        # each result (its cache key), not by a "-dirty" mark that names no version
        info["git"] = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


# ----------------------------------------------------------------------------- summary
def summarise(frame):
    """Per (dataset, model): mean/std of C and IBS, mean fit time, number of splits."""
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    g = ok.groupby(["dataset", "model"], sort=False)
    out = pd.DataFrame({
        "c_mean": g["cindex"].mean(), "c_std": g["cindex"].std(ddof=1),
        "ibs_mean": g["ibs"].mean(), "ibs_std": g["ibs"].std(ddof=1),
        "fit_mean": g["fit_time"].mean(), "fit_sum": g["fit_time"].sum(),
        "predict_sum": g["predict_time"].sum(), "n": g["cindex"].count(),
    })
    if "n_iter" in ok:
        out["epochs"] = g["n_iter"].mean()
    return out


def paired(frame, dataset, a, b):
    """Mean and standard error over common splits of C(a) - C(b); n; wins of a."""
    sub = frame[(frame["dataset"] == dataset) & frame["cindex"].notna()]
    pa = sub[sub["model"] == a].set_index("split")["cindex"]
    pb = sub[sub["model"] == b].set_index("split")["cindex"]
    common = pa.index.intersection(pb.index)
    d = (pa[common] - pb[common]).to_numpy()
    if len(d) == 0:
        return None
    se = d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    return {"mean": float(d.mean()), "se": float(se), "n": len(d), "wins": int((d > 0).sum())}


def _pm(mean, std, digits=3):
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _signed(p):
    if p is None:
        return "–"
    if math.isnan(p["se"]):
        return f"{p['mean']:+.3f}"
    return f"{p['mean']:+.3f} ± {p['se']:.3f}"


# ----------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_cindex(summary, datasets, path):
    plt = _plt()
    n = len(datasets)
    ncols = min(2, n)
    nrows = math.ceil(n / ncols)
    heights = [len(summary.loc[d]) for d in datasets if d in summary.index.get_level_values(0)]
    h = max(3.0, 0.32 * max(heights or [4]) + 1.2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, h * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, d in zip(axes.ravel(), datasets):
        if d not in summary.index.get_level_values(0):
            ax.set_visible(False)
            continue
        s = summary.loc[d].sort_values("c_mean")
        y = np.arange(len(s))
        colors = ["#c0392b" if k == "camlif" else "#e67e22" if is_camlif(k) else "#2c6fbb" for k in s.index]
        ax.errorbar(s["c_mean"], y, xerr=s["c_std"].fillna(0), fmt="none", ecolor="#888888", capsize=3, lw=1)
        ax.scatter(s["c_mean"], y, c=colors, zorder=3, s=28)
        for i, k in enumerate(s.index):
            if (d, k) in CONTEXT:
                ax.scatter([CONTEXT[(d, k)][0]], [i], marker="x", c="k", s=22, zorder=4)
        ax.set_yticks(y, [model_name(k) for k in s.index], fontsize=8)
        ax.set_title(f"{d} ({int(s['n'].max())} split(s))", fontsize=10)
        ax.set_xlabel("Harrell's C (mean ± std over splits)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Test C-index; red: CAMLIF, orange: its variants, blue: baselines; x: context figure",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure_km(result, ds, path):
    from sksurv.compare import compare_survival
    from sksurv.nonparametric import kaplan_meier_estimator

    plt = _plt()
    dsm = _bench_module("datasets")
    _, test = dsm.split_indices(ds.splits, result["split"])
    y = ds.y[test]
    risk = np.asarray(result["risk_test"])
    cuts = np.quantile(risk, [1 / 3, 2 / 3])
    group = np.digitize(risk, cuts)  # 0 low, 1 intermediate, 2 high
    labels = ["low risk", "intermediate risk", "high risk"]
    try:
        chi2, pvalue = compare_survival(y, group)
        test_txt = f"log-rank chi2 = {chi2:.1f}, p = {pvalue:.2g}"
    except ValueError:
        test_txt = ""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for g, color in zip(range(3), ("#2e8b57", "#e6a100", "#c0392b")):
        m = group == g
        if not m.any():
            continue
        t, s = kaplan_meier_estimator(y["event"][m], y["time"][m])
        ax.step(np.r_[0, t], np.r_[1, s], where="post", color=color,
                label=f"{labels[g]} (n={m.sum()}, {y['event'][m].sum()} deaths)")
    ax.set_xlabel(f"time ({ds.time_unit})")
    ax.set_ylabel("survival probability (Kaplan-Meier)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"GBMLGG split {result['split']} test part: tertiles of CAMLIF risk "
                 f"(C = {result['cindex']:.3f})\n{test_txt}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return test_txt


def figure_curve(result, path):
    plt = _plt()
    loss, val = result.get("loss_curve") or [], result.get("validation_scores") or []
    fig, ax = plt.subplots(figsize=(6, 3.8))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, color="#2c6fbb", marker=".", label="training loss")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (Cox + alignment)", color="#2c6fbb")
    if val:
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, len(val) + 1), val, color="#c0392b", marker=".", label="validation C")
        best = int(np.argmax(val))
        ax2.axvline(best + 1, color="#c0392b", ls=":", lw=1)
        ax2.set_ylabel("validation Harrell's C", color="#c0392b")
    ax.set_title(f"CAMLIF on GBMLGG split {result['split']}: {len(loss)} epochs"
                 + (f", best validation C {max(val):.3f} at epoch {int(np.argmax(val)) + 1}" if val else ""),
                 fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- report
def write_report(out, frame, loaded, args, hw, sw, run_info, fig_dir):
    summary = summarise(frame)
    datasets = [d for d in args.datasets if d in loaded]
    lines = []
    say = lines.append
    full = args.models == ["all"] and not args.exclude and args.rsf_trees == RSF_TREES
    if args.quick:
        mode = "quick mode"
    elif args.splits == 15:
        mode = "full protocol" if full else "15 splits, reduced protocol"
    else:
        mode = f"{args.splits} splits"
    say("# Benchmarks")
    say("")
    say(f"Generated by `python benchmarks/benchmark.py {' '.join(args.argv)}`".rstrip() + f" ({mode}) on "
        f"{run_info['date']}; do not edit by hand, rerun the script. "
        "Every model was fitted on the training part and scored on the test part of the same splits.")
    if args.quick or args.splits < 15:
        say("")
        say(f"**{args.splits} split(s) only{' (quick mode)' if args.quick else ''}: indicative.** The full protocol is "
            "`python benchmarks/benchmark.py` (15 splits, all models).")
    if args.exclude or args.rsf_trees != RSF_TREES:
        say("")
        parts = []
        if args.exclude:
            parts.append("left out (`--exclude`): " + ", ".join(f"`{e}`" for e in args.exclude))
        if args.rsf_trees != RSF_TREES:
            parts.append(f"RSF with {args.rsf_trees} trees instead of {RSF_TREES}")
        say("Reduced to fit the time budget: " + "; ".join(parts) + ".")
    if run_info.get("n_stale"):
        say("")
        say(f"**{run_info['n_stale']} of the results shown were computed with other code or parameters than the "
            f"current checkout** (models: {', '.join(run_info['stale_models'])}; e.g. `sksurv_camlif` changed "
            "since; see the run-time section for when they ran). Rerun without `--report-only` to refit them.")
    if run_info.get("gits"):
        say("")
        say("Checkout(s) the results were computed from: " + ", ".join(f"`{g}`" for g in run_info["gits"]) + ".")
    say("")
    say("## Set-up")
    say("")
    say(f"- Hardware: {hw.get('Model name', '?')}, {hw.get('cpu_count')} logical CPU(s) "
        f"({hw.get('Socket(s)', '?')} socket(s) × {hw.get('Core(s) per socket', '?')} core(s) × "
        f"{hw.get('Thread(s) per core', '?')} thread(s)), {hw.get('memory_gib', '?')} GiB RAM, no GPU used; "
        f"{hw['platform']}. 1-minute load average {run_info['load_start']:.1f} at the start and "
        f"{run_info['load_end']:.1f} at the end of this invocation, {run_info['load_tasks']:.1f} on average "
        f"at the start and end of the tasks shown; a load above {hw.get('cpu_count')} means the tasks "
        "shared the cores with other jobs, so their fit times are inflated and noisy.")
    sw_txt = ", ".join(f"{k} {v}" for k, v in sw.items() if k != "git")
    say(f"- Software: Python {hw['python']}, {sw_txt}; checkout when the report was written: "
        f"`{sw.get('git', '?')}`.")
    say(f"- Parallelism: {args.n_jobs} joblib worker(s) over (data set, model, split) tasks, each "
        "single-threaded (torch `n_threads=1`, BLAS limited to 1 thread, RSF `n_jobs=1`).")
    say("- Metrics on the test part: Harrell's C (`concordance_index_censored`) of the predicted risk; "
        "integrated Brier score (IBS, lower is better; `integrated_brier_score` with the censoring "
        "distribution of the train part) of the predicted survival functions on a fixed grid per data set: "
        "the 10th to 80th percentiles of all event times, restricted to the range covered by the train "
        "and test parts of all 15 splits. Test times above the largest train time are clipped to it "
        "(this changes nothing since every grid time is below). Mean ± standard deviation (ddof=1) over "
        "splits; the best mean per data set is in **bold** (highest C, lowest IBS). "
        "ΔC: paired difference to CAMLIF (defaults) over the same splits, mean ± standard error.")
    say("- Seeds: every model uses `random_state` = split number.")
    say("")
    say("Models (preprocessing inside each model, fitted on the train part: mean imputation and "
        "standardisation of numeric columns, one-hot encoding of categorical ones, a missing category "
        "being its own level):")
    say("")
    say("| key | model |")
    say("|---|---|")
    desc = {
        "camlif": "`CAMLIFSurvival` with its defaults (GBMLGG: `sksurv_camlif.presets.default_gbmlgg_estimator`), "
                  "CPU, `n_threads=1`",
        "camlif_no_xattn": "ablation `cross_attention=False`",
        "camlif_align": "the default with the paper's alignment loss, `alignment_weight=0.5` (the default, "
                        "`alignment_weight=0`, is the paper's ablation without alignment)",
        "camlif_no_second": "ablation `second_fusion=False`",
        "camlif_plain": "the paper's plain network, `offset=None, n_members=1, alignment_weight=0.5` "
                        "(`sksurv_camlif.presets.PAPER_NETWORK`: one network, early-stopped on a 15% validation "
                        "split; the defaults before the fitting protocol)",
        "camlif_linear": "the defaults' linear offset alone, `residual_weights=[0]` (no network trained)",
        "coxnet": "elastic net Cox on all columns (`l1_ratio=0.5`), alpha among 10 of its path by inner 3-fold "
                  "CV on the train part (`sksurv_camlif.presets.CoxnetCV`), Breslow baseline for the IBS",
        "coxph_clinical": f"Cox PH on the clinical columns, ridge `alpha={COXPH_CLINICAL_ALPHA:g}`",
        "coxph_all": f"Cox PH on all columns, ridge `alpha={COXPH_ALL_ALPHA:g}`",
        "rsf": f"RandomSurvivalForest, `n_estimators={args.rsf_trees}`, `min_samples_leaf=10`",
        "gbsa": "GradientBoostingSurvivalAnalysis, defaults (Cox loss, 100 trees of depth 3)",
        "deepsurv": "`DeepSurvMLP` (benchmarks/deepsurv.py), defaults: 2 × 64 ReLU, dropout 0.1, early stopping",
    }
    used = []
    for d in datasets:
        used += [k for k in frame.loc[frame["dataset"] == d, "model"].unique() if k not in used]
    for k in used:
        if k.startswith(SINGLE_PREFIX):
            continue
        say(f"| `{k}` | {model_name(k)}: {desc.get(k, '')} |")
    if any(k.startswith(SINGLE_PREFIX) for k in used):
        say(f"| `{SINGLE_PREFIX}<block>` | CAMLIF defaults with a single modality block plus the clinical block "
            "(cross-attention is then off by construction) |")
    say("")
    say("## Data sets")
    say("")
    say("| data set | n | events | features | modality blocks (CAMLIF) | clinical (head) | splits | IBS grid |")
    say("|---|---|---|---|---|---|---|---|")
    for d in datasets:
        ds = loaded[d]
        blocks = ", ".join(f"{b} ({len(c)})" for b, c in ds.modalities.items())
        grid = run_info["times"][d]
        grid_txt = f"{len(grid)} times, {grid[0]:.0f}–{grid[-1]:.0f} {ds.time_unit}" if grid else "–"
        splits = "authors' 15" if d == "gbmlgg" else "15 MC 80/20, stratified, seed k"
        say(f"| {d} | {len(ds.X)} | {int(ds.y['event'].sum())} | {ds.X.shape[1]} | {blocks} | "
            f"{', '.join(ds.clinical)} | {splits} | {grid_txt} |")
    say("")
    for d in datasets:
        say(f"- **{d}**: {loaded[d].description}")
    say("")
    say("## Results")
    say("")
    for d in datasets:
        if d not in summary.index.get_level_values(0):
            continue
        s = summary.loc[d]
        best_c = s["c_mean"].round(3).max()
        best_ibs = s["ibs_mean"].round(3).min() if s["ibs_mean"].notna().any() else None
        say(f"### {d}")
        say("")
        say("| model | Harrell's C | IBS | ΔC vs CAMLIF | fit (s/split) | splits | context C |")
        say("|---|---|---|---|---|---|---|")
        for k, row in s.sort_values("c_mean", ascending=False).iterrows():
            c = _pm(row["c_mean"], row["c_std"])
            if round(row["c_mean"], 3) == best_c:
                c = f"**{c}**"
            ibs = _pm(row["ibs_mean"], row["ibs_std"])
            if best_ibs is not None and not math.isnan(row["ibs_mean"]) and round(row["ibs_mean"], 3) == best_ibs:
                ibs = f"**{ibs}**"
            delta = "—" if k == "camlif" else _signed(paired(frame, d, k, "camlif"))
            ctx = CONTEXT.get((d, k))
            ctx = _pm(ctx[0], ctx[1]) if ctx else ""
            name = f"**{model_name(k)}**" if k == "camlif" else model_name(k)
            say(f"| {name} | {c} | {ibs} | {delta} | {row['fit_mean']:.1f} | {int(row['n'])} | {ctx} |")
        errors = frame[(frame["dataset"] == d) & frame["error"].notna()]
        if len(errors):
            say("")
            say(f"Failed fits ({len(errors)}): " + "; ".join(
                f"{r.model} split {r.split}: {str(r.error)[:120]}" for r in errors.itertuples()))
        say("")
    say("Context C: Harrell's C (mean ± std over 15 splits) of the same model class measured elsewhere on "
        "other splits, for orientation only.")
    say("")
    say("## CAMLIF against the best baseline")
    say("")
    say("Best baseline: the non-CAMLIF model with the highest mean C on the data set in this run. "
        "Paired over the common splits.")
    say("")
    say("| data set | CAMLIF C | best baseline | its C | CAMLIF − baseline (± s.e.) | CAMLIF better in | verdict |")
    say("|---|---|---|---|---|---|---|")
    verdicts = {}
    for d in datasets:
        if d not in summary.index.get_level_values(0) or "camlif" not in summary.loc[d].index:
            continue
        s = summary.loc[d]
        base = s[[not is_camlif(k) for k in s.index]]
        if base.empty:
            continue
        b = base["c_mean"].idxmax()
        p = paired(frame, d, "camlif", b)
        if p is None:
            continue
        if p["n"] < 2:
            verdict = "one split: no s.e."
        elif abs(p["mean"]) > 2 * p["se"]:
            verdict = "CAMLIF ahead (> 2 s.e.)" if p["mean"] > 0 else "CAMLIF behind (> 2 s.e.)"
        else:
            verdict = "within 2 s.e."
        verdicts[d] = (b, p, verdict)
        say(f"| {d} | {_pm(s.loc['camlif', 'c_mean'], s.loc['camlif', 'c_std'])} | {model_name(b)} | "
            f"{_pm(base.loc[b, 'c_mean'], base.loc[b, 'c_std'])} | {_signed(p)} | {p['wins']}/{p['n']} splits | "
            f"{verdict} |")
    say("")
    say("## Figures")
    say("")
    rel = os.path.relpath(fig_dir, Path(out).parent)
    for fname, caption in run_info["figures"]:
        say(f"![{caption}]({rel}/{fname})")
        say("")
        say(f"*{caption}*")
        say("")
    if not run_info["figures"]:
        say("No figure (matplotlib missing or no result).")
        say("")
    say("## Run time")
    say("")
    if args.report_only:
        say("Report rewritten from the cache (`--report-only`): no model was fitted by this invocation.")
        say("")
    say(f"Wall-clock time of this invocation: {run_info['wall']:.0f} s ({run_info['n_new']} task(s) fitted, "
        f"{run_info['n_cached']} loaded from the cache in `{run_info['results_rel']}`). "
        f"{run_info['span']}"
        f"Sum of fit + predict times of all results shown: {run_info['compute']:.0f} s "
        "(single-threaded tasks).")
    say("")
    say("| model | " + " | ".join(f"{d} fit (s)" for d in datasets) + " | epochs (mean) |")
    say("|---|" + "---|" * (len(datasets) + 1))
    for k in used:
        cells = []
        ep = []
        for d in datasets:
            if d in summary.index.get_level_values(0) and k in summary.loc[d].index:
                row = summary.loc[(d, k)]
                cells.append(f"{row['fit_mean']:.1f}")
                if "epochs" in row and not math.isnan(row["epochs"]):
                    ep.append(f"{d} {row['epochs']:.0f}")
            else:
                cells.append("–")
        say(f"| {model_name(k)} | " + " | ".join(cells) + f" | {', '.join(ep) if ep else '–'} |")
    say("")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines))
    return summary, verdicts


# ----------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"2 splits and the models {','.join(QUICK_MODELS)} (unless --splits/--models)")
    p.add_argument("--splits", type=int, default=None, help="first N splits (1-15; default 15, quick 2)")
    p.add_argument("--datasets", default=",".join(ALL_DATASETS),
                   help=f"comma-separated, among {','.join(ALL_DATASETS)}")
    p.add_argument("--models", default=None, help="comma-separated model keys or groups (default: all)")
    p.add_argument("--exclude", default="",
                   help="comma-separated [dataset:]model-or-group to leave out, e.g. "
                        "metabric:ablations,metabric:single")
    p.add_argument("--n-jobs", type=int, default=2, help="parallel single-threaded tasks (default 2)")
    p.add_argument("--rsf-trees", type=int, default=RSF_TREES, help=f"RSF trees (default {RSF_TREES})")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="the Markdown report (default docs/benchmarks.md)")
    p.add_argument("--figures-dir", default=None, help="default: _static/ next to --out")
    p.add_argument("--results-dir", default=str(DEFAULT_RESULTS),
                   help="cache of per-(data set, model, split) results (default benchmarks/results)")
    p.add_argument("--rerun", action="store_true", help="ignore the cache (results are overwritten)")
    p.add_argument("--report-only", action="store_true",
                   help="fit nothing: rewrite the report and figures from the cached results, including "
                        "those made with other code or parameters (flagged in the report)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.splits is None:
        args.splits = 2 if args.quick else 15
    if not 1 <= args.splits <= 15:
        p.error("--splits must be between 1 and 15")
    if args.n_jobs < 1:
        p.error("--n-jobs must be >= 1")
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    bad = [d for d in args.datasets if d not in ALL_DATASETS]
    if bad:
        p.error(f"unknown data set(s) {bad}; choose among {list(ALL_DATASETS)}")
    if args.models is None:
        args.models = ",".join(QUICK_MODELS) if args.quick else "all"
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.exclude = [m.strip() for m in args.exclude.split(",") if m.strip()]
    for item in args.exclude:
        d, _, m = item.rpartition(":")
        if d and d not in ALL_DATASETS:
            p.error(f"--exclude {item!r}: unknown data set {d!r}")
    return args


def selected_models(ds, args):
    """The model keys of data set ``ds``: --models minus --exclude."""
    keys = models_for(ds, args.models)
    for item in args.exclude:
        d, _, m = item.rpartition(":")
        if d in ("", ds.name):
            drop = set(models_for(ds, [m]))
            keys = [k for k in keys if k not in drop]
    return keys


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    dsm = _bench_module("datasets")
    out = Path(args.out)
    fig_dir = Path(args.figures_dir) if args.figures_dir else out.parent / "_static"
    results_dir = Path(args.results_dir)

    loaded, tasks, cached, skipped = {}, [], [], {}
    git = software_info().get("git")
    times = {}
    for d in args.datasets:
        try:
            ds = dsm.load_dataset(d)
        except ImportError as exc:
            skipped[d] = str(exc)
            print(f"skipping {d}: {exc}", flush=True)
            continue
        loaded[d] = ds
        times[d] = ibs_times(ds)
        data_fp = data_fingerprint(ds)
        for key in selected_models(ds, args):
            est = build_model(key, ds, seed=0, rsf_trees=args.rsf_trees)
            fp = model_fingerprint(key, est, {"times": times[d], "data": data_fp})
            for k in range(1, args.splits + 1):
                path = result_path(results_dir, d, key, k)
                hit = None if args.rerun else load_cached(path, fp, stale_ok=args.report_only)
                if hit is not None:
                    cached.append(hit)
                elif not args.report_only:
                    tasks.append((d, key, k, times[d], fp, str(results_dir), args.rsf_trees, str(BENCH_DIR), git))
    if not loaded:
        print("no data set could be loaded", file=sys.stderr)
        return 1

    def cost(task):
        d, key = task[0], task[1]
        factor = 10 if is_camlif(key) else 6 if key == "deepsurv" else 3 if key == "rsf" else 1
        return -len(loaded[d].X) * factor

    tasks.sort(key=cost)  # longest first: better load balance
    print(f"{len(cached)} result(s) from the cache, {len(tasks)} task(s) to run on {args.n_jobs} worker(s)",
          flush=True)
    new = []
    if tasks:
        from joblib import Parallel, delayed

        if args.n_jobs > 1 and __name__ != "__main__":
            try:  # imported by path (tests): ship this module's functions by value
                import cloudpickle

                cloudpickle.register_pickle_by_value(sys.modules[__name__])
            except (ImportError, KeyError, ValueError):
                pass
        jobs = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
            delayed(_safe_task)(*t) for t in tasks)
        for i, r in enumerate(jobs, 1):
            new.append(r)
            if "error" in r:
                msg = f"FAILED {r['error'][:200]}"
            else:
                ibs = "" if r["ibs"] is None else f" IBS {r['ibs']:.3f}"
                msg = f"C {r['cindex']:.3f}{ibs} fit {r['fit_time']:.1f} s"
            elapsed = time.perf_counter() - t_start
            print(f"[{i}/{len(tasks)} {elapsed:6.0f} s] {r['dataset']} {r['model']} split {r['split']}: {msg}",
                  flush=True)

    frame = pd.DataFrame(cached + new)
    for col in ("error", "ibs", "n_iter", "fit_time", "predict_time", "cindex"):
        if col not in frame:
            frame[col] = np.nan
    frame["ibs"] = pd.to_numeric(frame["ibs"], errors="coerce")
    ok = frame[frame["error"].isna()]

    fig_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    try:
        summary = summarise(frame)
        figure_cindex(summary, [d for d in args.datasets if d in loaded], fig_dir / FIG_CINDEX)
        figures.append((FIG_CINDEX, "Harrell's C on the test parts, mean ± std over splits, per data set"))
        sel = ok[(ok["dataset"] == "gbmlgg") & (ok["model"] == "camlif") & (ok["split"] == 1)]
        if len(sel):
            r = sel.iloc[0].to_dict()
            txt = figure_km(r, loaded["gbmlgg"], fig_dir / FIG_KM)
            figures.append((FIG_KM, "Kaplan-Meier curves of the tertiles of CAMLIF's predicted risk on the test "
                                    f"part of GBMLGG split 1 ({txt})"))
            figure_curve(r, fig_dir / FIG_CURVE)
            figures.append((FIG_CURVE, "Training loss and validation C per epoch of that fit (early stopping "
                                       "restores the best epoch)"))
    except ImportError as exc:
        print(f"no figures: {exc}", flush=True)

    load_end = os.getloadavg()[0]
    loads = pd.concat([ok.get("loadavg_start", pd.Series(dtype=float)),
                       ok.get("loadavg_end", pd.Series(dtype=float))]).dropna()
    span = ""
    if len(ok) and "created" in ok:
        start = pd.to_datetime(ok["created"])
        end = (start + pd.to_timedelta(ok["fit_time"] + ok["predict_time"], unit="s")).max()
        span = (f"The tasks shown ran from {start.min():%Y-%m-%d %H:%M} to {end:%H:%M} "
                f"({(end - start.min()).total_seconds() / 60:.0f} min of wall clock, including any pause "
                "between resumed runs). ")
    run_info = {
        "span": span,
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "load_start": load_start, "load_end": load_end,
        "load_tasks": float(loads.mean()) if len(loads) else float("nan"),
        "times": times, "figures": figures, "wall": time.perf_counter() - t_start,
        "n_new": len(new), "n_cached": len(cached),
        "n_stale": int(sum(bool(r.get("stale")) for r in cached)),
        "stale_models": sorted({r["model"] for r in cached if r.get("stale")}),
        "gits": sorted({g.removesuffix("-dirty") for g in (r.get("git") for r in ok.to_dict("records"))
                        if isinstance(g, str) and g}),
        "compute": float(ok["fit_time"].sum() + ok["predict_time"].sum()),
        "results_rel": _display_path(results_dir),
    }
    summary, verdicts = write_report(out, frame, loaded, args, hardware_info(), software_info(), run_info, fig_dir)
    print(f"wrote {out} and {len(figures)} figure(s) in {fig_dir}", flush=True)
    for d, (b, p, verdict) in verdicts.items():
        print(f"  {d}: CAMLIF - {model_name(b)} = {_signed(p)} over {p['n']} split(s): {verdict}", flush=True)
    if skipped:
        print(f"skipped data sets: {skipped}", flush=True)
    n_err = int(frame["error"].notna().sum())
    if n_err:
        print(f"{n_err} task(s) failed (not cached; rerun to retry)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
