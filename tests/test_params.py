"""Nested parameters of the block transformers (``modalities__<name>__<param>``,
``clinical__<param>``) and scikit-learn's kind of input errors."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.datasets import load_breast_cancer

from conftest import tiny
from sksurv_camlif import CAMLIFSurvival


@pytest.fixture(scope="module")
def breast():
    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")][:20]
    X = X[genes + ["age", "size"]].astype(float)
    X.iloc[:5, 3] = np.nan  # partial gaps: the block needs its imputer
    return X, y, genes


def _est(genes, **params):
    spec = [
        ("a", make_pipeline(SimpleImputer(), StandardScaler()), genes[:10]),
        ("b", StandardScaler(), genes[10:]),
    ]
    clinical = (ColumnTransformer([("num", StandardScaler(), ["age", "size"])]), ["age", "size"])
    return CAMLIFSurvival(spec, clinical=clinical, **tiny(max_iter=2, **params))


def test_get_params_reaches_every_block_transformer(breast):
    _, _, genes = breast
    params = _est(genes).get_params(deep=True)
    assert params["modalities__a__simpleimputer__strategy"] == "mean"
    assert params["modalities__b__with_mean"] is True
    assert isinstance(params["modalities__b"], StandardScaler)
    assert params["clinical__num__with_std"] is True
    assert "modalities__a" in params and "modalities" in params
    shallow = _est(genes).get_params(deep=False)
    assert not any("__" in k for k in shallow)


def test_set_params_nested_and_replace(breast):
    _, _, genes = breast
    est = _est(genes)
    est.set_params(modalities__a__simpleimputer__strategy="median", modalities__b__with_mean=False,
                   clinical__num__with_std=False)
    assert est.modalities[0][1].named_steps["simpleimputer"].strategy == "median"
    assert est.modalities[1][1].with_mean is False
    assert est.clinical[0].transformers[0][1].with_std is False
    est.set_params(modalities__b="passthrough")
    assert est.modalities[1] == ("b", "passthrough", genes[10:])
    with pytest.raises(ValueError, match="there is no modality 'c'"):
        est.set_params(modalities__c__with_mean=False)
    with pytest.raises(ValueError, match="no transformer with parameters"):
        CAMLIFSurvival([("a", "passthrough", genes)], clinical=["age"]).set_params(clinical__x=1)


def test_clone_keeps_nested_params(breast):
    _, _, genes = breast
    est = _est(genes).set_params(modalities__a__simpleimputer__strategy="median")
    copy = clone(est)
    assert copy.get_params()["modalities__a__simpleimputer__strategy"] == "median"
    assert copy.modalities[0][1] is not est.modalities[0][1]


def test_grid_search_over_an_imputer_inside_a_block(breast):
    X, y, genes = breast
    grid = GridSearchCV(
        _est(genes, residual_weights=[0]),  # the linear model only: fast
        {"modalities__a__simpleimputer__strategy": ["mean", "median"]},
        cv=KFold(2, shuffle=True, random_state=0),
    ).fit(X, y)
    assert grid.best_params_["modalities__a__simpleimputer__strategy"] in ("mean", "median")
    fitted = grid.best_estimator_._blocks[0].transformer.named_steps["simpleimputer"]
    assert fitted.strategy == grid.best_params_["modalities__a__simpleimputer__strategy"]


def test_sparse_X_is_a_type_error(breast):
    X, y, genes = breast
    est = CAMLIFSurvival([("a", "passthrough", list(range(10)))], **tiny(max_iter=1))
    with pytest.raises(TypeError, match="does not support sparse input"):
        est.fit(sp.csr_matrix(np.nan_to_num(X.to_numpy()[:, :10])), y)


def test_1d_and_complex_X_get_sklearn_messages(breast):
    X, y, genes = breast
    A = np.nan_to_num(X.to_numpy()[:, :10])
    est = CAMLIFSurvival([("a", "passthrough", list(range(10)))], **tiny(max_iter=1, residual_weights=[0]))
    est.fit(A, y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        est.predict(A[0])
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.predict(A.astype(complex))


def test_all_censored_y_says_only_that(breast):
    X, y, genes = breast
    y = y.copy()
    y[y.dtype.names[0]] = False
    with pytest.raises(ValueError, match=r"^y: all samples are censored"):
        _est(genes).fit(X, y)


def test_offset_parameters_are_nested_and_searchable(breast):
    """The offset is a parameter object: its parameters show as ``offset__*``, set_params
    reaches them (the default "coxnet" becomes a CoxnetOffset), and a grid search runs."""
    from sksurv_camlif.protocol import CoxnetOffset

    X, y, genes = breast
    est = _est(genes, residual_weights=[0])
    params = est.get_params(deep=True)
    assert params["offset"] == "coxnet" and params["offset__l1_ratio"] == (0.01, 0.1, 0.5, 0.9) and params["offset__splines"] == 4
    est.set_params(offset__l1_ratio=0.9)
    assert isinstance(est.offset, CoxnetOffset) and est.offset.l1_ratio == 0.9
    assert clone(est).get_params()["offset__l1_ratio"] == 0.9
    grid = GridSearchCV(_est(genes, residual_weights=[0]), {"offset__l1_ratio": [0.1, 0.9]},
                        cv=KFold(2, shuffle=True, random_state=0)).fit(X, y)
    assert grid.best_params_["offset__l1_ratio"] in (0.1, 0.9)
    assert grid.best_estimator_.offset_.l1_ratio == grid.best_params_["offset__l1_ratio"]
    with pytest.raises(ValueError, match="offset=None has no parameters"):
        _est(genes, offset=None).set_params(offset__l1_ratio=0.1)


def test_an_object_without_the_offset_interface_is_refused(breast):
    X, y, genes = breast
    est = _est(genes, offset=StandardScaler())
    with pytest.raises(TypeError, match="is not an offset"):
        est.fit(X, y)
    assert not hasattr(est, "members_")
