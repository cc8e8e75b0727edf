"""The training engine: K networks of one architecture trained at once, each on its own
rows, with its own batches, early stopping and record; K = 1 is a single network.

One loop for every network the package trains: event-balanced mini-batches, one forward
and backward pass per step for all members (the model's objective, e.g.
:class:`~.objective.CAMLIFObjective`), one AdamW step on the stacked rows
(:class:`~.stacked.StackedAdamW`), one host synchronisation per epoch (the losses), then
early stopping on each member's held-out Harrell's C (:class:`Patience`; the initial weights
are epoch 0). A member that stops leaves the stack with its best weights. KeyboardInterrupt
ends training with a warning and keeps each member's best weights so far; a NaN loss raises.
Dropout masks come from torch's global generator (``vmap(randomness="different")``): seed it
around the call.
"""

import sys
import time as _time
import warnings

import numpy as np
import torch

from .data import cindex_or_half, event_balanced_batches
from .history import History
from .stacked import StackedAdamW, StackedParameters, epoch_plan, meta_copy, padded

__all__ = ["Patience", "ProgressBar", "train_networks"]


class Patience:
    """The stopping rule on a stream of scores (larger is better) that starts with the
    initial weights' score.

    ``update(score)`` returns True when ``score`` is a new best (the caller then keeps the
    weights); ``stop`` is True once ``n_iter_no_change`` scores in a row have not improved
    on the best by more than ``tol``. As scikit-learn's MLP, ``tol`` only drives the
    patience; the best is the maximum.
    """

    def __init__(self, initial_score, n_iter_no_change, tol):
        self.best, self.n_iter_no_change, self.tol = initial_score, n_iter_no_change, tol
        self.stale, self.best_epoch, self.epoch = 0, 0, 0

    def update(self, score):
        self.epoch += 1
        self.stale = 0 if score > self.best + self.tol else self.stale + 1
        if score > self.best:
            self.best, self.best_epoch = score, self.epoch
            return True
        return False

    @property
    def stop(self):
        return self.stale >= self.n_iter_no_change


class ProgressBar:
    """A tqdm bar over epochs: the mean loss and validation C of the members still training,
    how many they are, and at the end whether they stopped early."""

    def __init__(self, max_iter, desc):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=max_iter, desc=desc, unit="epoch", leave=True)

    def show(self, losses, scores, n_active):
        postfix = {"loss": f"{np.mean(losses):.4f}"}
        if scores:
            postfix["val_c"] = f"{np.mean(scores):.4f}"
        postfix["members"] = n_active
        self.bar.update(1)
        self.bar.set_postfix(postfix)

    def close(self, histories):
        """Close the bar; say whether training stopped early and at which epochs."""
        stopped = any(h.best_epoch is not None for h in histories) and self.bar.n < self.bar.total
        self.bar.close()
        if stopped:
            best = ", ".join(str(h.best_epoch) for h in histories)
            self.bar.write(f"{self.bar.desc}: stopped early at epoch {self.bar.n} of {self.bar.total} "
                           f"(best epoch{'s' if len(histories) > 1 else ''}: {best})", file=sys.stderr)


