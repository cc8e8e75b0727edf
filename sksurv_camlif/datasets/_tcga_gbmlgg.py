"""Loader for the bundled TCGA-GBMLGG tables (public part of the Pathomic Fusion data)."""

import re
from importlib.resources import files
from typing import NamedTuple

import numpy as np
import pandas as pd
from sksurv.util import Surv

__all__ = ["TCGAGBMLGG", "iter_splits", "load_tcga_gbmlgg"]

_DATA_PACKAGE = "sksurv_camlif.datasets"
_DATA_DIR = ("data", "tcga_gbmlgg")

_ALL_DATASET = "all_dataset.csv"
_GRADE_DATA = "grade_data.csv"
_SPLITS = "2splits_15.csv"

_ID = "TCGA ID"
_CENSORED = "censored"
_TIME = "Survival months"
# columns of all_dataset.csv that precede the 80 genomic features
_NON_GENOMIC = ("TCGA ID", "indexes", "censored", "Survival months")

_N_PATIENTS = 769
_N_GENE_LEVEL = 43
_N_ARM_LEVEL = 37
_ARM_PATTERN = re.compile(r"^\d{1,2}[pq]$")

_GENDER_CATEGORIES = ("female", "male")

# public clinical column name -> column of grade_data.csv
_CLINICAL_SOURCES = {
    "age": "Age at diagnosis",
    "gender": "Gender",
    "grade": "Grade",
    "histology": "Histology",
}


class TCGAGBMLGG(NamedTuple):
    """The TCGA-GBMLGG data set as returned by :func:`load_tcga_gbmlgg`.

    It can be unpacked: ``X, y, modalities, splits = load_tcga_gbmlgg()``.

    Attributes
    ----------
    X : pandas.DataFrame of shape (769, 80 + n_clinical)
        Features indexed by ``TCGA ID``: the 80 genomic features in file order,
        then the clinical columns.
    y : structured numpy.ndarray of shape (769,)
        Survival outcome with boolean field ``event`` and float field ``time``
        (days).
    modalities : dict of str to list of str
        Column names of ``X`` per modality: ``"genomic"`` (43 gene-level
        features), ``"cnv"`` (37 chromosome-arm features) and ``"clinical"``.
    splits : pandas.DataFrame of shape (769, 15)
        Boolean train/test assignment of the 15 Monte Carlo splits (True means
        Train), same index as ``X``, columns ``1`` ... ``15``.
    """

    X: pd.DataFrame
    y: np.ndarray
    modalities: dict
    splits: pd.DataFrame


def _data_file(name):
    return files(_DATA_PACKAGE).joinpath(*_DATA_DIR, name)


def _read_csv(name, **kwargs):
    with _data_file(name).open("rb") as fh:
        return pd.read_csv(fh, **kwargs)


def _check_clinical(clinical):
    if isinstance(clinical, str):
        clinical = (clinical,)
    clinical = list(clinical)
    unknown = [c for c in clinical if c not in _CLINICAL_SOURCES]
    if unknown:
        raise ValueError(
            f"Unknown clinical column(s) {unknown!r}; "
            f"choose among {list(_CLINICAL_SOURCES)!r}."
        )
    if len(set(clinical)) != len(clinical):
        raise ValueError(f"Duplicate clinical column names in {clinical!r}.")
    return clinical


def _join_clinical(data, grade):
    """Left-join grade_data.csv to all_dataset.csv, checking rows are kept in order."""
    for name, frame in ((_ALL_DATASET, data), (_GRADE_DATA, grade)):
        dup = frame[_ID][frame[_ID].duplicated()].tolist()
        if dup:
            raise ValueError(f"{name}: duplicated {_ID!r} values {dup[:5]!r}.")
    merged = data.merge(grade, on=_ID, how="left", indicator=True, sort=False)
    missing = merged.loc[merged["_merge"] != "both", _ID].tolist()
    if missing:
        raise ValueError(
            f"{len(missing)} patient(s) of {_ALL_DATASET} have no row in "
            f"{_GRADE_DATA}, e.g. {missing[:5]!r}."
        )
    if len(merged) != len(data) or not merged[_ID].equals(data[_ID]):
        raise ValueError(
            f"Joining {_GRADE_DATA} to {_ALL_DATASET} on {_ID!r} did not keep the "
            f"{len(data)} rows of {_ALL_DATASET} in their order."
        )
    return merged.drop(columns="_merge")


