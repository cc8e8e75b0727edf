"""Semi-synthetic benchmark: real TCGA-GBMLGG covariates, simulated outcomes of known risk.

    python benchmarks/synthetic.py                                    # 3 truths x 3 n_train x 10 replicates
    python benchmarks/synthetic.py --fast                             # smoke: 2 replicates, n_train 300
    python benchmarks/synthetic.py --truths linear interaction --n-train 769 2000 \\
        --replicates 3 --models oracle coxph_clinical coxnet gbsa camlif camlif_plain --n-jobs 1
    python benchmarks/synthetic.py --calibrate                        # recompute the constants

Covariates are the real rows of ``load_tcga_gbmlgg()`` (real correlations, real missing
values). In replicate r the 769 original patients are split 80/20 into train and test
patients (seed from r), then each part is resampled with replacement: the train part to
``n_train`` rows, the test part to ``--n-test`` rows (default 1000). A test row never
shares an original patient with the train part. Outcomes come from a Cox model with a
Weibull baseline (shape 1.5, scale 1000 days) and independent exponential censoring
(about 50 %); the log-risk eta(x) is one of three fixed "truths" (``linear``,
``interaction``, ``nonlinear``; see :data:`FORMULAS`), each scaled by one constant so that
the oracle Harrell's C is about 0.80 (:data:`CALIBRATION`, recomputed by ``--calibrate``).

Every model is fitted on the same train part and scored by Harrell's C on the test part;
``oracle`` scores the true eta; ``specified`` is a Cox model of the truth's own terms
(it knows the form of eta, not its coefficients): what a model that finds the right
features can learn from n_train rows. Each (truth, n_train, replicate, model) result is cached as
JSON under ``--results-dir`` (default ``benchmarks/results/synthetic/``) with a
fingerprint of the data-generating constants, the model's parameters and the code it
depends on, so a rerun resumes and a changed model is refitted. The report goes to
``--out`` (default ``docs/synthetic.md``) and the figure ``synthetic_cindex.png`` to the
``_static/`` folder next to it (the folder of ``benchmarks/benchmark.py``'s figures).

``benchmarks/`` is not a package: the baselines ``rsf``, ``gbsa`` and ``deepsurv`` are
built by ``benchmarks/benchmark.py``'s ``build_model``, loaded by path.
"""

if __name__ == "__main__":  # before numpy is imported: one BLAS thread per process
    import os as _os

    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        _os.environ.setdefault(_var, "1")

import argparse
import datetime as _dt
import hashlib
import importlib.util
import inspect
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_OUT = REPO_DIR / "docs" / "synthetic.md"
DEFAULT_RESULTS = BENCH_DIR / "results" / "synthetic"
FIG_NAME = "synthetic_cindex.png"

#: Bump when the data generation, the scoring or the result format changes.
RESULT_VERSION = 1

# ----------------------------------------------------------------------------- design
BASE_SEED = 13  #: every random stream is numpy's default_rng([BASE_SEED, stream, ...])
STREAM_REPLICATE, STREAM_CALIBRATION, STREAM_CHECK = 0, 1, 2
WEIBULL_SHAPE = 1.5  #: baseline cumulative hazard H0(t) = (t / WEIBULL_SCALE) ** WEIBULL_SHAPE
WEIBULL_SCALE = 1000.0  #: days
TEST_FRACTION = 0.2  #: of the 769 original patients (154 test, 615 train patients)
N_TEST = 1000
N_TRAIN = (769, 2000, 5000)
N_REPLICATES = 10
TARGET_C = 0.80
TARGET_CENSORED = 0.5
N_CALIBRATION = 20_000
CALIBRATION_ITERATIONS = 30
CALIBRATION_BRACKET = (0.0, 10.0)

TRUTHS = ("linear", "interaction", "nonlinear")

#: linear part, on standardised columns z (coefficient per column)
LINEAR_TERMS = (
    ("idh mutation", -1.0), ("codeletion", -0.5), ("CDKN2A", -0.5),  # genomic
    ("7p", 0.5), ("10q", -0.5), ("13q", -0.5),  # copy number (arm level)
    ("age", 1.0),  # clinical
)
GENOMIC_SCORE = ("MDM4", "MYC", "RB1")  #: G = mean of their z
CNV_SCORE = ("19p", "20q", "22q")  #: C = mean of their z
THRESHOLD_WEIGHT = 0.5  #: weight of the IDH wild-type x 7p gain term in "interaction"

#: the truths as documented (std(v) = (v - mean) / sd over the 769 original patients)
FORMULAS = {
    "linear": "s = std(L),  L = -1.0 z[idh mutation] - 0.5 z[codeletion] - 0.5 z[CDKN2A]\n"
              "                + 0.5 z[7p] - 0.5 z[10q] - 0.5 z[13q] + 1.0 z[age]",
    "interaction": "s = std(std(L) + std(G * C) + 0.5 std(1[z[idh mutation] < 0] * 1[z[7p] > 0.5])),\n"
                   "    G = mean(z[MDM4], z[MYC], z[RB1]),  C = mean(z[19p], z[20q], z[22q])",
    "nonlinear": "s = std(1[z[10q] < -0.5] + 1[z[7p] > 0.5] + z[9p] * z[13q])",
}

#: eta = scale * s. ``scale`` (= sd of eta over the 769 original patients) gives an oracle
#: Harrell's C of 0.80 and ``censor_scale`` (days; censoring time = censor_scale * Exp(1))
#: 50 % censoring on the calibration sample (N_CALIBRATION rows, stream 1); recomputed by
#: ``python benchmarks/synthetic.py --calibrate`` (deterministic bisection), rounded.
CALIBRATION = {
    "linear": {"scale": 1.4324, "censor_scale": 1155.0},
    "interaction": {"scale": 1.4197, "censor_scale": 1195.9},
    "nonlinear": {"scale": 1.8776, "censor_scale": 1289.3},
}

