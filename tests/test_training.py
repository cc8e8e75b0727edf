"""The training engine (``sksurv_camlif.training``): one loop for one network or several at
once, early stopping with best-weight restore, interruption, divergence, the History; on
linear Cox models (``torch.nn.Linear``) through a small objective."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from torch.func import functional_call, vmap

import sksurv_camlif.training.engine as engine
from sksurv_camlif.losses import cox_ph_loss
from sksurv_camlif.training import History, SurvivalTensors, train_networks


class LinearObjective:
    """``log-risk = x @ w + b`` for stacked ``torch.nn.Linear(p, 1)`` members."""

    calls = 0
    fail_at = None  # raise KeyboardInterrupt at this call of ``losses``
    scale = 1.0

    def __init__(self, module, buffers, data):
        self.base, self.data = module, data
        self._forward = vmap(lambda params, x: functional_call(module, params, (x,)).squeeze(-1))

    def losses(self, params, idx, mask):
        type(self).calls += 1
        if type(self).calls == self.fail_at:
            raise KeyboardInterrupt
        risk = self._forward(params, self.data.blocks[0][idx]) * self.scale
        time = torch.where(mask, self.data.time[idx], torch.full_like(self.data.time[idx], -torch.inf))
        return vmap(cox_ph_loss)(risk, time, self.data.event[idx] & mask)

    @torch.no_grad()
    def predict(self, params, idx):
        return self._forward(params, self.data.blocks[0][idx])


@pytest.fixture
def problem():
    """A linear Cox truth, 200 patients, 3 columns, as SurvivalTensors; two seeded modules."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    eta = X @ np.array([1.0, -0.5, 0.0])
    t, c = rng.exponential(np.exp(-eta)), rng.exponential(1.5, 200)
    event, time = t <= c, np.minimum(t, c)
    data = SurvivalTensors([torch.as_tensor(X, dtype=torch.float32)], torch.ones(200, 1, dtype=torch.bool), None,
                           torch.as_tensor(time), torch.as_tensor(event), time, event)
    modules = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        modules.append(torch.nn.Linear(3, 1))
    LinearObjective.calls, LinearObjective.fail_at, LinearObjective.scale = 0, None, 1.0
    return data, modules


def _train(data, modules, rows, stop=None, max_iter=5, **kw):
    return train_networks(
        modules, data, rows, stop, objective=LinearObjective, max_iter=max_iter, batch_size=50,
        learning_rate=0.05, weight_decay=0.0,
        generators=[torch.Generator().manual_seed(k) for k in range(len(modules))], **kw,
    )


def test_one_network_trains_and_records(problem):
    data, modules = problem
    (history,) = _train(data, modules[:1], [np.arange(200)], max_iter=3)
    assert isinstance(history, History) and history.n_iter == 3 and not history.interrupted
    assert history.loss[-1] < history.loss[0]  # a true signal is learnt
    assert len(history.epoch_time) == 3 and min(history.epoch_time) > 0
    assert history.best_epoch is None and history.validation_score == []
    assert modules[0].weight[0, 0] > 0  # trained in place, the truth's way


def test_members_at_once_equal_members_one_by_one(problem):
    """The members share nothing: trained together or alone, the same weights."""
    data, modules = problem
    rows = [np.arange(0, 150), np.arange(50, 200)]
    alone = [torch.nn.Linear(3, 1) for _ in range(2)]
    for a, m in zip(alone, modules):
        a.load_state_dict(m.state_dict())
    _train(data, modules, rows, max_iter=4)
    for k in range(2):
        train_networks([alone[k]], data, [rows[k]], objective=LinearObjective, max_iter=4, batch_size=50,
                       learning_rate=0.05, weight_decay=0.0, generators=[torch.Generator().manual_seed(k)])
        torch.testing.assert_close(alone[k].weight, modules[k].weight, rtol=1e-5, atol=1e-6)


def _scripted(monkeypatch, scores):
    """Early stopping sees these scores in turn (initial weights first), member by member."""
    it = iter(scores)
    monkeypatch.setattr(engine, "cindex_or_half", lambda risk, event, time: next(it))


def test_early_stopping_restores_the_best_weights_and_stops_on_patience(problem, monkeypatch):
    data, modules = problem
    _scripted(monkeypatch, [0.5, 0.6, 0.7, 0.65, 0.69, 0.68, 0.9])  # initial, then epochs 1..6

    (history,) = _train(data, modules[:1], [np.arange(150)], [np.arange(150, 200)], max_iter=10,
                        n_iter_no_change=3, tol=0.0)
    # epoch 2 (0.7) is the best; 3 epochs without a gain stop training after epoch 5
    assert history.validation_score == [0.6, 0.7, 0.65, 0.69, 0.68]
    assert history.best_epoch == 2 and history.best_validation_score == 0.7 and history.n_iter == 5


