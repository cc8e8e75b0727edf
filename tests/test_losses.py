"""Tests of the Cox partial-likelihood loss and of the alignment loss.

Every value test compares against a reference written here in numpy float64, from the
textbook formula (O(n^2) or a per-time loop), or against scikit-survival's own
implementation of the same likelihood.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sksurv.datasets import load_whas500
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.linear_model.coxph import CoxPHOptimizer

from conftest import profile_allocations
from sksurv_camlif.losses import CoxLoss, alignment_loss, cox_ph_loss

TIES = ["breslow", "efron"]


# --------------------------------------------------------------------------- references


def _logsumexp(a):
    a = np.asarray(a, dtype=np.float64)
    m = a.max()
    return m + np.log(np.exp(a - m).sum())


def reference_cox(eta, time, event, ties):
    """Direct O(n^2) negative partial log-likelihood / n_events, float64."""
    eta = np.asarray(eta, dtype=np.float64)
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    n_events = int(event.sum())
    if n_events == 0:
        return 0.0
    total = 0.0
    if ties == "breslow":
        for i in np.flatnonzero(event):
            total -= eta[i] - _logsumexp(eta[time >= time[i]])
    else:
        for t in np.unique(time[event]):
            tied = event & (time == t)
            d = int(tied.sum())
            at_risk = eta[time >= t]
            shift = at_risk.max()  # the exact formula, on exp(eta - shift) for range
            r = np.exp(at_risk - shift).sum()
            dsum = np.exp(eta[tied] - shift).sum()
            for l in range(d):
                total += np.log(r - l / d * dsum) + shift
            total -= eta[tied].sum()
    return total / n_events


def _t(a, dtype=torch.float64):
    return torch.as_tensor(np.asarray(a), dtype=dtype)


@pytest.fixture(scope="module")
def whas500():
    X, y = load_whas500()
    cols = ["age", "hr", "bmi", "sysbp", "diasbp"]
    Z = X[cols].to_numpy(dtype=np.float64)
    Z = (Z - Z.mean(0)) / Z.std(0)
    time = y["lenfol"].astype(np.float64)
    event = y["fstat"].astype(bool)
    # the data has many tied event times: both ties modes must be exercised
    uniq, counts = np.unique(time[event], return_counts=True)
    assert counts.max() >= 2
    return Z, time, event


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("ties", TIES)
def test_cox_matches_direct_formula_on_whas500(whas500, ties):
    Z, time, event = whas500
    eta = Z @ np.array([0.8, 0.3, -0.4, -0.2, 0.1])
    loss = cox_ph_loss(_t(eta), _t(time), _t(event, torch.bool), ties=ties)
    assert loss.dtype == torch.float64 and loss.shape == ()
    np.testing.assert_allclose(loss.item(), reference_cox(eta, time, event, ties), rtol=1e-8)
    # the event indicator as 0/1 floats, and times as int: same value
    loss2 = cox_ph_loss(_t(eta), _t(time.astype(np.int64), torch.int64), _t(event, torch.float64), ties=ties)
    np.testing.assert_allclose(loss2.item(), loss.item(), rtol=1e-12)
    # float32 log-risks: same value to float32 precision
    loss32 = cox_ph_loss(_t(eta, torch.float32), _t(time), _t(event), ties=ties)
    assert loss32.dtype == torch.float32
    np.testing.assert_allclose(loss32.item(), loss.item(), rtol=1e-5)
    # Module form
    np.testing.assert_allclose(CoxLoss(ties)(_t(eta), _t(time), _t(event)).item(), loss.item(), rtol=1e-12)


def test_breslow_and_efron_differ_with_ties(whas500):
    """Guards against an Efron branch that silently falls back to Breslow."""
    Z, time, event = whas500
    eta = _t(Z @ np.array([0.8, 0.3, -0.4, -0.2, 0.1]))
    b = cox_ph_loss(eta, _t(time), _t(event), ties="breslow")
    e = cox_ph_loss(eta, _t(time), _t(event), ties="efron")
    assert e.item() < b.item() - 1e-4  # Efron's denominators are smaller
    # without ties they coincide
    t2 = time + np.arange(len(time)) * 1e-6
    b2 = cox_ph_loss(eta, _t(t2), _t(event), ties="breslow")
    e2 = cox_ph_loss(eta, _t(t2), _t(event), ties="efron")
    np.testing.assert_allclose(e2.item(), b2.item(), rtol=1e-12)


@pytest.mark.parametrize("ties", TIES)
def test_cox_matches_scikit_survival(whas500, ties):
    """Same likelihood as sksurv's CoxPHSurvivalAnalysis(ties=...).

    sksurv's ``CoxPHOptimizer.nlog_likelihood`` is the negative log partial likelihood
    divided by the number of *samples*; ours divides by the number of *events*.
    """
    Z, time, event = whas500
    Z = Z[:, :4]
    n, n_events = len(time), int(event.sum())
    model = CoxPHSurvivalAnalysis(alpha=0, ties=ties, tol=1e-12).fit(Z, np.rec.fromarrays([event, time], names="e,t"))
    opt = CoxPHOptimizer(Z, event, time, np.zeros(Z.shape[1]), ties)
    for w in (model.coef_, model.coef_ + np.array([0.3, -0.2, 0.1, 0.05])):
        ref = opt.nlog_likelihood(w) * n / n_events
        ours = cox_ph_loss(_t(Z @ w), _t(time), _t(event), ties=ties)
        np.testing.assert_allclose(ours.item(), ref, rtol=1e-8)
        np.testing.assert_allclose(reference_cox(Z @ w, time, event, ties), ref, rtol=1e-8)

    # sksurv's fitted coefficients are a stationary point of *our* loss with the same ties
    w = torch.tensor(model.coef_, requires_grad=True)
    cox_ph_loss(_t(Z) @ w, _t(time), _t(event), ties=ties).backward()
    assert w.grad.abs().max().item() < 1e-7
    other = "efron" if ties == "breslow" else "breslow"
    w2 = torch.tensor(model.coef_, requires_grad=True)
    cox_ph_loss(_t(Z) @ w2, _t(time), _t(event), ties=other).backward()
    assert w2.grad.abs().max().item() > 1e-5  # the check can tell the two apart


@pytest.mark.parametrize("ties", TIES)
def test_cox_gradcheck(ties):
    gen = torch.Generator().manual_seed(0)
    # tie groups: events + censored, events only, event + censored, and a last group of
    # events only (its risk set is exactly the tied events)
    time = torch.tensor([1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 6.0])
    event = torch.tensor([1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1], dtype=torch.bool)
    for _ in range(3):
        eta = torch.randn(11, dtype=torch.float64, generator=gen, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x: cox_ph_loss(x, time, event, ties=ties), (eta,))
        assert torch.autograd.gradgradcheck(lambda x: cox_ph_loss(x, time, event, ties=ties), (eta,))


@pytest.mark.parametrize("ties", TIES)
def test_cox_gradient_matches_reference_finite_differences(ties):
    """Analytic gradient against central differences of the *numpy* reference."""
    rng = np.random.default_rng(1)
    time = rng.integers(0, 5, size=25).astype(float)
    event = rng.random(25) < 0.6
    eta = rng.normal(size=25)
    x = torch.tensor(eta, requires_grad=True)
    cox_ph_loss(x, _t(time), _t(event), ties=ties).backward()
    h = 1e-6
    num = np.array(
        [
            (reference_cox(eta + h * np.eye(25)[i], time, event, ties) - reference_cox(eta - h * np.eye(25)[i], time, event, ties))
            / (2 * h)
            for i in range(25)
        ]
    )
    np.testing.assert_allclose(x.grad.numpy(), num, atol=1e-7)


# --------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("ties", TIES)
def test_permutation_and_shift_invariance(whas500, ties):
    Z, time, event = whas500
    eta = _t(Z @ np.array([0.8, 0.3, -0.4, -0.2, 0.1]))
    base = cox_ph_loss(eta, _t(time), _t(event), ties=ties)
    perm = torch.randperm(len(time), generator=torch.Generator().manual_seed(3))
    permuted = cox_ph_loss(eta[perm], _t(time)[perm], _t(event)[perm], ties=ties)
    np.testing.assert_allclose(permuted.item(), base.item(), rtol=1e-12)
    for c in (-50.0, 7.5, 300.0):
        np.testing.assert_allclose(cox_ph_loss(eta + c, _t(time), _t(event), ties=ties).item(), base.item(), rtol=1e-10)


@st.composite
def survival_batches(draw):
    n = draw(st.integers(1, 25))
    time = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))  # many ties
    event = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    eta = draw(st.lists(st.floats(-30, 30, allow_nan=False), min_size=n, max_size=n))
    return np.array(eta, float), np.array(time, float), np.array(event, bool)


@settings(max_examples=50, deadline=None)
@given(batch=survival_batches(), ties=st.sampled_from(TIES), seed=st.integers(0, 2**31 - 1), c=st.floats(-100, 100))
def test_property_matches_reference_and_invariances(batch, ties, seed, c):
    eta, time, event = batch
    loss = cox_ph_loss(_t(eta), _t(time), _t(event), ties=ties)
    ref = reference_cox(eta, time, event, ties)
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-9, atol=1e-9)
    perm = np.random.default_rng(seed).permutation(len(eta))
    np.testing.assert_allclose(
        cox_ph_loss(_t(eta[perm]), _t(time[perm]), _t(event[perm]), ties=ties).item(), loss.item(), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        cox_ph_loss(_t(eta + c), _t(time), _t(event), ties=ties).item(), loss.item(), rtol=1e-9, atol=1e-9
    )


# --------------------------------------------------------------------------- stability


@pytest.mark.parametrize("ties", TIES)
def test_stable_for_large_log_risks(ties):
    time = torch.tensor([1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 4.0])
    event = torch.tensor([1, 1, 1, 1, 0, 1, 1, 1], dtype=torch.bool)
    raw = np.array([1000.0, -1000.0, 999.0, 1000.0, -1000.0, 500.0, -1000.0, -999.0])
    for dtype in (torch.float64, torch.float32):
        x = torch.tensor(raw, dtype=dtype, requires_grad=True)
        loss = cox_ph_loss(x, time, event, ties=ties)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
        rtol = 1e-10 if dtype == torch.float64 else 1e-4
        np.testing.assert_allclose(loss.item(), reference_cox(raw, time.numpy(), event.numpy(), ties), rtol=rtol)
        # shifting by a large constant: same value, same gradient
        x2 = torch.tensor(raw - 1e4, dtype=dtype, requires_grad=True)
        loss2 = cox_ph_loss(x2, time, event, ties=ties)
        loss2.backward()
        np.testing.assert_allclose(loss2.item(), loss.item(), rtol=rtol)
        np.testing.assert_allclose(x2.grad.numpy(), x.grad.numpy(), atol=1e-6 if dtype == torch.float64 else 1e-3)


@pytest.mark.parametrize("dtype,gap", [(torch.float32, 20.0), (torch.float64, 40.0)])
@pytest.mark.parametrize("ties", TIES)
def test_finite_gradient_censored_tied_with_dominant_events(ties, dtype, gap):
    """A censored sample tied with events whose exp dominates the risk set.

    Moderate values (a gap of 20 in float32) make D/R round to 1; a censored row of the
    group then has Efron fraction d/d = 1, and log1p(-1) = -inf in the masked-out branch
    must not leak NaN into the gradient.
    """
    x = torch.tensor([0.0, 0.0, -gap], dtype=dtype, requires_grad=True)
    time = torch.tensor([1.0, 1.0, 1.0])
    event = torch.tensor([True, True, False])
    loss = cox_ph_loss(x, time, event, ties=ties)
    loss.backward()
    assert torch.isfinite(loss)
    np.testing.assert_allclose(loss.item(), reference_cox(x.detach().double().numpy(), time, event, ties), rtol=1e-6)
    assert torch.isfinite(x.grad).all(), x.grad


@pytest.mark.parametrize("dtype,big", [(torch.float32, 100.0), (torch.float64, 1000.0)])
@pytest.mark.parametrize("ties", TIES)
def test_finite_gradient_censored_dominating_tied_events(ties, dtype, big):
    """Censored samples far riskier than the events they are tied with, and a tie group of
    censored samples only: exp(eta - group max over events) overflows for them, which
    must stay out of the gradient."""
    time = torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 4.0])
    event = torch.tensor([True, False, False, False, True, True])
    raw = np.array([-big, big, big, 0.9 * big, 0.0, 1.0])
    x = torch.tensor(raw, dtype=dtype, requires_grad=True)
    loss = cox_ph_loss(x, time, event, ties=ties)
    loss.backward()
    assert torch.isfinite(loss)
    np.testing.assert_allclose(loss.item(), reference_cox(raw, time.numpy(), event.numpy(), ties), rtol=1e-6)
    assert torch.isfinite(x.grad).all(), x.grad


@pytest.mark.parametrize("ties", TIES)
def test_no_events_gives_finite_zero_and_zero_gradient(ties):
    x = torch.tensor([0.3, 500.0, -2.0, 1.0], dtype=torch.float64, requires_grad=True)
    time = torch.tensor([1.0, 2.0, 2.0, 3.0])
    event = torch.zeros(4, dtype=torch.bool)
    loss, n_events = cox_ph_loss(x, time, event, ties=ties, return_n_events=True)
    assert loss.item() == 0.0 and torch.isfinite(loss)
    assert int(n_events) == 0 and n_events.shape == ()
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    # with events, n_events counts them
    _, n = cox_ph_loss(x.detach(), time, torch.tensor([1, 0, 1, 1]), ties=ties, return_n_events=True)
    assert int(n) == 3


@pytest.mark.parametrize("ties", TIES)
def test_single_sample(ties):
    for value in (0.0, 1234.5, -1e4):
        x = torch.tensor([value], dtype=torch.float64, requires_grad=True)
        loss = cox_ph_loss(x, torch.tensor([3.0]), torch.tensor([True]), ties=ties)
        loss.backward()
        assert torch.isfinite(loss) and abs(loss.item()) < 1e-12
        assert torch.isfinite(x.grad).all() and abs(x.grad.item()) < 1e-12
    # empty batch: finite 0
    empty = cox_ph_loss(torch.zeros(0, dtype=torch.float64), torch.zeros(0), torch.zeros(0, dtype=torch.bool), ties=ties)
    assert empty.item() == 0.0


# --------------------------------------------------------------------------- scale



def _naive_breslow(x, time, event):
    risk = (time[None, :] >= time[:, None]).to(x.dtype)  # n x n
    log_r = torch.log(risk @ torch.exp(x))
    return -((x - log_r) * event).sum() / event.sum()


def test_allocation_measurement_catches_quadratic_memory():
    """The measurement used below does see an n x n risk matrix (so the next test can fail)."""
    n = 2000
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, dtype=torch.float64, generator=gen)
    time = torch.rand(n, dtype=torch.float64, generator=gen)
    event = (torch.rand(n, generator=gen) < 0.5).double()
    sizes = profile_allocations(lambda: _naive_breslow(x, time, event))[0]
    assert max(sizes) >= n * n * 8
    np.testing.assert_allclose(
        _naive_breslow(x, time, event).item(), cox_ph_loss(x, time, event).item(), rtol=1e-10
    )


def _numpy_breslow_large(eta, time, event):
    """O(n log n) reference without ties: reverse cumulative logaddexp in time order."""
    order = np.argsort(time)
    e, ev = eta[order], event[order]
    log_r = np.logaddexp.accumulate(e[::-1])[::-1]
    return -(e - log_r)[ev].sum() / ev.sum()


def _numpy_efron_large(eta, time, event):
    """Efron per distinct event time, risk sums from a reverse cumulative logaddexp."""
    order = np.argsort(time, kind="stable")
    t, e, ev = time[order], eta[order], event[order]
    log_r_all = np.logaddexp.accumulate(e[::-1])[::-1]
    uniq, start, counts = np.unique(t, return_index=True, return_counts=True)
    total = 0.0
    for s, c in zip(start, counts):
        tied = e[s : s + c][ev[s : s + c]]
        d = len(tied)
        if d == 0:
            continue
        log_r = log_r_all[s]
        frac_d = np.exp(tied - log_r).sum()  # D / R
        ls = np.arange(d) / d
        total += (d * log_r + np.log1p(-ls * frac_d).sum()) - tied.sum()
    return total / ev.sum()


@pytest.mark.parametrize("ties", TIES)
def test_one_million_samples_linear_memory(ties):
    n = 1_000_000
    rng = np.random.default_rng(0)
    eta = rng.normal(size=n)
    event = rng.random(n) < 0.3
    if ties == "breslow":
        time = rng.permutation(n).astype(np.float64) + rng.random()  # no ties
        ref = _numpy_breslow_large(eta, time, event)
    else:
        time = rng.integers(0, 1000, size=n).astype(np.float64)  # ~1000 samples per time
        ref = _numpy_efron_large(eta, time, event)

    x = torch.tensor(eta, requires_grad=True)
    tt, ee = torch.from_numpy(time), torch.from_numpy(event)
    out = {}

    def run():
        out["loss"] = cox_ph_loss(x, tt, ee, ties=ties)
        out["loss"].backward()

    sizes = profile_allocations(run)[0]
    # the largest allocation is O(n): an n x n float64 matrix would be 8 TB
    assert max(sizes) <= 64 * n, max(sizes)
    np.testing.assert_allclose(out["loss"].item(), ref, rtol=1e-8)
    assert torch.isfinite(x.grad).all()
    # gradient of mean loss sums to 0 (shift invariance), and is not trivially 0
    assert abs(x.grad.sum().item()) < 1e-8 and x.grad.abs().max().item() > 0


# --------------------------------------------------------------------------- validation


def test_invalid_ties_raises():
    x, t, e = torch.zeros(3), torch.arange(3.0), torch.ones(3)
    with pytest.raises(ValueError, match="ties"):
        cox_ph_loss(x, t, e, ties="exact")
    with pytest.raises(ValueError, match="ties"):
        cox_ph_loss(x, t, e, ties="Breslow")


def test_mismatched_lengths_raise_with_lengths():
    with pytest.raises(ValueError, match=r"5.*4.*4"):
        cox_ph_loss(torch.zeros(5), torch.arange(4.0), torch.ones(4))
    with pytest.raises(ValueError, match=r"4.*7.*4"):
        cox_ph_loss(torch.zeros(4), torch.arange(7.0), torch.ones(4))
    with pytest.raises(ValueError, match=r"4.*4.*3"):
        cox_ph_loss(torch.zeros(4), torch.arange(4.0), torch.ones(3), ties="efron")


def test_accepts_column_vectors():
    rng = np.random.default_rng(2)
    eta, time, event = rng.normal(size=12), rng.integers(0, 4, 12).astype(float), rng.random(12) < 0.5
    event[0] = True
    a = cox_ph_loss(_t(eta)[:, None], _t(time), _t(event), ties="efron")
    np.testing.assert_allclose(a.item(), reference_cox(eta, time, event, "efron"), rtol=1e-10)


# --------------------------------------------------------------------------- alignment


def test_alignment_loss_by_hand():
    rng = np.random.default_rng(0)
    B, M, d = 5, 3, 7
    p = rng.normal(size=(B, M, d))
    ph = rng.normal(size=(B, M, d))
    present = rng.random((B, M)) < 0.6
    present[0] = False  # a patient with nothing present contributes 0
    present[1] = True

    def by_hand(mask):
        per_patient = []
        for b in range(B):
            s = 0.0
            for m in range(M):
                if mask[b, m]:
                    s += np.abs(p[b, m] - ph[b, m]).sum() / d
            per_patient.append(s)
        return np.mean(per_patient)

    full = alignment_loss(_t(p), _t(ph))
    np.testing.assert_allclose(full.item(), by_hand(np.ones((B, M), bool)), rtol=1e-12)
    masked = alignment_loss(_t(p), _t(ph), _t(present, torch.bool))
    np.testing.assert_allclose(masked.item(), by_hand(present), rtol=1e-12)
    assert masked.shape == ()

    # absent modalities are excluded: their values (even NaN-free garbage) do not matter
    ph2 = ph.copy()
    ph2[~present] += 1e6
    np.testing.assert_allclose(alignment_loss(_t(p), _t(ph2), _t(present, torch.bool)).item(), masked.item(), rtol=1e-12)
    # and they get no gradient
    a = _t(p).requires_grad_()
    alignment_loss(a, _t(ph), _t(present, torch.bool)).backward()
    assert torch.all(a.grad[torch.from_numpy(~present)] == 0)
    assert torch.all(a.grad[torch.from_numpy(present)] != 0)


def test_alignment_loss_zero_when_equal():
    p = torch.randn(4, 2, 8, dtype=torch.float64)
    assert alignment_loss(p, p.clone()).item() == 0.0
