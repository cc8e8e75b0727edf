"""The open training loop of ``training.py``: callbacks, early stopping with best-weight
restore, interruption, divergence; on a linear Cox model (a ``torch.nn.Linear``)."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from sksurv_camlif.losses import cox_ph_loss
from sksurv_camlif.training import (
    Callback,
    EarlyStopping,
    EpochTimer,
    ProgressBar,
    TrainingRun,
    adamw,
    train_lockstep,
    train_loop,
)


@pytest.fixture
def cox_problem():
    """A linear Cox truth, 200 patients, 3 columns; a linear module and its batch loss."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    eta = X @ np.array([1.0, -0.5, 0.0])
    t, c = rng.exponential(np.exp(-eta)), rng.exponential(1.5, 200)
    event, time = t <= c, np.minimum(t, c)
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 1)
    Xt, tt, et = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(time), torch.as_tensor(event)

    def batch_loss(idx):
        return cox_ph_loss(module(Xt[idx]).squeeze(-1), tt[idx], et[idx])

    return module, batch_loss, event


def _run(cox_problem, max_iter=5, callbacks=(), lr=0.05):
    module, batch_loss, event = cox_problem
    return train_loop(
        module, batch_loss, event, optimizer=torch.optim.SGD(module.parameters(), lr=lr),
        max_iter=max_iter, batch_size=50, generator=torch.Generator().manual_seed(0),
        callbacks=callbacks,
    )


class Recorder(Callback):
    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_train_begin(self, state):
        self.calls.append("begin")

    def on_epoch_begin(self, state):
        self.calls.append(f"epoch{state.epoch}")

    def on_epoch_end(self, state):
        self.calls.append(f"end{state.epoch}")
        if state.epoch == self.stop_at:
            state.stop = True

    def on_train_end(self, state):
        self.calls.append("train_end")


def test_loop_trains_and_calls_back_in_order(cox_problem):
    rec = Recorder()
    history = _run(cox_problem, max_iter=3, callbacks=[EpochTimer(), rec])
    assert rec.calls == ["begin", "epoch1", "end1", "epoch2", "end2", "epoch3", "end3", "train_end"]
    assert len(history["loss"]) == 3 and history["interrupted"] is False
    assert history["loss"][-1] < history["loss"][0]  # a true signal is learnt
    assert len(history["epoch_time"]) == 3 and min(history["epoch_time"]) > 0
    # the module was trained in place: its first weight points the truth's way
    assert cox_problem[0].weight[0, 0] > 0


def test_a_callback_stops_training(cox_problem):
    rec = Recorder(stop_at=2)
    history = _run(cox_problem, max_iter=10, callbacks=[rec])
    assert len(history["loss"]) == 2 and rec.calls[-1] == "train_end"


def test_early_stopping_restores_the_best_weights_and_stops_on_patience(cox_problem):
    module = cox_problem[0]
    scores = iter([0.5, 0.6, 0.7, 0.65, 0.69, 0.68, 0.9])  # initial, then epochs 1..6
    snapshots = {}

    def score(m):
        value = next(scores)
        snapshots[value] = m.weight.detach().clone()
        return value

    history = _run(cox_problem, max_iter=10, callbacks=[EarlyStopping(score, n_iter_no_change=3, tol=0.0)])
    # epoch 2 (0.7) is the best; 3 epochs without a gain stop training after epoch 5
    assert history["validation_score"] == [0.6, 0.7, 0.65, 0.69, 0.68]
    assert history["best_epoch"] == 2 and history["best_validation_score"] == 0.7
    assert_array_equal(module.weight.detach(), snapshots[0.7])


def test_early_stopping_keeps_the_initial_weights_when_training_never_beats_them(cox_problem):
    module = cox_problem[0]
    initial = module.weight.detach().clone()
    scores = iter([0.8, 0.7, 0.7, 0.75])
    history = _run(cox_problem, max_iter=10, callbacks=[EarlyStopping(lambda m: next(scores), 3)])
    assert history["best_epoch"] == 0 and len(history["loss"]) == 3
    assert_array_equal(module.weight.detach(), initial)


def test_tol_drives_the_patience_but_not_the_best(cox_problem):
    scores = iter([0.5, 0.50005, 0.5001, 0.50015])  # tiny gains, each below tol
    history = _run(cox_problem, max_iter=10, callbacks=[EarlyStopping(lambda m: next(scores), 3, tol=1e-3)])
    assert len(history["loss"]) == 3 and history["best_epoch"] == 3


def test_keyboard_interrupt_warns_and_still_ends_the_callbacks(cox_problem):
    module, batch_loss, event = cox_problem
    calls = {"n": 0}

    def interrupted(idx):
        calls["n"] += 1
        if calls["n"] == 9:  # in the third epoch (4 batches per epoch)
            raise KeyboardInterrupt
        return batch_loss(idx)

    rec = Recorder()
    with pytest.warns(UserWarning, match="interrupted after 2 epoch"):
        history = train_loop(
            module, interrupted, event, optimizer=torch.optim.SGD(module.parameters(), lr=0.05),
            max_iter=5, batch_size=50, generator=torch.Generator().manual_seed(0), callbacks=[rec],
        )
    assert history["interrupted"] is True and len(history["loss"]) == 2
    assert rec.calls[-1] == "train_end"