# ----------------------------------------------------------------------------- models
MODELS = {
    "oracle": "Oracle (true η)",
    "specified": "Cox, true terms",
    "camlif": "CAMLIF",
    "camlif_plain": "CAMLIF plain",
    "coxnet": "Coxnet (all)",
    "coxph_clinical": "CoxPH (clinical)",
    "rsf": "RSF",
    "gbsa": "GBSA",
    "deepsurv": "DeepSurv",
}
FAST_MODELS = ("oracle", "coxph_clinical", "coxnet", "camlif")
FAST = {"replicates": 2, "n_train": [300], "n_test": 200, "camlif_max_iter": 3}
RSF_TREES = 200
REFERENCE_MODEL = "coxnet"
COLORS = {
    "camlif": "#c0392b", "camlif_plain": "#e67e22", "coxnet": "#2c6fbb", "coxph_clinical": "#7f8c8d",
    "rsf": "#27ae60", "gbsa": "#8e44ad", "deepsurv": "#16a085", "oracle": "#000000", "specified": "#95a5a6",
}
SPECIFIED_ALPHA = 1e-4  #: ridge of the ``specified`` Cox model (for stability only)


# ----------------------------------------------------------------------------- data
# a plain dict, not functools.lru_cache: joblib's workers receive this script's functions
# by value (cloudpickle), which an lru_cache wrapper defined in __main__ cannot be
_CACHE = {}


def load_pool():
    """The 769 original patients: (X, modalities) of :func:`load_tcga_gbmlgg`."""
    if "pool" not in _CACHE:
        from sksurv_camlif.datasets import load_tcga_gbmlgg

        X, _, modalities, _ = load_tcga_gbmlgg()
        _CACHE["pool"] = X, {k: list(v) for k, v in modalities.items()}
    return _CACHE["pool"]


def standardise(X):
    """Numeric columns as z-scores: missing values imputed by the column mean of the whole
    original table, then centred and divided by the standard deviation (ddof=0) of the
    observed values, both over the 769 original patients; a missing value becomes 0."""
    num = X.select_dtypes("number")
    return ((num - num.mean()) / num.std(ddof=0)).fillna(0.0)


def _std(v):
    v = np.asarray(v, dtype=float)
    return (v - v.mean()) / v.std()


def truth_terms(truth, X=None):
    """The terms of ``truth``'s score on the original patients (one column each) and their
    weights: s = std(sum of weight * term)."""
    if X is None:
        X = load_pool()[0]
    z = standardise(X)
    linear = sum(w * z[c] for c, w in LINEAR_TERMS)
    if truth == "linear":
        terms, weights = {"L": linear}, (1.0,)
    elif truth == "interaction":
        g = z[list(GENOMIC_SCORE)].mean(axis=1)
        c = z[list(CNV_SCORE)].mean(axis=1)
        threshold = (z["idh mutation"] < 0).astype(float) * (z["7p"] > 0.5).astype(float)
        terms = {"std(L)": _std(linear), "std(G * C)": _std(g * c), "std(IDH wt x 7p gain)": _std(threshold)}
        weights = (1.0, 1.0, THRESHOLD_WEIGHT)
    elif truth == "nonlinear":
        terms = {"10q loss": (z["10q"] < -0.5).astype(float), "7p gain": (z["7p"] > 0.5).astype(float),
                 "9p * 13q": z["9p"] * z["13q"]}
        weights = (1.0, 1.0, 1.0)
    else:
        raise ValueError(f"unknown truth {truth!r}; choose among {TRUTHS}")
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in terms.items()}, index=X.index), weights


def truth_score(truth, X=None):
    """The standardised score s of ``truth`` on the original patients (mean 0, sd 1)."""
    terms, weights = truth_terms(truth, X)
    return _std(sum(w * terms[c].to_numpy() for c, w in zip(terms.columns, weights)))


def pool_scores():
    if "scores" not in _CACHE:
        _CACHE["scores"] = {t: truth_score(t) for t in TRUTHS}
    return _CACHE["scores"]


def linear_share(truth):
    """R² of the least-squares fit of s on every standardised column and the one-hot
    categorical columns (a missing category its own level), over the original patients:
    the share of var(eta) that a linear model in the columns can represent."""
    X = load_pool()[0]
    cat = X.select_dtypes(exclude="number")
    design = pd.concat([standardise(X), pd.get_dummies(cat, dummy_na=True).astype(float)], axis=1)
    A = np.c_[np.ones(len(design)), design.to_numpy()]
    s = pool_scores()[truth]
    coef, *_ = np.linalg.lstsq(A, s, rcond=None)
    return float(1 - ((s - A @ coef) ** 2).sum() / (s ** 2).sum())


def _rng(*key):
    return np.random.default_rng([BASE_SEED, *key])


def event_times(eta, v):
    """Weibull-Cox event times from standard exponential draws ``v``: H0(T) exp(eta) = v."""
    return WEIBULL_SCALE * (v * np.exp(-eta)) ** (1.0 / WEIBULL_SHAPE)


def outcome(eta, v, e, censor_scale):
    from sksurv.util import Surv

    t_event = event_times(eta, v)
    t_censor = censor_scale * e
    return Surv.from_arrays(event=t_event <= t_censor, time=np.minimum(t_event, t_censor))


def harrell(y, risk):
    from sksurv.metrics import concordance_index_censored

    return float(concordance_index_censored(y["event"], y["time"], np.asarray(risk, dtype=float))[0])


def _large_sample(stream, n):
    """Rows (with replacement from the 769 patients) and the two exponential draws."""
    idx = _rng(stream, 0).integers(0, len(load_pool()[0]), n)
    return idx, _rng(stream, 1).standard_exponential(n), _rng(stream, 2).standard_exponential(n)


def _constants(truth):
    cal = CALIBRATION[truth]
    if cal["scale"] is None or cal["censor_scale"] is None:
        raise RuntimeError(f"truth {truth!r} is not calibrated: run --calibrate and fill CALIBRATION")
    return float(cal["scale"]), float(cal["censor_scale"])


def oracle_check(truth, n=N_CALIBRATION, stream=STREAM_CHECK):
    """(oracle Harrell's C, censored fraction) of ``truth`` with the constants of
    :data:`CALIBRATION` on ``n`` rows of random stream ``stream``."""
    scale, censor_scale = _constants(truth)
    idx, v, e = _large_sample(stream, n)
    eta = scale * pool_scores()[truth][idx]
    y = outcome(eta, v, e, censor_scale)
    return harrell(y, eta), float(1 - y["event"].mean())


