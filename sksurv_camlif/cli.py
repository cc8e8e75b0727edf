"""The ``fit``, ``predict`` and ``cv`` commands: CAMLIFSurvival on a CSV or Parquet table.

The blocks are described by a TOML spec (see ``examples/cli_spec.toml``)::

    [estimator]              # any CAMLIFSurvival parameter
    random_state = 0

    [[modalities]]           # one table per modality block
    name = "genomic"
    columns = ["IDH", "codeletion"]   # column names, and/or
    pattern = "^gene_"                # a regular expression matched against the names
    impute = "mean"                   # "mean" (default), "median" or "none"
    scale = true                      # standardise (default)

    [clinical]               # optional: joins at the risk head
    numeric = ["age"]        # mean-imputed and standardised
    categorical = ["gender"] # one-hot, a missing value its own level

Every problem the user can fix (an unreadable file, a missing column, an unknown spec key)
raises :class:`CLIError`, which the entry point prints and turns into exit code 1. Output
files are written to a temporary file first and renamed, so a failed command leaves no
half-written file.
"""

import os
import re
import tempfile
import tomllib
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored, integrated_brier_score
from sksurv.util import Surv

from .estimator import CAMLIFSurvival

__all__ = ["CLIError", "read_table", "read_spec", "build_estimator", "fit", "predict", "cv"]

SPEC_KEYS = {"estimator", "modalities", "clinical"}
MODALITY_KEYS = {"name", "columns", "pattern", "impute", "scale"}
CLINICAL_KEYS = {"numeric", "categorical"}


class CLIError(Exception):
    """A problem with the user's files or options, reported without a traceback."""


def read_table(path):
    """A CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file as a DataFrame."""
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path)
    except (OSError, ValueError, ImportError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from exc
    raise CLIError(f"{path}: expected a .csv, .csv.gz, .parquet or .pq file")


def read_spec(path):
    """The TOML spec, its keys checked."""
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CLIError(f"cannot read the spec {path}: {exc}") from exc
    _check_keys(spec, SPEC_KEYS, "spec")
    if not spec.get("modalities"):
        raise CLIError("spec: at least one [[modalities]] table is needed")
    for i, block in enumerate(spec["modalities"]):
        _check_keys(block, MODALITY_KEYS, f"spec: modalities[{i}]")
        if "name" not in block:
            raise CLIError(f"spec: modalities[{i}] needs a name")
        if "columns" not in block and "pattern" not in block:
            raise CLIError(f"spec: modality {block['name']!r} needs columns or a pattern")
        if block.get("impute", "mean") not in ("mean", "median", "none"):
            raise CLIError(f"spec: modality {block['name']!r}: impute must be mean, median or none")
    _check_keys(spec.get("clinical", {}), CLINICAL_KEYS, "spec: clinical")
    return spec


def _check_keys(table, allowed, where):
    if not isinstance(table, dict):
        raise CLIError(f"{where} must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CLIError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _columns(block, names):
    cols = list(block.get("columns", []))
    missing = [c for c in cols if c not in names]
    if missing:
        raise CLIError(f"modality {block['name']!r}: column(s) {missing} are not in the data")
    if "pattern" in block:
        try:
            regex = re.compile(block["pattern"])
        except re.error as exc:
            raise CLIError(f"modality {block['name']!r}: bad pattern: {exc}") from exc
        cols += [c for c in names if regex.search(c) and c not in cols]
    if not cols:
        raise CLIError(f"modality {block['name']!r}: no column of the data matches")
    return cols


def _block_transformer(block):
    steps = []
    if block.get("impute", "mean") != "none":
        steps.append(SimpleImputer(strategy=block.get("impute", "mean")))
    if block.get("scale", True):
        steps.append(StandardScaler())
    return make_pipeline(*steps) if steps else "passthrough"


def _clinical(spec, names):
    clinical = spec.get("clinical")
    if not clinical:
        return None, [], []
    numeric, categorical = list(clinical.get("numeric", [])), list(clinical.get("categorical", []))
    missing = [c for c in numeric + categorical if c not in names]
    if missing:
        raise CLIError(f"clinical: column(s) {missing} are not in the data")
    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric))
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    return (ColumnTransformer(parts), numeric + categorical), numeric, categorical


def build_estimator(spec, names):
    """The unfitted CAMLIFSurvival of ``spec`` for a table with columns ``names``."""
    modalities = [(b["name"], _block_transformer(b), _columns(b, names)) for b in spec["modalities"]]
    clinical, _, _ = _clinical(spec, names)
    est = CAMLIFSurvival(modalities, clinical=clinical)
    params = spec.get("estimator", {})
    unknown = sorted(set(params) - set(est.get_params(deep=False)))
    if unknown:
        raise CLIError(f"spec: [estimator] has unknown parameter(s) {unknown}")
    return est.set_params(**params)


def _outcome(data, time, event):
    missing = [c for c in (time, event) if c not in data.columns]
    if missing:
        raise CLIError(f"column(s) {missing} are not in the data (columns: {list(data.columns)[:10]}...)")
    try:
        y = Surv.from_arrays(data[event].astype(bool).to_numpy(), data[time].astype(float).to_numpy())
    except (ValueError, TypeError) as exc:
        raise CLIError(f"the outcome columns {time!r}, {event!r}: {exc}") from exc
    return data.drop(columns=[time, event]), y


