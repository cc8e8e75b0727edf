"""Members trained at once (``training/stacked.py``, ``objective.py``, ``engine.py``): each
member's own losses, gradients, AdamW steps, batches and early stopping, as if it were
trained alone."""

import copy
import functools
import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv

from conftest import TINY_NET
from sksurv_camlif import CAMLIFSurvival
from sksurv_camlif.nn import CAMLIFNet
from sksurv_camlif.losses import alignment_loss, cox_ph_loss
from sksurv_camlif.training import CAMLIFObjective, SurvivalTensors, predict_log_risk, train_networks
from sksurv_camlif.training.stacked import StackedAdamW, StackedParameters, meta_copy, padded

OBJECTIVE = functools.partial(CAMLIFObjective, alignment_weight=0.5, ties="efron")
ARGS = dict(batch_size=16, learning_rate=1e-2, weight_decay=1e-4, objective=OBJECTIVE)


def _own_loss(module, data, rows):
    """A member's loss computed directly (module forward, Cox loss plus alignment)."""
    batch = data.take(torch.as_tensor(rows))
    out = batch.forward(module)
    loss = cox_ph_loss(out.log_risk.float(), batch.time, batch.event, ties="efron")
    return loss + 0.5 * alignment_loss(out.original, out.enhanced, batch.present)


def _data(n=60, seed=0):
    """Two blocks (the first absent for some patients), a clinical block, tied times."""
    g = torch.Generator().manual_seed(seed)
    present = torch.ones(n, 2, dtype=torch.bool)
    present[::7, 0] = False
    time = (torch.rand(n, generator=g, dtype=torch.float64) * 10).round()
    event = torch.rand(n, generator=g) < 0.5
    return SurvivalTensors(
        [torch.randn(n, 6, generator=g), torch.randn(n, 5, generator=g)], present, torch.randn(n, 3, generator=g),
        time=time, event=event, host_time=time.numpy(), host_event=event.numpy(),
    )


def _members(k=3, dropout=0.0):
    torch.manual_seed(0)
    return [CAMLIFNet([6, 5], n_tokens=2, n_clinical=3, d_model=8, n_heads=2, hidden_size=16,
                      n_encoder_layers=1, dropout=dropout) for _ in range(k)]


def _rows(n=60, k=3):
    fold = np.arange(n) % k
    return [np.flatnonzero(fold != j) for j in range(k)], [np.flatnonzero(fold == j) for j in range(k)]


def test_stacked_losses_and_gradients_are_each_members_own():
    data, members = _data(), _members(2)
    stacked = StackedParameters(members)
    stack = OBJECTIVE(meta_copy(members[0]), stacked.buffers, data)
    rows = [np.arange(0, 20), np.arange(10, 37)]  # different widths: the first is padded
    idx, mask = padded(rows)
    loss = stack.losses(stacked.views(), idx, mask)
    (grad,) = torch.autograd.grad(loss.sum(), stacked.flat)
    for k, module in enumerate(members):
        own = _own_loss(module, data, rows[k])
        own_grad = torch.autograd.grad(own, list(module.parameters()))
        assert_allclose(loss[k].item(), own.item(), rtol=1e-6)
        assert_allclose(grad[k].numpy(), torch.cat([x.reshape(-1) for x in own_grad]).numpy(), atol=1e-6)


def test_stacked_adamw_updates_as_torch_adamw_and_freezes_rows_without_a_batch():
    torch.manual_seed(0)
    start = torch.randn(3, 40)
    flat = start.clone().requires_grad_(True)
    refs = [start[k].clone().requires_grad_(True) for k in range(3)]
    optims = [torch.optim.AdamW([r], lr=1e-2, weight_decay=1e-3) for r in refs]
    stacked = StackedAdamW(flat, 1e-2, 1e-3)
    for step in range(12):
        grad = torch.randn(3, 40)
        moving = torch.tensor([True, step % 3 != 0, step < 4])
        stacked.step(flat, grad, moving)
        for k in range(3):
            if moving[k]:
                refs[k].grad = grad[k].clone()
                optims[k].step()
    for k in range(3):
        assert_allclose(flat[k].detach().numpy(), refs[k].detach().numpy(), atol=1e-6)