def calibrate(truth, n=N_CALIBRATION, iterations=CALIBRATION_ITERATIONS, verbose=False):
    """Scale and censoring scale of ``truth``: deterministic bisection of the scale c on
    [0, 10] (``iterations`` halvings) for an oracle C of TARGET_C on the calibration sample
    (common random numbers for every c); for each c the censoring scale is the median of
    T / E, which censors exactly half of the sample."""
    idx, v, e = _large_sample(STREAM_CALIBRATION, n)
    s = pool_scores()[truth][idx]

    def at(c):
        eta = c * s
        tau = float(np.median(event_times(eta, v) / e))
        return harrell(outcome(eta, v, e, tau), eta), tau

    lo, hi = CALIBRATION_BRACKET
    for i in range(iterations):
        mid = 0.5 * (lo + hi)
        c_index, _ = at(mid)
        if verbose:
            print(f"  {truth} bisection {i + 1:2d}: scale {mid:.6f} -> C {c_index:.4f}", flush=True)
        lo, hi = (mid, hi) if c_index < TARGET_C else (lo, mid)
    scale = 0.5 * (lo + hi)
    c_index, tau = at(scale)
    return {"scale": scale, "censor_scale": tau, "cindex": c_index}


def replicate_design(r, n_train, n_test=N_TEST):
    """Rows (positions among the 769 original patients) of the train and test parts of
    replicate ``r``: an 80/20 split of the patients (stream [0, r, 0]), then resampling with
    replacement within each part (streams [0, r, 1] and [0, r, 2]). The draws are nested:
    the first m train rows of a larger n_train are the rows of n_train = m."""
    n = len(load_pool()[0])
    perm = _rng(STREAM_REPLICATE, r, 0).permutation(n)
    n_te = int(round(TEST_FRACTION * n))
    test_pat, train_pat = np.sort(perm[:n_te]), np.sort(perm[n_te:])
    train = train_pat[_rng(STREAM_REPLICATE, r, 1).integers(0, len(train_pat), n_train)]
    test = test_pat[_rng(STREAM_REPLICATE, r, 2).integers(0, len(test_pat), n_test)]
    return train, test


def make_replicate(truth, r, n_train, n_test=N_TEST):
    """Train and test parts of replicate ``r``: X (index reset), y, eta and the original
    patient of every row. The exponential draws of the outcomes come from streams
    [0, r, 3..6] whatever the truth (common random numbers across truths and n_train)."""
    X, _ = load_pool()
    scale, censor_scale = _constants(truth)
    s = pool_scores()[truth]
    train, test = replicate_design(r, n_train, n_test)
    eta_tr, eta_te = scale * s[train], scale * s[test]
    y_tr = outcome(eta_tr, _rng(STREAM_REPLICATE, r, 3).standard_exponential(n_train),
                   _rng(STREAM_REPLICATE, r, 4).standard_exponential(n_train), censor_scale)
    y_te = outcome(eta_te, _rng(STREAM_REPLICATE, r, 5).standard_exponential(n_test),
                   _rng(STREAM_REPLICATE, r, 6).standard_exponential(n_test), censor_scale)
    return {
        "X_train": X.iloc[train].reset_index(drop=True), "y_train": y_tr, "eta_train": eta_tr,
        "X_test": X.iloc[test].reset_index(drop=True), "y_test": y_te, "eta_test": eta_te,
        "train_patients": np.asarray(X.index[train]), "test_patients": np.asarray(X.index[test]),
    }


def dgp_spec(n_test):
    """Everything that defines the simulated data (for the cache fingerprint)."""
    X, modalities = load_pool()
    data = hashlib.sha1(pd.util.hash_pandas_object(X, index=True).to_numpy().tobytes()).hexdigest()[:12]
    return {
        "version": RESULT_VERSION, "seed": BASE_SEED, "weibull": [WEIBULL_SHAPE, WEIBULL_SCALE],
        "test_fraction": TEST_FRACTION, "n_test": n_test, "linear": LINEAR_TERMS,
        "genomic_score": GENOMIC_SCORE, "cnv_score": CNV_SCORE, "threshold_weight": THRESHOLD_WEIGHT,
        "formulas": FORMULAS, "calibration": CALIBRATION, "data": data,
    }


# ----------------------------------------------------------------------------- models
def _package_attr(name):
    """``name`` from ``sksurv_camlif.presets`` if that module has it, else from the demo."""
    try:
        presets = importlib.import_module("sksurv_camlif.presets")
        if hasattr(presets, name):
            return getattr(presets, name)
    except ImportError:
        pass
    return getattr(importlib.import_module("sksurv_camlif.demo"), name)


def plain_params():
    """``camlif_plain``'s parameters: ``presets.PAPER_NETWORK`` (older checkouts: no offset,
    one member); those that the checkout's estimator has are set."""
    try:
        return dict(_package_attr("PAPER_NETWORK"))
    except (AttributeError, ImportError):
        return {"offset": None, "n_members": 1}


def _package_module_file(name):
    for mod in ("sksurv_camlif.presets", "sksurv_camlif.demo"):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        if hasattr(m, name):
            return Path(m.__file__)
    return None


def benchmark_module():
    """``benchmarks/benchmark.py``, loaded by path under the name its own loader would use."""
    key = "_camlif_bench_benchmark"
    if key not in sys.modules:
        path = BENCH_DIR / "benchmark.py"
        if not path.exists():
            raise ImportError(f"{path} is missing (needed for rsf, gbsa, deepsurv)")
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


# Helpers shared with the benchmark (same cache and report conventions), not copied.
_hash_files, _pm, _signed, load_cached, _display_path = (
    getattr(benchmark_module(), name) for name in ("_hash_files", "_pm", "_signed", "load_cached", "_display_path")
)


