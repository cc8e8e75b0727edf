"""Tests of the bundled TCGA-GBMLGG loader."""

from importlib.resources import files

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_validate
from sksurv.linear_model import CoxPHSurvivalAnalysis

from sksurv_camlif.datasets import TCGAGBMLGG, iter_splits, load_tcga_gbmlgg

N = 769
CLINICAL = ["age", "gender", "grade", "histology"]


def _raw(name, **kwargs):
    path = files("sksurv_camlif.datasets").joinpath("data", "tcga_gbmlgg", name)
    with path.open("rb") as fh:
        return pd.read_csv(fh, **kwargs)


@pytest.fixture(scope="module")
def data():
    return load_tcga_gbmlgg()


@pytest.fixture(scope="module")
def raw():
    return _raw("all_dataset.csv")


@pytest.fixture(scope="module")
def raw_grade(raw):
    return _raw("grade_data.csv").set_index("TCGA ID").loc[raw["TCGA ID"]]


def test_returns_named_tuple_that_unpacks(data):
    assert isinstance(data, TCGAGBMLGG)
    X, y, modalities, splits = data
    assert X is data.X and y is data.y
    assert modalities is data.modalities and splits is data.splits


def test_shapes_and_index(data, raw):
    X, y, _, splits = data
    assert X.shape == (N, 84)
    assert y.shape == (N,)
    assert splits.shape == (N, 15)
    assert X.index.name == "TCGA ID"
    assert X.index.is_unique
    assert list(X.index) == raw["TCGA ID"].tolist()
    assert splits.index.equals(X.index)


def test_column_order(data, raw):
    X = data.X
    genomic = list(raw.columns[4:])
    assert len(genomic) == 80
    assert list(X.columns) == genomic + CLINICAL
    assert genomic[:2] == ["codeletion", "idh mutation"]
    assert genomic[2] == "EGFR" and genomic[42] == "PTEN"
    assert genomic[43] == "1q" and genomic[-1] == "22q"


def test_genomic_values_match_raw(data, raw):
    genomic = data.X.iloc[:, :80]
    assert (genomic.dtypes == np.float64).all()
    np.testing.assert_array_equal(genomic.to_numpy(), raw.iloc[:, 4:].to_numpy(dtype=float))


def test_genomic_missing_values_are_kept(data):
    X, _, modalities, _ = data
    assert X["idh mutation"].isna().sum() == 72
    assert X["codeletion"].isna().sum() == 72
    all_missing = X[modalities["genomic"][2:] + modalities["cnv"]].isna().all(axis=1)
    assert all_missing.sum() == 7


def test_clinical_dtypes_and_values(data, raw_grade):
    X = data.X
    assert X["age"].dtype == np.float64
    assert X["grade"].dtype == np.float64
    assert isinstance(X["gender"].dtype, pd.CategoricalDtype)
    assert isinstance(X["histology"].dtype, pd.CategoricalDtype)
    assert list(X["gender"].cat.categories) == ["female", "male"]
    assert set(X["histology"].cat.categories) == {
        "astrocytoma",
        "astrocytoma (glioblastoma)",
        "oligoastrocytoma",
        "oligodendroglioma",
    }
    assert X["grade"].isna().sum() == 33
    assert set(X["grade"].dropna().unique()) == {2.0, 3.0, 4.0}
    np.testing.assert_array_equal(
        X["age"].to_numpy(), raw_grade["Age at diagnosis"].to_numpy(dtype=float)
    )
    np.testing.assert_array_equal(
        X["grade"].to_numpy(), raw_grade["Grade"].to_numpy(dtype=float)
    )
    pd.testing.assert_series_equal(
        X["gender"].astype(object),
        raw_grade["Gender"].astype(object).rename("gender"),
        check_index=False,
    )
    pd.testing.assert_series_equal(
        X["histology"].astype(object),
        raw_grade["Histology"].astype(object).rename("histology"),
        check_index=False,
    )


