"""The demo (main job): CAMLIFSurvival against two Cox baselines on TCGA-GBMLGG.

Run it with ``python -m sksurv_camlif demo`` (or the ``sksurv-camlif demo`` console script).
On each of the first ``n_splits`` train/test splits of the CA-MLIF authors it fits, on the
Train part only,

- ``CAMLIFSurvival`` with its default hyper-parameters (genomic and copy-number blocks,
  clinical variables at the head), see :func:`default_gbmlgg_estimator`;
- a Coxnet (elastic net Cox) model on all 84 features, its ``alpha`` chosen by an inner
  3-fold cross-validation on the Train part, see :class:`CoxnetCV`;
- a Cox proportional hazards model on the four clinical variables,

and scores Harrell's concordance index on the Test part. The estimator constructors are
public so that benchmarks and tests build exactly the same models.
"""

import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis

from .datasets import iter_splits, load_tcga_gbmlgg
from .device import resolve_device
from .estimator import CAMLIFSurvival

__all__ = [
    "CAMLIF_NAME",
    "COXNET_NAME",
    "COXPH_NAME",
    "MODEL_NAMES",
    "REFERENCE",
    "CoxnetCV",
    "baseline_models",
    "clinical_transformer",
    "default_gbmlgg_estimator",
    "run_demo",
]

CAMLIF_NAME = "CAMLIFSurvival"
COXNET_NAME = "Coxnet (all features)"
COXPH_NAME = "CoxPH (clinical)"
MODEL_NAMES = (CAMLIF_NAME, COXNET_NAME, COXPH_NAME)
FIT_TIME = "CAMLIF fit (s)"

NUMERIC_CLINICAL = ["age", "grade"]
CATEGORICAL_CLINICAL = ["gender", "histology"]

#: Harrell's C (mean, std) on the Test part of all 15 splits, measured beforehand
#: (see ``sksurv_camlif/datasets/data/tcga_gbmlgg/README.md``).
REFERENCE = {COXPH_NAME: (0.814, 0.026), COXNET_NAME: (0.804, 0.027)}


def _one_hot():
    # A missing category (the 33 patients without clinical data) gets its own column.
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def clinical_transformer():
    """Preprocessing of the four clinical columns of :func:`load_tcga_gbmlgg`.

    ``age`` and ``grade``: mean imputation and standardisation; ``gender`` and
    ``histology``: one-hot encoding. Columns are selected by name, so it applies to the
    whole ``X``.
    """
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC_CLINICAL),
            ("cat", _one_hot(), CATEGORICAL_CLINICAL),
        ]
    )


def _has_partial_gaps(block):
    """True where some patient has part, but not all, of the block missing."""
    missing = block.isna().to_numpy()
    some, every = missing.any(axis=1), missing.all(axis=1)
    return bool((some & ~every).any())


def default_gbmlgg_estimator(random_state=0, *, X=None, modalities=None, **params):
    """``CAMLIFSurvival`` set up for the TCGA-GBMLGG tables of :func:`load_tcga_gbmlgg`.

    Blocks: ``"genomic"`` (the 43 gene-level columns; mean imputation of the partial gaps
    in IDH/codeletion, then standardisation) and ``"cnv"`` (the 37 arm-level columns;
    passed through, or mean-imputed if some patient has part of the block missing).
    Patients with a whole block missing have that modality absent. The clinical columns
    join at the head through :func:`clinical_transformer`.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=0
    X : pandas.DataFrame, default=None
        The feature table; only used to decide whether the ``"cnv"`` block needs an
        imputer. None loads the bundled data.
    modalities : dict of str to list of str, default=None
        The column lists of :func:`load_tcga_gbmlgg`; None loads the bundled data.
    **params
        Other ``CAMLIFSurvival`` parameters (e.g. ``max_iter``, ``device``).

    Returns
    -------
    CAMLIFSurvival (unfitted)
    """
    if X is None or modalities is None:
        data = load_tcga_gbmlgg()
        X = data.X if X is None else X
        modalities = data.modalities if modalities is None else modalities
    cnv_cols = list(modalities["cnv"])
    cnv = SimpleImputer() if _has_partial_gaps(X[cnv_cols]) else "passthrough"
    return CAMLIFSurvival(
        modalities=[
            ("genomic", make_pipeline(SimpleImputer(), StandardScaler()), list(modalities["genomic"])),
            ("cnv", cnv, cnv_cols),
        ],
        clinical=(clinical_transformer(), list(modalities["clinical"])),
        random_state=random_state,
        **params,
    )


