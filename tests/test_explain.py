"""explain(X): per-patient contributions that are the forward pass's own values."""

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sksurv.datasets import load_breast_cancer

from conftest import PLAIN, tiny
from sksurv_camlif import CAMLIFSurvival


@pytest.fixture(scope="module")
def breast():
    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")][:20]
    X = X[genes + ["age", "size"]].astype(float)
    X.loc[X.index[:30], genes[10:]] = np.nan  # block b absent for 30 patients
    return X, y, genes


def _est(genes, **params):
    spec = [("a", "passthrough", genes[:10]), ("b", "passthrough", genes[10:])]
    return CAMLIFSurvival(spec, clinical=["age", "size"], **tiny(max_iter=3, **params))


@pytest.fixture(scope="module")
def fitted(breast):
    X, y, genes = breast
    return _est(genes, n_members=2, residual_weights=[0.5]).fit(X, y)


def test_shares_add_up_to_the_prediction(fitted, breast):
    X, _, _ = breast
    ex = fitted.explain(X)
    assert isinstance(ex, pd.DataFrame) and ex.index.equals(X.index)
    assert_array_equal(ex["log_risk"], fitted.predict(X))
    assert_allclose(ex["baseline"] + ex["linear"] + ex["network"], ex["log_risk"], atol=1e-10)
    linear_parts = ex[["linear__a", "linear__b", "linear__clinical"]].sum(axis=1)
    assert_allclose(linear_parts, ex["linear"], atol=1e-8)
    # every share is centred on the training patients (X is the training data here)
    assert ex["baseline"].nunique() == 1 and ex["baseline"].iloc[0] == pytest.approx(fitted.predict(X).mean())
    for col in ("linear", "network", "linear__a", "linear__b", "linear__clinical"):
        assert abs(ex[col].mean()) < 1e-8, col
    assert ex["network"].std() > 0
    assert_array_equal(ex["present__b"], ~X.iloc[:, 10:20].isna().all(axis=1).to_numpy())
    assert_allclose(ex.loc[~ex["present__b"], "linear__b"], 0, atol=1e-8)  # absent: the training mean
    for col in ("gate_original__a", "gate_enhanced__b", "owc__lmf_original", "owc__tokens_original"):
        assert ((ex[col] > 0) & (ex[col] < 1)).all(), col


def test_gates_are_those_of_the_forward_pass(breast):
    """One member: the reported gates equal sigmoid(gate(p)) recomputed from the forward
    pass's own class tokens."""
    X, y, genes = breast
    est = _est(genes, n_members=1, residual_weights=[1]).fit(X, y)
    ex = est.explain(X)
    _, _, data = est._inputs(X)
    member = est.members_[0].eval()
    with torch.no_grad():
        out = data.forward(member)
        gates = torch.sigmoid(member.mam.gate(out.original.flatten(1))).numpy()
        gates_hat = torch.sigmoid(member.mam_hat.gate(out.enhanced.flatten(1))).numpy()
    assert_allclose(ex[["gate_original__a", "gate_original__b"]], gates, rtol=1e-6)
    assert_allclose(ex[["gate_enhanced__a", "gate_enhanced__b"]], gates_hat, rtol=1e-6)
    network = out.log_risk.numpy().astype(float)
    assert_allclose(ex["network"], network - network.mean(), rtol=1e-5, atol=1e-6)
    assert member.training is False  # explain leaves the members in eval mode, hooks removed
    assert not member.mam.gate._forward_hooks and not member.owc.net._forward_hooks


def test_linear_only_and_plain_network(breast):
    X, y, genes = breast
    linear = _est(genes, residual_weights=[0]).fit(X, y).explain(X)
    assert not any(c.startswith(("gate_", "owc__")) for c in linear)
    assert (linear["network"] == 0).all()
    plain = _est(genes, **PLAIN).fit(X, y)
    ex = plain.explain(X)
    assert "linear" not in ex
    assert_allclose(ex["baseline"] + ex["network"], plain.predict(X), rtol=1e-10)


def test_summary_over_a_data_set(fitted, breast):
    from sksurv_camlif.explain import summarize_explanation

    X, _, _ = breast
    ex = fitted.explain(X)
    summary = summarize_explanation(ex)
    assert list(summary.index) == ["a", "b", "clinical", "network"]
    centred = (ex["linear__b"] - ex["linear__b"].mean()).abs().mean()
    assert summary.loc["b", "mean_abs_contribution"] == pytest.approx(centred)
    assert summary["share"].sum() == pytest.approx(1.0)
    assert summary.loc["b", "present"] == pytest.approx(1 - 30 / len(X))
    assert summary.loc["a", "gate_original"] == pytest.approx(ex["gate_original__a"].mean())
    assert np.isnan(summary.loc["clinical", "present"])
    # the plain network: no offset, all of the risk is the network's
    X_, y_ = X, breast[1]
    plain = summarize_explanation(_est(breast[2], **PLAIN).fit(X_, y_).explain(X_))
    assert plain.loc["network", "share"] == pytest.approx(1.0)
    assert list(plain.index) == ["a", "b", "network"]