def test_early_stopping_keeps_the_weights_of_the_best_epoch(problem, monkeypatch):
    """Rerun the same training for exactly the best epoch's count: the same weights."""
    data, modules = problem
    twin = torch.nn.Linear(3, 1)
    twin.load_state_dict(modules[0].state_dict())
    _scripted(monkeypatch, [0.5, 0.6, 0.7, 0.65, 0.69, 0.68])
    _train(data, modules[:1], [np.arange(150)], [np.arange(150, 200)], max_iter=10, n_iter_no_change=3, tol=0.0)
    _train(data, [twin], [np.arange(150)], max_iter=2)
    assert_array_equal(modules[0].weight.detach(), twin.weight.detach())


def test_early_stopping_keeps_the_initial_weights_when_training_never_beats_them(problem, monkeypatch):
    data, modules = problem
    initial = modules[0].weight.detach().clone()
    _scripted(monkeypatch, [0.8, 0.7, 0.7, 0.75])
    (history,) = _train(data, modules[:1], [np.arange(150)], [np.arange(150, 200)], max_iter=10,
                        n_iter_no_change=3)
    assert history.best_epoch == 0 and history.n_iter == 3
    assert_array_equal(modules[0].weight.detach(), initial)


def test_tol_drives_the_patience_but_not_the_best(problem, monkeypatch):
    data, modules = problem
    _scripted(monkeypatch, [0.5, 0.50005, 0.5001, 0.50015])  # tiny gains, each below tol
    (history,) = _train(data, modules[:1], [np.arange(150)], [np.arange(150, 200)], max_iter=10,
                        n_iter_no_change=3, tol=1e-3)
    assert history.n_iter == 3 and history.best_epoch == 3


def test_a_member_that_stops_leaves_the_stack(problem, monkeypatch):
    """Member 0 stops after epoch 2, member 1 trains on to max_iter."""
    data, modules = problem
    # initial scores of members 0 and 1, then per epoch member 0 (while active), member 1
    _scripted(monkeypatch, [0.9, 0.5, 0.8, 0.6, 0.8, 0.7, 0.8, 0.8, 0.9])
    histories = _train(data, modules, [np.arange(150)] * 2, [np.arange(150, 200)] * 2, max_iter=5,
                       n_iter_no_change=2, tol=0.0)
    assert [h.n_iter for h in histories] == [2, 5]
    assert histories[0].best_epoch == 0 and histories[1].best_epoch == 5


def test_keyboard_interrupt_warns_and_keeps_the_trained_epochs(problem):
    data, modules = problem
    LinearObjective.fail_at = 9  # in the third epoch (4 batches per epoch)
    with pytest.warns(UserWarning, match="interrupted after 2 epoch"):
        (history,) = _train(data, modules[:1], [np.arange(200)], max_iter=5)
    assert history.interrupted is True and history.n_iter == 2


def test_divergence_raises_and_closes_the_progress_bar(problem, capsys):
    data, modules = problem
    LinearObjective.scale = float("nan")
    with pytest.raises(FloatingPointError, match="training loss became"):
        _train(data, modules[:1], [np.arange(200)], max_iter=5, verbose=1, desc="test")
    assert "test" in capsys.readouterr().err  # the bar was drawn and closed


def test_history_continues_on_warm_start():
    first = History([1.0, 0.9], [0.6, 0.7], [0.1, 0.1], 2, 0.7)
    second = History([0.8], [0.65], [0.2], 0, 0.66)
    both = second.continued(first)
    assert both.loss == [1.0, 0.9, 0.8] and both.validation_score == [0.6, 0.7, 0.65] and both.n_iter == 3
    assert both.best_epoch == 0 and both.best_validation_score == 0.66
    assert second.continued(None) is second


def test_estimator_history_records_epoch_times():
    from sksurv.datasets import load_breast_cancer

    from conftest import PLAIN, tiny
    from sksurv_camlif import CAMLIFSurvival

    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")][:6]
    est = CAMLIFSurvival([("g", "passthrough", genes)], **tiny(3, **PLAIN, warm_start=True))
    est.fit(X, y)
    assert [h["epoch"] for h in est.history_] == [1, 2, 3]
    assert all(h["time"] > 0 for h in est.history_)
    est.fit(X, y)  # warm start: the record goes on
    assert len(est.history_) == est.n_iter_ == 6 and all(h["time"] > 0 for h in est.history_)
    assert est.histories_[0].n_iter == 6
