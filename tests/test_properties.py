"""Property-based tests (hypothesis): random valid modality specs, Cox-loss invariances.

Kept small (tiny network, ``max_iter=2``, 40 patients, 15-25 examples) so the file runs
in a few seconds on a shared 2-core machine.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import StandardScaler
from sksurv.util import Surv

from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif.losses import cox_ph_loss
from conftest import tiny

SMALL = tiny(max_iter=2)
N = 40
DTYPES = ("float32", "float64", "int32", "int64")
FORMS = ("names", "ints", "negative ints", "mask", "scalar")

FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@st.composite
def specs(draw):
    """A random valid problem: data, a spec in random column forms, the same spec by position."""
    n_cols = draw(st.integers(2, 8))
    dtypes = draw(st.lists(st.sampled_from(DTYPES), min_size=n_cols, max_size=n_cols))
    numpy_input = draw(st.booleans())
    used = draw(st.permutations(range(n_cols)))[: draw(st.integers(1, n_cols))]
    n_blocks = draw(st.integers(1, min(3, len(used))))
    cuts = sorted(draw(st.lists(st.integers(1, len(used) - 1), min_size=n_blocks - 1,
                                max_size=n_blocks - 1, unique=True))) if n_blocks > 1 else []
    blocks = [list(b) for b in np.split(np.array(used), cuts)]  # random order, random subsets
    names = [f"col{j}" for j in range(n_cols)]

    spec, canonical = [], []
    for k, cols in enumerate(blocks):
        forms = [f for f in FORMS if not (numpy_input and f == "names") and (f != "scalar" or len(cols) == 1)]
        form = draw(st.sampled_from(forms))
        if form == "names":
            columns = [names[j] for j in cols]
        elif form == "ints":
            columns = [int(j) for j in cols]
        elif form == "negative ints":
            columns = [int(j) - n_cols for j in cols]
        elif form == "mask":
            columns = np.isin(np.arange(n_cols), cols)  # a mask takes the columns in X's order
            cols = sorted(cols)
        else:
            columns = names[cols[0]] if not numpy_input and draw(st.booleans()) else int(cols[0])
        transformer = draw(st.sampled_from(["passthrough", "scaler"]))
        make = (lambda: StandardScaler()) if transformer == "scaler" else (lambda: "passthrough")
        spec.append((f"block{k}", make(), columns))
        canonical.append((f"block{k}", make(), [int(j) for j in cols]))

    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            names[j]: (rng.normal(size=N) * 3).astype(dt) if dt.startswith("float")
            else rng.integers(-3, 4, size=N).astype(dt)
            for j, dt in enumerate(dtypes)
        }
    )
    if n_blocks >= 2 and draw(st.booleans()):  # some patients lack a modality (never all)
        frame.loc[0:3, [names[j] for j in blocks[0]]] = np.nan
        frame.loc[4:6, [names[j] for j in blocks[1]]] = np.nan
    event = rng.random(N) < 0.6
    event[:3] = True
    time = np.round(rng.exponential(10, size=N), 1) + 0.1  # rounding gives ties
    y = Surv.from_arrays(event, time)
    X = frame.to_numpy() if numpy_input else frame
    n_tokens = draw(st.integers(1, 3))
    return X, y, spec, canonical, n_tokens


@settings(max_examples=15, **FAST)
@given(problem=specs())
def test_random_valid_spec_fits_and_predicts(problem):
    X, y, spec, canonical, n_tokens = problem
    est = CAMLIFSurvival(spec, **{**SMALL, "n_tokens": n_tokens}).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (N,)
    assert pred.dtype == np.float64
    assert np.isfinite(pred).all()
    assert est.modalities_ == [name for name, _, _ in spec]
    assert est.n_features_in_ == X.shape[1]
    # the column form does not matter: the same blocks by position give the same model
    ref = CAMLIFSurvival(canonical, **{**SMALL, "n_tokens": n_tokens}).fit(X, y)
    assert_allclose(pred, ref.predict(X), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- Cox loss

samples = st.lists(
    st.tuples(
        st.integers(0, 6),  # few distinct times: many ties
        st.booleans(),
        st.floats(-5, 5, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=30,
)


def _loss_and_grad(eta, time, event, ties):
    eta = torch.tensor(eta, dtype=torch.float64, requires_grad=True)
    loss = cox_ph_loss(eta, torch.tensor(time, dtype=torch.float64), torch.tensor(event), ties=ties)
    loss.backward()
    return loss.item(), eta.grad.numpy().copy()


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@settings(max_examples=25, **FAST)
@given(rows=samples, data=st.data())
def test_cox_loss_invariant_to_batch_permutation(ties, rows, data):
    time, event, eta = (np.array(v) for v in zip(*rows))
    perm = np.array(data.draw(st.permutations(range(len(rows)))))
    loss, grad = _loss_and_grad(eta, time.astype(np.float64), event, ties)
    loss_p, grad_p = _loss_and_grad(eta[perm], time[perm].astype(np.float64), event[perm], ties)
    assert np.isfinite(loss)
    assert_allclose(loss_p, loss, rtol=1e-9, atol=1e-12)
    assert_allclose(grad_p, grad[perm], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@settings(max_examples=25, **FAST)
@given(rows=samples, shift=st.floats(-30, 30, allow_nan=False))
def test_cox_loss_invariant_to_a_constant_log_risk_shift(ties, rows, shift):
    time, event, eta = (np.array(v) for v in zip(*rows))
    time = time.astype(np.float64)
    loss, grad = _loss_and_grad(eta, time, event, ties)
    loss_s, grad_s = _loss_and_grad(eta + shift, time, event, ties)
    assert np.isfinite(loss)
    assert_allclose(loss_s, loss, rtol=1e-9, atol=1e-12)
    assert_allclose(grad_s, grad, rtol=1e-9, atol=1e-12)
    if not event.any():  # no event: a finite 0 with a zero gradient
        assert loss == 0.0
        assert_array_equal(grad, 0.0)