def train_networks(
    modules,
    data,
    train_rows,
    validation_rows=None,
    *,
    objective,
    max_iter,
    batch_size,
    learning_rate,
    weight_decay,
    generators,
    n_iter_no_change=10,
    tol=1e-4,
    verbose=0,
    desc="CAMLIFSurvival",
):
    """Train K modules of one architecture at once, each on its own rows of ``data``.

    Parameters
    ----------
    modules : list of K torch.nn.Module (same architecture, on ``data``'s device)
        Trained in place: each ends with its best weights (early stopping) or its last.
    data : SurvivalTensors with targets (and host targets)
    train_rows : list of K ndarray of int, each member's training rows of ``data``
    validation_rows : list of K ndarray of int, optional
        Each member's early-stopping rows: training stops when their Harrell's C has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and the best weights are kept.
    objective : callable
        ``objective(meta_module, buffers, data)`` -> an object with ``losses(params, idx,
        mask)`` (K,) and ``predict(params, idx)`` (K, W), e.g.
        ``functools.partial(CAMLIFObjective, alignment_weight=0, ties="breslow")``.
    max_iter : int, maximum number of epochs
    batch_size : int
    learning_rate, weight_decay : float, AdamW's
    generators : list of K torch.Generator (CPU), each member's batch order
    n_iter_no_change : int
    tol : float
    verbose : int
        1 shows a progress bar over epochs.
    desc : str, the progress bar's label

    Returns
    -------
    histories : list of K :class:`~.history.History`

    Raises
    ------
    FloatingPointError
        If a member's training loss becomes NaN or inf.
    """
    k_all = len(modules)
    device = data.present.device
    stacked = StackedParameters(modules)  # on the modules' device, as data
    stack = objective(meta_copy(modules[0]), stacked.buffers, data)
    optimizer = StackedAdamW(stacked.flat, learning_rate, weight_decay)
    events = [np.asarray(data.host_event, bool)[rows] for rows in train_rows]
    histories = [History() for _ in range(k_all)]
    active = list(range(k_all))  # members still training, in stack order
    early = validation_rows is not None
    if early:
        held_idx, held_mask = (t.to(device) for t in padded(validation_rows))
        targets = [(data.host_event[rows], data.host_time[rows]) for rows in validation_rows]
        initial = stack.predict(stacked.views(), held_idx)
        patience = [Patience(cindex_or_half(initial[k][held_mask[k]], *targets[k]), n_iter_no_change, tol)
                    for k in range(k_all)]
        best = [stacked.flat[k].detach().clone() for k in range(k_all)]
        for h in histories:
            h.best_epoch = 0
    bar = ProgressBar(max_iter, desc + (f" ({k_all} members)" if k_all > 1 else "")) if verbose else None
    try:
        for _ in range(max_iter):
            start = _time.perf_counter()
            steps = epoch_plan(
                [event_balanced_batches(events[k], batch_size, generators[k]) for k in active],
                [train_rows[k] for k in active], device,
            )
            total = torch.zeros(len(active), device=device)
            for idx, mask in steps:
                loss = stack.losses(stacked.views(), idx, mask)
                (grad,) = torch.autograd.grad(loss.sum(), stacked.flat)
                optimizer.step(stacked.flat, grad, mask.any(1))
                total = total + loss.detach() * mask.sum(1)
            epoch_loss = total.cpu().numpy() / np.array([len(train_rows[k]) for k in active])  # one host sync
            elapsed = _time.perf_counter() - start
            if not np.isfinite(epoch_loss).all():
                raise FloatingPointError(
                    f"the training loss became {epoch_loss[~np.isfinite(epoch_loss)][0]} at epoch "
                    f"{histories[active[0]].n_iter + 1}; lower learning_rate_init, check the inputs "
                    "for extreme values, or scale them"
                )
            stopped, scores = [], []
            if early:
                risk = stack.predict(stacked.views(), held_idx[active])
            for pos, k in enumerate(active):
                h = histories[k]
                h.loss.append(float(epoch_loss[pos]))
                h.epoch_time.append(elapsed)
                if early:
                    score = cindex_or_half(risk[pos][held_mask[k]], *targets[k])
                    scores.append(score)
                    h.validation_score.append(score)
                    if patience[k].update(score):
                        best[k] = stacked.flat[pos].detach().clone()
                        h.best_epoch = h.n_iter
                    if patience[k].stop:
                        stopped.append(pos)
            if bar is not None:
                bar.show(epoch_loss, scores, len(active))
            if stopped:
                for pos in stopped:
                    stacked.write(best[active[pos]], modules[active[pos]])
                kept = [pos for pos in range(len(active)) if pos not in stopped]
                active = [active[pos] for pos in kept]
                if not active:
                    break
                stacked.keep(kept)
                optimizer.keep(kept)
    except KeyboardInterrupt:
        for k in active:
            histories[k].interrupted = True
        warnings.warn(
            f"training interrupted after {max(h.n_iter for h in histories)} epoch(s); keeping the "
            "best weights so far", UserWarning, stacklevel=3,
        )
    finally:
        for pos, k in enumerate(active):
            stacked.write(best[k] if early else stacked.flat[pos].detach(), modules[k])
        if bar is not None:
            bar.close(histories)
    if early:
        for k in range(k_all):
            histories[k].best_validation_score = patience[k].best
    return histories
