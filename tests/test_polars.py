"""polars input: a DataFrame fits and predicts as the same pandas one, keeping the feature
names; a LazyFrame is refused with a TypeError that names it (as scikit-survival does)."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from conftest import small_est

pl = pytest.importorskip("polars")


def _polars(X):
    return pl.DataFrame({c: X[c].to_numpy() for c in X.columns})


def test_polars_dataframe_fits_and_predicts_as_pandas(data):
    X, y = data
    pandas_fit = small_est(max_iter=2).fit(X, y)
    polars_fit = small_est(max_iter=2).fit(_polars(X), y)
    assert list(polars_fit.feature_names_in_) == list(X.columns)
    assert_array_equal(polars_fit.predict(_polars(X)), pandas_fit.predict(X))
    assert_array_equal(polars_fit.predict(X), pandas_fit.predict(X))  # pandas in, same model
    assert_array_equal(polars_fit.predict_survival_function(_polars(X), return_array=True),
                       pandas_fit.predict_survival_function(X, return_array=True))
    assert np.isclose(polars_fit.score(_polars(X), y), pandas_fit.score(X, y))


def test_polars_lazyframe_is_refused_naming_it(data):
    X, y = data
    est = small_est(max_iter=2)
    with pytest.raises(TypeError, match="LazyFrame.*collect"):
        est.fit(_polars(X).lazy(), y)
    assert not hasattr(est, "members_")
    est.fit(X, y)
    with pytest.raises(TypeError, match="LazyFrame"):
        est.predict(_polars(X).lazy())


def test_polars_columns_in_another_order_are_named(data):
    X, y = data
    est = small_est(max_iter=2).fit(_polars(X), y)
    with pytest.raises(ValueError, match="feature names"):
        est.predict(_polars(X[X.columns[::-1]]))