def _clinical_frame(merged, clinical):
    out = {}
    for name in clinical:
        col = merged[_CLINICAL_SOURCES[name]]
        if name in ("age", "grade"):
            out[name] = pd.to_numeric(col, errors="raise").astype("float64")
        elif name == "gender":
            values = set(col.dropna().unique())
            if not values <= set(_GENDER_CATEGORIES):
                raise ValueError(f"Unexpected Gender values {sorted(values)!r}.")
            out[name] = col.astype(pd.CategoricalDtype(list(_GENDER_CATEGORIES)))
        else:  # histology
            categories = sorted(col.dropna().unique())
            out[name] = col.astype(pd.CategoricalDtype(categories))
    return pd.DataFrame(out, index=merged.index, columns=clinical)


def _split_genomic(genomic_cols):
    cnv = [c for c in genomic_cols if _ARM_PATTERN.match(c)]
    gene = [c for c in genomic_cols if not _ARM_PATTERN.match(c)]
    if len(gene) != _N_GENE_LEVEL or len(cnv) != _N_ARM_LEVEL:
        raise ValueError(
            f"Expected {_N_GENE_LEVEL} gene-level and {_N_ARM_LEVEL} arm-level "
            f"genomic columns, found {len(gene)} and {len(cnv)}."
        )
    return gene, cnv


def _load_splits(index):
    raw = _read_csv(_SPLITS, index_col=0)
    if not raw.index.equals(index):
        raise ValueError(
            f"{_SPLITS}: patient IDs differ from those of {_ALL_DATASET} "
            "(or are in another order)."
        )
    values = set(pd.unique(raw.to_numpy().ravel()))
    if not values <= {"Train", "Test"}:
        raise ValueError(f"{_SPLITS}: unexpected values {sorted(map(str, values))!r}.")
    splits = raw == "Train"
    splits.columns = list(range(1, raw.shape[1] + 1))
    splits.index.name = _ID
    return splits


