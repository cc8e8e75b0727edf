"""The ``fit``, ``predict`` and ``cv`` commands: CAMLIFSurvival on a CSV or Parquet table.

The blocks are described by a TOML spec (read and checked in :mod:`.cli_spec`; see
``examples/cli_spec.toml`` and ``docs/cli.md``)::

    [estimator]              # any CAMLIFSurvival parameter
    random_state = 0

    [[modalities]]           # one table per modality block
    name = "genomic"
    columns = ["IDH", "codeletion"]   # numeric column names, and/or
    pattern = "^gene_"                # a regular expression matched against the names
    numeric = ["score"]               # more numeric columns (the same as `columns`)
    categorical = ["subtype"]         # most-frequent imputed, then one-hot
    impute = "mean"                   # numeric columns: "mean" (default), "median" or "none"
    scale = true                      # numeric columns: standardise (default)

    [clinical]               # optional: joins at the risk head
    numeric = ["age"]        # mean-imputed and standardised
    categorical = ["gender"] # one-hot, a missing value its own level

The model is fitted on, and needs at prediction, only the columns the spec uses. Every
problem the user can fix (an unreadable file, a missing column, text in a numeric column,
an unknown spec key) raises :class:`CLIError`, which the entry point prints and turns into
exit code 1. Output files are written to a temporary file first and renamed, so a failed
command leaves no half-written file.
"""

import os
import pickle
import re
import sys
import tempfile
import time as _time
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis
from sksurv.linear_model.coxph import BreslowEstimator
from sksurv.metrics import concordance_index_censored, integrated_brier_score
from sksurv.util import Surv, check_array_survival

from ._concordance import harrell_c
from .cli_spec import (CLIError, _check_numeric, _clinical, _numeric_parts, _parts, build_estimator, model_columns,
                       read_spec)
from .estimator import CAMLIFSurvival
from .presets import CoxnetCV

__all__ = [
    "CLIError", "CoxnetPathCV", "read_table", "read_spec", "build_estimator", "model_columns",
    "load_model", "fit", "predict", "cv",
]

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


def _model_input(est, data, what):
    """``data``'s columns that ``est`` uses (a new frame, in the model's order), checked."""
    cols = list(getattr(est, "feature_names_in_", None) if hasattr(est, "feature_names_in_")
                else model_columns(est))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise CLIError(f"the data lack column(s) {what}: {missing}")
    X = data[cols]
    _check_numeric(X, _numeric_parts(est))
    return X


def fit(data_path, spec_path, out, *, time, event, verbose=0):
    """Fit the spec's estimator on the table; save it to ``out`` as a model file
    (:mod:`sksurv_camlif.model_file`).

    The model is fitted on the columns the spec uses only (:func:`model_columns`), so
    ``predict`` needs only those.

    Returns
    -------
    CAMLIFSurvival
        The fitted model.
    """
    data = read_table(data_path)
    X, y = _outcome(data, time, event)
    est = build_estimator(read_spec(spec_path), list(X.columns))
    X = _model_input(est, X, "the spec uses")
    try:
        if verbose:  # else the spec's verbose stands
            est.set_params(verbose=verbose)
        est.fit(X, y)
    except ValueError as exc:
        raise CLIError(f"fit failed: {exc}") from exc
    _write_atomically(out, est.save)
    return est


def load_model(model_path, *, trust_pickle=False, trusted=()):
    """The CAMLIFSurvival in ``model_path``: a model file, or with ``trust_pickle`` also a
    pickle or joblib file.

    Parameters
    ----------
    model_path : str or path-like
    trust_pickle : bool, default=False
        Also read a file that is not a model file with :func:`joblib.load`. Unpickling runs
        whatever code the file's author put in it, so this is never the default.
    trusted : sequence of str, default=()
        Types the model file may hold beyond the trusted ones (:func:`sksurv_camlif.load`).

    Raises
    ------
    CLIError
        The file cannot be read, is a pickle without ``trust_pickle``, holds an untrusted
        type (named), or holds no CAMLIFSurvival.
    """
    from .model_file import ModelFileError, UntrustedTypesError, load

    try:
        if not zipfile.is_zipfile(model_path):  # model files are zip archives, pickles are not
            if not trust_pickle:
                raise CLIError(
                    f"{model_path} is not a sksurv-camlif model file. If it is a pickle or joblib file "
                    "that you trust, pass --trust-pickle: reading one runs any code its author put in it"
                )
            est = joblib.load(model_path)
        else:
            est = load(model_path, trusted=list(trusted))
    except UntrustedTypesError as exc:
        raise CLIError(f"{model_path}: {exc}; on the command line: --trust "
                       f"{' --trust '.join(exc.types)}") from exc
    except (OSError, ValueError, EOFError, ImportError, pickle.UnpicklingError, ModelFileError) as exc:
        raise CLIError(f"cannot load the model {model_path}: {exc}") from exc
    if not isinstance(est, CAMLIFSurvival):
        raise CLIError(f"{model_path} does not hold a CAMLIFSurvival model")
    return est