def build_model(key, X_train, modalities, seed, camlif_max_iter=None, rsf_trees=RSF_TREES):
    """The unfitted estimator ``key`` (None for the oracle)."""
    if key == "oracle":
        return None
    if key == "specified":  # fitted on the truth's terms (run_task), not on X
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        return CoxPHSurvivalAnalysis(alpha=SPECIFIED_ALPHA)
    if key in ("camlif", "camlif_plain"):
        factory = _package_attr("default_gbmlgg_estimator")
        kwargs = {"random_state": seed}
        sig = inspect.signature(factory).parameters
        if "X" in sig:
            kwargs["X"] = X_train
        if "modalities" in sig:
            kwargs["modalities"] = modalities
        est = factory(**kwargs)
        params = {"device": "cpu", "n_threads": 1}
        if camlif_max_iter is not None:
            params["max_iter"] = int(camlif_max_iter)
        est.set_params(**params)
        if key == "camlif_plain":
            est.set_params(**{k: v for k, v in plain_params().items() if k in est.get_params()})
        return est
    if key in ("coxnet", "coxph_clinical"):
        models = _package_attr("baseline_models")(modalities, random_state=seed)
        name = _package_attr("COXNET_NAME" if key == "coxnet" else "COXPH_NAME")
        return models[name]
    if key in ("rsf", "gbsa", "deepsurv"):
        bench = benchmark_module()
        ds = bench._bench_module("datasets").load_gbmlgg()  # only its column lists are used
        kwargs = {"rsf_trees": rsf_trees} if "rsf_trees" in inspect.signature(bench.build_model).parameters else {}
        return bench.build_model(key, ds, seed, **kwargs)
    raise ValueError(f"unknown model {key!r}; choose among {list(MODELS)}")


def code_fingerprint(key):
    import sksurv_camlif

    pkg = Path(sksurv_camlif.__file__).resolve().parent
    files = []
    if key in ("camlif", "camlif_plain", "deepsurv"):
        files += list(pkg.rglob("*.py"))
    if key == "deepsurv":
        files.append(BENCH_DIR / "deepsurv.py")
    if key in ("coxnet", "coxph_clinical"):
        f = _package_module_file("baseline_models")
        files += [f] if f else []
    return _hash_files(files) if files else ""


def model_fingerprint(key, args):
    import sklearn
    import sksurv

    X, modalities = load_pool()
    est = build_model(key, X, modalities, seed=0, camlif_max_iter=args.camlif_max_iter, rsf_trees=args.rsf_trees)
    if est is None:
        text, versions = "oracle", []
    else:
        import torch

        with sklearn.config_context(print_changed_only=False):
            text = est.__repr__(N_CHAR_MAX=10**9)
        versions = [sklearn.__version__, sksurv.__version__, torch.__version__, np.__version__]
    payload = json.dumps([key, text, code_fingerprint(key), versions, dgp_spec(args.n_test)],
                         sort_keys=True, default=str)
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def camlif_flags():
    """Which of the newer CAMLIFSurvival parameters this checkout has (for the report)."""
    from sksurv_camlif import CAMLIFSurvival

    params = CAMLIFSurvival(modalities=[]).get_params()
    return {k: (k in params, params.get(k)) for k in plain_params()}


# ----------------------------------------------------------------------------- tasks
def result_path(results_dir, truth, n_train, r, key):
    return Path(results_dir) / truth / f"n{n_train:05d}" / f"{key}__rep{r:02d}.json"