def _write_atomically(path, write):
    """Call ``write(tmp_path)`` then move the result to ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fit(data_path, spec_path, out, *, time, event, verbose=0):
    """Fit the spec's estimator on the table; save it with joblib to ``out``."""
    data = read_table(data_path)
    X, y = _outcome(data, time, event)
    est = build_estimator(read_spec(spec_path), list(X.columns))
    try:
        est.set_params(verbose=verbose).fit(X, y)
    except ValueError as exc:
        raise CLIError(f"fit failed: {exc}") from exc
    _write_atomically(out, lambda tmp: joblib.dump(est, tmp))
    return est


def predict(model_path, data_path, out, *, times=(), explain=False, id_column=None):
    """Risks (and survival at ``times``, explanations) of the table's patients, as CSV."""
    try:
        est = joblib.load(model_path)
    except (OSError, ValueError, EOFError, ImportError) as exc:
        raise CLIError(f"cannot load the model {model_path}: {exc}") from exc
    if not isinstance(est, CAMLIFSurvival):
        raise CLIError(f"{model_path} does not hold a CAMLIFSurvival model")
    data = read_table(data_path)
    names = list(getattr(est, "feature_names_in_", []))
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise CLIError(f"the data lack column(s) the model was fitted with: {missing}")
    X = data[names]
    result = pd.DataFrame(index=data.index)
    if id_column is not None:
        if id_column not in data.columns:
            raise CLIError(f"--id: column {id_column!r} is not in the data")
        result[id_column] = data[id_column]
    try:
        result["risk"] = est.predict(X)
        if times:
            surv = est.predict_survival_function(X)
            for t in times:
                # before the first training time nobody has had an event yet: S = 1
                result[f"survival_at_{t:g}"] = [1.0 if t < fn.x[0] else fn(min(t, fn.x[-1])) for fn in surv]
        if explain:
            result = result.join(est.explain(X).drop(columns="log_risk"))
    except ValueError as exc:
        raise CLIError(f"predict failed: {exc}") from exc
    _write_atomically(out, lambda tmp: result.to_csv(tmp, index=False))
    return result


def _grid(y_train, y_test):
    """Evaluation times for the IBS: the 10th-80th percentiles of the training event times
    strictly inside both parts' follow-up (the censoring distribution is the train part's)."""
    times = np.percentile(y_train["time"][y_train["event"]], np.linspace(10, 80, 8))
    lo = y_test["time"].min()
    hi = min(y_test["time"].max(), y_train["time"].max())
    return np.unique(times[(times > lo) & (times < hi)])


def _given_splits(X, split_columns):
    """Train/test index pairs from boolean columns (True or 1: train), and X without them."""
    missing = [c for c in split_columns if c not in X.columns]
    if missing:
        raise CLIError(f"split column(s) {missing} are not in the data")
    splits = []
    for c in split_columns:
        values = X[c]
        if values.isna().any() or not set(np.unique(values.astype(float))) <= {0.0, 1.0}:
            raise CLIError(f"split column {c!r} must hold only True/False (or 1/0): True = train")
        train = values.astype(bool).to_numpy()
        if train.all() or not train.any():
            raise CLIError(f"split column {c!r} leaves an empty train or test part")
        splits.append((np.flatnonzero(train), np.flatnonzero(~train)))
    return X.drop(columns=list(split_columns)), splits


def cv(data_path, spec_path, *, time, event, n_splits=5, seed=0, progress=True, split_columns=None):
    """CV of the spec's estimator beside Coxnet (all spec columns) and CoxPH (clinical);
    returns a DataFrame of Harrell's C and IBS per fold and model.

    The folds are stratified K-fold (``n_splits``, shuffled with ``seed``), or, with
    ``split_columns``, the train/test splits those boolean columns give (True: train), e.g.
    the authors' splits of the bundled TCGA-GBMLGG data, so that the demo's figures can be
    reproduced from a table.
    """
    from tqdm.auto import tqdm

    from .presets import CoxnetCV

    data = read_table(data_path)
    X, y = _outcome(data, time, event)
    if split_columns:
        X, folds = _given_splits(X, split_columns)
    else:
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y["event"])
    spec = read_spec(spec_path)
    est = build_estimator(spec, list(X.columns))
    est.set_params(random_state=spec.get("estimator", {}).get("random_state", seed))
    clinical, numeric, categorical = _clinical(spec, list(X.columns))
    block_cols = [c for _, _, cols in est.modalities for c in cols]
    models = {
        "CAMLIFSurvival": est,
        "Coxnet (all)": CoxnetCV(block_cols + numeric, categorical, random_state=seed),
    }
    if clinical is not None:
        models["CoxPH (clinical)"] = make_pipeline(clone(clinical[0]), CoxPHSurvivalAnalysis(alpha=1e-4))
    rows = []
    for k, (train, test) in enumerate(tqdm(list(folds), desc="folds", disable=not progress), start=1):
        for name, model in models.items():
            fitted = clone(model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                fitted.fit(X.iloc[train], y[train])
            risk = fitted.predict(X.iloc[test])
            c = concordance_index_censored(y[test]["event"], y[test]["time"], risk)[0]
            grid = _grid(y[train], y[test])
            ibs = np.nan
            if len(grid) >= 2:
                surv = fitted.predict_survival_function(X.iloc[test], return_array=False)
                # the censoring distribution (train part) is not defined beyond its last
                # time: clip test times there, as the benchmark does (every grid time is below)
                y_test = y[test].copy()
                y_test["time"] = np.minimum(y_test["time"], y[train]["time"].max())
                ibs = integrated_brier_score(y[train], y_test, np.vstack([fn(grid) for fn in surv]), grid)
            rows.append({"fold": k, "model": name, "c_index": c, "ibs": ibs})
    return pd.DataFrame(rows)