def predict(model_path, data_path, out, *, times=(), explain=False, id_column=None, trust_pickle=False,
            trusted=(), plot=None, plot_patients=None):
    """Risks (and survival at ``times``, explanations) of the table's patients, as CSV.

    Only the columns the model was fitted on are read from the table; others are ignored.
    ``trust_pickle`` and ``trusted``: as :func:`load_model`'s.

    Parameters
    ----------
    plot : str or path-like, default=None
        A folder (created if missing) to write figures to: ``survival_curves.png``, the
        predicted survival functions of the patients (:func:`~sksurv_camlif.plots.plot_survival_curves`),
        and with ``explain`` ``contributions_<patient>.png``, the contributions of each of
        the first :data:`N_CONTRIBUTION_CHARTS` patients (:func:`~sksurv_camlif.plots.plot_contributions`).
        ``<patient>`` is the ``id_column`` value, else ``row<k>`` (k counts the table's rows from 1).
    plot_patients : int, default=None
        Draw only the first this many patients; None: all.

    Returns
    -------
    DataFrame
        What was written: one row per patient. With ``plot``, ``attrs["figures"]`` lists the
        figures' paths.
    """
    if plot is not None:
        plot = _figure_folder(plot)
    est = load_model(model_path, trust_pickle=trust_pickle, trusted=trusted)
    data = read_table(data_path)
    X = _model_input(est, data, "the model was fitted with")
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
        explanation = est.explain(X) if explain else None
        if explain:
            result = result.join(explanation.drop(columns="log_risk"))
    except ValueError as exc:
        raise CLIError(f"predict failed: {exc}") from exc
    _write_atomically(out, lambda tmp: result.to_csv(tmp, index=False))
    if plot is not None:
        names = (data[id_column].astype(str).tolist() if id_column is not None
                 else [f"row{k}" for k in range(1, len(data) + 1)])
        result.attrs["figures"] = _prediction_figures(est, X, explanation, names, plot, plot_patients)
    return result


#: ``predict --explain --plot``: contribution charts of this many patients at most (the first).
N_CONTRIBUTION_CHARTS = 5


def _figure_folder(path):
    """The figures' folder, created if missing; matplotlib checked first, so that a missing
    one stops the command before any work."""
    from .plots import MISSING_MATPLOTLIB, require_matplotlib

    try:
        require_matplotlib()
    except ImportError:
        raise CLIError(f"--plot: {MISSING_MATPLOTLIB}") from None
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"--plot: cannot create the folder {path}: {exc}") from exc
    return path


def _new_axes(width=6.4, height=4.0):
    # a bare Figure, not pyplot: no window, no backend, nothing left open after saving
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110).subplots()


def _save_figure(ax, path):
    _write_atomically(path, lambda tmp: ax.figure.savefig(tmp, format="png", bbox_inches="tight"))
    return path