def _all_features_transformer(numeric, categorical):
    return make_pipeline(
        ColumnTransformer([("num", SimpleImputer(), numeric), ("cat", _one_hot(), categorical)]),
        StandardScaler(),
    )


class CoxnetCV(SurvivalAnalysisMixin, BaseEstimator):
    """Elastic net Cox model on all features, ``alpha`` chosen by inner cross-validation.

    As in the scikit-survival user guide ("Penalized Cox Models"): a first fit on the
    preprocessed training data gives the path of alphas; ``n_alphas`` of them, evenly spaced
    (log scale) along the path, are compared by ``cv``-fold cross-validation (Harrell's C)
    on the training data only, with the preprocessing refitted in every fold; the best one
    is refitted on the whole training data.

    Parameters
    ----------
    numeric, categorical : list of str
        Columns mean-imputed, resp. one-hot encoded; everything is then standardised.
    l1_ratio : float, default=0.5
    n_alphas : int, default=10
    alpha_min_ratio : float, default=0.01
    cv : int, default=3
    random_state : int or None, default=0
        Shuffling of the inner folds.

    Attributes
    ----------
    best_estimator_ : Pipeline
    alpha_ : float
    alphas_ : ndarray, the alphas compared
    """

    def __init__(self, numeric, categorical, *, l1_ratio=0.5, n_alphas=10,
                 alpha_min_ratio=0.01, cv=3, random_state=0):
        self.numeric = numeric
        self.categorical = categorical
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):
        pre = _all_features_transformer(self.numeric, self.categorical)
        path = CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, alpha_min_ratio=self.alpha_min_ratio)
        path.fit(pre.fit_transform(X), y)
        idx = np.unique(np.linspace(0, len(path.alphas_) - 1, self.n_alphas).round().astype(int))
        self.alphas_ = path.alphas_[idx]
        pipe = make_pipeline(
            _all_features_transformer(self.numeric, self.categorical),
            CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio),
        )
        search = GridSearchCV(
            pipe,
            {"coxnetsurvivalanalysis__alphas": [[a] for a in self.alphas_]},
            cv=KFold(self.cv, shuffle=True, random_state=self.random_state),
            error_score=0.5,
        )
        search.fit(X, y)
        self.best_estimator_ = search.best_estimator_
        self.alpha_ = float(search.best_params_["coxnetsurvivalanalysis__alphas"][0])
        return self

    def predict(self, X):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)


def baseline_models(modalities=None, random_state=0):
    """The two reference models of the demo, unfitted, by name.

    Returns
    -------
    dict
        ``COXNET_NAME``: :class:`CoxnetCV` on all 84 columns (``l1_ratio=0.5``, 10 alphas,
        inner 3-fold CV); ``COXPH_NAME``: :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis`
        (``alpha=1e-4``, a small ridge for stability) on the clinical columns through
        :func:`clinical_transformer`.
    """
    if modalities is None:
        modalities = load_tcga_gbmlgg().modalities
    clinical = list(modalities["clinical"])
    numeric = list(modalities["genomic"]) + list(modalities["cnv"])
    numeric += [c for c in NUMERIC_CLINICAL if c in clinical]
    categorical = [c for c in CATEGORICAL_CLINICAL if c in clinical]
    return {
        COXNET_NAME: CoxnetCV(numeric, categorical, random_state=random_state),
        COXPH_NAME: make_pipeline(clinical_transformer(), CoxPHSurvivalAnalysis(alpha=1e-4)),
    }


def _fmt(row):
    return (
        f"{row.name:>5}  "
        + "  ".join(f"{row[name]:>{len(name)}.4f}" for name in MODEL_NAMES)
        + f"  {row[FIT_TIME]:>{len(FIT_TIME)}.1f}"
    )


