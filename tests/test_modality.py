"""The modality spec (``modality.py``) on its own: parsing, column resolution, fitting the
blocks, standardisation, absent rows and output names, without fitting a network."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sksurv_camlif.modality import fit_blocks, parse_spec, resolve_columns


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(3.0, 2.0, size=(12, 5)), columns=["a", "b", "c", "d", "e"])
    X["sex"] = ["f", "m"] * 6
    X.loc[[2, 7], ["c", "d"]] = np.nan  # block g2 absent for patients 2 and 7
    return X


def _specs():
    return parse_spec(
        [("g1", "passthrough", ["a", "b"]), ("g2", StandardScaler(), ["c", "d"]), ("x", "drop", ["e"])],
        (OneHotEncoder(sparse_output=False), ["sex"]),
    )


def test_parse_spec_drops_dropped_blocks_and_appends_the_clinical_one():
    specs = _specs()
    assert [s.name for s in specs] == ["g1", "g2", "clinical"]
    assert [s.is_clinical for s in specs] == [False, False, True]
    # a plain column list as clinical: passthrough
    assert parse_spec([("g", "passthrough", [0])], [1, 2])[-1].transformer == "passthrough"


@pytest.mark.parametrize("modalities, clinical, exc, match", [
    ([], None, ValueError, "non-empty list"),
    ([("g", "passthrough")], None, ValueError, r"modalities\[0\] must be a \(name, transformer, columns\)"),
    ([("g", "passthrough", [0]), ("g", "passthrough", [1])], None, ValueError, "used twice"),
    ([("a__b", "passthrough", [0])], None, ValueError, "must not contain '__'"),
    ([("g", StandardScaler, [0])], None, TypeError, r"write StandardScaler\(\)"),
    ([("g", "drop", [0])], None, ValueError, "every block is 'drop'"),
    ([("g", "passthrough", [0])], (StandardScaler, [1]), TypeError, "clinical: the transformer must be an instance"),
])
def test_parse_spec_errors_name_the_problem(modalities, clinical, exc, match):
    with pytest.raises(exc, match=match):
        parse_spec(modalities, clinical)


def test_resolve_columns_by_name_position_slice_and_mask(X):
    names = np.asarray(X.columns, dtype=object)
    assert_array_equal(resolve_columns(X, ["b", "a"], names, "g"), [1, 0])
    assert_array_equal(resolve_columns(X, [0, -1], names, "g"), [0, 5])
    assert_array_equal(resolve_columns(X, slice(1, 3), names, "g"), [1, 2])
    assert_array_equal(resolve_columns(X, np.array([True, False, True, False, False, False]), names, "g"), [0, 2])
    with pytest.raises(ValueError, match="column 'z' is not in X"):
        resolve_columns(X, ["z"], names, "modality 'g'")
    with pytest.raises(ValueError, match="the same column more than once"):
        resolve_columns(X, ["a", "a"], names, "g")
    with pytest.raises(ValueError, match="need X as a pandas DataFrame"):
        resolve_columns(X.to_numpy(), ["a"], None, "g")


def test_fit_blocks_standardises_on_present_rows_and_marks_absent_ones(X):
    names = np.asarray(X.columns, dtype=object)
    blocks, clinical, outputs = fit_blocks(X, _specs(), names)
    g1, g2 = blocks
    # outputs are standardised with the training mean and standard deviation
    out = g1.transform(X)
    assert out.dtype == np.float32
    assert_allclose(out.mean(axis=0), 0, atol=1e-6)
    assert_allclose(out.std(axis=0), 1, atol=1e-5)
    # the absent rows are NaN and left out of the statistics of g2
    assert_array_equal(g2.present(X), ~X.index.isin([2, 7]))
    out2 = g2.transform(X)
    assert np.isnan(out2[[2, 7]]).all() and np.isfinite(np.delete(out2, [2, 7], axis=0)).all()
    assert_allclose(np.nanmean(out2, axis=0), 0, atol=1e-6)
    # the clinical block: one-hot through its transformer, named after its outputs
    assert clinical.is_clinical and clinical.n_outputs == 2
    assert list(clinical.feature_names_out(names)) == ["clinical__sex_f", "clinical__sex_m"]
    assert list(g1.feature_names_out(names)) == ["g1__a", "g1__b"]
    # the training outputs are what transform gives: the data go through once in fit
    for block, out in zip([g1, g2, clinical], outputs):
        assert_array_equal(out, block.transform(X))


def test_fit_blocks_rejects_overlaps_partial_gaps_and_empty_blocks(X):
    names = np.asarray(X.columns, dtype=object)
    overlap = parse_spec([("g1", "passthrough", ["a", "b"]), ("g2", "passthrough", ["b", "c"])], None)
    with pytest.raises(ValueError, match="column 'b' is in both"):
        fit_blocks(X, overlap, names)
    gappy = X.copy()
    gappy.loc[4, "a"] = np.nan  # part of g1 missing for one patient, no imputer
    with pytest.raises(ValueError, match=r"modality 'g1'.*NaN.*imputer"):
        fit_blocks(gappy, parse_spec([("g1", "passthrough", ["a", "b"])], None), names)
    # with an imputer in the block the same data fit
    blocks, _, _ = fit_blocks(gappy, parse_spec([("g1", SimpleImputer(), ["a", "b"])], None), names)
    assert np.isfinite(blocks[0].transform(gappy)).all()
    empty = X.copy()
    empty[["a", "b"]] = np.nan
    with pytest.raises(ValueError, match="every value is missing"):
        fit_blocks(empty, parse_spec([("g1", "passthrough", ["a", "b"])], None), names)


def test_fitted_transformers_are_clones(X):
    scaler = StandardScaler()
    specs = parse_spec([("g", scaler, ["a", "b"])], None)
    blocks, _, _ = fit_blocks(X, specs, np.asarray(X.columns, dtype=object))
    assert blocks[0].transformer is not scaler and not hasattr(scaler, "mean_")