def test_stacked_training_equals_one_by_one_training():
    """Same modules, generators and rows: the same weights (to float rounding), losses and
    early-stopping record as each member trained alone (K = 1)."""
    data = _data()
    train_rows, held_rows = _rows()
    stacked_members, solo_members = _members(), _members()
    histories = train_networks(
        stacked_members, data, train_rows, held_rows, max_iter=3, n_iter_no_change=2,
        generators=[torch.Generator().manual_seed(k) for k in range(3)], **ARGS,
    )
    for k, module in enumerate(solo_members):
        (solo,) = train_networks(
            [module], data, [train_rows[k]], [held_rows[k]], max_iter=3, n_iter_no_change=2,
            generators=[torch.Generator().manual_seed(k)], **ARGS,
        )
        assert_allclose(histories[k].loss, solo.loss, rtol=1e-4)
        assert histories[k].validation_score == pytest.approx(solo.validation_score, abs=1e-9)
        assert histories[k].best_epoch == solo.best_epoch
        # up to a constant: the Cox loss does not see the head's bias, whose gradient is
        # float rounding that Adam turns into steps of size lr
        a, b = predict_log_risk(stacked_members[k], data).numpy(), predict_log_risk(module, data).numpy()
        assert_allclose(a - a.mean(), b - b.mean(), atol=1e-3)


def test_a_stopped_member_keeps_its_best_weights_while_the_others_train_on():
    data = _data()
    train_rows, held_rows = _rows()
    members = _members()
    initial = [copy.deepcopy(m.state_dict()) for m in members]
    histories = train_networks(
        members, data, train_rows, held_rows, max_iter=25, n_iter_no_change=3,
        generators=[torch.Generator().manual_seed(k) for k in range(3)], **ARGS,
    )
    n_iter = [h.n_iter for h in histories]
    for k, h in enumerate(histories):
        assert len(h.validation_score) == n_iter[k]
        if n_iter[k] < 25:  # stopped by patience: 3 epochs without a new best
            assert n_iter[k] - h.best_epoch == 3
        if h.best_epoch > 0:
            assert h.best_validation_score == h.validation_score[h.best_epoch - 1]
        if h.best_epoch == 0:  # never beaten: the initial weights
            for name, value in members[k].state_dict().items():
                assert torch.equal(value, initial[k][name])
        else:
            risk = predict_log_risk(members[k], data.take(torch.as_tensor(held_rows[k])))
            c = concordance_index_censored(data.host_event[held_rows[k]], data.host_time[held_rows[k]],
                                           risk.numpy().astype(float))[0]
            assert c == pytest.approx(h.best_validation_score, abs=1e-12)
    assert len(set(n_iter)) > 1 or max(n_iter) == 25


def test_modules_of_different_architectures_are_refused():
    with pytest.raises(ValueError, match="one architecture|buffers"):
        StackedParameters([CAMLIFNet([6, 5], n_tokens=2), CAMLIFNet([6, 5], n_tokens=3)])


@pytest.fixture(scope="module")
def survival_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 6))
    eta = X[:, 0] - X[:, 3]
    t, c = rng.exponential(np.exp(-eta)), rng.exponential(1.5, 90)
    return X, Surv.from_arrays(t <= c, np.minimum(t, c))


def _estimator(**params):
    modalities = [("a", "passthrough", [0, 1, 2]), ("b", "passthrough", [3, 4, 5])]
    return CAMLIFSurvival(modalities, **{**TINY_NET, "max_iter": 4, "n_members": 3, "cv": 3, **params})


def test_estimator_trains_all_members_and_pickles(survival_data):
    X, y = survival_data
    est = _estimator().fit(X, y)
    assert len(est.members_) == 3 and len(est.member_best_epochs_) == 3 and len(est.histories_) == 3
    assert all(1 <= n <= 4 for n in est.member_n_iter_)
    risk = est.predict(X)
    assert np.isfinite(risk).all()
    assert_allclose(pickle.loads(pickle.dumps(est)).predict(X), risk)