def run_task(truth, n_train, r, key, cfg):
    """Fit ``key`` on the train part of (truth, n_train, r), score the test part; cache it."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    data = make_replicate(truth, r, n_train, cfg["n_test"])
    X, modalities = load_pool()
    out = {
        "truth": truth, "n_train": int(n_train), "replicate": int(r), "model": key,
        "model_name": MODELS[key], "fingerprint": cfg["fingerprint"], "git": cfg.get("git"),
        "n_test": int(cfg["n_test"]), "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "train_patients": int(len(np.unique(data["train_patients"]))),
        "test_patients": int(len(np.unique(data["test_patients"]))),
        "censored_train": float(1 - data["y_train"]["event"].mean()),
        "censored_test": float(1 - data["y_test"]["event"].mean()),
        "loadavg_start": os.getloadavg()[0],
    }
    messages = []
    if key == "oracle":
        out["fit_time"], out["predict_time"] = 0.0, 0.0
        risk = data["eta_test"]
    else:
        est = build_model(key, data["X_train"], modalities, seed=r,
                          camlif_max_iter=cfg["camlif_max_iter"], rsf_trees=cfg["rsf_trees"])
        est = clone(est)
        X_fit, X_score = data["X_train"], data["X_test"]
        if key == "specified":
            terms = truth_terms(truth, X)[0].to_numpy()
            train, test = replicate_design(r, n_train, cfg["n_test"])
            X_fit, X_score = terms[train], terms[test]
        if key.startswith("camlif"):
            out["camlif_params"] = {k: est.get_params().get(k, "absent") for k in plain_params()}
        if key.startswith("camlif") or key == "deepsurv":
            import torch

            torch.set_num_threads(1)
        with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", message="all coefficients are zero")
            t0 = time.perf_counter()
            est.fit(X_fit, data["y_train"])
            out["fit_time"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            risk = np.asarray(est.predict(X_score), dtype=float)
            out["predict_time"] = time.perf_counter() - t0
        for w in caught:
            msg = f"{w.category.__name__}: {str(w.message)[:160]}"
            if msg not in messages:
                messages.append(msg)
        final = est[-1] if hasattr(est, "steps") else est
        for attr in ("n_iter_", "alpha_"):
            value = getattr(final, attr, None)
            if value is not None:
                out[attr.rstrip("_")] = int(value) if attr == "n_iter_" else float(value)
    out["cindex"] = harrell(data["y_test"], risk)
    out["warnings"] = messages[:8]
    out["loadavg_end"] = os.getloadavg()[0]
    path = result_path(cfg["results_dir"], truth, n_train, r, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, path)
    return out


def _safe_task(*args):
    try:
        return run_task(*args)
    except Exception as exc:  # noqa: BLE001 - reported, not cached
        truth, n_train, r, key = args[:4]
        return {"truth": truth, "n_train": int(n_train), "replicate": int(r), "model": key,
                "model_name": MODELS[key], "error": f"{type(exc).__name__}: {exc}"}


# ----------------------------------------------------------------------------- summary
def summarise(frame):
    """Per (truth, n_train, model): mean and std of C over replicates, mean fit time."""
    ok = frame[frame["error"].isna()]
    g = ok.groupby(["truth", "n_train", "model"], sort=False)
    return pd.DataFrame({
        "c_mean": g["cindex"].mean(), "c_std": g["cindex"].std(ddof=1),
        "fit_mean": g["fit_time"].mean(), "n": g["cindex"].count(),
    })


def paired(frame, truth, n_train, a, b):
    """C(a) - C(b) over the common replicates: mean, standard error (ddof=1 / sqrt(r))."""
    sub = frame[(frame["truth"] == truth) & (frame["n_train"] == n_train) & frame["cindex"].notna()]
    pa = sub[sub["model"] == a].set_index("replicate")["cindex"]
    pb = sub[sub["model"] == b].set_index("replicate")["cindex"]
    common = pa.index.intersection(pb.index)
    d = (pa[common] - pb[common]).to_numpy()
    if len(d) == 0:
        return None
    se = d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    return {"mean": float(d.mean()), "se": float(se), "n": len(d), "wins": int((d > 0).sum())}


def figure(summary, truths, n_values, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [t for t in truths if t in summary.index.get_level_values(0)]
    if not shown:
        return False
    fig, axes = plt.subplots(1, len(shown), figsize=(4.8 * len(shown), 4.0), squeeze=False, sharey=True)
    models = [k for k in MODELS if k in summary.index.get_level_values(2) and k != "oracle"]
    for ax, truth in zip(axes[0], shown):
        s = summary.loc[truth]
        for key in MODELS:
            rows = [(n, s.loc[(n, key)]) for n in n_values if (n, key) in s.index]
            if not rows:
                continue
            x = np.array([n for n, _ in rows], dtype=float)
            m = np.array([row["c_mean"] for _, row in rows])
            se = np.array([row["c_std"] / math.sqrt(row["n"]) if row["n"] > 1 else 0.0 for _, row in rows])
            if key == "oracle":  # the same test parts for every n_train: (nearly) flat
                if len(x) > 1:
                    ax.plot(x, m, ls="--", color=COLORS[key], lw=1.2, label=MODELS[key])
                else:
                    ax.axhline(m[0], ls="--", color=COLORS[key], lw=1.2, label=MODELS[key])
            else:  # dodge the models a little along x so that the error bars do not overlap
                shift = 1.0 + 0.025 * (models.index(key) - (len(models) - 1) / 2)
                ax.errorbar(x * shift, m, yerr=np.nan_to_num(se), marker="o", ms=4, capsize=3, lw=1.2,
                            color=COLORS.get(key), label=MODELS[key])
        ax.set_xscale("log")
        ax.set_xticks(n_values, [str(n) for n in n_values])
        ax.minorticks_off()
        ax.set_title(truth, fontsize=10)
        ax.set_xlabel("n_train (resampled rows)", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("Harrell's C on the test part (mean ± s.e.)", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1 if len(labels) > 4 else 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# ----------------------------------------------------------------------------- report
def _hardware():
    try:
        return benchmark_module().hardware_info()
    except Exception:  # noqa: BLE001 - benchmark.py missing or broken: a minimal line
        return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count()}


def _software():
    try:
        return benchmark_module().software_info()
    except Exception:  # noqa: BLE001
        import sksurv_camlif

        return {"sksurv_camlif": sksurv_camlif.__version__}


def write_report(out, frame, args, info, fig_rel):
    summary = summarise(frame) if len(frame) else pd.DataFrame()
    hw, sw = info["hardware"], info["software"]
    lines = []
    say = lines.append
    say("---")
    say("orphan: true")
    say("---")
    say("")
    say("# Semi-synthetic benchmark")
    say("")
    say(f"Generated by `python benchmarks/synthetic.py {' '.join(args.argv)}`".rstrip()
        + f" on {info['date']}; do not edit by hand, rerun the script.")
    say("")
    if args.fast:
        say("**Fast mode (smoke test): tiny samples, few replicates, CAMLIF with "
            f"`max_iter={args.camlif_max_iter}`; the figures below mean nothing.**")
        say("")
    if info["n_stale"]:
        say(f"**{info['n_stale']} result(s) shown were computed with other code or parameters than the current "
            "checkout** (`--report-only`).")
        say("")
    say("Real covariates, simulated outcomes: the risk function is known, so the models can be compared with "
        "the oracle (the true log-risk η) and with each other as the training size grows. "
        f"Shown: truths {', '.join(f'`{t}`' for t in args.truths)}; n_train "
        f"{', '.join(str(n) for n in args.n_train)}; {args.replicates} replicate(s); "
        f"models {', '.join(f'`{m}`' for m in args.models)}. Only what this run computed (or found in its "
        "cache) is reported.")
    say("")
    say("## Design")
    say("")
    say("- **Covariates**: the 769 patients of TCGA-GBMLGG (`load_tcga_gbmlgg`), all 84 columns as they are "
        "(43 gene-level, 37 arm-level copy number, 4 clinical; real correlations, real missing values: "
        "72 patients without IDH/codeletion, 7 without the other genomic and CNV columns, 33 without "
        "clinical data). The models see exactly these columns.")
    say(f"- **Parts** (replicate r): the 769 original patients are permuted (`default_rng([{BASE_SEED}, 0, r, 0])`) "
        f"and split into {int(round(TEST_FRACTION * 769))} test and {769 - int(round(TEST_FRACTION * 769))} train "
        f"patients; the train part is n_train rows drawn with replacement from the train patients "
        f"(`default_rng([{BASE_SEED}, 0, r, 1])`), the test part {args.n_test} rows drawn with replacement from "
        f"the test patients (`default_rng([{BASE_SEED}, 0, r, 2])`). No test row shares an original patient with "
        "the train part. The draws are nested: the train part of size m is the first m rows of every larger "
        "train part of the same replicate; the test part is the same for every n_train and model. "
        "Copies of a patient share covariates, not outcomes. The models' own internal validation (CAMLIF's "
        "early-stopping split, Coxnet's inner CV, DeepSurv's validation split) may put copies of a train "
        "patient on both sides, which can make their inner validation optimistic.")
    say(f"- **Outcomes**: Cox model with a Weibull baseline, cumulative hazard "
        f"H(t | x) = (t / {WEIBULL_SCALE:g})^{WEIBULL_SHAPE:g} · exp(η(x)) (t in days): T = "
        f"{WEIBULL_SCALE:g} · (V · exp(−η))^(1/{WEIBULL_SHAPE:g}) with V ~ Exp(1); independent censoring time "
        "τ · E, E ~ Exp(1), with τ per truth (below); observed time min(T, τE), event T ≤ τE. V and E come "
        f"from streams [{BASE_SEED}, 0, r, 3] and [.., 4] (train) and [.., 5], [.., 6] (test), the same for "
        "every truth.")
    say("- **Standardised columns** z: each numeric column minus its mean and divided by its standard "
        "deviation (ddof=0), both over the observed values of the 769 original patients; a missing value "
        "(mean-imputed) becomes z = 0. `std(v)` below centres and scales a derived variable v the same way "
        "over the 769 original patients, so every score s has mean 0 and standard deviation 1 there.")
    say("- **Metric**: Harrell's C (`sksurv.metrics.concordance_index_censored`) of each model's `predict` "
        "on the test part; the oracle's prediction is η itself (copies of one patient are tied for every model, "
        "about 1/154 of the comparable pairs). Mean ± standard deviation (ddof=1) over "
        f"replicates; ΔC vs {MODELS[REFERENCE_MODEL]}: paired difference over the same replicates, "
        "mean ± standard error (std ddof=1 / √r), and the number of replicates where the model is ahead.")
    say("")
    say("## Truths")
    say("")
    say("η(x) = scale · s(x), with the scores s (z: standardised columns, 1[·]: indicator):")
    say("")
    for t in args.truths:
        say(f"- `{t}`:")
        say("")
        say("  ```text")
        for line in FORMULAS[t].split("\n"):
            say(f"  {line}")
        say("  ```")
        say("")
    say("The formulas are fixed data (chosen before any model was fitted, not tuned to any model); the "
        "interaction score G · C couples a gene-level and an arm-level copy-number score, the threshold term "
        "IDH wild-type × 7p gain a genomic call and an arm; `nonlinear` lives inside the CNV block only.")
    say("")
    say(f"Calibration (`python benchmarks/synthetic.py --calibrate`): on a sample of {N_CALIBRATION} rows "
        f"drawn with replacement from the 769 patients with their V and E (stream {STREAM_CALIBRATION}, fixed), "
        f"scale is found by bisection on [{CALIBRATION_BRACKET[0]:g}, {CALIBRATION_BRACKET[1]:g}] "
        f"({CALIBRATION_ITERATIONS} halvings) so that Harrell's C of η is {TARGET_C:.2f}, where for each "
        "candidate scale τ is the median of T / E (exactly half of the sample censored); both constants are "
        "then rounded and fixed in the script. Check: the oracle C and censored fraction with the fixed "
        f"constants on the calibration sample and on an independent sample of {N_CALIBRATION} rows "
        f"(stream {STREAM_CHECK}). Linear share: R² of the least-squares fit of s on all standardised columns "
        "and the one-hot categorical ones over the 769 patients (the part of η a linear model can express).")
    say("")
    say("| truth | scale (sd of η) | τ (days) | oracle C (calibration / check sample) "
        "| censored (calibration / check) | linear share R² |")
    say("|---|---|---|---|---|---|")
    for t in args.truths:
        ch = info["checks"][t]
        say(f"| `{t}` | {CALIBRATION[t]['scale']:g} | {CALIBRATION[t]['censor_scale']:g} | "
            f"{ch['c_cal']:.3f} / {ch['c_check']:.3f} | {ch['cens_cal']:.3f} / {ch['cens_check']:.3f} | "
            f"{ch['linear_share']:.2f} |")
    say("")
    say("## Models")
    say("")
    flags = info["camlif_flags"]
    have = [k for k, (present, _) in flags.items() if present]
    if have:
        version = ("CAMLIFSurvival of this checkout has " + ", ".join(
            f"`{k}` (default `{flags[k][1]!r}`)" for k in have) + ".")
    else:
        version = ("CAMLIFSurvival of this checkout has neither `offset` nor `n_members`: `camlif_plain` is "
                   "then identical to `camlif`.")
    desc = {
        "oracle": "the true η of the test rows",
        "specified": "Cox PH (ridge 1e-4) on the terms of the truth's formula (`truth_terms`), "
                     "not on X: it knows the form of η but not its coefficients; how much a model that finds "
                     "the right features can learn from n_train rows",
        "camlif": "`default_gbmlgg_estimator(random_state=r, X=X_train, modalities=...)` "
                  "(`sksurv_camlif.presets`, else `sksurv_camlif.demo`) with `device=\"cpu\"`, `n_threads=1`"
                  + (f", `max_iter={args.camlif_max_iter}`" if args.camlif_max_iter is not None else ""),
        "camlif_plain": "the same with " + ", ".join(f"`{k}={v!r}`" for k, v in plain_params().items())
                        + " where the parameter exists",
        "coxnet": "the demo's `CoxnetCV` on all columns (elastic net, `l1_ratio=0.5`, alpha among 10 by inner "
                  "3-fold CV), as `baseline_models`",
        "coxph_clinical": "Cox PH (ridge 1e-4) on the clinical columns, as `baseline_models`",
        "rsf": f"`benchmarks/benchmark.py` `build_model`: RandomSurvivalForest, {args.rsf_trees} trees, "
               "`min_samples_leaf=10`",
        "gbsa": "`benchmarks/benchmark.py` `build_model`: GradientBoostingSurvivalAnalysis, 100 trees",
        "deepsurv": "`benchmarks/benchmark.py` `build_model`: `DeepSurvMLP` defaults",
    }
    say("Every model gets `random_state` = r (the replicate) and its preprocessing inside its own pipeline, "
        "fitted on the train part only.")
    say("")
    say("| key | model |")
    say("|---|---|")
    for k in args.models:
        say(f"| `{k}` | {MODELS[k]}: {desc[k]} |")
    say("")
    if any(k.startswith("camlif") for k in args.models):
        say(f"CAMLIF version: {version} The results record the value of these parameters in every fit.")
        say("")
    say("## Results")
    say("")
    for t in args.truths:
        if summary.empty or t not in summary.index.get_level_values(0):
            continue
        say(f"### {t}")
        say("")
        st = summary.loc[t]
        for n in args.n_train:
            if n not in st.index.get_level_values(0):
                continue
            s = st.loc[n].sort_values("c_mean", ascending=False)
            say(f"#### {t}, n_train = {n}")
            say("")
            say(f"| model | Harrell's C | ΔC vs {MODELS[REFERENCE_MODEL]} | ahead in | replicates | fit (s) |")
            say("|---|---|---|---|---|---|")
            for k, row in s.iterrows():
                p = None if k == REFERENCE_MODEL else paired(frame, t, n, k, REFERENCE_MODEL)
                ahead = f"{p['wins']}/{p['n']}" if p else "–"
                name = f"**{MODELS[k]}**" if k.startswith("camlif") else MODELS[k]
                say(f"| {name} | {_pm(row['c_mean'], row['c_std'])} | {_signed(p)} | {ahead} | "
                    f"{int(row['n'])} | {row['fit_mean']:.1f} |")
            errs = frame[(frame["truth"] == t) & (frame["n_train"] == n) & frame["error"].notna()]
            if len(errs):
                say("")
                say(f"Failed fits ({len(errs)}): " + "; ".join(
                    f"{r.model} replicate {r.replicate}: {str(r.error)[:120]}" for r in errs.itertuples()))
            say("")
    say("## Figure")
    say("")
    if fig_rel:
        cap = ("Harrell's C on the test part against n_train (log scale), mean ± standard error over "
               "replicates; dashed: the oracle")
        say(f"![{cap}]({fig_rel})")
        say("")
        say(f"*{cap}.*")
    else:
        say("No figure (matplotlib missing or no result).")
    say("")
    say("## Set-up and run time")
    say("")
    say(f"- Hardware: {hw.get('Model name', '?')}, {hw.get('cpu_count')} logical CPU(s), "
        f"{hw.get('memory_gib', '?')} GiB RAM, no GPU used; {hw.get('platform')}. 1-minute load average "
        f"{info['load_start']:.1f} at the start and {info['load_end']:.1f} at the end of this invocation (a "
        f"load above {hw.get('cpu_count')} means other jobs shared the cores: fit times are then inflated).")
    say(f"- Software: Python {hw.get('python', platform.python_version())}, "
        + ", ".join(f"{k} {v}" for k, v in sw.items() if k != "git") + f"; checkout `{sw.get('git', '?')}`"
        + (f"; results computed from {', '.join(f'`{g}`' for g in info['gits'])}" if info["gits"] else "") + ".")
    say(f"- {args.n_jobs} joblib worker(s), every task single-threaded (torch `n_threads=1`, BLAS 1 thread).")
    say(f"- Wall clock of this invocation: {info['wall']:.0f} s ({info['n_new']} fit(s), {info['n_cached']} "
        f"from the cache `{info['results_rel']}`); sum of fit + predict times of the results shown: "
        f"{info['compute']:.0f} s.")
    say("")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines))
    return summary


# ----------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--truths", nargs="+", default=None, choices=TRUTHS, help="default: all three")
    p.add_argument("--n-train", nargs="+", type=int, default=None,
                   help=f"train sizes (default {' '.join(map(str, N_TRAIN))}; fast {FAST['n_train'][0]})")
    p.add_argument("--n-test", type=int, default=None, help=f"test rows (default {N_TEST}; fast {FAST['n_test']})")
    p.add_argument("--replicates", type=int, default=None,
                   help=f"replicates 1..R (default {N_REPLICATES}; fast {FAST['replicates']})")
    p.add_argument("--models", nargs="+", default=None, choices=list(MODELS),
                   help="default: all; fast: " + " ".join(FAST_MODELS))
    p.add_argument("--camlif-max-iter", type=int, default=None,
                   help=f"max_iter of CAMLIF (default: the package default; fast {FAST['camlif_max_iter']})")
    p.add_argument("--rsf-trees", type=int, default=RSF_TREES)
    p.add_argument("--fast", action="store_true", help="smoke mode: small defaults (see above)")
    p.add_argument("--n-jobs", type=int, default=1, help="parallel single-threaded tasks (joblib, default 1)")
    p.add_argument("--out", default=None, help="the Markdown report (default docs/synthetic.md; fast: "
                                               "benchmarks/results/synthetic/fast/synthetic.md)")
    p.add_argument("--figures-dir", default=None, help="default: _static/ next to --out")
    p.add_argument("--results-dir", default=None,
                   help="result cache (default benchmarks/results/synthetic, fast: .../synthetic/fast)")
    p.add_argument("--rerun", action="store_true", help="ignore the cache")
    p.add_argument("--report-only", action="store_true", help="fit nothing; report the cached results")
    p.add_argument("--calibrate", action="store_true",
                   help="recompute the calibration constants by bisection, print them and exit")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    fast = FAST if args.fast else {}
    args.truths = args.truths or list(TRUTHS)
    args.n_train = args.n_train or list(fast.get("n_train", N_TRAIN))
    args.n_test = args.n_test or fast.get("n_test", N_TEST)
    args.replicates = args.replicates or fast.get("replicates", N_REPLICATES)
    args.models = args.models or list(FAST_MODELS if args.fast else MODELS)
    if args.camlif_max_iter is None:
        args.camlif_max_iter = fast.get("camlif_max_iter")
    sub = DEFAULT_RESULTS / "fast" if args.fast else DEFAULT_RESULTS
    args.results_dir = Path(args.results_dir) if args.results_dir else sub
    args.out = Path(args.out) if args.out else (sub / "synthetic.md" if args.fast else DEFAULT_OUT)
    args.figures_dir = Path(args.figures_dir) if args.figures_dir else args.out.parent / "_static"
    if args.n_jobs < 1 or args.replicates < 1 or args.n_test < 2 or min(args.n_train) < 2:
        p.error("--n-jobs, --replicates must be >= 1 and --n-train, --n-test >= 2")
    # de-duplicate, keep order
    args.truths = list(dict.fromkeys(args.truths))
    args.n_train = sorted(set(args.n_train))
    args.models = list(dict.fromkeys(args.models))
    return args


def run_calibration(truths):
    print(f"Calibration: {N_CALIBRATION} rows (stream {STREAM_CALIBRATION}), target C {TARGET_C}, "
          f"{CALIBRATION_ITERATIONS} bisection steps on {CALIBRATION_BRACKET}", flush=True)
    found = {}
    for t in truths:
        t0 = time.perf_counter()
        res = calibrate(t)
        found[t] = res
        print(f"  {t}: scale {res['scale']:.6f}, censor_scale {res['censor_scale']:.3f} days, "
              f"C {res['cindex']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print("CALIBRATION = {")
    for t, res in found.items():
        tau = float(f"{res['censor_scale']:.5g}")
        print(f'    "{t}": {{"scale": {res["scale"]:.4f}, "censor_scale": {tau}}},')
    print("}")
    return found


def main(argv=None):
    args = parse_args(argv)
    if args.calibrate:
        run_calibration(args.truths)
        return 0
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    checks = {}
    for t in args.truths:
        c_cal, cens_cal = oracle_check(t, stream=STREAM_CALIBRATION)
        c_check, cens_check = oracle_check(t, stream=STREAM_CHECK)
        checks[t] = {"c_cal": c_cal, "cens_cal": cens_cal, "c_check": c_check, "cens_check": cens_check,
                     "linear_share": linear_share(t)}
        print(f"truth {t}: scale {CALIBRATION[t]['scale']}, censor_scale {CALIBRATION[t]['censor_scale']}; oracle C "
              f"{c_cal:.4f} (calibration) / {c_check:.4f} (check), censored {cens_cal:.3f} / {cens_check:.3f}, "
              f"linear share {checks[t]['linear_share']:.2f}", flush=True)
        if abs(c_cal - TARGET_C) > 0.005 or abs(cens_cal - TARGET_CENSORED) > 0.01:
            print(f"WARNING: the constants of {t!r} no longer give C {TARGET_C} / {TARGET_CENSORED:.0%} censored; "
                  "run --calibrate", flush=True)

    git = _software().get("git")
    cached, tasks = [], []
    for key in args.models:
        fp = model_fingerprint(key, args)
        cfg = {"n_test": args.n_test, "camlif_max_iter": args.camlif_max_iter, "rsf_trees": args.rsf_trees,
               "results_dir": str(args.results_dir), "fingerprint": fp, "git": git}
        for t in args.truths:
            for n in args.n_train:
                for r in range(1, args.replicates + 1):
                    hit = None if args.rerun else load_cached(result_path(args.results_dir, t, n, r, key), fp,
                                                              stale_ok=args.report_only)
                    if hit is not None:
                        cached.append(hit)
                    elif not args.report_only:
                        tasks.append((t, n, r, key, cfg))

    def order(task):  # replicate by replicate (an interrupted run leaves paired results), longest first
        t, n, r, key, _ = task
        factor = {"camlif": 10, "camlif_plain": 10, "deepsurv": 6, "rsf": 3}.get(key, 1)
        return (r, -n * factor)

    tasks.sort(key=order)
    print(f"{len(cached)} result(s) from the cache, {len(tasks)} task(s) to run on {args.n_jobs} worker(s)",
          flush=True)
    new = []

    def progress(i, res):
        new.append(res)
        msg = f"FAILED {res['error'][:200]}" if "error" in res else \
            f"C {res['cindex']:.3f} fit {res['fit_time']:.1f} s"
        print(f"[{i}/{len(tasks)} {time.perf_counter() - t_start:6.0f} s] {res['truth']} n={res['n_train']} "
              f"rep {res['replicate']} {res['model']}: {msg}", flush=True)

    if tasks and args.n_jobs == 1:
        for i, task in enumerate(tasks, 1):
            progress(i, _safe_task(*task))
    elif tasks:
        from joblib import Parallel, delayed

        if __name__ != "__main__":
            try:  # imported by path (tests): ship this module's functions by value
                import cloudpickle

                cloudpickle.register_pickle_by_value(sys.modules[__name__])
            except (ImportError, KeyError, ValueError):
                pass
        jobs = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
            delayed(_safe_task)(*task) for task in tasks)
        for i, res in enumerate(jobs, 1):
            progress(i, res)

    frame = pd.DataFrame(cached + new)
    for col in ("truth", "n_train", "replicate", "model", "error", "cindex", "fit_time", "predict_time"):
        if col not in frame:
            frame[col] = np.nan
    frame = frame[frame["truth"].isin(args.truths) & frame["n_train"].isin(args.n_train)
                  & frame["model"].isin(args.models) & (frame["replicate"] <= args.replicates)]
    ok = frame[frame["error"].isna()]
    fig_rel = None
    if len(ok):
        try:
            args.figures_dir.mkdir(parents=True, exist_ok=True)
            if figure(summarise(frame), args.truths, args.n_train, args.figures_dir / FIG_NAME):
                fig_rel = os.path.relpath(args.figures_dir / FIG_NAME, args.out.parent)
        except ImportError as exc:
            print(f"no figure: {exc}", flush=True)
    info = {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "hardware": _hardware(), "software": _software(),
        "checks": checks, "camlif_flags": camlif_flags(), "load_start": load_start,
        "load_end": os.getloadavg()[0], "wall": time.perf_counter() - t_start, "n_new": len(new),
        "n_cached": len(cached), "n_stale": int(sum(bool(r.get("stale")) for r in cached)),
        "gits": sorted({str(g).removesuffix("-dirty") for g in ok.get("git", pd.Series(dtype=object)).dropna().unique()}),
        "compute": float(ok["fit_time"].sum() + ok["predict_time"].sum()) if len(ok) else 0.0,
        "results_rel": _display_path(args.results_dir),
    }
    summary = write_report(args.out, frame, args, info, fig_rel)
    print(f"wrote {args.out}" + (f" and {args.figures_dir / FIG_NAME}" if fig_rel else ""), flush=True)
    if not summary.empty:
        for (t, n), s in summary.groupby(level=[0, 1]):
            print(f"  {t} n={n}: " + ", ".join(
                f"{k} {row['c_mean']:.3f}" for (_, _, k), row in s.sort_values("c_mean", ascending=False).iterrows()),
                flush=True)
    n_err = int(frame["error"].notna().sum())
    if n_err:
        print(f"{n_err} task(s) failed (not cached; rerun to retry)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
