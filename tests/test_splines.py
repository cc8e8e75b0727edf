"""The clinical spline basis of the linear offset (``CoxnetOffset(splines=...)``)."""

import numpy as np
import pandas as pd
import pytest
from sksurv.util import Surv

from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif.protocol import ClinicalRidgeOffset, CoxnetOffset
from sksurv_camlif.protocol.splines import fit_spline_basis

from conftest import tiny


def test_basis_keeps_columns_with_three_distinct_quantile_knots():
    rng = np.random.default_rng(0)
    binary = rng.integers(0, 2, 200)
    two_levels_dominate = np.repeat([0, 1, 2], [90, 20, 90])  # knots at quantiles 0, 0, 2, 2
    ordinal = np.repeat([2, 3, 4], [50, 50, 100])  # knots 2, 3, 4, 4
    clin = np.column_stack([rng.normal(size=200), binary, two_levels_dominate, ordinal]).astype(float)
    basis = fit_spline_basis(clin, ["age", "er", "stage", "grade"], n_knots=4)
    assert basis.columns == [0, 3]
    # 4 distinct knots: 4 + 3 - 1 B-splines less the constant; 3 distinct: 4
    assert basis.names == [f"age__spline{i}" for i in range(5)] + [f"grade__spline{i}" for i in range(4)]
    B = basis.transform(clin)
    assert B.shape == (200, 9)
    np.testing.assert_allclose(B.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(B.std(axis=0), 1)
    # beyond the training range: linear extrapolation, finite
    assert np.isfinite(basis.transform(np.array([[50.0, 0, 0, 9], [-50.0, 1, 2, -9]]))).all()


def test_basis_without_numeric_columns_is_empty():
    basis = fit_spline_basis(np.eye(10)[:, :2], ["a", "b"], n_knots=4)
    assert basis.n_outputs == 0 and basis.transform(np.zeros((3, 2))).shape == (3, 0)


def _u_shaped(n, seed):
    """Risk U-shaped in the clinical column ``age``; one weak gene block."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["g1", "g2", "g3", "age"])
    risk = 1.5 * X["age"].to_numpy() ** 2 + 0.3 * X["g1"].to_numpy()
    time = rng.exponential(np.exp(-risk))
    censor = rng.exponential(2.0, n)
    return X, Surv.from_arrays(time <= censor, np.minimum(time, censor))


def _linear_only(**params):
    return CAMLIFSurvival(
        [("genes", "passthrough", ["g1", "g2", "g3"])], clinical=["age"],
        **tiny(1, residual_weights=[0], **params),
    )


def test_offset_fits_a_u_shaped_clinical_effect():
    X, y = _u_shaped(400, seed=0)
    X_test, y_test = _u_shaped(400, seed=1)
    curved = _linear_only().fit(X, y)
    straight = _linear_only(offset=CoxnetOffset(splines=None)).fit(X, y)
    assert any("age__spline" in n for n in curved.offset_.feature_names_)
    assert not any("spline" in n for n in straight.offset_.feature_names_)
    # a linear term in age cannot rank a U-shaped risk; the splines can
    assert straight.score(X_test, y_test) < 0.62
    assert curved.score(X_test, y_test) > straight.score(X_test, y_test) + 0.1


def test_explain_counts_the_splines_in_the_clinical_share():
    X, y = _u_shaped(120, seed=2)
    est = _linear_only().fit(X, y)
    table = est.explain(X)
    np.testing.assert_allclose(table["linear__genes"] + table["linear__clinical"], table["linear"])
    np.testing.assert_allclose(table["log_risk"], est.predict(X))


@pytest.mark.parametrize("bad", [2, 0, 1.5, "4"])
def test_bad_offset_splines_is_named(bad):
    X, y = _u_shaped(60, seed=3)
    est = _linear_only().set_params(offset__splines=bad)
    with pytest.raises(ValueError, match="'splines' parameter of CoxnetOffset"):
        est.fit(X, y)
    assert not hasattr(est, "members_")


def test_clinical_ridge_offset_stays_linear():
    X, y = _u_shaped(120, seed=4)
    est = _linear_only(offset=ClinicalRidgeOffset()).fit(X, y)
    names = list(est.offset_.feature_names_)
    assert not any("__spline" in n for n in names)
    assert est.offset_.coef_[names.index(next(n for n in names if n.endswith("age")))] != 0