def _file_part(text):
    """A patient id as a file name part: letters, digits, ``.``, ``_`` and ``-`` kept."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "patient"


def _prediction_figures(est, X, explanation, names, folder, n_patients):
    from .plots import plot_contributions, plot_survival_curves

    n = len(X) if n_patients is None else min(n_patients, len(X))
    ax = plot_survival_curves(est, X.iloc[:n], labels=names[:n], time_label="time (the training table's unit)",
                              ax=_new_axes())
    ax.set_title(f"Predicted survival of {'the' if n == len(X) else 'the first'} {n} patient(s)", fontsize=9)
    paths = [_save_figure(ax, folder / "survival_curves.png")]
    if explanation is not None:
        used = set()
        for i in range(min(n, N_CONTRIBUTION_CHARTS)):
            # one row, labelled by the patient's name: the chart's title names the patient
            ax = plot_contributions(explanation.iloc[[i]].set_axis([names[i]]), names[i], ax=_new_axes(6.4, 3.2))
            stem = _file_part(names[i])
            stem = stem if stem not in used else f"{stem}_row{i + 1}"  # a repeated id keeps both
            used.add(stem)
            paths.append(_save_figure(ax, folder / f"contributions_{stem}.png"))
    return paths


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


def _all_features(numeric, categorical):
    # as presets.CoxnetCV: mean imputation, one-hot (a missing value its own level), scaling
    return make_pipeline(
        ColumnTransformer([
            ("num", SimpleImputer(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ]),
        StandardScaler(),
    )


def _path_fit(Z, y, alphas, l1_ratio):
    """A Coxnet fitted along ``alphas`` (largest first, each fit warm-started from the one
    before), and how many of them it reached: where the full path fails numerically, the
    longest prefix that does not."""
    for n in range(len(alphas), 0, -1):
        try:
            return CoxnetSurvivalAnalysis(l1_ratio=l1_ratio, alphas=alphas[:n]).fit(Z, y), n
        except ArithmeticError:  # "weights are too large": the smallest alphas overfit
            continue
    return None, 0


class CoxnetPathCV(CoxnetCV):
    """:class:`~sksurv_camlif.presets.CoxnetCV` whose inner CV fits each candidate alpha
    along the path, warm-started from the larger alphas, as glmnet does.

    ``presets.CoxnetCV`` fits every candidate alpha from zero coefficients; at the smallest
    alphas, on one-hot columns of rare levels (a level of one patient in 100 is about 10
    after scaling), such a cold fit can stop with "weights are too large" while the same
    alpha reached along the path converges. Where the cold fits converge, both give the
    same optimum (a convex problem), up to the solver's tolerance. A candidate alpha that
    still fails on some inner fold is left out of the choice and recorded in ``failures_``.

    Parameters
    ----------
    As :class:`~sksurv_camlif.presets.CoxnetCV`.

    Attributes
    ----------
    best_estimator_ : Pipeline
    alpha_ : float
    alphas_ : ndarray, the alphas compared
    cv_scores_ : ndarray, shape (cv, len(alphas_))
        Harrell's C of every candidate on every inner fold (NaN: the fit failed).
    failures_ : list of str
        One entry per inner fold on which some candidates failed.
    baseline_ : BreslowEstimator
    """

    def fit(self, X, y):
        """Choose alpha by inner CV on ``(X, y)``, then refit on all of it.

        Returns
        -------
        self
        """
        event, time = check_array_survival(X, y)
        pre = _all_features(self.numeric, self.categorical)
        path = CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, alpha_min_ratio=self.alpha_min_ratio)
        path.fit(pre.fit_transform(X), y)
        idx = np.unique(np.linspace(0, len(path.alphas_) - 1, self.n_alphas).round().astype(int))
        alphas = path.alphas_[idx]
        folds = KFold(self.cv, shuffle=True, random_state=self.random_state).split(X)
        scores = np.full((self.cv, len(alphas)), np.nan)
        failures = []
        for k, (train, test) in enumerate(folds):
            pre = _all_features(self.numeric, self.categorical)
            model, n = _path_fit(pre.fit_transform(X.iloc[train]), y[train], alphas, self.l1_ratio)
            Z = pre.transform(X.iloc[test])
            if n:
                risks = np.column_stack([model.predict(Z, alpha=alphas[j]) for j in range(n)])
                scores[k, :n] = harrell_c(event[test], time[test], risks)
            if n < len(alphas):
                failures.append(f"inner fold {k + 1}: the {len(alphas) - n} smallest alpha(s) "
                                f"(from {alphas[n]:.3g}) failed numerically")
        usable = ~np.isnan(scores).any(axis=0)
        if not usable.any():
            raise ArithmeticError("Coxnet failed numerically at every alpha on some inner fold")
        mean = np.where(usable, scores.mean(axis=0), -np.inf)
        best = int(np.argmax(mean))  # the first best, as GridSearchCV
        self.alphas_, self.cv_scores_, self.failures_ = alphas, scores, failures
        self.best_estimator_ = make_pipeline(
            _all_features(self.numeric, self.categorical),
            CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, alphas=alphas[: best + 1]),
        ).fit(X, y)
        self.alpha_ = float(alphas[best])
        self.baseline_ = BreslowEstimator().fit(self.best_estimator_.predict(X), event, time)
        return self


CAMLIF = "CAMLIFSurvival"


def _first_line(text):
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _cv_fold(k, train, test, models, X, y, n_groups=None):
    """Fit and score every model on one fold.

    Returns
    -------
    rows : list of dict
        fold, model, c_index, ibs (NaN where a baseline failed).
    notes : list of str
        One line per model that failed (or whose Coxnet lost candidate alphas on an inner
        fold), and one for the distinct warnings of a model that did not fail.
    seconds : float
    groups : ndarray of int or None
        With ``n_groups``: the risk group of each test patient by CAMLIFSurvival's
        prediction, cut at the quantiles of its prediction on the fold's training part.
    """
    start = _time.perf_counter()
    rows, notes, groups = [], [], None
    for name, model in models.items():
        row = {"fold": k, "model": name, "c_index": np.nan, "ibs": np.nan}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", UserWarning)  # e.g. Coxnet's all-zero path start
            try:
                row.update(_fit_score(clone(model), X, y, train, test,
                                      n_groups=n_groups if name == CAMLIF else None))
                groups = row.pop("groups", groups)
            except Exception as exc:
                if name == CAMLIF:
                    raise CLIError(f"{CAMLIF} failed on fold {k}: {type(exc).__name__}: "
                                   f"{_first_line(exc)}") from exc
                # a baseline is a reference, not the product: say so in one line, go on
                notes.append(f"{name}, fold {k}: failed ({type(exc).__name__}: "
                             f"{_first_line(exc)}); its C and IBS are left out")
        messages = list(dict.fromkeys(f"{w.category.__name__}: {_first_line(w.message)}" for w in caught))
        if messages and np.isfinite(row["c_index"]):  # a failure's line says enough
            more = f" and {len(messages) - 3} more" if len(messages) > 3 else ""
            notes.append(f"{name}, fold {k}: warned: {'; '.join(messages[:3])}{more}")
        notes += [f"{name}, fold {k}: {f}" for f in row.pop("failures", [])]
        rows.append(row)
    return rows, notes, _time.perf_counter() - start, groups


def _fit_score(fitted, X, y, train, test, n_groups=None):
    fitted.fit(X.iloc[train], y[train])
    risk = fitted.predict(X.iloc[test])
    c = concordance_index_censored(y[test]["event"], y[test]["time"], risk)[0]
    extra = {}
    if n_groups:
        from .plots import risk_groups

        # cut points from the training part only: a test patient's group uses no test outcome
        # nor other test patients, as it would for a new patient
        _, cuts = risk_groups(fitted.predict(X.iloc[train]), n_groups)
        extra["groups"] = risk_groups(risk, cut_points=cuts)[0]
    grid = _grid(y[train], y[test])
    ibs = np.nan
    if len(grid) >= 2:
        surv = fitted.predict_survival_function(X.iloc[test], return_array=False)
        # the censoring distribution (train part) is not defined beyond its last
        # time: clip test times there, as the benchmark does (every grid time is below)
        y_test = y[test].copy()
        y_test["time"] = np.minimum(y_test["time"], y[train]["time"].max())
        ibs = integrated_brier_score(y[train], y_test, np.vstack([fn(grid) for fn in surv]), grid)
    failures = list(getattr(fitted, "failures_", []))
    return {"c_index": c, "ibs": ibs, **({"failures": failures} if failures else {}), **extra}


def cv(data_path, spec_path, *, time, event, n_splits=5, seed=0, progress=True, split_columns=None,
       n_jobs=1, verbose=0, plot=None, n_groups=3):
    """CV of the spec's estimator beside Coxnet (all spec columns) and CoxPH (clinical);
    returns a DataFrame of Harrell's C and IBS per fold and model.

    The folds are stratified K-fold (``n_splits``, shuffled with ``seed``), or, with
    ``split_columns``, the train/test splits those boolean columns give (True: train), e.g.
    the authors' splits of the bundled TCGA-GBMLGG data, so that the demo's figures can be
    reproduced from a table.

    Parameters
    ----------
    n_jobs : int, default=1
        Folds run at once (joblib processes). Every fold's models have fixed seeds, so the
        figures do not depend on it.
    verbose : int, default=0
        A line on stderr per fold with its C of every model (and, with ``n_jobs=1``, the
        training progress of CAMLIFSurvival).

    plot : str or path-like, default=None
        A folder (created if missing) for the Kaplan-Meier curves of CAMLIFSurvival's risk
        groups on the test parts (:func:`~sksurv_camlif.plots.plot_km_groups`). Each test
        patient's group comes from its fold's model, cut at the quantiles of that model's
        risk on the fold's training part. When the test parts do not overlap (K folds), one
        figure pools every patient: ``cv_risk_groups.png``; else (``split_columns`` whose
        test parts share patients) one figure per split, ``cv_risk_groups_<column>.png``.
    n_groups : int, default=3
        Risk groups of the figure: 2 (halves) or 3 (thirds).

    Baseline failures and warnings are one line each on stderr (the model and fold); a
    failed baseline's C and IBS on that fold are NaN. The Coxnet baseline is
    :class:`CoxnetPathCV`. With ``plot``, ``attrs["figures"]`` of the result lists the
    figures' paths.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    if plot is not None:
        plot = _figure_folder(plot)
    data = read_table(data_path)
    X, y = _outcome(data, time, event)
    if split_columns:
        X, folds = _given_splits(X, split_columns)
    else:
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y["event"])
    folds = list(folds)
    spec = read_spec(spec_path)
    est = build_estimator(spec, list(X.columns))
    X = _model_input(est, X, "the spec uses")
    # the same fixed seed on every fold: the figures do not depend on n_jobs or fold order
    est.set_params(random_state=spec.get("estimator", {}).get("random_state", seed))
    if verbose and n_jobs == 1:  # a progress bar per worker process would garble the output
        est.set_params(verbose=1)
    parts = _parts(spec, list(X.columns))
    numeric = [c for _, num, _ in parts for c in num]
    categorical = [c for _, _, cat in parts for c in cat]
    clinical, _, _ = _clinical(spec, list(X.columns))
    models = {CAMLIF: est, "Coxnet (all)": CoxnetPathCV(numeric, categorical, random_state=seed)}
    if clinical is not None:
        models["CoxPH (clinical)"] = make_pipeline(clone(clinical[0]), CoxPHSurvivalAnalysis(alpha=1e-4))
    jobs = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_cv_fold)(k, train, test, models, X, y, n_groups=n_groups if plot is not None else None)
        for k, (train, test) in enumerate(folds, start=1)
    )
    rows, groups = [], []
    bar = tqdm(jobs, total=len(folds), desc="folds", disable=not progress or bool(verbose))
    for fold_rows, notes, seconds, fold_groups in bar:
        groups.append(fold_groups)
        for note in notes:
            tqdm.write(f"sksurv-camlif cv: {note}", file=sys.stderr)
        if verbose:
            scores = ", ".join(f"{r['model']} C {r['c_index']:.4f}" for r in fold_rows)
            tqdm.write(f"fold {fold_rows[0]['fold']}/{len(folds)} ({seconds:.1f} s): {scores}",
                       file=sys.stderr)
        rows += fold_rows
    result = pd.DataFrame(rows)
    if plot is not None:
        names = list(split_columns) if split_columns else None
        result.attrs["figures"] = _cv_figures(y, folds, groups, n_groups, plot, names, time)
    return result