def test_outcome_matches_raw(data, raw):
    y = data.y
    assert y.dtype.names == ("event", "time")
    assert y.dtype["event"] == np.bool_
    assert y.dtype["time"] == np.float64
    np.testing.assert_array_equal(y["event"], 1 - raw["censored"].to_numpy())
    np.testing.assert_array_equal(y["time"], raw["Survival months"].to_numpy(dtype=float))
    assert y["time"].max() == 6423.0  # days, despite the column name
    assert y["time"].min() >= 0
    assert y["event"].sum() == 388


def test_outcome_consistent_with_grade_data(data, raw_grade):
    y = data.y
    np.testing.assert_array_equal(
        y["time"], raw_grade["Time to last followup or death (months)"].to_numpy(dtype=float)
    )
    np.testing.assert_array_equal(y["event"], (raw_grade["Vital status"] == "Deceased").to_numpy())


def test_splits(data):
    splits = data.splits
    assert list(splits.columns) == list(range(1, 16))
    assert (splits.dtypes == bool).all()
    assert (splits.sum(axis=0) == 616).all()
    assert ((~splits).sum(axis=0) == 153).all()
    raw = _raw("2splits_15.csv", index_col=0)
    np.testing.assert_array_equal(splits.to_numpy(), raw.to_numpy() == "Train")
    # the 15 splits are not all the same
    assert splits.T.drop_duplicates().shape[0] == 15


def test_modalities(data):
    X, _, modalities, _ = data
    assert list(modalities) == ["genomic", "cnv", "clinical"]
    assert len(modalities["genomic"]) == 43
    assert len(modalities["cnv"]) == 37
    assert modalities["clinical"] == CLINICAL
    sets = [set(v) for v in modalities.values()]
    assert sum(len(s) for s in sets) == len(set().union(*sets))  # disjoint
    assert modalities["genomic"] + modalities["cnv"] == list(X.columns[:80])
    assert modalities["genomic"][:2] == ["codeletion", "idh mutation"]
    assert all(c[-1] in "pq" and c[:-1].isdigit() for c in modalities["cnv"])


@pytest.mark.parametrize("clinical", [(), ("grade",), ("histology", "age"), "gender"])
def test_clinical_selection(clinical):
    X, _, modalities, _ = load_tcga_gbmlgg(clinical=clinical)
    expected = [clinical] if isinstance(clinical, str) else list(clinical)
    assert list(X.columns[80:]) == expected
    assert modalities["clinical"] == expected
    assert X.shape == (N, 80 + len(expected))


@pytest.mark.parametrize("clinical", [("age", "bmi"), ("age", "age"), ("Grade",)])
def test_clinical_selection_invalid(clinical):
    with pytest.raises(ValueError):
        load_tcga_gbmlgg(clinical=clinical)


def test_iter_splits(data):
    splits = data.splits
    pairs = list(iter_splits(splits))
    assert len(pairs) == 15
    for j, (train, test) in enumerate(pairs, start=1):
        assert np.issubdtype(train.dtype, np.integer)
        assert np.issubdtype(test.dtype, np.integer)
        assert len(train) == 616 and len(test) == 153
        assert np.intersect1d(train, test).size == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(N))
        np.testing.assert_array_equal(train, np.flatnonzero(splits[j].to_numpy()))


def test_iter_splits_first_n(data):
    pairs = list(iter_splits(data.splits, n=3))
    assert len(pairs) == 3
    first = next(iter_splits(data.splits))
    np.testing.assert_array_equal(pairs[0][0], first[0])


@pytest.mark.parametrize("n", [0, 16, -1])
def test_iter_splits_invalid_n(data, n):
    with pytest.raises(ValueError):
        iter_splits(data.splits, n=n)


def test_iter_splits_rejects_non_boolean(data):
    with pytest.raises(TypeError):
        iter_splits(data.splits.astype(int))
    with pytest.raises(TypeError):
        iter_splits(data.splits, n=2.0)


def test_iter_splits_as_cv(data):
    X, y, _, splits = data
    Xa = X[["age"]].fillna(X["age"].median())
    res = cross_validate(CoxPHSurvivalAnalysis(), Xa, y, cv=iter_splits(splits, n=2))
    assert res["test_score"].shape == (2,)
    assert np.all(res["test_score"] > 0.6)