def load_tcga_gbmlgg(*, clinical=("age", "gender", "grade", "histology")):
    """Load the public part of the TCGA-GBMLGG glioma data set.

    769 glioma patients (lower-grade glioma and glioblastoma) of The Cancer
    Genome Atlas, as tabulated by Chen et al. (Pathomic Fusion, IEEE TMI 2020)
    and reused by PG-MLIF and CA-MLIF, together with the 15 Monte Carlo
    train/test splits (616 Train / 153 Test) of the PG-MLIF/CA-MLIF authors.
    The RNA-seq features and the pathology images used in the papers are not
    public and therefore not included; results on these data are not
    comparable with the papers' tables.

    Parameters
    ----------
    clinical : sequence of str, default=("age", "gender", "grade", "histology")
        Clinical columns to append to ``X``, in this order. Each must be one
        of ``"age"`` (float, age at diagnosis in years), ``"gender"``
        (categorical: ``female``/``male``), ``"grade"`` (float, WHO grade
        2 to 4) and ``"histology"`` (categorical). Pass ``()`` for none.

    Returns
    -------
    data : TCGAGBMLGG
        Named tuple ``(X, y, modalities, splits)``:

        X : pandas.DataFrame of shape (769, 80 + len(clinical))
            Indexed by ``TCGA ID`` in file order. The 80 genomic features
            come first, in file order: ``codeletion`` (1p/19q),
            ``idh mutation``, 41 gene-level copy-number/mutation calls
            (``EGFR`` ... ``PTEN``) and 37 chromosome-arm copy-number values
            (``1q`` ... ``22q``); then the clinical columns.
        y : structured numpy.ndarray of shape (769,)
            Fields ``event`` (bool, death observed) and ``time`` (float64).
        modalities : dict of str to list of str
            ``"genomic"``: the 43 gene-level columns (``codeletion``,
            ``idh mutation`` and ``EGFR`` ... ``PTEN``); ``"cnv"``: the 37
            arm-level columns; ``"clinical"``: the clinical columns.
        splits : pandas.DataFrame of shape (769, 15)
            Boolean, True where the patient is in the Train part of the
            split; columns ``1`` ... ``15``, same index as ``X``. See
            :func:`iter_splits`.

    Notes
    -----
    - The files' ``censored`` column is 1 for patients alive at last
      follow-up, so ``event = 1 - censored`` (388 events, 381 censored).
    - The time column is labelled ``Survival months`` but its values (0 to
      6423, median 523) look like days; they are kept as they are, so
      ``y["time"]`` is in days.
    - Missing values are kept as NaN: ``idh mutation`` and ``codeletion``
      are missing for 72 patients, 7 of whom have no genomic feature at all;
      33 patients have no clinical data (age, gender, grade and histology
      all missing). Impute them in a pipeline if the estimator needs it.

    Examples
    --------
    >>> from sksurv_camlif.datasets import load_tcga_gbmlgg, iter_splits
    >>> X, y, modalities, splits = load_tcga_gbmlgg()
    >>> X.shape
    (769, 84)
    >>> len(modalities["genomic"]), len(modalities["cnv"])
    (43, 37)
    >>> train, test = next(iter_splits(splits))
    >>> len(train), len(test)
    (616, 153)
    """
    clinical = _check_clinical(clinical)

    data = _read_csv(_ALL_DATASET)
    grade = _read_csv(_GRADE_DATA)
    if len(data) != _N_PATIENTS:
        raise ValueError(f"{_ALL_DATASET}: expected {_N_PATIENTS} rows, found {len(data)}.")
    merged = _join_clinical(data, grade)
    index = pd.Index(data[_ID], name=_ID)

    genomic_cols = [c for c in data.columns if c not in _NON_GENOMIC]
    gene_cols, cnv_cols = _split_genomic(genomic_cols)

    genomic = data[genomic_cols].astype("float64")
    genomic.index = index
    clin = _clinical_frame(merged, clinical)
    clin.index = index
    X = pd.concat([genomic, clin], axis=1)

    censored = data[_CENSORED].to_numpy()
    if not np.isin(censored, (0, 1)).all():
        raise ValueError(f"{_ALL_DATASET}: {_CENSORED!r} must be 0 or 1.")
    time = data[_TIME].to_numpy(dtype="float64")
    y = Surv.from_arrays(event=(1 - censored).astype(bool), time=time)

    modalities = {"genomic": gene_cols, "cnv": cnv_cols, "clinical": list(clinical)}
    splits = _load_splits(index)
    return TCGAGBMLGG(X=X, y=y, modalities=modalities, splits=splits)


def iter_splits(splits, n=None):
    """Yield ``(train_idx, test_idx)`` integer index arrays of train/test splits.

    Parameters
    ----------
    splits : pandas.DataFrame or array-like of shape (n_samples, n_splits)
        Boolean matrix, True where the sample is in the training part, as
        returned in ``load_tcga_gbmlgg().splits``.
    n : int or None, default=None
        Use only the first ``n`` splits (columns); all if None.

    Returns
    -------
    generator of tuple (train_idx, test_idx)
        ``train_idx`` and ``test_idx`` are integer arrays of the row positions
        of the training and test samples. The arguments are checked when the
        function is called, not when the generator is first iterated.

    Examples
    --------
    The generator can be passed as ``cv`` to scikit-learn's model selection
    tools, e.g. ``cross_validate(est, X, y, cv=iter_splits(splits, n=5))``.
    """
    mask = np.asarray(splits)
    if mask.ndim != 2:
        raise ValueError(f"splits must be 2-dimensional, got shape {mask.shape}.")
    if mask.dtype != bool:
        raise TypeError(f"splits must be boolean (True = train), got dtype {mask.dtype}.")
    n_splits = mask.shape[1]
    if n is None:
        n = n_splits
    elif isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int or None, got {n!r}.")
    elif not 1 <= n <= n_splits:
        raise ValueError(f"n must be between 1 and {n_splits}, got {n}.")
    return _generate_splits(mask, n)


def _generate_splits(mask, n):
    for j in range(n):
        yield np.flatnonzero(mask[:, j]), np.flatnonzero(~mask[:, j])