def _cv_figures(y, folds, groups, n_groups, folder, split_names, time_label):
    """Kaplan-Meier curves of the test parts' risk groups: pooled when the test parts are
    disjoint, else one figure per split."""
    from .plots import plot_km_groups

    labels = {2: ["low risk", "high risk"], 3: ["low risk", "intermediate risk", "high risk"]}.get(
        n_groups, [f"risk group {g + 1}" for g in range(n_groups)])
    fraction = {2: "halves", 3: "thirds"}.get(n_groups, f"{n_groups} quantile groups")
    how = f"cut at the {fraction} of each fold's training risk"
    tests = np.concatenate([test for _, test in folds])
    if len(np.unique(tests)) == len(tests):  # every patient in one test part at most
        pooled = np.concatenate(groups)
        title = (f"{CAMLIF}: out-of-fold risk groups of {len(tests)} patients, {len(folds)} "
                 f"{'folds' if split_names is None else 'splits'}\n({how})")
        ax = plot_km_groups(y[tests], pooled, labels, at_risk=True, time_label=time_label, title=title,
                            ax=_new_axes(6.4, 4.6))
        return [_save_figure(ax, folder / "cv_risk_groups.png")]
    paths = []
    for name, (_, test), fold_groups in zip(split_names, folds, groups):
        title = f"{CAMLIF}: risk groups of the test part of split {name} ({len(test)} patients)\n({how})"
        ax = plot_km_groups(y[test], fold_groups, labels, at_risk=True, time_label=time_label,
                            title=title, ax=_new_axes(6.4, 4.6))
        paths.append(_save_figure(ax, folder / f"cv_risk_groups_{_file_part(name)}.png"))
    return paths