def run_demo(n_splits=3, seed=0, device="auto", quiet=False, file=None, *, n_threads=1):
    """Fit and score the three models on the first ``n_splits`` splits; print a report.

    Parameters
    ----------
    n_splits : int, default=3
        1 to 15; 15 is the full protocol.
    seed : int, default=0
        ``random_state`` of CAMLIFSurvival and of the inner folds of Coxnet.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Device of CAMLIFSurvival ("auto": CUDA when available).
    quiet : bool, default=False
        Hide the progress bar (the report is printed all the same).
    file : text stream, default=None
        Where the report goes; None is ``sys.stdout`` at call time (the progress bar goes to
        stderr).
    n_threads : int or None, default=1
        ``n_threads`` of CAMLIFSurvival (torch intra-op threads during its fit and predict);
        None keeps torch's default. The network is small: on a 2-core machine shared with
        other jobs, 2 threads made a fit about 20 times slower than 1 thread (same result).

    Returns
    -------
    pandas.DataFrame
        One row per split (index ``split``, 1-based): the Test C-index of each model (columns
        ``MODEL_NAMES``) and CAMLIF's fit time in seconds (column ``"CAMLIF fit (s)"``).
    """
    from tqdm.auto import tqdm

    if file is None:
        file = sys.stdout
    X, y, modalities, splits = load_tcga_gbmlgg()
    n_total = splits.shape[1]
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or not 1 <= n_splits <= n_total:
        raise ValueError(f"n_splits must be an integer between 1 and {n_total}, got {n_splits!r}")
    dev = resolve_device(device)

    camlif = default_gbmlgg_estimator(
        random_state=seed, X=X, modalities=modalities, device=str(dev), n_threads=n_threads
    )
    baselines = baseline_models(modalities, random_state=seed)

    def say(line=""):
        print(line, file=file, flush=True)

    say(f"TCGA-GBMLGG: {X.shape[0]} patients, {X.shape[1]} features "
        f"({len(modalities['genomic'])} gene-level, {len(modalities['cnv'])} arm-level, "
        f"{len(modalities['clinical'])} clinical), {int(y['event'].sum())} events")
    say(f"Splits 1..{n_splits} of {n_total} (Train {int(splits[1].sum())} / Test "
        f"{int((~splits[1]).sum())}); seed {seed}")
    threads = torch.get_num_threads() if n_threads is None else n_threads
    say(f"Device: {dev}; torch threads: {threads} (torch's default here: {torch.get_num_threads()})")
    say()
    header = f"{'split':>5}  " + "  ".join(MODEL_NAMES) + f"  {FIT_TIME}"
    say("Harrell's C on the Test part of each split")
    say(header)

    rows = []
    bar = tqdm(
        enumerate(iter_splits(splits, n_splits), start=1),
        total=n_splits, desc="splits", unit="split", disable=quiet, file=sys.stderr,
        dynamic_ncols=True, leave=False,
    )
    with warnings.catch_warnings():
        # The largest alpha of the Coxnet path zeroes every coefficient by construction;
        # its inner-CV fits warn about it, which is expected and not actionable here.
        warnings.filterwarnings("ignore", message="all coefficients are zero", category=UserWarning)
        for split, (train, test) in bar:
            X_train, y_train, X_test, y_test = X.iloc[train], y[train], X.iloc[test], y[test]
            row = {}
            est = clone(camlif)
            t0 = time.perf_counter()
            est.fit(X_train, y_train)
            fit_time = time.perf_counter() - t0
            row[CAMLIF_NAME] = est.score(X_test, y_test)
            for name, model in baselines.items():
                row[name] = clone(model).fit(X_train, y_train).score(X_test, y_test)
            row[FIT_TIME] = fit_time
            rows.append(pd.Series(row, name=split))
            tqdm.write(_fmt(rows[-1]), file=file)
            file.flush()
    bar.close()

    results = pd.DataFrame(rows, columns=[*MODEL_NAMES, FIT_TIME])
    results.index.name = "split"
    say("-" * len(header))

    n = len(results)
    mean, std = results.mean(), results.std(ddof=1)
    say(f"Mean +- std (ddof=1) over {n} split(s)" if n > 1 else "Mean over 1 split (no std)")
    width = max(len(name) for name in MODEL_NAMES)
    for name in MODEL_NAMES:
        say(f"  {name:<{width}}  {mean[name]:.4f}" + (f" +- {std[name]:.4f}" if n > 1 else ""))
    say(f"  {'CAMLIF fit time':<{width}}  {mean[FIT_TIME]:.1f} s per split")
    ranked = mean[list(MODEL_NAMES)].sort_values(ascending=False)
    best, second = ranked.index[0], ranked.index[1]
    say(f"Best model (highest mean C over {n} split(s)): {best} "
        f"(+{ranked.iloc[0] - ranked.iloc[1]:.4f} over {second})")
    if n > 1:
        diff = results[best] - results[second]
        sem = diff.std(ddof=1) / np.sqrt(n)
        verdict = "a clear" if diff.mean() > 2 * sem else "not a clear"
        say(f"  Paired difference over the splits {diff.mean():+.4f} +- {sem:.4f} (s.e.): "
            f"{verdict} difference.")
    if n < n_total:
        say(f"  With {n} of {n_total} splits this ranking is indicative only; "
            f"--splits {n_total} runs the full protocol.")
    say()
    say(f"Reference figures, measured on all {n_total} splits (from the data README; "
        "not computed by this run):")
    for name, (m, s) in REFERENCE.items():
        say(f"  {name:<{width}}  {m:.3f} +- {s:.3f}")
    return results