def test_divergence_raises_and_closes_the_progress_bar(cox_problem, capsys):
    module, batch_loss, event = cox_problem
    bar = ProgressBar(5, "test")
    with pytest.raises(FloatingPointError, match="training loss became"):
        train_loop(
            module, lambda idx: batch_loss(idx) * float("nan"), event,
            optimizer=torch.optim.SGD(module.parameters(), lr=0.05), max_iter=5, batch_size=50,
            generator=torch.Generator().manual_seed(0), callbacks=[bar],
        )
    assert bar.bar.disable  # closed
    assert "test" in capsys.readouterr().err  # the bar was drawn and closed


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


def test_validation_loss_is_minus_the_cox_loss_with_the_offset():
    from sksurv_camlif.training import SurvivalTensors, validation_loss

    class Constant(torch.nn.Module):  # log-risk = first block's first column
        def forward(self, blocks, present, clinical):
            from types import SimpleNamespace

            return SimpleNamespace(log_risk=blocks[0][:, 0])

    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.standard_normal((30, 2)), dtype=torch.float32)
    offset = torch.as_tensor(rng.standard_normal(30), dtype=torch.float32)
    time = torch.as_tensor(rng.exponential(size=30))
    event = torch.as_tensor(rng.random(30) < 0.6)
    data = SurvivalTensors([x], torch.ones(30, 1, dtype=torch.bool), None, time, event, offset=offset)
    expected = -float(cox_ph_loss((x[:, 0] + offset).double(), time, event))
    assert validation_loss(data)(Constant()) == pytest.approx(expected, rel=1e-6)


def test_estimator_early_stopping_on_the_loss():
    from sksurv.datasets import load_breast_cancer

    from conftest import PLAIN, TINY_NET
    from sksurv_camlif import CAMLIFSurvival

    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")][:6]
    est = CAMLIFSurvival([("g", "passthrough", genes)], **TINY_NET, **PLAIN, max_iter=5,
                         scoring="loss").fit(X, y)
    scores = np.array(est.validation_scores_)
    assert (scores < 0).all() and est.best_validation_score_ >= scores.max()


def test_adamw_is_fused_on_cpu_and_updates_as_the_reference():
    torch.manual_seed(0)
    a = torch.nn.Linear(5, 3)
    b = torch.nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    opt = adamw(a.parameters(), 1e-2, 1e-3)
    ref = torch.optim.AdamW(b.parameters(), lr=1e-2, weight_decay=1e-3, foreach=False)
    assert opt.defaults["fused"] is True
    x = torch.randn(20, 5)
    for _ in range(5):
        for module, o in ((a, opt), (b, ref)):
            o.zero_grad()
            module(x).square().mean().backward()
            o.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


# ------------------------------------------------------------------------ lockstep


def _two_runs(callbacks=()):
    """Two linear Cox modules on the same problem, each its own run (not started)."""
    rng = np.random.default_rng(1)
    X = torch.as_tensor(rng.standard_normal((120, 3)), dtype=torch.float32)
    eta = X @ torch.tensor([1.0, -0.5, 0.0])
    time = torch.as_tensor(rng.exponential(np.exp(-eta.numpy())))
    event = np.ones(120, bool)
    runs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        module = torch.nn.Linear(3, 1)

        def batch_loss(idx, module=module):
            return cox_ph_loss(module(X[idx]).squeeze(-1), time[idx], torch.as_tensor(event)[idx])

        runs.append(TrainingRun(
            module, batch_loss, event, optimizer=torch.optim.SGD(module.parameters(), lr=0.05),
            batch_size=40, generator=torch.Generator().manual_seed(seed), callbacks=list(callbacks),
        ))
    return runs


def test_lockstep_stops_all_runs_together_at_the_best_round_and_restores_it():
    runs = _two_runs()
    scores = iter([0.5, 0.6, 0.7, 0.65, 0.69, 0.68, 0.9])  # initial, then rounds 1..6
    snapshots = {}

    def score():
        value = next(scores)
        snapshots[value] = [r.module.weight.detach().clone() for r in runs]
        return value

    histories = train_lockstep(runs, score, max_iter=10, n_iter_no_change=3, tol=0.0)
    for run, history, best in zip(runs, histories, snapshots[0.7]):
        assert len(history["loss"]) == 5  # every run trained the same 5 epochs
        assert history["validation_score"] == [0.6, 0.7, 0.65, 0.69, 0.68]
        assert history["best_epoch"] == 2 and history["best_validation_score"] == 0.7
        assert_array_equal(run.module.weight.detach(), best)
    # the runs moved independently (their own seeds and batches)
    assert not torch.equal(runs[0].module.weight, runs[1].module.weight)


def test_lockstep_round_zero_keeps_the_initial_weights():
    runs = _two_runs()
    initial = [r.module.weight.detach().clone() for r in runs]
    scores = iter([0.8, 0.7, 0.7])
    histories = train_lockstep(runs, lambda: next(scores), max_iter=10, n_iter_no_change=2)
    assert [h["best_epoch"] for h in histories] == [0, 0]
    for run, w in zip(runs, initial):
        assert_array_equal(run.module.weight.detach(), w)


def test_lockstep_equals_one_by_one_training_without_stopping():
    """Interleaving changes nothing for a run: same seeds, same weights as train_loop."""
    lock = _two_runs()
    rounds = iter(range(10))  # always improving: the last round is kept
    train_lockstep(lock, lambda: next(rounds), max_iter=4, n_iter_no_change=10)
    solo = _two_runs()
    for run in solo:
        train_loop(run.module, run.batch_loss, run.event, optimizer=run.optimizer, max_iter=4,
                   batch_size=run.batch_size, generator=run.generator)
    for a, b in zip(lock, solo):
        assert_array_equal(a.module.weight.detach(), b.module.weight.detach())
